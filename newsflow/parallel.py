"""Ordered, bounded mapping over a stream, in worker processes when it pays.

:class:`WorkerPool` maps a picklable function over an iterable and yields the results in the
input's order, reading the input lazily: at most ``ahead`` chunks of ``chunk`` items are in
flight, so memory stays flat however long the input. The consumer (the flow storing batches)
works on finished results while the workers compute the next ones.

The processes are started only when the input turns out to be bigger than ``start_after``
items: a small input (the seeds, one file) is mapped in the calling process and pays nothing
for a pool. With ``workers=1`` everything runs in the calling process, as a plain ``map``.
A caller that knows early that a pool will be wanted can start its processes ahead
(:func:`start_spare`); the pool (a :class:`WorkerPool` or a :class:`CallPool`) takes them
instead of starting its own.

Workers are started with ``spawn`` (a fresh interpreter), never ``fork``: Prefect runs
threads in the flow's process, and forking a process with threads can deadlock. A fresh
interpreter also sees the current directory and environment. Each worker calls
``initializer`` once (loading the taxonomy, importing trafilatura), then serves every chunk.
No Prefect here: this is a plain module the flows use.

:class:`CallPool` is the same processes for single calls made from many threads (polling
feeds, a few at a time): ``run(fn, *args)`` is ``fn(*args)``, computed in a worker once the
calls run in the calling threads have used ``start_after`` seconds of CPU time between them.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import gc
import logging
import multiprocessing
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from itertools import chain, islice
from types import TracebackType
from typing import Generic, ParamSpec, Self, TypeVar

T = TypeVar("T")
R = TypeVar("R")
K = TypeVar("K")
P = ParamSpec("P")

log = logging.getLogger(__name__)


# Ctrl-C is the parent's to handle: a terminal sends SIGINT to the whole process group, and the
# parent stops the pool. A worker is started with SIGINT blocked (the mask survives ``exec``), so
# a Ctrl-C while it is still importing stays pending instead of raising KeyboardInterrupt there;
# ``_start_worker`` then ignores SIGINT, which discards a pending one, and unblocks it. This is
# how ``multiprocessing.resource_tracker`` starts its process.
_HAVE_SIGMASK = hasattr(signal, "pthread_sigmask")


@contextmanager
def _sigint_blocked() -> Iterator[None]:
    """SIGINT blocked in this thread for the block: processes started in it inherit that."""
    if not _HAVE_SIGMASK:
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _start_worker(initializer: Callable[[], None] | None) -> None:
    """In each worker: ignore Ctrl-C (see above), then call the caller's ``initializer``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if _HAVE_SIGMASK:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    if initializer is not None:
        initializer()
    _freeze_alive()  # what the start-up loaded lives as long as the worker: see startup_frozen


def _freeze_alive() -> None:
    """Collect the garbage, then leave every object still alive out of later collections."""
    gc.collect()
    gc.freeze()


@contextmanager
def startup_frozen() -> Iterator[None]:
    """For the block, the objects alive when it starts are left out of the garbage
    collector's passes (``gc.freeze``), then put back.

    After start-up a process holds millions of long-lived objects (Prefect, SQLAlchemy,
    trafilatura, the taxonomy); each full collection walked all of them, ~175 ms, a dozen
    times per 10k articles in the flow's process (2.3 s of its ~12 s of CPU). Objects made
    in the block are collected as before; garbage from before it is collected first."""
    _freeze_alive()
    try:
        yield
    finally:
        gc.unfreeze()


def _nothing() -> None:
    """A worker's first call: done once that worker has started."""


def _run_chunk(fn: Callable[[T], R], chunk: list[T]) -> list[R]:
    return [fn(item) for item in chunk]


class _Executor(ProcessPoolExecutor):
    """A process pool whose ``submit``, which may start a worker process, runs with SIGINT
    blocked, so that every worker starts with it blocked (see :func:`_start_worker`)."""

    def submit(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> Future[R]:
        with _sigint_blocked():
            return super().submit(fn, *args, **kwargs)


def _new_executor(workers: int, initializer: Callable[[], None] | None) -> ProcessPoolExecutor:
    """Up to ``workers`` spawned processes, each started by :func:`_start_worker`."""
    return _Executor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(initializer,),
    )


# Worker processes started ahead of the WorkerPool that takes them (start_spare), until then.
_spare: ProcessPoolExecutor | None = None
_spare_workers = 0
_spare_lock = threading.Lock()


def start_spare(workers: int, initializer: Callable[[], None] | None = None) -> None:
    """Start ``workers`` processes now (each calls ``initializer``), for the next
    :class:`WorkerPool` or :class:`CallPool` of as many workers to take instead of starting
    its own (the pool's own ``initializer`` is not called again): a caller that knows a pool
    will be wanted (a command with a big input, a poll of many feeds) starts them while it
    waits for something else (Prefect's server). Processes no pool took stop when this
    process exits. A no-op with fewer than 2 workers, or with spare processes already
    started."""
    global _spare, _spare_workers
    with _spare_lock:
        if workers < 2 or _spare is not None:
            return
        executor = _new_executor(workers, initializer)
        for _ in range(workers):  # each submit starts a process (they start lazily)
            executor.submit(_nothing)
        _spare, _spare_workers = executor, workers
    atexit.register(_stop_spare)


def _has_spare(workers: int) -> bool:
    """Whether spare processes for a pool of ``workers`` are waiting to be taken."""
    with _spare_lock:
        return _spare is not None and _spare_workers == workers


def _take_spare(workers: int) -> ProcessPoolExecutor | None:
    global _spare
    with _spare_lock:
        if _spare is None or _spare_workers != workers:
            return None
        executor, _spare = _spare, None
        return executor


def _stop_spare() -> None:
    global _spare
    with _spare_lock:
        executor, _spare = _spare, None
    if executor is not None:
        executor.shutdown(wait=True, cancel_futures=True)


class _ClosedOnExit:
    """Use as a context manager: :meth:`close` on the way out."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class WorkerPool(_ClosedOnExit, Generic[T, R]):
    """``fn`` over streams of items, in order, in up to ``workers`` processes (lazily started).

    Use as a context manager; the processes (if any were started) stop when it exits, and
    work not yet consumed is cancelled.
    """

    def __init__(
        self,
        fn: Callable[[T], R],
        workers: int,
        *,
        start_after: int = 100,
        chunk: int = 8,
        ahead: int | None = None,
        initializer: Callable[[], None] | None = None,
    ) -> None:
        if workers < 1 or chunk < 1:
            raise ValueError("workers and chunk must be at least 1")
        self.fn = fn
        self.workers = workers
        self.start_after = start_after
        self.chunk = chunk
        self.ahead = ahead or max(2 * workers, (2 * start_after) // chunk + 1)
        self.initializer = initializer
        self._executor: ProcessPoolExecutor | None = None

    @property
    def started(self) -> bool:
        """Whether worker processes were started."""
        return self._executor is not None

    def _start(self) -> ProcessPoolExecutor:
        """The processes: the spare ones started for a pool of this size, else new ones."""
        if self._executor is None:
            self._executor = _take_spare(self.workers) or _new_executor(
                self.workers, self.initializer
            )
        return self._executor

    def map(self, items: Iterable[T]) -> Generator[R, None, None]:
        """``fn`` of each item, in order."""
        for result, _ in self.map_keyed((item, None) for item in items):
            yield result

    def map_keyed(self, pairs: Iterable[tuple[T, K]]) -> Generator[tuple[R, K], None, None]:
        """``(fn(item), key)`` for each ``(item, key)``, in order; keys stay in this process."""
        source = iter(pairs)
        if self.workers == 1:
            yield from ((self.fn(item), key) for item, key in source)
            return
        head = list(islice(source, self.start_after + 1))
        if len(head) <= self.start_after:  # small input: not worth starting processes
            yield from ((self.fn(item), key) for item, key in head)
            return
        executor = self._start()
        stream = chain(head, source)
        pending: deque[tuple[Future[list[R]], list[K]]] = deque()

        def submit() -> bool:
            chunk = list(islice(stream, self.chunk))
            if not chunk:
                return False
            items = [item for item, _ in chunk]
            pending.append((executor.submit(_run_chunk, self.fn, items), [k for _, k in chunk]))
            return True

        try:
            while len(pending) < self.ahead and submit():
                pass
            while pending:
                future, keys = pending.popleft()
                results = future.result()
                submit()
                yield from zip(results, keys, strict=True)
        finally:
            for future, _ in pending:
                future.cancel()

    def close(self) -> None:
        """Stop the worker processes (cancelling what is queued); a no-op if none started."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


class CallPool(_ClosedOnExit):
    """``fn(*args)`` for callers in any thread, in up to ``workers`` processes when it pays.

    Calls run in the calling thread (always with ``workers=1``) until those calls have used
    ``start_after`` seconds of CPU time between them (``time.thread_time``: what they cost,
    not what they waited for the GIL); then the processes start (as :class:`WorkerPool`'s
    do, ``initializer`` once in each). Spare processes started for a pool of this size
    (:func:`start_spare`) are taken at the first call, whatever ``start_after`` says. Calls
    keep running in their threads while the workers start (their imports take a second or
    more); once one of them is ready, every call is sent to the workers. The calling thread
    waits for its result, so ``fn`` and its arguments and result must pickle; what ``fn``
    raises is raised in the caller.

    The result never depends on where a call ran: a call that a worker could not finish
    because the pool broke (a worker killed, a crash) or was closed runs in the calling
    thread instead, and a broken pool is not started again. Use as a context manager, or call
    :meth:`close`; calls made after it run in the calling thread.
    """

    def __init__(
        self,
        workers: int,
        *,
        start_after: float = 2.0,
        initializer: Callable[[], None] | None = None,
    ) -> None:
        if workers < 1 or start_after < 0:
            raise ValueError("workers must be at least 1 and start_after not negative")
        self.workers = workers
        self.start_after = start_after
        self.initializer = initializer
        self.worker_calls = 0  # calls whose result came from a worker process
        self._inline_seconds = 0.0
        self._executor: ProcessPoolExecutor | None = None
        self._ready: list[Future[None]] = []  # one done: a worker has started
        self._stopped = False  # closed or broken: no processes from now on
        self._lock = threading.Lock()

    @property
    def started(self) -> bool:
        """Whether worker processes are running (started, and neither closed nor broken)."""
        return self._executor is not None

    def _start(self) -> None:
        """Start the processes (with the lock held): each submit of a no-op starts one."""
        if self._executor is None and not self._stopped and self.workers > 1:
            executor = _take_spare(self.workers) or _new_executor(self.workers, self.initializer)
            self._ready = [executor.submit(_nothing) for _ in range(self.workers)]
            self._executor = executor

    def start(self, *, wait: bool = False) -> None:
        """Start the worker processes now, whatever ``start_after`` says (not with
        ``workers=1``, nor once closed); with ``wait``, return once one of them is ready."""
        with self._lock:
            self._start()
            ready = list(self._ready)
        if wait and ready:
            concurrent.futures.wait(ready, return_when=concurrent.futures.FIRST_COMPLETED)

    def _executor_for_call(self) -> ProcessPoolExecutor | None:
        """The processes to send a call to; ``None`` to run it here (none ready)."""
        with self._lock:
            if self._executor is None and (
                self._inline_seconds >= self.start_after or _has_spare(self.workers)
            ):
                self._start()
            if any(future.done() for future in self._ready):
                return self._executor
            return None

    def run(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """``fn(*args, **kwargs)``, in a worker process or in this thread (see the class)."""
        if self.workers == 1:
            return fn(*args, **kwargs)
        executor = self._executor_for_call()
        if executor is not None:
            future: Future[R] | None = None
            try:
                future = executor.submit(fn, *args, **kwargs)
            except RuntimeError:  # closed or broken since (BrokenProcessPool is one too)
                self._discard(executor)
            if future is not None:
                try:
                    result = future.result()
                except BrokenProcessPool:
                    self._discard(executor)
                except CancelledError:
                    if not future.cancelled():
                        raise  # fn's own
                else:
                    with self._lock:
                        self.worker_calls += 1
                    return result
        return self._run_here(fn, *args, **kwargs)

    def _run_here(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        began = time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            spent = time.thread_time() - began
            with self._lock:
                self._inline_seconds += spent

    def _discard(self, executor: ProcessPoolExecutor) -> None:
        """Stop using ``executor`` (broken, or closed meanwhile); calls run here from now on."""
        with self._lock:
            if self._executor is not executor:
                return  # closed, or discarded by another caller
            self._executor, self._ready, self._stopped = None, [], True
        log.warning("a worker process stopped unexpectedly; the rest runs in this process")
        executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the worker processes (cancelling what is queued: it runs in the callers'
        threads) after the calls they are running; a no-op if none are running."""
        with self._lock:
            self._stopped = True
            executor, self._executor, self._ready = self._executor, None, []
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
