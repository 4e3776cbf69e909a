"""Backfills: history from directory trees, JSON/JSONL dumps and WARC archives, resumable.

Plain functions; ``flows/backfill.py`` runs them as the Prefect flow ``backfill``.

- :func:`plan_backfill` lists the files of each input with the checkpoint stored for each
  (``backfill_checkpoints``): a file is known by its resolved path, and the checkpoint applies
  while its size and modification time are unchanged (a changed file is read again from the
  start; the store being idempotent, what was already stored stays as it is).
- :func:`run_backfill` reads the files in order, drops articles outside the date window, cuts
  the rest into batches and hands each batch to ``submit`` (the ``ingest-batch`` task, or the
  plain :func:`newsflow.pipeline.ingest_batch`); at most ``concurrency`` batches are in flight.
  Batches are settled in the order they were read, and only then is each file's checkpoint
  advanced to the last record of that batch, so a checkpoint never runs ahead of what is
  committed. An interrupted backfill (Ctrl-C, a killed process) resumes after the last
  settled batch: WARC and JSONL files by seeking to the byte offset of their last committed
  record, other files by skipping the records already committed; files completed before are
  skipped. A batch committed but not yet checkpointed when the process died is read again
  and found unchanged: nothing is lost and nothing doubled.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol

from sqlalchemy import Engine

import parsers
from newsflow.article import Article
from newsflow.errors import SourceError
from parsers.jsonl import iter_jsonl_lines
from parsers.manifest import Manifest
from parsers.warc import is_warc, iter_warc_records
from storage.checkpoints import Checkpoint, load_checkpoints, save_checkpoints
from storage.repository import BatchResult

Item = Article | SourceError


@dataclass(frozen=True)
class DateWindow:
    """Publication dates to keep: ``since`` inclusive, ``until`` exclusive.

    With either bound set, an article with no publication date is outside the window unless
    ``include_undated``; with neither, every article is kept.
    """

    since: datetime | None = None
    until: datetime | None = None
    include_undated: bool = False

    @property
    def active(self) -> bool:
        return self.since is not None or self.until is not None

    def admits(self, article: Article) -> bool:
        if not self.active:
            return True
        if article.published is None:
            return self.include_undated
        if self.since is not None and article.published < self.since:
            return False
        return self.until is None or article.published < self.until


@dataclass(frozen=True)
class InputFile:
    """One file of a backfill with the checkpoint that applies to it (if any)."""

    path: Path
    manifest: Manifest
    key: str
    fingerprint: str
    size: int
    start: Checkpoint | None = None

    @property
    def kind(self) -> Literal["warc", "jsonl", "other"]:
        if is_warc(self.path):
            return "warc"
        return "jsonl" if self.path.suffix.lower() in parsers.JSONL_SUFFIXES else "other"

    @property
    def completed(self) -> bool:
        return self.start is not None and self.start.completed


@dataclass
class PlannedInput:
    """One input as given (a file or a directory): its files and what could not be listed."""

    name: str
    files: list[InputFile] = field(default_factory=list)
    errors: list[SourceError] = field(default_factory=list)

    @property
    def remaining_bytes(self) -> int:
        return sum(f.size for f in self.files if not f.completed)


def fingerprint(path: Path) -> tuple[str, int]:
    """A file's identity for checkpoints (size and modification time) and its size."""
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}", stat.st_size


def plan_backfill(
    paths: Iterable[str],
    engine: Engine,
    *,
    manifest_name: str = "manifest.yaml",
    restart: bool = False,
) -> list[PlannedInput]:
    """The files of each input, with their stored checkpoints (none with ``restart``).

    A file named by two inputs (a file and its directory) is planned once, under the first.
    """
    plan = []
    seen: set[str] = set()
    for name in paths:
        path = Path(name)
        planned = PlannedInput(name)
        stored = {} if restart else load_checkpoints(engine, str(path.resolve()))
        for entry in parsers.iter_files(path, manifest_name):
            if isinstance(entry, SourceError):
                planned.errors.append(entry)
                continue
            file, manifest = entry
            key = str(file.resolve())
            if key in seen:
                continue
            seen.add(key)
            try:
                stamp, size = fingerprint(file)
            except OSError as exc:
                planned.errors.append(SourceError(str(file), f"cannot read file: {exc}"))
                continue
            start = stored.get(key)
            if start is not None and start.fingerprint != stamp:
                start = None  # the file changed since: read it again
            planned.files.append(InputFile(file, manifest, key, stamp, size, start))
        plan.append(planned)
    return plan


def read_input_file(file: InputFile) -> Iterator[tuple[Item, Checkpoint]]:
    """The items of ``file`` after its checkpoint, each with the checkpoint it completes."""
    start = file.start
    if file.kind == "warc":
        count = start.records if start else 0
        resume = start.position if start else None
        for item, offset in iter_warc_records(file.path, resume_after=resume):
            count += 1
            yield item, Checkpoint(file.key, file.fingerprint, count, offset)
    elif file.kind == "jsonl":
        lines = (start.records, start.position) if start and start.position is not None else None
        source = file.manifest.defaults.get("source") or file.path.stem
        for item, line, offset in iter_jsonl_lines(file.path, source=source, resume_after=lines):
            yield item, Checkpoint(file.key, file.fingerprint, line, offset)
    else:
        skip = start.records if start else 0
        for number, item in enumerate(parsers.read_file(file.path, file.manifest), start=1):
            if number > skip:
                yield item, Checkpoint(file.key, file.fingerprint, number, None)


@dataclass
class InputReport:
    """What a backfill did with one input."""

    input: str
    files: int = 0
    files_complete_before: int = 0
    files_resumed: int = 0
    skipped_by_date: int = 0
    totals: BatchResult = field(default_factory=BatchResult)
    errors: list[tuple[str, str]] = field(default_factory=list)

    @property
    def read(self) -> int:
        """Records read this time: articles stored or found stored, errors, and those dropped
        by the date window."""
        return self.totals.read + self.totals.errors + self.skipped_by_date

    def as_dict(self) -> dict[str, object]:
        return {
            "input": self.input,
            "files": self.files,
            "files_complete_before": self.files_complete_before,
            "files_resumed": self.files_resumed,
            "read": self.read,
            **self.totals.counts(),
            "skipped_by_date": self.skipped_by_date,
        }


@dataclass
class BackfillSummary:
    """What one backfill run did, per input and in total."""

    run_id: int
    database: str
    window: DateWindow = field(default_factory=DateWindow)
    restart: bool = False
    inputs: list[InputReport] = field(default_factory=list)
    batches: int = 0
    stopped: bool = False

    @property
    def totals(self) -> BatchResult:
        total = BatchResult()
        for report in self.inputs:
            total.add(report.totals)
        return total

    @property
    def errors(self) -> list[tuple[str, str]]:
        return [error for report in self.inputs for error in report.errors]

    @property
    def skipped_by_date(self) -> int:
        return sum(report.skipped_by_date for report in self.inputs)

    @property
    def read(self) -> int:
        return sum(report.read for report in self.inputs)

    @property
    def topics(self) -> list[tuple[str, int]]:
        return self.totals.ranked_topics()

    def as_dict(self) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            "database": self.database,
            "since": self.window.since.isoformat() if self.window.since else None,
            "until": self.window.until.isoformat() if self.window.until else None,
            "include_undated": self.window.include_undated,
            "restart": self.restart,
            "batches": self.batches,
            "stopped": self.stopped,
            "read": self.read,
            **self.totals.counts(),
            "skipped_by_date": self.skipped_by_date,
            "topics": dict(self.topics),
            "inputs": [report.as_dict() for report in self.inputs],
            "error_details": [{"origin": o, "message": m} for o, m in self.errors],
        }


class Pending(Protocol):
    """A submitted batch: a Prefect future, or a result already there."""

    def result(self) -> BatchResult: ...


@dataclass(frozen=True)
class Done:
    """A batch processed synchronously."""

    value: BatchResult

    def result(self) -> BatchResult:
        return self.value


Submit = Callable[[list[Item]], Pending]


@dataclass
class _Batch:
    report: InputReport
    pending: Pending | None
    errors: list[SourceError]
    marks: dict[str, Checkpoint]
    progress: int


def run_backfill(
    plan: list[PlannedInput],
    submit: Submit,
    summary: BackfillSummary,
    *,
    engine: Engine,
    batch_size: int,
    concurrency: int = 2,
    advance: Callable[[int], None] = lambda _: None,
    max_batches: int | None = None,
) -> BackfillSummary:
    """Read every planned file and store it batch by batch (see the module's description).

    ``advance`` is told how many input bytes each settled batch covered (for a progress bar).
    ``max_batches`` stops after that many batches, as an interruption would: their records
    are stored and checkpointed, and nothing after them.
    """
    in_flight: deque[_Batch] = deque()

    def settle(batch: _Batch) -> None:
        if batch.pending is not None:
            batch.report.totals.add(batch.pending.result())
            batch.report.errors.extend((e.origin, e.message) for e in batch.errors)
        save_checkpoints(engine, batch.marks.values(), summary.run_id)
        advance(batch.progress)

    def drain(limit: int) -> None:
        while len(in_flight) > limit:
            try:
                settle(in_flight.popleft())
            except BaseException:
                in_flight.clear()  # no checkpoint may pass a batch that failed
                raise

    items: list[Item] = []
    marks: dict[str, Checkpoint] = {}
    progress = 0

    def flush(report: InputReport) -> bool:
        """Hand over the batch read so far; False when ``max_batches`` is reached."""
        nonlocal items, marks, progress
        if not items and not marks:
            return True
        errors = [item for item in items if isinstance(item, SourceError)]
        pending = submit(items) if items else None
        summary.batches += 1 if items else 0
        in_flight.append(_Batch(report, pending, errors, marks, progress))
        items, marks, progress = [], {}, 0
        drain(concurrency)
        return max_batches is None or summary.batches < max_batches

    try:
        for planned in plan:
            report = InputReport(planned.name, files=len(planned.files))
            summary.inputs.append(report)
            items.extend(planned.errors)
            for file in planned.files:
                if file.completed:
                    report.files_complete_before += 1
                    continue
                if file.start is not None:
                    report.files_resumed += 1
                done_bytes = (file.start.position or 0) if file.start else 0
                whole_file_failed = False
                last: Checkpoint | None = file.start
                for item, mark in read_input_file(file):
                    if isinstance(item, Article) and not summary.window.admits(item):
                        report.skipped_by_date += 1
                    else:
                        items.append(item)
                        if isinstance(item, SourceError) and item.origin == str(file.path):
                            whole_file_failed = True  # not marked complete: tried again
                    marks[file.key] = last = mark
                    if mark.position is not None and mark.position > done_bytes:
                        progress += mark.position - done_bytes
                        done_bytes = mark.position
                    if len(items) >= batch_size and not flush(report):
                        summary.stopped = True
                        return summary
                progress += max(file.size - done_bytes, 0)
                if not whole_file_failed:
                    base = last or Checkpoint(file.key, file.fingerprint)
                    marks[file.key] = dataclasses.replace(base, completed=True)
            if not flush(report) and planned is not plan[-1]:
                summary.stopped = True
                return summary
        return summary
    finally:
        drain(0)


def total_bytes(plan: Iterable[PlannedInput]) -> int:
    """The bytes a backfill of ``plan`` still has to read (for a progress bar)."""
    return sum(planned.remaining_bytes for planned in plan)
