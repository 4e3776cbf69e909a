"""The ingest flow: read inputs, then process and store them one batch (one task) at a time.

Records are read in the flow's process; parsing and processing them (extraction, dedup keys,
tags) runs in ``workers`` processes once an input has more than one batch of records
(:mod:`newsflow.parallel`), and each batch is stored by one ``store-batch`` task in the
flow's process, in reading order, while the workers prepare the next batches.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from pathlib import Path
from typing import cast

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.context import get_run_context
from prefect.utilities.annotations import quote

import parsers
from flows.reporting import emit_article_events, publish_run_report, source_counts
from newsflow.article import ProcessedArticle
from newsflow.errors import DatabaseError, SourceError
from newsflow.parallel import startup_frozen
from newsflow.pipeline import (
    IngestSummary,
    Preparer,
    neardup_config,
    prepare_batches,
    prepare_database,
    store_prepared,
    tagger_for,
)
from newsflow.settings import load_settings
from processing.neardup import NearDupConfig
from storage import repository
from storage.db import describe, open_database


def quoted(items: list[ProcessedArticle | SourceError]) -> list[ProcessedArticle | SourceError]:
    """``items`` marked so Prefect does not walk every article looking for futures in them
    (``quote``: the task receives the list itself)."""
    return cast(list[ProcessedArticle | SourceError], quote(items))


@task(name="store-batch", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def store_batch_task(
    items: list[ProcessedArticle | SourceError],
    database_url: str,
    run_id: int,
    near: NearDupConfig,
) -> repository.BatchResult:
    """Store one batch of processed articles (one transaction) and record its errors."""
    return store_prepared(items, open_database(database_url), run_id, near)


@flow(name="ingest", log_prints=False)
def ingest_flow(
    paths: list[str],
    database_url: str | None = None,
    taxonomy: str | None = None,
    batch_size: int | None = None,
    workers: int | None = None,
) -> IngestSummary:
    """Ingest files and directories (plain-text articles, JSONL dumps) into the database.

    ``workers`` processes parse and tag the records (the ``workers`` setting when ``None``).
    """
    settings = load_settings(
        database_url=database_url, taxonomy=taxonomy, batch_size=batch_size, workers=workers
    )
    tagger = tagger_for(settings.taxonomy)
    engine = prepare_database(settings.database_url, tagger)
    flow_run = get_run_context().flow_run  # type: ignore[union-attr]
    run_id = repository.start_run(engine, paths, str(flow_run.id) if flow_run else None)
    summary = IngestSummary(run_id=run_id, database=describe(settings.database_url), inputs=paths)
    near = neardup_config(settings)
    with startup_frozen():
        records = parsers.iter_records_paths((Path(p) for p in paths), settings.manifest_name)
        batches = prepare_batches(
            records,
            Preparer(settings.taxonomy, near),
            workers=settings.worker_count,
            batch_size=settings.batch_size,
        )
        read_by_source: Counter[str] = Counter()
        try:
            with contextlib.closing(batches):
                for batch in batches:
                    result = store_batch_task(quoted(batch), settings.database_url, run_id, near)
                    summary.add(result, [item for item in batch if isinstance(item, SourceError)])
                    read_by_source.update(
                        i.article.source for i in batch if isinstance(i, ProcessedArticle)
                    )
                    emit_article_events(engine, result)
        except BaseException as stop:  # an error, or Ctrl-C (KeyboardInterrupt): interrupted
            with contextlib.suppress(DatabaseError):  # the database may be what failed
                status = repository.ended_status(stop)
                repository.finish_run(engine, run_id, summary.totals, status=status)
            raise
        repository.finish_run(engine, run_id, summary.totals)
        publish_run_report(
            "ingest",
            run_id,
            source_counts(engine, read_by_source, summary.totals, len(summary.errors)),
            summary.topics,
            summary.errors,
        )
        return summary
