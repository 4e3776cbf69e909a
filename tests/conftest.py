"""Shared fixtures: the seeds, real SQLite and PostgreSQL databases, a stored seed corpus.

PostgreSQL tests use NEWSFLOW_TEST_POSTGRES_URL (default: postgres@127.0.0.1:5432/test); each
test gets a database of its own, dropped afterwards: a copy of a template database migrated
once per session (``postgres_url``), or an empty one (``fresh_postgres_url``). Without a
server they skip, saying why, unless NEWSFLOW_REQUIRE_POSTGRES=1 (set by .ci/run), which turns
the skip into a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url

from newsflow.pipeline import ingest_batch, prepare_database, tagger_for
from parsers import iter_path
from storage.db import close_all, migrate
from tests.loopback import LoopbackServer, serving

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
DATA = Path(__file__).resolve().parent / "data"
POSTGRES_URL = os.environ.get(
    "NEWSFLOW_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("NEWSFLOW_REQUIRE_POSTGRES") == "1"
# Tests run ingestion in one process unless they ask for workers (tests/test_parallel.py):
# a pool per small test input would only add start-up time on a shared machine.
os.environ.setdefault("NEWSFLOW_WORKERS", "1")


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    return SEEDS


@pytest.fixture(scope="session")
def seed_expectations() -> dict[str, dict[str, Any]]:
    """The ``expect`` blocks of seeds/manifest.yaml, by file name."""
    manifest = yaml.safe_load((SEEDS / "manifest.yaml").read_text(encoding="utf-8"))
    return {name: entry["expect"] for name, entry in manifest["articles"].items()}


@pytest.fixture(scope="session")
def postgres_admin() -> str:
    try:
        with psycopg.connect(_libpq(POSTGRES_URL), connect_timeout=3):
            pass
    except psycopg.Error as exc:
        reason = f"PostgreSQL not reachable at {POSTGRES_URL}: {str(exc).strip().splitlines()[0]}"
        if REQUIRE_POSTGRES:
            pytest.fail(f"{reason} (NEWSFLOW_REQUIRE_POSTGRES=1)")
        pytest.skip(reason)
    return POSTGRES_URL


@contextmanager
def _database(admin: str, prefix: str, template: str | None = None) -> Iterator[str]:
    """A new PostgreSQL database (a copy of ``template``, else empty), dropped afterwards."""
    name = f"{prefix}{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(_libpq(admin), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{copy}')
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        close_all()
        with psycopg.connect(_libpq(admin), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_template(postgres_admin: str) -> Iterator[str]:
    """The name of a database migrated to the newest schema once per session."""
    with _database(postgres_admin, "newsflow_template_") as url:
        engine = create_engine(url)
        try:
            migrate(engine)
        finally:
            engine.dispose()  # a template must have no connections when it is copied
        yield str(make_url(url).database)


@pytest.fixture
def postgres_url(postgres_admin: str, postgres_template: str) -> Iterator[str]:
    """A migrated PostgreSQL database of the test's own (a copy of the session's template)."""
    with _database(postgres_admin, "newsflow_test_", postgres_template) as url:
        yield url


@pytest.fixture
def fresh_postgres_url(postgres_admin: str) -> Iterator[str]:
    """An empty PostgreSQL database of the test's own: not migrated yet."""
    with _database(postgres_admin, "newsflow_test_") as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'news.db'}"
    close_all()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """The same test on SQLite and on PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def new_db_url(request: pytest.FixtureRequest) -> str:
    """The same test on SQLite and on PostgreSQL, each database with no schema yet."""
    fixture = "sqlite_url" if request.param == "sqlite" else "fresh_postgres_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def engine(db_url: str) -> Engine:
    """A migrated database with the built-in taxonomy's topics."""
    return prepare_database(db_url, tagger_for(None))


def ingest_plain(engine: Engine, path: Path, run_id: int | None = None) -> Any:
    """Ingest ``path`` without Prefect (the flow's steps as plain calls)."""
    return ingest_batch(list(iter_path(path)), engine, tagger_for(None), run_id)


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """A real temporary Prefect server (with its own database), shared by the session."""
    from flows.runtime import configure_prefect

    configure_prefect()
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def prefect_api_url(prefect_server: None) -> str:
    """The session server's API URL: ``PREFECT_API_URL`` for ``newsflow`` subprocesses, which
    then start no temporary server of their own (see tests/cli.py)."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    assert url, "the test harness set no API URL"
    return str(url)


@pytest.fixture
def seeded(engine: Engine) -> Engine:
    """The database with the two seed articles stored."""
    result = ingest_plain(engine, SEEDS)
    assert result.new == 2
    return engine


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    """A real HTTP server on 127.0.0.1 (see tests/loopback.py)."""
    with serving() as server:
        yield server
