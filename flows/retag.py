"""The retag flow: re-apply the taxonomy to stored articles, one batch (one task) at a time."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from flows.progress import progress_bar
from flows.reporting import emit_article_events
from newsflow.pipeline import prepare_database, tagger_for
from newsflow.retag import check_topic, retag_batch
from newsflow.settings import load_settings
from storage.db import describe, open_database
from storage.repository import BatchResult
from storage.tags import RetagCounts, article_id_pages, count_articles


@dataclass
class RetagSummary:
    database: str
    tagger_version: str
    topic: str | None
    since: datetime | None
    counts: RetagCounts = field(default_factory=RetagCounts)

    def as_dict(self) -> dict[str, object]:
        return {
            "database": self.database,
            "tagger_version": self.tagger_version,
            "topic": self.topic,
            "since": self.since.isoformat() if self.since else None,
            **self.counts.as_dict(),
        }


@task(name="retag-batch", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def retag_batch_task(
    ids: list[int], database_url: str, taxonomy: Path | None, topic: str | None
) -> RetagCounts:
    """Re-tag one batch of stored articles (one transaction)."""
    return retag_batch(open_database(database_url), tagger_for(taxonomy), ids, topic)


def _summary_markdown(summary: RetagSummary) -> str:
    c = summary.counts
    lines = [
        f"Tagger `{summary.tagger_version}`"
        + (f", topic `{summary.topic}`" if summary.topic else "")
        + (f", published since {summary.since:%Y-%m-%d}" if summary.since else ""),
        "",
        "| articles | tags added | removed | changed | re-stamped | unchanged |",
        "|---|---|---|---|---|---|",
        f"| {c.articles} | {c.added} | {c.removed} | {c.changed} | {c.restamped} | {c.unchanged} |",
        "",
        "| topic | added | removed | changed |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {topic} | {per['added']} | {per['removed']} | {per['changed']} |"
        for topic, per in sorted(c.by_topic.items())
    ]
    return "\n".join(lines)


@flow(name="retag", log_prints=False)
def retag_flow(
    database_url: str | None = None,
    taxonomy: str | None = None,
    topic: str | None = None,
    since: datetime | None = None,
    batch_size: int | None = None,
    show_progress: bool = False,
) -> RetagSummary:
    """Re-apply the taxonomy to stored articles (all, one topic, or those published since)."""
    settings = load_settings(database_url=database_url, taxonomy=taxonomy, batch_size=batch_size)
    tagger = tagger_for(settings.taxonomy)
    check_topic(tagger, topic)
    engine = prepare_database(settings.database_url, tagger)
    summary = RetagSummary(describe(settings.database_url), tagger.version, topic, since)
    with progress_bar(show_progress, count_articles(engine, since), "re-tagging") as advance:
        for ids in article_id_pages(engine, settings.batch_size, since):
            counts = retag_batch_task(ids, settings.database_url, settings.taxonomy, topic)
            summary.counts.add(counts)
            # like ingest: one newsflow.article.tagged event per article whose topics changed
            emit_article_events(engine, BatchResult(retagged_ids=counts.retagged_ids))
            advance(len(ids))
    create_markdown_artifact(
        key="retag-summary",
        markdown=_summary_markdown(summary),
        description="newsflow retag run",
    )
    return summary
