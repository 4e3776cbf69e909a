"""The ingest flow: read inputs, then process and store them one batch (one task) at a time."""

from __future__ import annotations

import contextlib
from collections import Counter
from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.context import get_run_context

import parsers
from flows.reporting import emit_article_events, publish_run_report, source_counts
from newsflow.article import Article
from newsflow.errors import DatabaseError, SourceError
from newsflow.pipeline import IngestSummary, ingest_batch, prepare_database, tagger_for
from newsflow.settings import load_settings
from storage import repository
from storage.db import describe, open_database


@task(name="ingest-batch", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def ingest_batch_task(
    items: list[Article | SourceError], database_url: str, taxonomy: Path | None, run_id: int
) -> repository.BatchResult:
    """Process and store one batch of parsed inputs (one transaction)."""
    return ingest_batch(items, open_database(database_url), tagger_for(taxonomy), run_id)


@flow(name="ingest", log_prints=False)
def ingest_flow(
    paths: list[str],
    database_url: str | None = None,
    taxonomy: str | None = None,
    batch_size: int | None = None,
) -> IngestSummary:
    """Ingest files and directories (plain-text articles, JSONL dumps) into the database."""
    settings = load_settings(database_url=database_url, taxonomy=taxonomy, batch_size=batch_size)
    tagger = tagger_for(settings.taxonomy)
    engine = prepare_database(settings.database_url, tagger)
    flow_run = get_run_context().flow_run  # type: ignore[union-attr]
    run_id = repository.start_run(engine, paths, str(flow_run.id) if flow_run else None)
    summary = IngestSummary(run_id=run_id, database=describe(settings.database_url), inputs=paths)
    items = parsers.iter_paths((Path(p) for p in paths), settings.manifest_name)
    read_by_source: Counter[str] = Counter()
    try:
        for batch in parsers.batched(items, settings.batch_size):
            result = ingest_batch_task(batch, settings.database_url, settings.taxonomy, run_id)
            summary.add(result, [item for item in batch if isinstance(item, SourceError)])
            read_by_source.update(i.source for i in batch if not isinstance(i, SourceError))
            emit_article_events(engine, result)
    except BaseException:
        with contextlib.suppress(DatabaseError):  # the database may be what failed
            repository.finish_run(engine, run_id, summary.totals, status="failed")
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
