"""Re-tagging stored articles after the taxonomy changed: plain functions for the retag flow."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine

from newsflow.article import document_of
from newsflow.errors import NewsflowError
from newsflow.pipeline import tag_document
from processing.tagger import Tagger
from storage.tags import RetagCounts, load_texts, replace_tags


def check_topic(tagger: Tagger, topic: str | None) -> None:
    """Fail with the known slugs when ``topic`` is not in the tagger's taxonomy."""
    if topic is not None and topic not in tagger.taxonomy.topics:
        known = ", ".join(tagger.taxonomy.topics)
        raise NewsflowError(f"unknown topic {topic!r} in the taxonomy (known: {known})")


def retag_batch(
    engine: Engine, tagger: Tagger, ids: Sequence[int], topic: str | None = None
) -> RetagCounts:
    """Tag the stored articles ``ids`` again and store what changed (one transaction).

    With ``topic``, only that topic's tags are re-evaluated; the others are left alone.
    """
    texts = load_texts(engine, ids)
    tagged = [(t.id, tag_document(tagger, document_of(t.title, t.text))) for t in texts]
    return replace_tags(engine, tagged, tagger.version, {topic} if topic else None)
