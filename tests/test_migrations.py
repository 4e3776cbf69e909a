"""The Alembic migrations and the SQLAlchemy models describe the same schema."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine

from storage.db import _alembic_config, head_revision, normalize_url, open_database
from storage.models import Base, UTCDateTime, utcnow
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


def _migrate(engine: Engine, direction: str, revision: str) -> None:
    """``alembic upgrade/downgrade revision`` on ``engine``'s database, as newsflow runs it."""
    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, direction)(config, revision)


def _run_columns(engine: Engine) -> set[str]:
    return {column["name"] for column in sa.inspect(engine).get_columns("ingestion_runs")}


# ingestion_runs as migration 0007 left it (the models describe the newest schema)
RUNS_0007 = sa.table(
    "ingestion_runs",
    *(sa.column(name) for name in ("status", "read", "new", "updated")),
    *(sa.column(name) for name in ("unchanged", "duplicates", "errors")),
    sa.column("inputs", sa.JSON()),
    sa.column("started_at", UTCDateTime()),
)


def test_0008_keeps_skipped_counts_with_runs_and_downgrades(new_db_url: str) -> None:
    """0008 adds the runs' skipped counts (0 for runs recorded before it); its downgrade drops
    them and keeps the runs; upgrading again works."""
    engine = create_engine(normalize_url(new_db_url))
    try:
        _migrate(engine, "upgrade", "0007_topic_article_index")
        assert "skipped_no_text" not in _run_columns(engine)
        with engine.begin() as conn:
            conn.execute(
                sa.insert(RUNS_0007).values(
                    status="completed",
                    inputs=["seeds"],
                    read=4,
                    new=4,
                    updated=0,
                    unchanged=0,
                    duplicates=0,
                    errors=0,
                    started_at=utcnow(),
                )
            )
        _migrate(engine, "upgrade", "0008_run_skips")
        counts = sa.text("SELECT read, skipped_no_text, skipped_by_date FROM ingestion_runs")
        with engine.connect() as conn:
            assert [tuple(row) for row in conn.execute(counts)] == [(4, 0, 0)]
        _migrate(engine, "downgrade", "0007_topic_article_index")
        assert not {"skipped_no_text", "skipped_by_date"} & _run_columns(engine)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT read FROM ingestion_runs")).scalars().all() == [4]
        _migrate(engine, "upgrade", "head")
        assert {"skipped_no_text", "skipped_by_date"} <= _run_columns(engine)
    finally:
        engine.dispose()


def _signatures(engine: Engine) -> tuple[dict[int, tuple[str, bytes, int]], set[tuple[int, ...]]]:
    with engine.connect() as conn:
        signatures = {
            row[0]: (row[1], bytes(row[2]), row[3])
            for row in conn.execute(
                sa.text("SELECT article_id, scheme, minhash, shingles FROM article_signatures")
            )
        }
        bands = {
            tuple(row)
            for row in conn.execute(sa.text("SELECT article_id, band, bucket FROM article_bands"))
        }
    return signatures, bands


def test_0009_signs_again_with_xxh3_and_downgrades_to_sha1(new_db_url: str) -> None:
    """0009's downgrade makes the SHA-1 signatures (what datasketch's default hash gives) and
    an original's buckets from them; upgrading again gives back exactly the signatures and
    buckets the current code stores. A copy keeps no buckets; a text of no words is signed by
    its title."""
    from datasketch import MinHash

    from newsflow.article import Article
    from newsflow.pipeline import ingest_batch, neardup_config, prepare_database, tagger_for
    from processing.dedup import dedup_basis
    from processing.neardup import Signature, _encoded_shingles, band_keys

    near = neardup_config()
    story = " ".join(f"word{n} of the story" for n in range(60))
    texts = [story, story + " and one more line", "Moscow and Beijing sign a deal " * 9, "…"]
    articles = [
        Article(source="t", title=f"title {n}", text=text, origin=f"o{n}", url=f"https://x/{n}")
        for n, text in enumerate(texts)
    ]
    engine = prepare_database(new_db_url, tagger_for(None))
    try:
        ingest_batch(articles, engine, tagger_for(None), None)
        current = _signatures(engine)
        assert {scheme for scheme, _, _ in current[0].values()} == {near.scheme}
        assert len(current[0]) == 4 and {b[0] for b in current[1]} == {1, 3, 4}  # 2: a copy
        _migrate(engine, "downgrade", "0008_run_skips")
        old, old_bands = _signatures(engine)
        assert {scheme for scheme, _, _ in old.values()} == {"minhash-affine32-s1-w5-p128-b32"}
        for article_id, (_, minhash, size) in old.items():
            grams = _encoded_shingles(dedup_basis(articles[article_id - 1]), 5)
            reference = MinHash(num_perm=128, seed=1, scheme="affine32")  # SHA-1 per shingle
            reference.update_batch(list(grams))
            assert (
                size == len(grams)
                and minhash
                == Signature(np.asarray(reference.hashvalues, dtype=np.uint32), size).to_bytes()
            )
            assert minhash != current[0][article_id][1]
        assert old_bands == {
            (i, band, key)
            for i in (1, 3, 4)
            for band, key in enumerate(band_keys(Signature.from_bytes(old[i][1], old[i][2]), near))
        }
        _migrate(engine, "upgrade", "head")
        assert _signatures(engine) == current
    finally:
        engine.dispose()
