"""The ingestion steps as plain functions; ``flows/`` wraps them in Prefect tasks and flows.

read (parsers) → process (dedup keys, tags) → store (storage), one batch at a time.

:class:`Preparer` is the per-record CPU work in one picklable function: parse a record read by
:func:`parsers.iter_records`, then :func:`process` its articles. The flows map it over the
records with :mod:`newsflow.parallel` (in worker processes, or in this one) and store what it
returns with :func:`store_prepared`; :func:`ingest_batch` is the same two steps for articles
already parsed.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import TypeGuard

from sqlalchemy import Engine

import parsers
from newsflow.article import Article, ProcessedArticle, Tag
from newsflow.errors import NoArticleText, SourceError
from newsflow.parallel import WorkerPool, start_spare
from newsflow.settings import Settings, load_settings
from parsers import Record, parse_record
from processing.dedup import dedup_basis, hash_of_basis
from processing.neardup import NearDupConfig, band_keys, signature_of_basis
from processing.tagger import Tagger
from processing.taxonomy import load_taxonomy
from storage import repository
from storage.db import open_database
from storage.repository import BatchResult
from storage.retry import with_retry


@lru_cache(maxsize=8)
def tagger_for(taxonomy_path: Path | None) -> Tagger:
    """A tagger for the taxonomy at ``taxonomy_path`` (the built-in one for ``None``), cached."""
    return Tagger(load_taxonomy(taxonomy_path))


def tag_document(tagger: Tagger, document: str) -> tuple[Tag, ...]:
    """The tags to store for a document (an article's title and body, see ``Article.document``)."""
    return tuple(
        Tag(result.topic, result.score, result.evidence_dicts()) for result in tagger.tag(document)
    )


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


def process(
    articles: Sequence[Article], tagger: Tagger, near: NearDupConfig | None = None
) -> list[ProcessedArticle]:
    """Dedup keys (hash, near-dup signature) and topic tags for each article (no I/O)."""
    near = near or neardup_config()
    processed = []
    for article in articles:
        basis = dedup_basis(article)  # normalised once for both keys
        sig = signature_of_basis(basis, near) if near.enabled else None
        processed.append(
            ProcessedArticle(
                article,
                hash_of_basis(basis),
                tag_document(tagger, article.document),
                tagger.version,
                sig,
                tuple(band_keys(sig, near)) if sig is not None else None,
            )
        )
    return processed


def process_with(
    taxonomy: Path | None, articles: Sequence[Article], near: NearDupConfig
) -> list[ProcessedArticle]:
    """:func:`process` with the tagger of ``taxonomy`` (built once per process): for a worker
    process, which is sent the taxonomy's path rather than a tagger."""
    return process(articles, tagger_for(taxonomy), near)


def prepare_database(database_url: str, tagger: Tagger) -> Engine:
    """Open (and migrate) the database and sync the taxonomy's topics into it."""
    engine = open_database(database_url)
    repository.sync_topics(
        engine, ((t.slug, t.label, t.description) for t in tagger.taxonomy.topics.values())
    )
    return engine


@dataclass(frozen=True, slots=True)
class Skipped:
    """An article left out by the caller's filter (a backfill's date window); not stored."""

    article: Article


Prepared = ProcessedArticle | SourceError | Skipped


@dataclass(frozen=True)
class Preparer:
    """Parse a record and process its articles: the CPU work of ingestion, picklable.

    The tagger is built once per process (:func:`tagger_for` is cached). ``admit``, when
    given, is asked about each article first: those it refuses come back as :class:`Skipped`,
    unprocessed. Errors stay values: a record that cannot be read is its own error.
    """

    taxonomy: Path | None
    near: NearDupConfig
    admit: Callable[[Article], bool] | None = None

    def __call__(self, record: Record | SourceError) -> list[Prepared]:
        tagger = tagger_for(self.taxonomy)
        out: list[Prepared] = []
        for item in parse_record(record):
            if isinstance(item, SourceError):
                out.append(item)
            elif self.admit is not None and not self.admit(item):
                out.append(Skipped(item))
            else:
                out.extend(process([item], tagger, self.near))
        return out

    def warm_up(self) -> None:
        """Load the taxonomy and the page extractor now (a worker process's start)."""
        import trafilatura  # noqa: F401  (its import is most of a worker's start-up)

        tagger_for(self.taxonomy)


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
