"""Stored topic tags: reading articles back for re-tagging and replacing their tags.

Re-tagging is a backfill over stored articles in id order (keyset pages, so a large table is
never loaded at once). ``replace_tags`` writes only what changed: a tag with the same score,
evidence and tagger version is left as it is, so re-applying a taxonomy writes nothing the
second time; a tag whose score and evidence are the same but which a new taxonomy version
produced is re-stamped with that version (counted apart from real changes).
Tags a feed's configuration added (evidence of kind ``source``) are not the rules' to remove.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, delete, func, insert, select, update
from sqlalchemy.orm import Session

from newsflow.article import Tag
from storage import models
from storage.db import write_session
from storage.models import utcnow


@dataclass(frozen=True)
class StoredText:
    """What the tagger needs of a stored article."""

    id: int
    title: str
    text: str


@dataclass
class RetagCounts:
    articles: int = 0
    added: int = 0
    removed: int = 0
    changed: int = 0  # a different score or evidence
    restamped: int = 0  # the same score and evidence, from a new tagger/taxonomy version
    unchanged: int = 0
    by_topic: dict[str, dict[str, int]] = field(default_factory=dict)
    retagged_ids: list[int] = field(default_factory=list)  # a topic added or removed

    def _count(self, topic: str, what: str) -> None:
        setattr(self, what, getattr(self, what) + 1)
        per = self.by_topic.setdefault(topic, {"added": 0, "removed": 0, "changed": 0})
        if what in per:
            per[what] += 1

    def add(self, other: RetagCounts) -> None:
        for name in ("articles", "added", "removed", "changed", "restamped", "unchanged"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for topic, per in other.by_topic.items():
            mine = self.by_topic.setdefault(topic, {"added": 0, "removed": 0, "changed": 0})
            for key, value in per.items():
                mine[key] += value
        self.retagged_ids.extend(other.retagged_ids)

    def as_dict(self) -> dict[str, object]:
        return {
            "articles": self.articles,
            "added": self.added,
            "removed": self.removed,
            "changed": self.changed,
            "restamped": self.restamped,
            "unchanged": self.unchanged,
            "by_topic": {t: self.by_topic[t] for t in sorted(self.by_topic)},
        }


def tag_row(
    article_id: int, topic_id: int, tag: Tag, tagger_version: str, now: datetime
) -> dict[str, object]:
    """An ``article_topics`` row for a bulk insert."""
    return {
        "article_id": article_id,
        "topic_id": topic_id,
        "score": tag.score,
        "evidence": tag.evidence,
        "tagger_version": tagger_version,
        "tagged_at": now,
    }


def assigned_by_source(evidence: Sequence[Any]) -> bool:
    """A tag a feed's configuration gave (its evidence names the feed), not the taxonomy's rules:
    re-tagging keeps it."""
    return bool(evidence) and all(
        isinstance(item, dict) and item.get("kind") == "source" for item in evidence
    )


def _selection(since: datetime | None) -> list[ColumnElement[bool]]:
    return [models.Article.published_at >= since] if since is not None else []


def count_articles(engine: Engine, since: datetime | None = None) -> int:
    """How many stored articles a re-tag over ``since`` covers."""
    with Session(engine) as session:
        stmt = select(func.count(models.Article.id)).where(*_selection(since))
        return int(session.scalar(stmt) or 0)


def article_id_pages(
    engine: Engine, size: int, since: datetime | None = None
) -> Iterator[list[int]]:
    """Stored article ids in ascending pages of ``size`` (keyset pagination)."""
    after = 0
    while True:
        with Session(engine) as session:
            stmt = (
                select(models.Article.id)
                .where(models.Article.id > after, *_selection(since))
                .order_by(models.Article.id)
                .limit(size)
            )
            ids = list(session.scalars(stmt))
        if not ids:
            return
        yield ids
        after = ids[-1]


def load_texts(engine: Engine, ids: Sequence[int]) -> list[StoredText]:
    with Session(engine) as session:
        rows = session.execute(
            select(models.Article.id, models.Article.title, models.Article.text)
            .where(models.Article.id.in_(ids))
            .order_by(models.Article.id)
        ).all()
    return [StoredText(row[0], row[1], row[2]) for row in rows]


def replace_tags(
    engine: Engine,
    tagged: Sequence[tuple[int, Sequence[Tag]]],
    tagger_version: str,
    topics: set[str] | None = None,
) -> RetagCounts:
    """Make each article's stored tags equal its new ones, in one transaction.

    ``topics`` limits the change to those topics (the article's other tags are kept).
    """
    counts = RetagCounts(articles=len(tagged))
    if not tagged:
        return counts
    now = utcnow()
    with write_session(engine) as session:  # read, then written: the write lock from the start
        topic_ids = dict(session.execute(select(models.Topic.slug, models.Topic.id)).all())
        slug_of = {v: k for k, v in topic_ids.items()}
        ids = [article_id for article_id, _ in tagged]
        stmt = select(models.ArticleTopic).where(models.ArticleTopic.article_id.in_(ids))
        if topics is not None:
            stmt = stmt.where(models.ArticleTopic.topic_id.in_([topic_ids[t] for t in topics]))
        stored: dict[int, dict[str, models.ArticleTopic]] = {}
        for row in session.scalars(stmt):
            stored.setdefault(row.article_id, {})[slug_of[row.topic_id]] = row
        inserts: list[dict[str, object]] = []
        removed: list[tuple[int, int]] = []
        for article_id, tags in tagged:
            wanted = {t.topic: t for t in tags if topics is None or t.topic in topics}
            have = stored.get(article_id, {})
            topics_changed = False
            for slug, old in have.items():
                if slug not in wanted and not assigned_by_source(old.evidence):
                    removed.append((article_id, old.topic_id))
                    counts._count(slug, "removed")
                    topics_changed = True
            for slug, tag in wanted.items():
                if slug not in topic_ids:
                    continue
                current = have.get(slug)
                if current is None:
                    inserts.append(tag_row(article_id, topic_ids[slug], tag, tagger_version, now))
                    counts._count(slug, "added")
                    topics_changed = True
                elif (current.score, current.evidence, current.tagger_version) != (
                    tag.score,
                    tag.evidence,
                    tagger_version,
                ):
                    session.execute(
                        update(models.ArticleTopic)
                        .where(
                            models.ArticleTopic.article_id == article_id,
                            models.ArticleTopic.topic_id == current.topic_id,
                        )
                        .values(
                            score=tag.score,
                            evidence=tag.evidence,
                            tagger_version=tagger_version,
                            tagged_at=now,
                        )
                    )
                    same = (current.score, current.evidence) == (tag.score, tag.evidence)
                    counts._count(slug, "restamped" if same else "changed")
                else:
                    counts.unchanged += 1
            if topics_changed:
                counts.retagged_ids.append(article_id)
        for article_id, topic_id in removed:
            session.execute(
                delete(models.ArticleTopic).where(
                    models.ArticleTopic.article_id == article_id,
                    models.ArticleTopic.topic_id == topic_id,
                )
            )
        if inserts:
            session.execute(insert(models.ArticleTopic), inserts)
    return counts
