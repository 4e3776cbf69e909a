"""What each flow run reports: one Markdown artifact, and one event per newly tagged article.

The artifact (key ``<kind>-summary``, e.g. ``ingest-summary``) has the run's counts per source
(read, new, updated, duplicates, unchanged, errors), the articles per topic among the new and
updated ones, and the errors (escaped for Markdown). The ingest and poll flows publish one per
run; another flow (a backfill) builds its rows with :func:`source_counts` and calls
:func:`publish_run_report`. Events: see :mod:`newsflow.events`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from newsflow.escape import markdown_cell
from newsflow.events import emit_tagged
from newsflow.polling import PollSummary
from storage import models
from storage.repository import BatchResult

UNPARSED = "(unreadable input)"  # the row for inputs that failed before naming a source
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


def source_counts(
    engine: Engine, read_by_source: Counter[str], totals: BatchResult, parse_errors: int = 0
) -> list[SourceCounts]:
    """Counts per source for a run over files: ``read_by_source`` counts the parsed articles
    per source; new, updated and duplicate rows are looked up by id; the rest were unchanged.
    ``parse_errors`` (inputs that could not be read) go to the ``(unreadable input)`` row.
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
        "| source | read | new | updated | duplicates | unchanged | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    total = SourceCounts("**total**")
    for s in sources:
        lines.append(
            f"| {markdown_cell(s.source)} | {s.read} | {s.new} | {s.updated} | {s.duplicates} | "
            f"{s.unchanged} | {s.errors} |"
        )
        for name in ("read", "new", "updated", "duplicates", "unchanged", "errors"):
            setattr(total, name, getattr(total, name) + getattr(s, name))
    lines.append(
        f"| {total.source} | {total.read} | {total.new} | {total.updated} | "
        f"{total.duplicates} | {total.unchanged} | {total.errors} |"
    )
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
    """One Prefect event per newly tagged article of ``result``; returns how many."""
    from prefect.events import emit_event

    return len(emit_tagged(engine, result, emit_event))
