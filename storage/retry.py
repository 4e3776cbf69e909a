"""Waiting out a locked or unreachable database, for a bounded time.

:func:`with_retry` runs one unit of work (a batch transaction) and, while it fails with
:class:`~storage.errors.DatabaseBusy`, runs it again with a growing pause, until
``db_retry_seconds`` have passed since the first attempt. Then the last error is raised with
how long was waited; the caller's transaction was rolled back, so nothing of it is stored and
a re-run stores it. SQLite also waits inside the driver (its busy timeout is the same setting),
PostgreSQL for its ``lock_timeout``.

Whoever wants to tell a user about the wait (the CLI) registers a listener with
:func:`retry_listener`: it is called once per :func:`with_retry` call, when the first retry is
about to start, with the error and the budget in seconds. A write waiting for another writer's
lock on a SQLite file waits inside the driver instead, when it opens the file
(:func:`storage.db.open_database`) and when a write transaction begins
(:func:`storage.db.write_session`); listeners registered with :func:`lock_wait_listener` hear
of each such wait, once it has lasted about half a second, with the error and the budget in
seconds (of the whole wait). Listeners are process-wide: those registered in the main thread
hear of waits in any thread (a flow's tasks store batches in worker threads).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import Engine

from storage.errors import DatabaseBusy

T = TypeVar("T")
DEFAULT_SECONDS = 30.0
_FIRST_PAUSE = 0.1
_LONGEST_PAUSE = 2.0
_seconds: WeakKeyDictionary[Engine, float] = WeakKeyDictionary()
RetryListener = Callable[[DatabaseBusy, float], None]


class _Listeners:
    """Listeners of one kind of wait, each called with the error and the budget in seconds."""

    def __init__(self) -> None:
        self._listeners: list[RetryListener] = []

    @contextmanager
    def listening(self, listener: RetryListener) -> Iterator[None]:
        self._listeners.append(listener)
        try:
            yield
        finally:
            self._listeners.remove(listener)

    def tell(self, error: DatabaseBusy, seconds: float) -> None:
        for listener in list(self._listeners):
            listener(error, seconds)


_retries = _Listeners()
_lock_waits = _Listeners()


def retry_listener(listener: RetryListener) -> AbstractContextManager[None]:
    """Call ``listener(error, budget_seconds)`` when a :func:`with_retry` call starts retrying."""
    return _retries.listening(listener)


def lock_wait_listener(listener: RetryListener) -> AbstractContextManager[None]:
    """Call ``listener(error, budget_seconds)`` when a write starts waiting for another
    writer's lock (see :func:`tell_lock_wait`)."""
    return _lock_waits.listening(listener)


def tell_lock_wait(error: DatabaseBusy, seconds: float) -> None:
    """Tell the :func:`lock_wait_listener` listeners that a write waits for up to ``seconds``
    for the lock another writer holds (``error`` names the database)."""
    _lock_waits.tell(error, seconds)


_setting: WeakKeyDictionary[Engine, str] = WeakKeyDictionary()


def set_retry_seconds(engine: Engine, seconds: float, setting: str = "db_retry_seconds") -> None:
    """Work on ``engine`` is retried for ``seconds``, the value of ``setting`` (for messages)."""
    _seconds[engine] = seconds
    _setting[engine] = setting


def retry_seconds(engine: Engine) -> float:
    """How long work on ``engine`` is retried (``db_retry_seconds`` when it was opened)."""
    return _seconds.get(engine, DEFAULT_SECONDS)


def gave_up(
    error: DatabaseBusy, waited: float, attempts: int, engine: Engine, budget: float
) -> DatabaseBusy:
    """The error to raise when work on ``engine`` still fails with ``error`` after
    ``waited`` seconds and ``attempts`` attempts (its budget was ``budget`` seconds)."""
    return DatabaseBusy(
        f"{error}; gave up after {waited:.1f} s and {attempts} "
        f"attempt{'s' if attempts > 1 else ''} "
        f"({_setting.get(engine, 'db_retry_seconds')} = {budget:g})"
    )


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
                raise gave_up(exc, waited, attempts, engine, budget) from None
            if attempts == 1:
                _retries.tell(exc, budget)
            sleep(min(pause, budget - waited))
            pause = min(pause * 2, _LONGEST_PAUSE)
