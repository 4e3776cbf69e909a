"""Backfills: history from directory trees, JSON/JSONL dumps and WARC archives, resumable.

Plain functions; ``flows/backfill.py`` runs them as the Prefect flow ``backfill``.

- :func:`plan_backfill` lists the files of each input with the checkpoint stored for each
  (``backfill_checkpoints``): a file is known by its resolved path, and the checkpoint applies
  while its size and modification time are unchanged (a changed file is read again from the
  start; the store being idempotent, what was already stored stays as it is).
- :func:`run_backfill` reads the files' records in order and has a
  :class:`~newsflow.pipeline.Preparer` parse and process each (in ``workers`` processes, see
  :mod:`newsflow.parallel`; their results come back in reading order), drops articles outside
  the date window, cuts the rest into batches and hands each batch to ``submit`` (the
  ``store-batch`` task, or the plain :func:`newsflow.pipeline.store_prepared`); at most
  ``concurrency`` batches are in flight.
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
from typing import Literal, Protocol, TypeVar

from sqlalchemy import Engine

import parsers
from newsflow.article import Article, ProcessedArticle
from newsflow.errors import SourceError
from newsflow.parallel import WorkerPool
from newsflow.pipeline import Prepared, Preparer, Skipped, is_error, real_errors
from parsers import Record
from parsers.jsonl import iter_jsonl_raw
from parsers.manifest import Manifest
from parsers.warc import is_warc, iter_warc_raw
from storage.checkpoints import Checkpoint, load_checkpoints, save_checkpoints
from storage.repository import BatchResult

Item = Article | SourceError
Stored = ProcessedArticle | SourceError
T = TypeVar("T")


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


def read_input_records(file: InputFile) -> Iterator[tuple[Record | SourceError, Checkpoint | None]]:
    """The records of ``file`` after its checkpoint, unparsed, each with the checkpoint it
    completes: WARC records and JSONL lines resume at a byte offset; another file is one
    record (``None``: its items are counted once parsed, see :func:`_item_marks`)."""
    start = file.start
    if file.kind == "warc":
        count = start.records if start else 0
        resume = start.position if start else None
        for record, offset in iter_warc_raw(file.path, resume_after=resume):
            count += 1
            yield record, Checkpoint(file.key, file.fingerprint, count, offset)
    elif file.kind == "jsonl":
        lines = (start.records, start.position) if start and start.position is not None else None
        source = file.manifest.defaults.get("source") or file.path.stem
        for line, number, offset in iter_jsonl_raw(file.path, source=source, resume_after=lines):
            yield line, Checkpoint(file.key, file.fingerprint, number, offset)
    else:
        yield from ((record, None) for record in parsers.file_records(file.path, file.manifest))


def _item_marks(
    file: InputFile, items: list[T], mark: Checkpoint | None, count: list[int]
) -> Iterator[tuple[T, Checkpoint]]:
    """The items of one record with their checkpoints; for a file read whole, each item is
    numbered (``count`` holds the file's running count) and those committed before skipped."""
    for item in items:
        if mark is not None:
            yield item, mark
            continue
        count[0] += 1
        if count[0] > (file.start.records if file.start else 0):
            yield item, Checkpoint(file.key, file.fingerprint, count[0], None)


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
        """Records read this time: articles stored or found stored, errors, pages with no
        article text, and those dropped by the date window."""
        return self.totals.read + self.totals.errors + self.totals.no_text + self.skipped_by_date

    def as_dict(self) -> dict[str, object]:
        return {
            "input": self.input,
            "files": self.files,
            "files_complete_before": self.files_complete_before,
            "files_resumed": self.files_resumed,
            "read": self.read,
            **self.totals.counts(),
            "skipped_no_text": self.totals.no_text,
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
            "skipped_no_text": self.totals.no_text,
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


Submit = Callable[[list[Stored]], Pending]


@dataclass
class _Batch:
    report: InputReport
    pending: Pending | None
    errors: list[SourceError]
    marks: dict[str, Checkpoint]
    progress: int


@dataclass(frozen=True)
class _PrepareOrPass:
    """The preparer, with ``None`` (a marker in the stream, no work) prepared as nothing."""

    preparer: Preparer

    def __call__(self, record: Record | SourceError | None) -> list[Prepared]:
        return [] if record is None else self.preparer(record)


@dataclass(frozen=True)
class _Event:
    """Where the reader is: an input or a file starts or ends, or a record was read."""

    kind: Literal["input", "input-end", "file", "file-end", "record"]
    planned: PlannedInput
    file: InputFile | None = None
    mark: Checkpoint | None = None


def _stream(plan: list[PlannedInput]) -> Iterator[tuple[Record | SourceError | None, _Event]]:
    for planned in plan:
        yield None, _Event("input", planned)
        for file in planned.files:
            yield None, _Event("file", planned, file)
            if file.completed:
                continue
            for record, mark in read_input_records(file):
                yield record, _Event("record", planned, file, mark)
            yield None, _Event("file-end", planned, file)
        yield None, _Event("input-end", planned)


def run_backfill(
    plan: list[PlannedInput],
    submit: Submit,
    summary: BackfillSummary,
    *,
    engine: Engine,
    preparer: Preparer,
    batch_size: int,
    concurrency: int = 2,
    workers: int = 1,
    advance: Callable[[int], None] = lambda _: None,
    max_batches: int | None = None,
) -> BackfillSummary:
    """Read every planned file and store it batch by batch (see the module's description).

    ``preparer`` parses and processes the records (``summary.window`` decides which articles
    are kept), in ``workers`` processes when there is more than a batch of records.
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

    items: list[Stored] = []
    marks: dict[str, Checkpoint] = {}
    progress = 0

    def flush(report: InputReport) -> bool:
        """Hand over the batch read so far; False when ``max_batches`` is reached."""
        nonlocal items, marks, progress
        if not items and not marks:
            return True
        errors = real_errors(items)
        pending = submit(items) if items else None
        summary.batches += 1 if items else 0
        in_flight.append(_Batch(report, pending, errors, marks, progress))
        items, marks, progress = [], {}, 0
        drain(concurrency)
        return max_batches is None or summary.batches < max_batches

    window = summary.window
    prepare = _PrepareOrPass(
        dataclasses.replace(preparer, admit=window.admits if window.active else None)
    )
    pool: WorkerPool[Record | SourceError | None, list[Prepared]] = WorkerPool(
        prepare,
        workers,
        start_after=batch_size,
        initializer=prepare.preparer.warm_up,
    )
    report = InputReport("")
    done_bytes, whole_file_failed, count = 0, False, [0]
    last: Checkpoint | None = None
    try:
        with pool:
            for results, event in pool.map_keyed(_stream(plan)):
                file = event.file
                if event.kind == "input":
                    report = InputReport(event.planned.name, files=len(event.planned.files))
                    summary.inputs.append(report)
                    items.extend(event.planned.errors)
                elif event.kind == "input-end":
                    if not flush(report) and event.planned is not plan[-1]:
                        summary.stopped = True
                        return summary
                elif event.kind == "file" and file is not None:
                    if file.completed:
                        report.files_complete_before += 1
                    elif file.start is not None:
                        report.files_resumed += 1
                    done_bytes = (file.start.position or 0) if file.start else 0
                    whole_file_failed, count, last = False, [0], file.start
                elif event.kind == "file-end" and file is not None:
                    progress += max(file.size - done_bytes, 0)
                    if not whole_file_failed:
                        base = last or Checkpoint(file.key, file.fingerprint)
                        marks[file.key] = dataclasses.replace(base, completed=True)
                elif event.kind == "record" and file is not None:
                    for item, mark in _item_marks(file, results, event.mark, count):
                        if isinstance(item, Skipped):
                            report.skipped_by_date += 1
                        else:
                            items.append(item)
                            if is_error(item) and item.origin == str(file.path):
                                whole_file_failed = True  # not marked complete: tried again
                        marks[file.key] = last = mark
                        if mark.position is not None and mark.position > done_bytes:
                            progress += mark.position - done_bytes
                            done_bytes = mark.position
                        if len(items) >= batch_size and not flush(report):
                            summary.stopped = True
                            return summary
        return summary
    finally:
        drain(0)


def total_bytes(plan: Iterable[PlannedInput]) -> int:
    """The bytes a backfill of ``plan`` still has to read (for a progress bar)."""
    return sum(planned.remaining_bytes for planned in plan)
