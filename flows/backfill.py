"""The backfill flow: history from files, trees, dumps and WARC archives, resumable.

Each batch is one ``ingest-batch`` task (the ingest flow's); at most ``backfill_concurrency``
run at a time. See :mod:`newsflow.backfill` for checkpoints and resuming.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.context import get_run_context
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from flows.ingest import ingest_batch_task
from newsflow.backfill import (
    BackfillSummary,
    DateWindow,
    Item,
    Pending,
    plan_backfill,
    run_backfill,
    total_bytes,
)
from newsflow.pipeline import prepare_database, tagger_for
from newsflow.settings import load_settings
from storage import repository
from storage.db import describe


@contextmanager
def _progress(show: bool, total: int) -> Iterator[Callable[[int], None]]:
    """A progress bar over the input bytes on stderr (when asked for and it is a terminal)."""
    console = Console(stderr=True)
    if not show or not console.is_terminal:
        yield lambda _: None
        return
    columns = (TextColumn("backfill"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        bar = progress.add_task("backfill", total=total)
        yield lambda done: progress.advance(bar, done)


def _summary_markdown(summary: BackfillSummary) -> str:
    lines = [
        "| input | files | read | new | updated | duplicates | unchanged | errors | "
        "skipped by date |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in summary.inputs:
        t = r.totals
        lines.append(
            f"| {r.input.replace('|', '/')} | {r.files} | {r.read} | {t.new} | {t.updated} | "
            f"{t.duplicates} | {t.unchanged} | {t.errors} | {r.skipped_by_date} |"
        )
    if summary.errors:
        lines += ["", "| input | error |", "|---|---|"]
        lines += [f"| {o} | {m.replace('|', '/')} |" for o, m in summary.errors[:100]]
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
    show_progress: bool = False,
    max_batches: int | None = None,
) -> BackfillSummary:
    """Backfill files and directories (text, HTML, JSON, JSONL, WARC) into the database.

    ``since`` is inclusive and ``until`` exclusive; ``restart`` ignores stored checkpoints;
    ``max_batches`` stops after that many batches (as an interruption would).
    """
    settings = load_settings(
        database_url=database_url,
        taxonomy=taxonomy,
        batch_size=batch_size,
        backfill_concurrency=concurrency,
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

    def submit(items: list[Item]) -> Pending:
        future: Pending = ingest_batch_task.submit(
            items, settings.database_url, settings.taxonomy, run_id
        )
        return future

    try:
        plan = plan_backfill(paths, engine, manifest_name=settings.manifest_name, restart=restart)
        with _progress(show_progress, total_bytes(plan)) as advance:
            run_backfill(
                plan,
                submit,
                summary,
                engine=engine,
                batch_size=settings.batch_size,
                concurrency=settings.backfill_concurrency,
                advance=advance,
                max_batches=max_batches,
            )
    except BaseException:
        repository.finish_run(engine, run_id, summary.totals, status="failed")
        raise
    status = "interrupted" if summary.stopped else "completed"
    repository.finish_run(engine, run_id, summary.totals, status=status)
    create_markdown_artifact(
        key="backfill-summary",
        markdown=_summary_markdown(summary),
        description=f"newsflow backfill run #{run_id}",
    )
    return summary
