"""The ingestion steps as plain functions; ``flows/`` wraps them in Prefect tasks and flows.

read (parsers) → process (dedup keys, tags) → store (storage), one batch at a time.

:class:`Preparer` (from :mod:`newsflow.prepare`, the CPU work, light enough for a worker process
to import) is the per-record CPU work in one picklable function: parse a record read by
:func:`parsers.iter_records`, then :func:`process` its articles. The flows map it over the
records with :mod:`newsflow.parallel` (in worker processes, or in this one) and store what it
returns with :func:`store_prepared`; :func:`ingest_batch` is the same two steps for articles
already parsed.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TypeGuard

from sqlalchemy import Engine

import parsers
from newsflow.article import Article, ProcessedArticle
from newsflow.errors import NoArticleText, SourceError
from newsflow.parallel import WorkerPool, start_spare

# the CPU work lives in newsflow.prepare (light to import, for worker processes); its names
# are this module's too
from newsflow.prepare import Prepared as Prepared
from newsflow.prepare import Preparer as Preparer
from newsflow.prepare import Skipped as Skipped
from newsflow.prepare import process as process
from newsflow.prepare import process_with as process_with
from newsflow.prepare import tag_document as tag_document
from newsflow.prepare import tagger_for as tagger_for
from newsflow.settings import Settings, load_settings
from parsers import Record
from processing.neardup import NearDupConfig
from processing.tagger import Tagger
from storage import repository
from storage.db import open_database
from storage.repository import BatchResult
from storage.retry import with_retry


def neardup_config(settings: Settings | None = None) -> NearDupConfig:
    """Near-duplicate detection as configured (``NEWSFLOW_NEARDUP_*``, the config file)."""
    s = settings or load_settings()
    return NearDupConfig(
        enabled=s.neardup_enabled,
        shingle_words=s.neardup_shingle_words,
        num_perm=s.neardup_num_perm,
        bands=s.neardup_bands,
        threshold=s.neardup_threshold,
        min_length_ratio=s.neardup_min_length_ratio,
    )


def prepare_database(database_url: str, tagger: Tagger) -> Engine:
    """Open (and migrate) the database and sync the taxonomy's topics into it."""
    engine = open_database(database_url)
    repository.sync_topics(
        engine, ((t.slug, t.label, t.description) for t in tagger.taxonomy.topics.values())
    )
    return engine


def prepare_batches(
    records: Iterable[Record | SourceError],
    preparer: Preparer,
    *,
    workers: int,
    batch_size: int,
) -> Generator[list[ProcessedArticle | SourceError], None, None]:
    """Batches of ``batch_size`` prepared items (articles and errors), in reading order.

    The records are prepared in ``workers`` processes once there are more than a batch of
    them (:class:`newsflow.parallel.WorkerPool`), in this process otherwise; the workers keep
    about two batches ahead of the consumer. Close the generator (``contextlib.closing``) to
    stop the workers early.
    """
    with WorkerPool(
        preparer, workers, start_after=batch_size, initializer=preparer.warm_up
    ) as pool:
        items = (
            item for result in pool.map(records) for item in result if not isinstance(item, Skipped)
        )
        yield from parsers.batched(items, batch_size)


def start_workers_for(paths: Sequence[Path], settings: Settings) -> bool:
    """Start the worker processes an ingest of ``paths`` will use (see :func:`prepare_batches`)
    now, if it will use some: with more than one worker and more than a batch of records
    (the first ``batch_size + 1`` are read to tell). :class:`newsflow.parallel.WorkerPool`
    takes them; a caller starts them while it waits for something else."""
    workers = settings.worker_count
    if workers < 2:
        return False
    records = parsers.iter_records_paths(paths, settings.manifest_name)  # closed when dropped
    if sum(1 for _ in islice(records, settings.batch_size + 1)) <= settings.batch_size:
        return False
    start_spare(workers, Preparer(settings.taxonomy, neardup_config(settings)).warm_up)
    return True


def is_error(item: object) -> TypeGuard[SourceError]:
    """Whether ``item`` is an input that could not be read or parsed: a page with no article
    text (:class:`NoArticleText`) is skipped, not an error."""
    return isinstance(item, SourceError) and not isinstance(item, NoArticleText)


def real_errors(items: Iterable[object]) -> list[SourceError]:
    """The errors among ``items`` (see :func:`is_error`)."""
    return [item for item in items if is_error(item)]


def store_prepared(
    items: Sequence[ProcessedArticle | SourceError],
    engine: Engine,
    run_id: int | None,
    near: NearDupConfig | None = None,
) -> BatchResult:
    """Store one batch of processed articles (one transaction) and record its errors."""
    near = near or neardup_config()
    errors = real_errors(items)
    processed = [item for item in items if isinstance(item, ProcessedArticle)]
    # A locked or unreachable database is waited for (db_retry_seconds), then the batch fails
    # whole: nothing of it is stored and the next run stores it.
    with_retry(engine, lambda: repository.record_errors(engine, run_id, errors))
    result = with_retry(engine, lambda: repository.store_batch(engine, processed, near))
    result.errors += len(errors)
    result.no_text += sum(isinstance(item, NoArticleText) for item in items)
    return result


def ingest_batch(
    items: Sequence[Article | SourceError],
    engine: Engine,
    tagger: Tagger,
    run_id: int | None,
    near: NearDupConfig | None = None,
) -> BatchResult:
    """Process and store one batch; inputs that failed to parse are recorded against the run.

    ``near`` is the near-duplicate configuration; ``None`` reads it from the settings.
    """
    near = near or neardup_config()
    processed: list[ProcessedArticle | SourceError] = []
    for item in items:
        processed.extend([item] if isinstance(item, SourceError) else process([item], tagger, near))
    return store_prepared(processed, engine, run_id, near)


@dataclass
class IngestSummary:
    """What one ingestion run did, for the CLI, artifacts and tests."""

    run_id: int
    database: str
    inputs: list[str]
    totals: BatchResult = field(default_factory=BatchResult)
    errors: list[tuple[str, str]] = field(default_factory=list)

    @property
    def read(self) -> int:
        """Inputs read: the articles parsed, those that could not be, and pages with no
        article text."""
        return self.totals.read + self.totals.errors + self.totals.no_text

    @property
    def topics(self) -> list[tuple[str, int]]:
        """Articles per topic among the new and updated ones, most frequent first."""
        return self.totals.ranked_topics()

    def add(self, result: BatchResult, errors: Sequence[SourceError] = ()) -> None:
        self.totals.add(result)
        self.errors.extend((e.origin, e.message) for e in real_errors(errors))

    def as_dict(self) -> dict[str, object]:
        t = self.totals
        return {
            "run_id": self.run_id,
            "database": self.database,
            "inputs": self.inputs,
            "read": self.read,
            "new": t.new,
            "updated": t.updated,
            "unchanged": t.unchanged,
            "duplicates": t.duplicates,
            "errors": t.errors,
            "skipped_no_text": t.no_text,
            "topics": dict(self.topics),
            "error_details": [{"origin": o, "message": m} for o, m in self.errors],
        }
