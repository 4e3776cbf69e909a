"""Waiting out a locked or unreachable database, for a bounded time.

:func:`with_retry` runs one unit of work (a batch transaction) and, while it fails with
:class:`~storage.errors.DatabaseBusy`, runs it again with a growing pause, until
``db_retry_seconds`` have passed since the first attempt. Then the last error is raised with
how long was waited; the caller's transaction was rolled back, so nothing of it is stored and
a re-run stores it. SQLite also waits inside the driver (its busy timeout is the same setting),
PostgreSQL for its ``lock_timeout``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import Engine

from storage.errors import DatabaseBusy

T = TypeVar("T")
DEFAULT_SECONDS = 30.0
_FIRST_PAUSE = 0.1
_LONGEST_PAUSE = 2.0
_seconds: WeakKeyDictionary[Engine, float] = WeakKeyDictionary()


def set_retry_seconds(engine: Engine, seconds: float) -> None:
    _seconds[engine] = seconds


def retry_seconds(engine: Engine) -> float:
    """How long work on ``engine`` is retried (``db_retry_seconds`` when it was opened)."""
    return _seconds.get(engine, DEFAULT_SECONDS)


def with_retry(
    engine: Engine,
    action: Callable[[], T],
    *,
    seconds: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``action()``, retried on :class:`DatabaseBusy` for ``seconds`` (the engine's setting)."""
    budget = retry_seconds(engine) if seconds is None else seconds
    started = time.monotonic()
    pause = _FIRST_PAUSE
    attempts = 0
    while True:
        attempts += 1
        try:
            return action()
        except DatabaseBusy as exc:
            waited = time.monotonic() - started
            if waited >= budget:
                raise DatabaseBusy(
                    f"{exc}; gave up after {waited:.1f} s and {attempts} "
                    f"attempt{'s' if attempts > 1 else ''} (db_retry_seconds = {budget:g})"
                ) from None
            sleep(min(pause, budget - waited))
            pause = min(pause * 2, _LONGEST_PAUSE)
