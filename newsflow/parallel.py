"""Ordered, bounded mapping over a stream, in worker processes when it pays.

:class:`WorkerPool` maps a picklable function over an iterable and yields the results in the
input's order, reading the input lazily: at most ``ahead`` chunks of ``chunk`` items are in
flight, so memory stays flat however long the input. The consumer (the flow storing batches)
works on finished results while the workers compute the next ones.

The processes are started only when the input turns out to be bigger than ``start_after``
items: a small input (the seeds, one file) is mapped in the calling process and pays nothing
for a pool. With ``workers=1`` everything runs in the calling process, as a plain ``map``.

Workers are started with ``spawn`` (a fresh interpreter), never ``fork``: Prefect runs
threads in the flow's process, and forking a process with threads can deadlock. A fresh
interpreter also sees the current directory and environment. Each worker calls
``initializer`` once (loading the taxonomy, importing trafilatura), then serves every chunk.
No Prefect here: this is a plain module the flows use.
"""

from __future__ import annotations

import gc
import multiprocessing
import signal
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from itertools import chain, islice
from types import TracebackType
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")
K = TypeVar("K")


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
    gc.collect()
    gc.freeze()  # what the start-up loaded lives as long as the worker: see startup_frozen


@contextmanager
def startup_frozen() -> Iterator[None]:
    """For the block, the objects alive when it starts are left out of the garbage
    collector's passes (``gc.freeze``), then put back.

    After start-up a process holds millions of long-lived objects (Prefect, SQLAlchemy,
    trafilatura, the taxonomy); each full collection walked all of them, ~175 ms, a dozen
    times per 10k articles in the flow's process (2.3 s of its ~12 s of CPU). Objects made
    in the block are collected as before; garbage from before it is collected first."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _run_chunk(fn: Callable[[T], R], chunk: list[T]) -> list[R]:
    return [fn(item) for item in chunk]


class WorkerPool(Generic[T, R]):
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
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(self.initializer,),
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
            with _sigint_blocked():  # a submit may start a worker process
                future = executor.submit(_run_chunk, self.fn, items)
            pending.append((future, [k for _, k in chunk]))
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

    def __enter__(self) -> WorkerPool[T, R]:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
