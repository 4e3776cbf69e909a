"""Upkeep of a stored database (``newsflow optimize``).

SQLite: FTS5's index segments are merged into one (``'optimize'``: a search then reads one
b-tree per word, not one per segment), the query planner's statistics are gathered
(``ANALYZE``, as the query benchmark's databases have them), and a file made before new files
got :data:`storage.db.PAGE_SIZE` pages is rewritten with them (``VACUUM``: as much free disk
again as the file takes, and no other process may have it open). ``vacuum=True`` rewrites
the file even when its pages are right, to give back the space of deleted rows.

PostgreSQL: ``VACUUM (ANALYZE)`` of the tables searches read (autovacuum does the same in
its own time).
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy import URL, Engine, text

from newsflow.errors import DatabaseError
from storage.db import PAGE_SIZE, close_all, describe
from storage.errors import translate

# the tables newsflow's searches and listings read (PostgreSQL's VACUUM (ANALYZE))
SEARCHED_TABLES = ("articles", "article_topics", "topics", "sources")


@dataclass(frozen=True)
class Optimized:
    """What ``optimize`` did: its steps in order, and the file's size and page size before
    and after (SQLite; ``None`` on PostgreSQL)."""

    database: str
    steps: list[str] = field(default_factory=list)
    page_size_before: int | None = None
    page_size: int | None = None
    bytes_before: int | None = None
    bytes_after: int | None = None
    seconds: float = 0.0


def optimize(engine: Engine, *, vacuum: bool = False) -> Optimized:
    """Merge the full-text index, refresh the planner's statistics and, on SQLite, convert a
    file to :data:`storage.db.PAGE_SIZE` pages (see the module docstring)."""
    started = time.monotonic()
    if engine.dialect.name == "sqlite":
        engine.dispose()  # this process's pooled connections would keep the file in use,
        close_all()  # those of its other engines too (they reconnect when next used)
        result = _optimize_sqlite(engine.url, vacuum)
    else:
        result = _optimize_postgres(engine)
    return replace(result, seconds=time.monotonic() - started)


def _optimize_postgres(engine: Engine) -> Optimized:
    steps = []
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in SEARCHED_TABLES:
            connection.execute(text(f"VACUUM (ANALYZE) {table}"))
        steps.append(f"vacuumed and analysed {', '.join(SEARCHED_TABLES)}")
    return Optimized(describe(engine.url), steps)


def _optimize_sqlite(url: URL, vacuum: bool) -> Optimized:
    path, name = Path(url.database or ""), describe(url)
    size_before = path.stat().st_size
    connection = sqlite3.connect(path, isolation_level=None, timeout=5)
    try:
        page_size_before = _pragma(connection, "page_size")
        steps = []
        connection.execute("INSERT INTO articles_fts(articles_fts) VALUES ('optimize')")
        steps.append("merged the full-text index")
        connection.execute("ANALYZE")
        steps.append("gathered the query planner's statistics")
        if vacuum or page_size_before != PAGE_SIZE:
            _vacuum(connection, name)
            steps.append(
                f"rewrote the file with {PAGE_SIZE // 1024} KB pages"
                if page_size_before != PAGE_SIZE
                else "rewrote the file"
            )
        page_size = _pragma(connection, "page_size")
    except sqlite3.DatabaseError as exc:
        raise translate(exc, url) from exc
    finally:
        connection.close()
    return Optimized(name, steps, page_size_before, page_size, size_before, path.stat().st_size)


def _vacuum(connection: sqlite3.Connection, name: str) -> None:
    """Rewrite the file with PAGE_SIZE pages. A WAL file's page size changes only outside WAL,
    which needs the only connection to it: another process using it is an error."""
    try:
        mode = str(connection.execute("PRAGMA journal_mode=DELETE").fetchone()[0])
    except sqlite3.OperationalError:  # locked: another connection is open
        mode = "wal"
    if mode.lower() != "delete":
        raise DatabaseError(
            f"cannot rewrite {name}: another process has it open; run again when it is done"
        )
    try:
        connection.execute(f"PRAGMA page_size={PAGE_SIZE:d}")
        connection.execute("VACUUM")
    finally:
        connection.execute("PRAGMA journal_mode=WAL")


def _pragma(connection: sqlite3.Connection, name: str) -> int:
    return int(connection.execute(f"PRAGMA {name}").fetchone()[0])
