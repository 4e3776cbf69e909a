"""The backfill flow: history from files, trees, dumps and WARC archives, resumable.

Records are parsed and processed in ``workers`` processes (see :mod:`newsflow.parallel`); each
batch is stored by one ``store-batch`` task (the ingest flow's); at most
``backfill_concurrency`` run at a time. See :mod:`newsflow.backfill` for checkpoints and
resuming.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from datetime import datetime

from prefect import flow
from prefect.context import get_run_context

from flows.ingest import quoted, store_batch_task
from flows.progress import progress_bar
from flows.reporting import emit_article_events, publish_run_report, source_counts
from newsflow.article import ProcessedArticle
from newsflow.backfill import (
    BackfillSummary,
    DateWindow,
    Pending,
    Stored,
    plan_backfill,
    run_backfill,
    total_bytes,
)
from newsflow.errors import DatabaseError
from newsflow.escape import markdown_cell
from newsflow.parallel import startup_frozen
from newsflow.pipeline import Preparer, neardup_config, prepare_database, tagger_for
from newsflow.settings import load_settings
from storage import repository
from storage.db import describe


def _inputs_markdown(summary: BackfillSummary) -> str:
    lines = [
        "| input | files | read | new | updated | duplicates | unchanged | errors | "
        "no article text | skipped by date |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in summary.inputs:
        t = r.totals
        lines.append(
            f"| {markdown_cell(r.input)} | {r.files} | {r.read} | {t.new} | {t.updated} | "
            f"{t.duplicates} | {t.unchanged} | {t.errors} | {t.no_text} | {r.skipped_by_date} |"
        )
    return "\n".join(lines)


@flow(name="backfill", log_prints=False)
def backfill_flow(
    paths: list[str],
    database_url: str | None = None,
    taxonomy: str | None = None,
    batch_size: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    include_undated: bool = False,
    restart: bool = False,
    concurrency: int | None = None,
    workers: int | None = None,
    show_progress: bool = False,
    max_batches: int | None = None,
) -> BackfillSummary:
    """Backfill files and directories (text, HTML, JSON, JSONL, WARC) into the database.

    ``since`` is inclusive and ``until`` exclusive; ``restart`` ignores stored checkpoints;
    ``max_batches`` stops after that many batches (as an interruption would); ``workers``
    processes parse and tag the records (the ``workers`` setting when ``None``).
    """
    settings = load_settings(
        database_url=database_url,
        taxonomy=taxonomy,
        batch_size=batch_size,
        backfill_concurrency=concurrency,
        workers=workers,
    )
    engine = prepare_database(settings.database_url, tagger_for(settings.taxonomy))
    flow_run = get_run_context().flow_run  # type: ignore[union-attr]
    run_id = repository.start_run(engine, paths, str(flow_run.id) if flow_run else None)
    summary = BackfillSummary(
        run_id=run_id,
        database=describe(settings.database_url),
        window=DateWindow(since, until, include_undated),
        restart=restart,
    )

    read_by_source: Counter[str] = Counter()
    near = neardup_config(settings)

    with startup_frozen():

        def submit(items: list[Stored]) -> Pending:
            read_by_source.update(
                i.article.source for i in items if isinstance(i, ProcessedArticle)
            )
            future: Pending = store_batch_task.submit(
                quoted(items), settings.database_url, run_id, near
            )
            return future

        try:
            plan = plan_backfill(
                paths, engine, manifest_name=settings.manifest_name, restart=restart
            )
            with progress_bar(
                show_progress, total_bytes(plan), "backfill", in_bytes=True
            ) as advance:
                run_backfill(
                    plan,
                    submit,
                    summary,
                    engine=engine,
                    preparer=Preparer(settings.taxonomy, near),
                    batch_size=settings.batch_size,
                    concurrency=settings.backfill_concurrency,
                    workers=settings.worker_count,
                    advance=advance,
                    max_batches=max_batches,
                )
        except BaseException as stop:  # an error, or Ctrl-C (KeyboardInterrupt): interrupted
            with contextlib.suppress(DatabaseError):  # the database may be what failed
                status = repository.ended_status(stop)
                repository.finish_run(
                    engine, run_id, summary.totals, status, skipped_by_date=summary.skipped_by_date
                )
                emit_article_events(engine, summary.totals)  # for the batches that were stored
            raise
        status = "interrupted" if summary.stopped else "completed"
        repository.finish_run(
            engine, run_id, summary.totals, status, skipped_by_date=summary.skipped_by_date
        )
        emit_article_events(engine, summary.totals)
        publish_run_report(
            "backfill",
            run_id,
            source_counts(
                engine, read_by_source, summary.totals, len(summary.errors), summary.skipped_by_date
            ),
            summary.topics,
            summary.errors,
            details=_inputs_markdown(summary),
        )
        return summary
