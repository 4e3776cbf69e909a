"""What each flow run reports: one Markdown artifact, and one event per newly tagged article.

The artifact (key ``<kind>-summary``, e.g. ``ingest-summary``) has the run's counts per source
(read, new, updated, duplicates, unchanged, errors, and the records skipped: pages with no
article text, records outside a backfill's date window), the articles per topic among the new
and updated ones, and the errors (escaped for Markdown). The ingest and poll flows publish one per
run; another flow (a backfill) builds its rows with :func:`source_counts` and calls
:func:`publish_run_report`. Events: see :mod:`newsflow.events`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from flows.local_server import on_temporary_server
from newsflow.escape import markdown_cell
from newsflow.events import tagged_articles
from newsflow.polling import PollSummary
from storage import models
from storage.repository import BatchResult

UNPARSED = "(unreadable input)"  # the row for inputs that failed before naming a source
NO_TEXT = "(no article text)"  # the row for pages skipped as having no article text
OUT_OF_WINDOW = "(outside the date window)"  # the row for records a backfill's dates left out
COUNTS = (
    "read",
    "new",
    "updated",
    "duplicates",
    "unchanged",
    "errors",
    "skipped_no_text",
    "skipped_by_date",
)
HEADINGS = {"skipped_no_text": "no article text", "skipped_by_date": "skipped by date"}
MAX_ERRORS = 100  # error rows shown; the rest are counted


@dataclass
class SourceCounts:
    source: str
    read: int = 0
    new: int = 0
    updated: int = 0
    duplicates: int = 0
    unchanged: int = 0
    errors: int = 0
    skipped_no_text: int = 0
    skipped_by_date: int = 0


def source_counts(
    engine: Engine,
    read_by_source: Counter[str],
    totals: BatchResult,
    parse_errors: int = 0,
    skipped_by_date: int = 0,
) -> list[SourceCounts]:
    """Counts per source for a run over files: ``read_by_source`` counts the parsed articles
    per source; new, updated and duplicate rows are looked up by id; the rest were unchanged.
    ``parse_errors`` (inputs that could not be read) go to the ``(unreadable input)`` row,
    pages with no article text (``totals.no_text``) to the ``(no article text)`` row, and
    ``skipped_by_date`` (records outside a backfill's date window) to the
    ``(outside the date window)`` row, so that the total read is every record read.
    """
    rows = {name: SourceCounts(name, read=count) for name, count in read_by_source.items()}
    ids = [*totals.new_ids, *totals.updated_ids]
    updated = set(totals.updated_ids)
    with Session(engine) as session:
        for start in range(0, len(ids), 500):
            stmt = (
                select(models.Article.id, models.Source.name, models.Article.duplicate_of)
                .join(models.Source, models.Source.id == models.Article.source_id)
                .where(models.Article.id.in_(ids[start : start + 500]))
            )
            for article_id, name, duplicate_of in session.execute(stmt):
                row = rows.setdefault(name, SourceCounts(name))
                if article_id in updated:
                    row.updated += 1
                elif duplicate_of is not None:
                    row.duplicates += 1
                else:
                    row.new += 1
    for row in rows.values():
        row.unchanged = max(0, row.read - row.new - row.updated - row.duplicates)
    if parse_errors:
        rows[UNPARSED] = SourceCounts(UNPARSED, read=parse_errors, errors=parse_errors)
    if totals.no_text:
        rows[NO_TEXT] = SourceCounts(NO_TEXT, read=totals.no_text, skipped_no_text=totals.no_text)
    if skipped_by_date:
        rows[OUT_OF_WINDOW] = SourceCounts(
            OUT_OF_WINDOW, read=skipped_by_date, skipped_by_date=skipped_by_date
        )
    return sorted(rows.values(), key=lambda r: r.source)


def poll_source_counts(summary: PollSummary) -> list[SourceCounts]:
    """Counts per feed (each feed's articles carry its name as their source)."""
    rows: dict[str, SourceCounts] = {}
    for feed in summary.feeds:
        row = rows.setdefault(feed.name, SourceCounts(feed.name))
        r = feed.result
        row.read += feed.entries
        row.new += r.new
        row.updated += r.updated
        row.duplicates += r.duplicates
        row.unchanged += r.unchanged
        row.errors += len(feed.problems) + (feed.error is not None)
    return sorted(rows.values(), key=lambda r: r.source)


def report_markdown(
    title: str,
    sources: Sequence[SourceCounts],
    topics: Sequence[tuple[str, int]],
    errors: Sequence[tuple[str, str]],
) -> str:
    lines = [
        f"## {markdown_cell(title)}",
        "",
        "| source | " + " | ".join(HEADINGS.get(name, name) for name in COUNTS) + " |",
        "|---|" + "---:|" * len(COUNTS),
    ]
    total = SourceCounts("**total**")
    for s in sources:
        lines.append(_counts_row(markdown_cell(s.source), s))
        for name in COUNTS:
            setattr(total, name, getattr(total, name) + getattr(s, name))
    lines.append(_counts_row(total.source, total))
    lines += ["", "| topic (new and updated) | articles |", "|---|---:|"]
    lines += [f"| {markdown_cell(topic)} | {count} |" for topic, count in topics] or [
        "| none | 0 |"
    ]
    if errors:
        lines += ["", "| input | error |", "|---|---|"]
        lines += [
            f"| {markdown_cell(origin)} | {markdown_cell(message)} |"
            for origin, message in errors[:MAX_ERRORS]
        ]
        if len(errors) > MAX_ERRORS:
            lines.append(f"| … | {len(errors) - MAX_ERRORS} more errors |")
    return "\n".join(lines)


def _counts_row(label: str, counts: SourceCounts) -> str:
    return f"| {label} | " + " | ".join(str(getattr(counts, name)) for name in COUNTS) + " |"


def publish_run_report(
    kind: str,
    run_id: int,
    sources: Sequence[SourceCounts],
    topics: Sequence[tuple[str, int]],
    errors: Sequence[tuple[str, str]],
    details: str = "",
) -> str:
    """Publish the run's Markdown artifact (key ``<kind>-summary``), ``details`` appended;
    returns the Markdown."""
    from prefect.artifacts import create_markdown_artifact

    markdown = report_markdown(f"newsflow {kind} run #{run_id}", sources, topics, errors)
    if details:
        markdown += "\n\n" + details
    create_markdown_artifact(
        key=f"{kind}-summary", markdown=markdown, description=f"newsflow {kind} run #{run_id}"
    )
    return markdown


def emit_article_events(engine: Engine, result: BatchResult) -> int:
    """One Prefect event per newly tagged article of ``result``; returns how many.

    None when the run's server is the temporary one newsflow started for this command
    (:func:`flows.local_server.on_temporary_server`): it stops with the command, so no
    automation can react to them, and persisting them was a quarter of the CPU of an ingest
    (the server's and this process's, ~1.8 ms an article)."""
    if on_temporary_server():
        return 0
    articles = tagged_articles(engine, result)
    if articles:
        send_events([article.event() for article in articles])
    return len(articles)


EVENTS_PER_REQUEST = 200


def send_events(events: Sequence[dict[str, Any]]) -> None:
    """Send events (``emit_event``'s keyword arguments) to the Prefect API, in bulk.

    ``emit_event`` sends one websocket message per event, and looks up the run's related
    resources (its flow run, flow, deployment, ...) for each; for a batch of articles that is
    a good part of the flow's own work. Here the run's related resources are looked up once,
    attached to every event as ``emit_event`` attaches them, and the events are posted
    ``EVENTS_PER_REQUEST`` at a time (``POST /events``). Without an API to post to (no
    server), each goes through ``emit_event``. A failure to send is logged, never raised: the
    articles are stored, and an event is a notification about them.
    """
    from prefect.events import Event, emit_event
    from prefect.events.worker import emit_events_to_cloud, should_emit_events_to_running_server

    if not (should_emit_events_to_running_server() or emit_events_to_cloud()):
        for kwargs in events:
            emit_event(**kwargs)
        return
    from prefect.client.orchestration import get_client
    from prefect.settings import get_current_settings

    logger = logging.getLogger("newsflow.events")
    settings = get_current_settings().server.events
    related = _run_related_resources()
    ready: list[Event] = []
    for kwargs in events:
        event = Event(**kwargs)
        room = max(settings.maximum_related_resources - len(event.related), 0)
        event.related += related[:room]
        size = event.size_bytes  # a JSON dump of the event: once
        if size > settings.maximum_size_bytes:
            logger.warning("event %s is too large to send (%d bytes)", event.resource.id, size)
            continue
        ready.append(event)
    try:
        with get_client(sync_client=True) as client:
            for start in range(0, len(ready), EVENTS_PER_REQUEST):
                chunk = ready[start : start + EVENTS_PER_REQUEST]
                body = [event.model_dump(mode="json") for event in chunk]
                client.request("POST", "/events", json=body).raise_for_status()
    except Exception as exc:
        logger.warning("could not send %d events to the Prefect API: %s", len(ready), exc)


def _run_related_resources() -> list[Any]:
    """The current run's related resources, as Prefect's events worker attaches them."""
    from prefect.client.orchestration import get_client
    from prefect.events.related import related_resources_from_run_context
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def read() -> list[Any]:
        async with get_client() as client:
            return list(await related_resources_from_run_context(client))

    return run_coro_as_sync(read()) or []
