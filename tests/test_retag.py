"""Re-tagging stored articles after the taxonomy changes: what changes, and only that."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from newsflow.errors import NewsflowError
from newsflow.pipeline import prepare_database, tagger_for
from newsflow.retag import check_topic, retag_batch
from storage import models
from storage.tags import article_id_pages, count_articles

SUMMITS = """
version: "test-2"
groups:
  leaders: [Putin, "=Xi", Xi Jinping]
topics:
  russia-china:
    label: Russia–China relations
    mentions: {leaders: 0.2}
    min_mentions: 2
    threshold: 0.5
  cooperation:
    label: Cooperation
    terms: {cooperation: 0.3, partnership: 0.3, meeting: 0.2}
    min_mentions: 2
    threshold: 0.5
"""


def stored_tags(engine: Engine) -> dict[int, dict[str, tuple[float, str]]]:
    with Session(engine) as session:
        rows = session.execute(
            select(
                models.ArticleTopic.article_id,
                models.Topic.slug,
                models.ArticleTopic.score,
                models.ArticleTopic.tagger_version,
            ).join(models.Topic)
        ).all()
    tags: dict[int, dict[str, tuple[float, str]]] = {}
    for article_id, slug, score, version in rows:
        tags.setdefault(article_id, {})[slug] = (score, version)
    return tags


def all_ids(engine: Engine) -> list[int]:
    return [i for page in article_id_pages(engine, 100) for i in page]


@pytest.fixture
def cooperation_taxonomy(tmp_path: Path) -> Path:
    path = tmp_path / "taxonomy.yaml"
    path.write_text(SUMMITS, encoding="utf-8")
    return path


def test_same_taxonomy_changes_nothing(seeded: Engine) -> None:
    before = stored_tags(seeded)
    counts = retag_batch(seeded, tagger_for(None), all_ids(seeded))
    assert counts.articles == 2
    assert (counts.added, counts.removed, counts.changed) == (0, 0, 0)
    assert counts.unchanged == sum(len(t) for t in before.values())
    assert stored_tags(seeded) == before


def test_changed_taxonomy_replaces_tags_and_second_run_is_a_no_op(
    seeded: Engine, cooperation_taxonomy: Path
) -> None:
    tagger = tagger_for(cooperation_taxonomy)
    prepare_database(str(seeded.url.render_as_string(hide_password=False)), tagger)
    before = stored_tags(seeded)
    first = retag_batch(seeded, tagger, all_ids(seeded))
    after = stored_tags(seeded)
    assert set().union(*(set(t) for t in after.values())) <= {"russia-china", "cooperation"}
    assert all(version == tagger.version for t in after.values() for _, version in t.values())
    gone = sum(len(set(before[a]) - set(after.get(a, {}))) for a in before)
    assert first.removed == gone > 0
    assert first.by_topic["cooperation"]["added"] == 2
    assert first.retagged_ids == [a for a in sorted(before) if set(before[a]) != set(after[a])]
    second = retag_batch(seeded, tagger, all_ids(seeded))
    assert (second.added, second.removed, second.changed) == (0, 0, 0)
    assert second.retagged_ids == []
    assert stored_tags(seeded) == after


def test_one_topic_leaves_the_others_alone(seeded: Engine, cooperation_taxonomy: Path) -> None:
    tagger = tagger_for(cooperation_taxonomy)
    prepare_database(str(seeded.url.render_as_string(hide_password=False)), tagger)
    before = stored_tags(seeded)
    counts = retag_batch(seeded, tagger, all_ids(seeded), topic="cooperation")
    after = stored_tags(seeded)
    for article_id, tags in before.items():
        assert {k: v for k, v in after[article_id].items() if k != "cooperation"} == tags
    assert set(counts.by_topic) == {"cooperation"}


def test_since_selects_by_publication_date(seeded: Engine) -> None:
    assert count_articles(seeded) == 2
    since = datetime(2026, 1, 1, tzinfo=UTC)
    assert count_articles(seeded, since) == 1
    assert [len(p) for p in article_id_pages(seeded, 1, since)] == [1]
    assert [len(p) for p in article_id_pages(seeded, 1)] == [1, 1]


def test_unknown_topic_is_a_clear_error() -> None:
    with pytest.raises(NewsflowError, match=r"unknown topic 'nope'.*russia-china"):
        check_topic(tagger_for(None), "nope")


def test_tags_a_feed_assigned_are_kept(seeded: Engine) -> None:
    from sqlalchemy import insert

    with Session(seeded) as session, session.begin():
        topic_id = session.scalar(select(models.Topic.id).where(models.Topic.slug == "ukraine-war"))
        session.execute(
            insert(models.ArticleTopic).values(
                article_id=1,
                topic_id=topic_id,
                score=1.0,
                evidence=[{"kind": "source", "phrase": "kyiv-feed", "start": 0, "end": 0}],
                tagger_version="rules-1+taxonomy-old",
            )
        )
    counts = retag_batch(seeded, tagger_for(None), all_ids(seeded))
    assert counts.removed == 0
    assert "ukraine-war" in stored_tags(seeded)[1]
