"""The Alembic migrations and the SQLAlchemy models describe the same schema."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from storage.db import head_revision, open_database
from storage.models import Base
from tests.conftest import ROOT

# Full-text objects live in the migrations only (FTS5 tables, the tsvector column), and so
# do the DESC-ordered listing index, which Alembic cannot compare, and PostgreSQL's topic ids
# beside the search vector (kept by triggers, never written through the models).
_FTS = ("articles_fts",)
_MIGRATION_ONLY = ("ix_articles_search", "ix_articles_newest", "ix_articles_topic_ids")


def _include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    if type_ == "table" and name and name.startswith(_FTS):
        return False
    return not ((type_ == "column" and name in ("search", "topic_ids")) or name in _MIGRATION_ONLY)


def test_models_match_migrations(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": _include, "compare_type": True}
        )
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


# Opens (and so migrates) each database URL read from stdin, at once, answering "ok" or why not.
MIGRATOR = """
import sys
from storage.db import close_all, open_database
print("ready", flush=True)
for line in sys.stdin:
    try:
        open_database(line.strip(), retry_seconds=30)
        print("ok", flush=True)
    except Exception as exc:
        print(f"failed: {type(exc).__name__}: {exc}".replace("\\n", " "), flush=True)
    close_all()
"""


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def new_database(request: pytest.FixtureRequest, tmp_path: Path) -> list[str]:
    """Databases with no schema yet: five SQLite files, or one empty PostgreSQL database."""
    if request.param == "sqlite":  # new files cost nothing: race a few times
        return [f"sqlite:///{tmp_path / f'race-{n}.db'}" for n in range(5)]
    return [str(request.getfixturevalue("fresh_postgres_url"))]


def test_processes_migrating_a_new_database_at_once(new_database: list[str]) -> None:
    """Two processes open the same new database at the same moment: one migrates it, the
    other waits for the lock and finds it current; neither fails."""
    urls = new_database
    children = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATOR],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for child in children:
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        for url in urls:
            for child in children:  # both get the URL before either answers
                assert child.stdin is not None
                child.stdin.write(url + "\n")
                child.stdin.flush()
            answers = [child.stdout.readline().strip() for child in children if child.stdout]
            assert answers == ["ok", "ok"], (url, answers)
            with open_database(url).connect() as conn:
                assert MigrationContext.configure(conn).get_current_revision() == head_revision()
    finally:
        for child in children:
            if child.stdin:
                child.stdin.close()
            child.wait(30)
            if child.stdout:
                child.stdout.close()
