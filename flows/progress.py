"""A progress bar for long flows (backfill, retag): on stderr, and only on a terminal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)


@contextmanager
def progress_bar(
    show: bool, total: int, label: str, *, in_bytes: bool = False
) -> Iterator[Callable[[int], None]]:
    """Yields ``advance(n)``; draws a bar when ``show`` is set and stderr is a terminal
    (``in_bytes``: the total is a size in bytes, else a count)."""
    console = Console(stderr=True)
    if not show or not console.is_terminal:
        yield lambda _: None
        return
    done = DownloadColumn() if in_bytes else MofNCompleteColumn()
    columns = (TextColumn(label), BarColumn(), done, TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        bar = progress.add_task(label, total=total)
        yield lambda n: progress.advance(bar, n)
