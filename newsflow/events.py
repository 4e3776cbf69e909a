"""Events for alerting: one ``newsflow.article.tagged`` event per newly tagged article.

An article newly stored with at least one topic, or an updated article whose topics changed,
gives one event with all its topics: the resource is the article (``newsflow.article.<id>``,
labelled with its title, URL and source, ``newsflow.topics`` listing its topics), each topic
is a related resource (``newsflow.topic.<slug>``, role ``topic``), and the payload repeats the
article's fields. One event per article, not per article-topic, so an alert on "any of these
topics" fires once per article and the event count is the article count; an automation for
one topic matches the related resource ``newsflow.topic.<slug>``. Copies (``duplicate_of``
set: syndicated or republished text) give no event: the original already did. A re-run that
stores nothing new emits nothing.

This module builds the events from the database; the flows send them (Prefect's
``emit_event``), so it stays free of Prefect.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from storage import models
from storage.repository import BatchResult

EVENT = "newsflow.article.tagged"
ARTICLE_PREFIX = "newsflow.article."
TOPIC_PREFIX = "newsflow.topic."
CHUNK = 500  # ids per look-up query


@dataclass(frozen=True)
class TaggedArticle:
    """An article worth an event: newly stored, or updated with different topics."""

    id: int
    title: str
    url: str | None
    source: str
    topics: tuple[str, ...]
    change: str  # "new" or "retagged"

    def event(self) -> dict[str, Any]:
        """Keyword arguments for Prefect's ``emit_event``."""
        return {
            "event": EVENT,
            "resource": {
                "prefect.resource.id": f"{ARTICLE_PREFIX}{self.id}",
                "prefect.resource.name": self.title[:200],
                "newsflow.source": self.source,
                "newsflow.url": self.url or "",
                "newsflow.topics": ",".join(self.topics),
                "newsflow.change": self.change,
            },
            "related": [
                {
                    "prefect.resource.id": f"{TOPIC_PREFIX}{topic}",
                    "prefect.resource.role": "topic",
                    "prefect.resource.name": topic,
                }
                for topic in self.topics
            ],
            "payload": {
                "id": self.id,
                "title": self.title,
                "url": self.url,
                "source": self.source,
                "topics": list(self.topics),
                "change": self.change,
            },
        }


def _chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def tagged_articles(engine: Engine, result: BatchResult) -> list[TaggedArticle]:
    """The articles of ``result`` that deserve an event (see the module docstring)."""
    change = {i: "new" for i in result.new_ids} | {i: "retagged" for i in result.retagged_ids}
    if not change:
        return []
    ids = sorted(change)
    found: list[TaggedArticle] = []
    with Session(engine) as session:
        for chunk in _chunks(ids):
            topics: dict[int, list[str]] = {}
            stmt_topics = (
                select(models.ArticleTopic.article_id, models.Topic.slug)
                .join(models.Topic, models.Topic.id == models.ArticleTopic.topic_id)
                .where(models.ArticleTopic.article_id.in_(chunk))
                .order_by(models.ArticleTopic.article_id, models.Topic.slug)
            )
            for article_id, slug in session.execute(stmt_topics):
                topics.setdefault(article_id, []).append(slug)
            stmt = (
                select(
                    models.Article.id,
                    models.Article.title,
                    models.Article.url,
                    models.Source.name,
                )
                .join(models.Source, models.Source.id == models.Article.source_id)
                .where(models.Article.id.in_(chunk), models.Article.duplicate_of.is_(None))
                .order_by(models.Article.id)
            )
            for article_id, title, url, source in session.execute(stmt):
                if topics.get(article_id):
                    found.append(
                        TaggedArticle(
                            article_id,
                            title,
                            url,
                            source,
                            tuple(topics[article_id]),
                            change[article_id],
                        )
                    )
    return found


Emitter = Callable[..., object]


def emit_tagged(engine: Engine, result: BatchResult, emit: Emitter) -> list[TaggedArticle]:
    """Send one event per newly tagged article of ``result`` through ``emit``; returns them."""
    articles = tagged_articles(engine, result)
    for article in articles:
        emit(**article.event())
    return articles
