"""Driver errors as one-line :class:`~newsflow.errors.DatabaseError` messages.

Every engine from :func:`storage.db.open_database` passes its SQLite and PostgreSQL operational
errors (locked, unreachable, disk full, read-only, cannot open) through :func:`translate`, so a
user sees which database failed and why, not a driver traceback. Errors a caller may wait out
(a lock held by another writer, a server that is not up yet) are :class:`DatabaseBusy`:
:mod:`storage.retry` retries those for ``db_retry_seconds``.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL

from newsflow.errors import DatabaseError


class DatabaseBusy(DatabaseError):
    """A failure that may pass: the database is locked or cannot be reached right now."""


# SQLite result-code names (sqlite3's ``sqlite_errorname``) and PostgreSQL SQLSTATEs.
_SQLITE_BUSY = {"SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_BUSY_SNAPSHOT", "SQLITE_BUSY_RECOVERY"}
_PG_BUSY = {"55P03", "40P01", "40001", "57P03"}  # lock timeout, deadlock, serialization, starting
_PG_FULL = {"53100", "53200"}  # disk full, out of memory


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return " ".join(lines[0].split()) if lines else type(exc).__name__


def _sqlite_file(url: URL) -> Path | None:
    database = url.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser()


def translate(original: BaseException, url: URL) -> DatabaseError:
    """A clear error for a DBAPI exception ``original`` raised by the database at ``url``."""
    name = url.render_as_string(hide_password=True)
    reason = _first_line(original)
    if url.get_backend_name() == "sqlite":
        code = str(getattr(original, "sqlite_errorname", "") or "")
        lowered = reason.lower()
        if code in _SQLITE_BUSY or "database is locked" in lowered:
            return DatabaseBusy(f"{name} is locked by another writer ({reason})")
        if code == "SQLITE_FULL" or "disk is full" in lowered:
            return DatabaseError(
                f"cannot write to {name}: the disk is full or the file reached its size limit "
                f"({reason})"
            )
        if code.startswith("SQLITE_READONLY") or "readonly" in lowered:
            return DatabaseError(
                f"cannot write to {name}: the file or its directory is read-only ({reason})"
            )
        if code.startswith("SQLITE_CANTOPEN") or "unable to open" in lowered:
            path = _sqlite_file(url)
            if path is not None and path.is_dir():
                why = f"{path} is a directory, not a database file"
            else:
                why = f"{reason}: check that the path and its directory can be written"
            return DatabaseError(f"cannot open {name}: {why}")
        if code.startswith("SQLITE_IOERR") or code.startswith("SQLITE_PERM"):
            return DatabaseError(f"cannot use {name}: input/output or permission error ({reason})")
        return DatabaseError(f"database error on {name}: {reason}")
    sqlstate = str(getattr(original, "sqlstate", "") or "")
    if sqlstate in _PG_BUSY:
        return DatabaseBusy(f"{name} is busy: {reason}")
    if sqlstate in _PG_FULL:
        return DatabaseError(f"cannot write to {name}: the server is out of space ({reason})")
    if not sqlstate:  # no server reply at all: refused, timed out, name not resolved
        return DatabaseBusy(f"cannot open {name}: the server does not answer ({reason})")
    if sqlstate == "3D000":  # the database does not exist (yet)
        return DatabaseBusy(f"cannot open {name}: {reason}")
    return DatabaseError(f"database error on {name}: {reason}")
