"""Engines, connection settings and automatic migrations."""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, ExceptionContext, make_url
from sqlalchemy.engine.interfaces import DBAPICursor
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from newsflow.errors import DatabaseError
from storage.errors import DatabaseBusy, translate
from storage.retry import (
    DEFAULT_SECONDS,
    gave_up,
    set_retry_seconds,
    tell_lock_wait,
    with_retry,
)
from storage.retry import retry_seconds as retry_budget

MIGRATIONS = Path(__file__).with_name("migrations")
# pg_advisory_xact_lock key held while migrating (any constant; "nf" + "migr" in ASCII)
MIGRATION_LOCK = 0x6E666D696772
_engines: dict[str, Engine] = {}
READ_LOCK_STEP = 1.0  # seconds a read-only engine's statement waits for a lock before a retry
WRITE_LOCK_NOTICE = 0.5  # seconds a writer waits for a SQLite file's write lock before saying so
_lock = threading.Lock()


def normalize_url(url: str) -> URL:
    """A SQLAlchemy URL; a bare path means a SQLite file, ``postgresql://`` means psycopg 3."""
    if "://" not in url:
        url = f"sqlite:///{url}"
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise DatabaseError(f"not a database URL: {url!r}") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def describe(url: str | URL) -> str:
    """The URL as safe to print (password hidden)."""
    parsed = url if isinstance(url, URL) else normalize_url(url)
    return parsed.render_as_string(hide_password=True)


def missing_sqlite_file(url: str) -> Path | None:
    """The path of a SQLite database file that does not exist yet, else ``None``."""
    parsed = normalize_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    if database.startswith("file:"):
        return None
    path = Path(database).expanduser()
    return None if path.exists() else path


# The page size of a new SQLite file (an existing one keeps its own; SQLite's default is 4 KB).
# At 1M articles, with the OS's page cache dropped, 16 KB pages took the full-text searches' p95
# from 114-133 to 92-98 ms, with a topic 87-96 to 60-78, with a topic and dates 509-683 to
# 359-382 (bench/results-queries.md); storing 10k processed articles into a new file took 0.66
# ms an article against 0.76 (bench/bench_store.py --articles 10000, best of 2 rounds).
PAGE_SIZE = 16384


def _sqlite_pragmas(busy_timeout_ms: int, dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA page_size=%d" % PAGE_SIZE)  # noqa: UP031 (before the file is made)
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA cache_size=-65536")  # 64 MB: a batch's index pages stay cached
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=%d" % busy_timeout_ms)  # noqa: UP031 (an int)
    cursor.close()


def _clear_errors(url: URL, context: ExceptionContext) -> None:
    """Operational driver errors become one-line :class:`DatabaseError` (see storage.errors)."""
    if context.is_pre_ping or not isinstance(context.sqlalchemy_exception, OperationalError):
        return
    raise translate(context.original_exception, url) from context.original_exception


def _create_engine(
    url: URL, retry_seconds: float = DEFAULT_SECONDS, *, reading: bool = False
) -> Engine:
    lock_wait = min(retry_seconds, READ_LOCK_STEP) if reading else retry_seconds
    engine = _new_engine(url, lock_wait)
    event.listen(engine, "handle_error", partial(_clear_errors, url))
    set_retry_seconds(
        engine, retry_seconds, "db_read_retry_seconds" if reading else "db_retry_seconds"
    )
    return engine


def _new_engine(url: URL, lock_wait: float) -> Engine:
    """An engine whose statements wait up to ``lock_wait`` seconds for a lock."""
    wait_ms = max(0, int(lock_wait * 1000))
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            parent = Path(database).expanduser().resolve().parent
            if not parent.is_dir():
                raise DatabaseError(
                    f"cannot open {describe(url)}: directory {parent} does not exist"
                )
        engine = create_engine(url, connect_args={"timeout": wait_ms / 1000})
        event.listen(engine, "connect", partial(_sqlite_pragmas, wait_ms))
        return engine
    if url.get_backend_name() != "postgresql":
        raise DatabaseError(
            f"unsupported database URL {describe(url)}: newsflow stores articles in SQLite "
            "(sqlite:///path or a file path) or PostgreSQL (postgresql://…)"
        )
    # A lock held longer than the retry budget fails the transaction (it is then retried
    # by storage.retry) instead of waiting forever.
    options = f"-c lock_timeout={wait_ms}" if wait_ms else ""
    return create_engine(
        url, pool_pre_ping=True, connect_args={"connect_timeout": 10, "options": options}
    )


def _sqlite_file(url: URL) -> bool:
    database = url.database or ""
    return url.get_backend_name() == "sqlite" and database not in ("", ":memory:")


def _set_busy_timeout(cursor: DBAPICursor, seconds: float) -> None:
    """Statements on ``cursor``'s connection wait up to ``seconds`` for a lock (rounded up to
    a millisecond, so that a wait cut in two still lasts the whole budget)."""
    cursor.execute("PRAGMA busy_timeout=%d" % math.ceil(seconds * 1000))  # noqa: UP031 (an int)


def _try_write_lock(cursor: DBAPICursor, wait: float, url: URL) -> DatabaseBusy | None:
    """``BEGIN IMMEDIATE``, waiting up to ``wait`` seconds for the file's write lock: ``None``
    once the transaction holds it, the error when another writer held it all that time.
    Other errors are raised as :func:`storage.errors.translate` words them."""
    _set_busy_timeout(cursor, wait)
    try:
        cursor.execute("BEGIN IMMEDIATE")
    except sqlite3.DatabaseError as exc:
        error = translate(exc, url)
        if isinstance(error, DatabaseBusy):
            return error
        raise error from exc
    return None


def _take_write_lock(
    cursor: DBAPICursor, url: URL, seconds: float, started: float
) -> DatabaseBusy | None:
    """Begin a transaction on ``cursor``'s connection holding the SQLite file's write lock,
    waiting for it until ``seconds`` have passed since ``started`` (``time.monotonic()``).

    A write on a file another process is writing waits inside the driver (its busy timeout)
    without a word. So the wait is cut in two: after :data:`WRITE_LOCK_NOTICE` seconds the
    listeners of :func:`storage.retry.lock_wait_listener` are told (the CLI says so on stderr),
    then it goes on for the rest of ``seconds``. On a free file this is one ``BEGIN
    IMMEDIATE`` and two ``PRAGMA busy_timeout``. Returns ``None`` with the transaction open,
    or the error of the last try (no transaction open) when the lock stayed held; the busy
    timeout is ``seconds`` again afterwards.
    """

    def left() -> float:
        return max(seconds - (time.monotonic() - started), 0)

    try:
        busy = _try_write_lock(cursor, min(left(), WRITE_LOCK_NOTICE), url)
        if busy is None:
            return None
        tell_lock_wait(busy, seconds)
        return _try_write_lock(cursor, left(), url)
    finally:
        _set_busy_timeout(cursor, seconds)


def _cursor(connection: Connection) -> DBAPICursor:
    """A cursor of the driver's own connection under ``connection`` (statements SQLAlchemy
    neither sees nor translates)."""
    dbapi = connection.connection.dbapi_connection
    assert dbapi is not None
    return dbapi.cursor()


def wait_for_write_lock(engine: Engine, url: URL, seconds: float) -> None:
    """Return once no other connection holds the write lock of the SQLite file at ``url``.

    A writer opening the file takes the lock and releases it at once (``BEGIN IMMEDIATE``,
    ``ROLLBACK``: nothing else when the file is free), waiting for it as
    :func:`_take_write_lock` does: when another writer holds it for
    :data:`WRITE_LOCK_NOTICE` seconds the lock-wait listeners are told, and the wait goes on
    for the rest of ``seconds``. Then :class:`DatabaseBusy` says how long it waited. Other
    errors are left to the first write, which reports them as before.
    """
    if not _sqlite_file(url):
        return
    started = time.monotonic()
    try:
        connection = engine.connect()
    except DatabaseBusy:  # busy before any write (opening a file being created): as before,
        return  # the migration's retries wait for it
    with connection:
        cursor = _cursor(connection)
        try:
            busy = _take_write_lock(cursor, url, seconds, started)
            if busy is None:
                cursor.execute("ROLLBACK")
        except DatabaseError:  # not a lock: the first write reports it
            return
        finally:
            cursor.close()
    if busy is not None:
        raise gave_up(busy, time.monotonic() - started, 1, engine, seconds)


# Each SQLite engine's turn to write, for the threads of this process (see write_turn).
_turns: WeakKeyDictionary[Engine, threading.Lock] = WeakKeyDictionary()
_turns_lock = threading.Lock()


def _turn(engine: Engine) -> threading.Lock:
    with _turns_lock:
        return _turns.setdefault(engine, threading.Lock())


@contextmanager
def write_turn(engine: Engine) -> Iterator[float]:
    """Hold this thread's turn to write into ``engine``'s SQLite file; yields when the wait
    for it began (``time.monotonic()``), for :func:`begin_writing`. Not re-entrant: a write
    transaction does not open another.

    SQLite lets one transaction write at a time, so a process's writes (batches stored at
    once by a backfill or a poll's threads) take turns here and only the one whose turn it
    is waits for the file's lock: when it waits long, the writer holding the lock is another
    process, and what :func:`begin_writing` tells the listeners is true. The turn is waited
    for up to the engine's retry budget (:func:`storage.retry.retry_seconds`); the write then
    goes on without it, and the file's lock decides. Other databases: no turn is taken.
    """
    started = time.monotonic()
    if engine.dialect.name != "sqlite":
        yield started
        return
    turn = _turn(engine)
    mine = turn.acquire(timeout=retry_budget(engine))
    try:
        yield started
    finally:
        if mine:
            turn.release()


def begin_writing(connection: Connection, started: float) -> None:
    """Begin ``connection``'s transaction on a SQLite file with the file's write lock
    (``BEGIN IMMEDIATE``): the transaction reads what the last writer committed, and no one
    else writes until it ends.

    When another writer holds the lock for :data:`WRITE_LOCK_NOTICE` seconds, the lock-wait
    listeners are told, as when the file is opened (:func:`wait_for_write_lock`), and the
    wait goes on until the engine's retry budget (``db_retry_seconds``) has passed since
    ``started`` (see :func:`write_turn`). Then :class:`DatabaseBusy` is raised, and nothing is
    written: :func:`storage.retry.with_retry` gives up with how long it waited.
    """
    engine = connection.engine
    cursor = _cursor(connection)
    try:
        busy = _take_write_lock(cursor, engine.url, retry_budget(engine), started)
    finally:
        cursor.close()
    if busy is not None:
        raise busy


@contextmanager
def write_session(engine: Engine, *, expire_on_commit: bool = True) -> Iterator[Session]:
    """A session in a transaction that writes. On SQLite the transaction holds the file's
    write lock from its start (:func:`write_turn`, :func:`begin_writing`): when another
    process holds it, the lock-wait listeners are told after half a second, and the wait
    lasts the retry budget; and a transaction that reads before it writes cannot find, at
    its first write, that another writer has committed since it read. Other databases: a
    plain transaction."""
    with (
        write_turn(engine) as started,  # held until the commit
        Session(engine, expire_on_commit=expire_on_commit) as session,
        session.begin(),
    ):
        if session.get_bind().dialect.name == "sqlite":
            begin_writing(session.connection(), started)
        yield session


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _lock_for_migration(connection: Connection) -> None:
    """Hold the database's migration lock until ``connection``'s transaction ends.

    PostgreSQL: a transaction-level advisory lock. SQLite: ``BEGIN EXCLUSIVE``, the write lock
    of the whole file (in WAL mode readers still read). Another process migrating at the same
    time waits here (for the busy timeout or ``lock_timeout``, then :mod:`storage.retry`).
    """
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    elif connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN EXCLUSIVE")


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (a no-op when it is current).

    Safe when several processes open a new or outdated database at once: the upgrade runs
    under a lock, and whoever gets it second finds the schema current and does nothing.
    """
    head = head_revision()
    with engine.connect() as connection:
        current = _current_revision(connection)
    if current == head:  # the common case takes no lock, so readers never wait here
        return
    config = _alembic_config()
    with engine.begin() as connection:
        _lock_for_migration(connection)
        if _current_revision(connection) == head:  # another process migrated meanwhile
            return
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _explain(exc: SQLAlchemyError) -> str:
    original = getattr(exc, "orig", None) or exc
    text = str(original).strip().splitlines()
    return text[0] if text else type(original).__name__


def _configured_retry_seconds() -> float:
    from newsflow.settings import load_settings

    return load_settings().db_retry_seconds


def open_database(url: str, retry_seconds: float | None = None, *, reading: bool = False) -> Engine:
    """A migrated engine for ``url``, shared per URL within the process.

    A database that is locked or not reachable yet is retried for ``retry_seconds``
    (``db_retry_seconds`` when ``None``), which also bounds lock waits of later writes; a
    SQLite file another writer holds is waited for first (:func:`wait_for_write_lock`). Raises
    :class:`DatabaseError` with a one-line reason when the database cannot be reached or
    migrated.

    ``reading`` gives a separate engine for read-only commands: each statement waits at most
    :data:`READ_LOCK_STEP` seconds for a lock, and the caller retries it (``with_retry``) for
    the rest of ``retry_seconds``, so a listener (:func:`storage.retry.retry_listener`) hears
    of the wait early instead of after a silent wait inside the driver.
    """
    parsed = normalize_url(url)
    key = parsed.render_as_string(hide_password=False) + (" (reading)" if reading else "")
    with _lock:
        engine = _engines.get(key)
        if engine is not None:
            return engine
        seconds = _configured_retry_seconds() if retry_seconds is None else retry_seconds
        try:
            engine = _create_engine(parsed, seconds, reading=reading)
            if not reading:  # a writer says so when another one holds the lock (SQLite)
                wait_for_write_lock(engine, parsed, seconds)
            with_retry(engine, partial(migrate, engine))
        except NoSuchModuleError:
            raise DatabaseError(f"unsupported database URL {describe(parsed)}") from None
        except OperationalError as exc:
            raise DatabaseError(f"cannot open {describe(parsed)}: {_explain(exc)}") from None
        except SQLAlchemyError as exc:
            raise DatabaseError(f"cannot prepare {describe(parsed)}: {_explain(exc)}") from None
        _engines[key] = engine
        return engine


def close_all() -> None:
    """Dispose every engine opened by :func:`open_database` (tests, shutdown)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
