"""Storage on real SQLite and PostgreSQL: migrations, idempotent upserts, duplicates, queries."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, inspect, select, text
from sqlalchemy.orm import Session

from newsflow.article import Article
from newsflow.errors import DatabaseError, NewsflowError
from newsflow.pipeline import process, tagger_for
from storage import models, queries
from storage.db import head_revision, migrate, open_database
from storage.queries import ArticleQuery
from storage.repository import store_batch, store_batches
from tests.conftest import DATA, SEEDS, ingest_plain


def count(engine: Engine, model: type[models.Base]) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def store(engine: Engine, *articles: Article):  # type: ignore[no-untyped-def]
    return store_batch(engine, process(articles, tagger_for(None)))


def article(**changes: object) -> Article:
    base = Article(
        source="desk",
        title="Tariffs rise",
        text="Tariffs rose again. The trade deal stalled.",
        origin="test",
        guid="g-1",
        published=datetime(2026, 3, 1, tzinfo=UTC),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_migrations_create_schema_and_are_idempotent(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert {
        "sources",
        "articles",
        "topics",
        "article_topics",
        "ingestion_runs",
        "ingestion_errors",
        "alembic_version",
    } <= tables
    migrate(engine)  # second time: nothing to do
    with engine.connect() as conn:
        assert (
            conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            == head_revision()
        )


def test_rerun_adds_nothing(seeded: Engine) -> None:
    again = ingest_plain(seeded, SEEDS)
    assert (again.new, again.updated, again.unchanged, again.duplicates) == (0, 0, 2, 0)
    assert count(seeded, models.Article) == 2
    assert count(seeded, models.ArticleTopic) > 0


def test_seed_tags_stored_with_evidence(seeded: Engine, seed_expectations: dict[str, Any]) -> None:
    for row in queries.find_articles(seeded, ArticleQuery()):
        detail = queries.get_article(seeded, row.id)
        assert detail is not None
        expect = seed_expectations[f"{detail.guid}.txt"]
        assert set(expect["topics"]) <= set(row.topics)
        assert not set(expect["not_topics"]) & set(row.topics)
        for tag in detail.tags:
            assert 0 < tag.score <= 1 and tag.evidence and tag.tagger_version.startswith("rules-")
            assert {"kind", "phrase", "start", "end", "weight"} <= set(tag.evidence[0])


def test_changed_content_updates_and_retags(engine: Engine) -> None:
    assert store(engine, article()).new == 1
    changed = article(text="Nuclear warheads and disarmament. Arms control talks on New START.")
    result = store(engine, changed)
    assert (result.new, result.updated) == (0, 1)
    [row] = queries.find_articles(engine, ArticleQuery())
    assert row.topics == ["arms-control"]
    assert count(engine, models.Article) == 1


def test_exact_copy_stored_as_duplicate(engine: Engine) -> None:
    original = store(engine, article(url="https://a.example/1"))
    copy = store(engine, article(url="https://b.example/copy", guid="other", source="mirror"))
    assert copy.duplicates == 1
    rows = queries.find_articles(engine, ArticleQuery())
    assert [r.id for r in rows] == original.new_ids
    both = queries.find_articles(engine, ArticleQuery(include_duplicates=True))
    assert len(both) == 2
    copy_row = next(r for r in both if r.duplicate_of)
    assert copy_row.duplicate_of == original.new_ids[0]
    detail = queries.get_article(engine, original.new_ids[0])
    assert detail is not None and detail.copies == [copy_row.id]
    assert (
        store(
            engine, article(url="https://b.example/copy", guid="other", source="mirror")
        ).unchanged
        == 1
    )


def test_same_batch_duplicates_and_repeats(engine: Engine) -> None:
    result = store(engine, article(), article(), article(guid="g-2", url="https://x.example/2"))
    assert (result.new, result.unchanged, result.duplicates) == (1, 1, 1)


def test_two_versions_in_one_batch_keep_the_later(engine: Engine) -> None:
    later = article(text="Nuclear warheads and disarmament. Arms control talks on New START.")
    result = store(engine, article(), later)
    assert (result.new, result.unchanged) == (1, 1)
    [row] = queries.find_articles(engine, ArticleQuery())
    assert row.topics == ["arms-control"]
    assert store(engine, article(), later).unchanged == 1 + 1


def test_batches_stored_as_one_count_in_their_own_results(engine: Engine) -> None:
    """``store_batches``: one transaction, one look-up of each kind, each article counted in
    its own batch's result; what ``also`` writes is in the same transaction."""
    first = store(engine, article())  # stored before: updated and re-tagged below
    arms = "Nuclear warheads and disarmament. Arms control talks on New START."
    desk = [article(guid="g-2", url="https://a.example/2", text="Gas flows resumed.")]
    mirror = [
        article(source="mirror", guid="m-1", text="Gas flows resumed."),  # a copy of desk's
        article(text=arms),  # the stored article, changed
    ]
    commits: list[int] = []
    event.listen(engine, "commit", lambda _connection: commits.append(1))
    also: list[int | None] = []
    tagger = tagger_for(None)
    one, empty, two = store_batches(
        engine,
        [process(desk, tagger), [], process(mirror, tagger)],
        also=lambda session: also.append(session.scalar(select(func.count(models.Article.id)))),
    )
    assert len(commits) == 1 and also == [3]  # the new articles visible to ``also``
    assert (one.read, one.new, one.duplicates, one.updated) == (1, 1, 0, 0)
    assert (empty.read, empty.new, empty.updated) == (0, 0, 0)
    assert (two.read, two.new, two.duplicates, two.updated) == (2, 0, 1, 1)
    assert two.updated_ids == two.retagged_ids == first.new_ids
    assert one.retagged_ids == [] and not set(one.new_ids) & set(two.new_ids)
    assert (sum(one.topics.values()), two.topics["arms-control"]) == (one.topics.total(), 1)
    original = queries.get_article(engine, one.new_ids[0])
    assert original is not None and original.copies == two.new_ids


def test_nameless_copy_of_stored_text_adds_nothing(engine: Engine) -> None:
    store(engine, article())
    assert store(engine, article(guid=None, source="elsewhere")).unchanged == 1
    assert count(engine, models.Article) == 1


def test_jsonl_fixture_dedup_expectations(engine: Engine) -> None:
    result = ingest_plain(engine, DATA / "articles.jsonl")
    # wire-006 is wire-001 by canonical URL; wire-005 is a copy of it from another site
    assert (result.new, result.duplicates, result.unchanged) == (4, 1, 1)


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ('"New START"', {"004_9152477c205a2e8e"}),
        ("reactor", {"000_134b5bdc4cbcbe50"}),  # stemmed: "reactors" in the text
        ("warheads OR reactors", {"000_134b5bdc4cbcbe50", "004_9152477c205a2e8e"}),
        ("Putin -warheads", {"000_134b5bdc4cbcbe50"}),
        ("zebra", set()),
        ("'); DROP TABLE articles; --", set()),
    ],
)
def test_full_text_search(seeded: Engine, search: str, expected: set[str]) -> None:
    rows = queries.find_articles(seeded, ArticleQuery(text=search))
    guids = {queries.get_article(seeded, r.id).guid for r in rows}  # type: ignore[union-attr]
    assert guids == expected
    assert count(seeded, models.Article) == 2


def test_search_without_words_is_a_clear_error(seeded: Engine) -> None:
    with pytest.raises(NewsflowError, match="no words"):
        queries.find_articles(seeded, ArticleQuery(text='"" -'))


def test_filters(seeded: Engine) -> None:
    def titles(**kw: object) -> list[str]:
        return [r.title[:12] for r in queries.find_articles(seeded, ArticleQuery(**kw))]  # type: ignore[arg-type]

    assert titles() == ["Putin and Xi", "Russia and C"]  # newest first
    assert titles(topic="arms-control") == ["Putin and Xi"]
    assert titles(since=datetime(2026, 1, 1, tzinfo=UTC)) == ["Putin and Xi"]
    assert titles(until=datetime(2026, 1, 1, tzinfo=UTC)) == ["Russia and C"]
    assert titles(source="seeds", limit=1) == ["Putin and Xi"]
    assert titles(source="nobody") == []
    assert titles(topic="arms-control", text="Putin", since=datetime(2025, 1, 1, tzinfo=UTC)) == [
        "Putin and Xi"
    ]


def test_topic_counts_and_stats(seeded: Engine) -> None:
    counts = queries.topic_counts(seeded)
    assert counts["russia-china"] == 2 and counts["arms-control"] == 1
    assert counts["middle-east"] == 0
    stats = queries.database_stats(seeded)
    assert (stats.articles, stats.duplicates, stats.sources) == (2, 0, {"seeds": 2})
    assert stats.earliest == datetime(2025, 1, 21, tzinfo=UTC)
    assert stats.latest == datetime(2026, 2, 4, tzinfo=UTC)
    # a source whose only article is a copy is listed too, with no originals
    original = queries.get_article(seeded, 1)
    assert original is not None
    assert store(seeded, article(source="wire", text=original.text)).duplicates == 1
    stats = queries.database_stats(seeded)
    assert (stats.articles, stats.duplicates) == (2, 1)
    assert (stats.sources, stats.source_copies) == ({"seeds": 2, "wire": 0}, {"wire": 1})


def test_dates_round_trip_as_aware_utc(seeded: Engine) -> None:
    rows = queries.find_articles(seeded, ArticleQuery())
    assert all(r.published is not None and r.published.tzinfo is not None for r in rows)


def test_unreachable_databases_give_one_line_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSFLOW_DB_RETRY_SECONDS", "0")  # test_faults.py covers the retries
    with pytest.raises(DatabaseError, match=r"directory .* does not exist"):
        open_database(f"sqlite:///{tmp_path}/missing/dir/news.db")
    with pytest.raises(DatabaseError, match="cannot open postgresql") as info:
        open_database("postgresql://nobody:secret@127.0.0.1:1/none")
    assert "secret" not in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(DatabaseError, match="not a database URL"):
        open_database("://nothing")
    with pytest.raises(DatabaseError, match="not a database URL"):
        open_database("postgresql://u@h:port/db")
    with pytest.raises(DatabaseError, match="unsupported database URL"):
        open_database("nosuchdb://x/y")


def test_sqlite_connections_are_set_up_for_batch_writes(tmp_path: Path) -> None:
    engine = open_database(f"sqlite:///{tmp_path / 'pragmas.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        # a 64 MB page cache: the full-text and bucket indexes of a batch stay in memory
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -65536
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        # a new file has 16 KB pages: fewer reads for a search from a cold cache
        assert conn.exec_driver_sql("PRAGMA page_size").scalar() == 16384
    engine.dispose()


def test_an_existing_sqlite_file_keeps_its_page_size(tmp_path: Path) -> None:
    """The page size is set for new files only: a file made with SQLite's 4 KB pages keeps
    them (changing it takes a VACUUM outside WAL mode), and opens as before."""
    path = tmp_path / "old.db"
    with closing(sqlite3.connect(path)) as plain:
        plain.execute("PRAGMA page_size=4096")
        plain.execute("CREATE TABLE kept (x INTEGER)")
        plain.commit()
        assert plain.execute("PRAGMA page_size").fetchone() == (4096,)
    engine = open_database(f"sqlite:///{path}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA page_size").scalar() == 4096
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()
