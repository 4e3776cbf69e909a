"""PostgreSQL's ``articles.topic_ids`` stays in step with ``article_topics`` (migration 0006's
triggers): after ingest with copies, an update that retags, a re-tag, a tag row updated, a
deletion, and the migration's backfill of existing tags."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, text

from newsflow.article import Article
from newsflow.pipeline import prepare_database, process, tagger_for
from newsflow.retag import retag_batch
from storage.db import _alembic_config
from storage.repository import store_batch
from tests.test_retag import SUMMITS, all_ids

pytestmark = pytest.mark.postgres

_OUT_OF_STEP = """
SELECT a.id, a.topic_ids FROM articles AS a
WHERE a.topic_ids <> COALESCE(
    (SELECT array_agg(t.topic_id ORDER BY t.topic_id) FROM article_topics AS t
     WHERE t.article_id = a.id), '{}')
"""

_TEXTS = [
    "Russia and China signed an energy deal in Moscow. Putin and Xi Jinping met for talks.",
    "The New START treaty on nuclear warheads expires. Arms control talks stalled again.",
    "Tariffs on Chinese steel rose. The trade deal with Beijing stalled over export controls.",
    "A local bakery opened a second shop. Customers queued for bread in the morning rain.",
]


def _articles(count: int) -> list[Article]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        Article(
            source="desk",
            title=f"Story {i}",
            text=f"{_TEXTS[i % len(_TEXTS)]} Dispatch number {i} from the desk.",
            origin=f"test-{i}",
            guid=f"g-{i}",
            published=start + timedelta(hours=i),
        )
        for i in range(count)
    ]


def _check_in_step(engine: Engine) -> dict[int, list[int]]:
    """Every article's topic_ids are its tags' topic ids, sorted; returns them by article."""
    with engine.connect() as conn:
        assert conn.execute(text(_OUT_OF_STEP)).all() == []
        rows = conn.execute(text("SELECT id, topic_ids FROM articles ORDER BY id")).all()
    return {i: list(ids) for i, ids in rows}


@pytest.fixture
def pg(postgres_url: str) -> Engine:
    return prepare_database(postgres_url, tagger_for(None))


def test_ingest_with_copies_and_retagging_updates(pg: Engine) -> None:
    articles = _articles(12)
    copy = replace(articles[0], guid="copy-0", source="wire", origin="copy")
    store_batch(pg, process([*articles, copy], tagger_for(None)))
    ids = _check_in_step(pg)
    assert sum(1 for t in ids.values() if t) >= 6 and any(not t for t in ids.values())
    assert ids[max(ids)] == ids[min(ids)]  # the copy has its original's topics
    # the same guid with another text: the article is updated and tagged again
    changed = replace(articles[1], text=_TEXTS[3] + " Nothing else happened.")
    store_batch(pg, process([changed], tagger_for(None)))
    after = _check_in_step(pg)
    assert after[2] == [] != ids[2]


def test_tag_update_retag_and_delete(pg: Engine, tmp_path: Path) -> None:
    store_batch(pg, process(_articles(8), tagger_for(None)))
    before = _check_in_step(pg)
    tagged = next(i for i, topics in before.items() if topics)
    with pg.begin() as conn:  # an UPDATE that moves a tag to another topic
        unused = conn.execute(
            text("SELECT min(id) FROM topics WHERE NOT (id = ANY(:t))"), {"t": before[tagged]}
        ).scalar_one()
        conn.execute(
            text("UPDATE article_topics SET topic_id = :u WHERE article_id = :i AND topic_id = :t"),
            {"u": unused, "i": tagged, "t": before[tagged][0]},
        )
    assert _check_in_step(pg)[tagged] == sorted([unused, *before[tagged][1:]])
    taxonomy = tmp_path / "taxonomy.yaml"
    taxonomy.write_text(SUMMITS, encoding="utf-8")
    tagger = tagger_for(taxonomy)
    prepare_database(pg.url.render_as_string(hide_password=False), tagger)
    counts = retag_batch(pg, tagger, all_ids(pg))
    assert counts.removed > 0
    after = _check_in_step(pg)
    assert after != before
    with pg.begin() as conn:
        conn.execute(text("DELETE FROM articles WHERE id = :i"), {"i": max(after)})  # cascades
        conn.execute(text("DELETE FROM article_topics WHERE article_id = :i"), {"i": tagged})
    assert tagged != max(after) and _check_in_step(pg)[tagged] == []


def test_migration_fills_existing_tags(pg: Engine) -> None:
    """Down to 0005 (no column) and up again: the backfill gives every article its topics."""
    store_batch(pg, process(_articles(8), tagger_for(None)))
    expected = _check_in_step(pg)
    config = _alembic_config()
    for step in (command.downgrade, command.upgrade):
        with pg.begin() as connection:
            config.attributes["connection"] = connection
            step(config, "0005_query_indexes" if step is command.downgrade else "head")
    assert _check_in_step(pg) == expected
    assert any(expected.values())
