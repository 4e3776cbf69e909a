"""Near copies through storage, on real SQLite and PostgreSQL: linked, never dropped, hidden
from queries unless asked for, found across batches, runs and processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session

from flows.cli import main
from newsflow.article import Article
from newsflow.pipeline import process, tagger_for
from parsers import iter_path
from processing.neardup import NearDupConfig, band_keys
from storage import models, queries
from storage.queries import ArticleQuery
from storage.repository import BatchResult, store_batch
from tests.conftest import ROOT, SEEDS


def seed_articles() -> list[Article]:
    return sorted(
        (a for a in iter_path(SEEDS) if isinstance(a, Article)), key=lambda a: a.guid or ""
    )


def copy_of(article: Article, name: str, text: str, title: str | None = None) -> Article:
    return replace(
        article,
        source=f"site-{name}",
        guid=name,
        url=f"https://{name}.example/story",
        title=title or article.title,
        text=text,
    )


def variants(original: Article) -> dict[str, Article]:
    paragraphs = original.paragraphs
    words = original.text.split()
    edited = [p.replace("Putin", "the Russian leader", 1) for p in paragraphs]
    return {
        "framed": copy_of(
            original,
            "framed",
            "\n\n".join(
                ["Advertisement", *paragraphs, "© 2026 Mirror Media. All rights reserved."]
            ),
        ),
        "retitled": copy_of(
            original,
            "retitled",
            "MOSCOW (Wire) — " + original.text,
            title="EXCLUSIVE: " + original.title.upper(),
        ),
        "edited": copy_of(original, "edited", "\n\n".join(edited)),
        "head": copy_of(original, "head", " ".join(words[: int(len(words) * 0.7)])),
    }


def store(engine: Engine, *articles: Article, near: NearDupConfig | None = None) -> BatchResult:
    return store_batch(engine, process(articles, tagger_for(None), near), near)


def duplicate_of(engine: Engine) -> dict[str | None, int | None]:
    with Session(engine) as session:
        return dict(session.execute(select(models.Article.guid, models.Article.duplicate_of)).all())


def count(engine: Engine, model: Any) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_near_copies_in_a_later_batch_point_at_the_original(engine: Engine) -> None:
    old, new = seed_articles()
    first = store(engine, old, new)
    assert (first.new, first.duplicates) == (2, 0)  # the seeds are not near copies
    original = first.new_ids[0]
    result = store(engine, *variants(old).values())
    assert (result.new, result.duplicates) == (0, 4)
    links = duplicate_of(engine)
    assert all(links[name] == original for name in variants(old))
    assert links[new.guid] is None
    # Nothing is dropped: the copies are stored, hidden from listings unless asked for.
    assert count(engine, models.Article) == 6
    assert [r.id for r in queries.find_articles(engine, ArticleQuery())] == first.new_ids[::-1]
    everything = queries.find_articles(engine, ArticleQuery(include_duplicates=True))
    assert len(everything) == 6
    detail = queries.get_article(engine, original)
    assert detail is not None and detail.copies == sorted(result.new_ids)
    # Copies carry signatures; only originals are in the bucket index.
    assert count(engine, models.ArticleSignature) == 6
    assert count(engine, models.ArticleBand) == 2 * NearDupConfig().bands
    assert queries.database_stats(engine).duplicates == 4


def test_near_copies_in_the_same_batch(engine: Engine) -> None:
    old, new = seed_articles()
    copies = variants(new)
    result = store(engine, copies["head"], new, old, copies["framed"])
    # The first of a group in the batch is its original, here the 70 % version.
    assert (result.new, result.duplicates) == (2, 2)
    links = duplicate_of(engine)
    head_id = result.new_ids[0]
    assert links["head"] is None and links[new.guid] == head_id == links["framed"]
    assert links[old.guid] is None


def test_a_copy_of_a_copy_points_at_the_original(engine: Engine) -> None:
    old, _ = seed_articles()
    [original] = store(engine, old).new_ids
    framed = variants(old)["framed"]
    store(engine, framed)
    # The framed copy's exact text again, from a third site: the original, never a chain.
    third = replace(framed, source="site-third", guid="third", url="https://third.example/x")
    assert store(engine, third).duplicates == 1
    assert duplicate_of(engine)["third"] == original


def test_updated_original_is_matched_by_its_new_text(engine: Engine) -> None:
    old, new = seed_articles()
    store(engine, old)
    rewritten = replace(old, text=new.text)  # same record, entirely new body
    assert store(engine, rewritten).updated == 1
    assert store(engine, variants(old)["framed"]).new == 1  # the old text is no longer there
    assert store(engine, variants(new)["edited"]).duplicates == 1
    assert count(engine, models.ArticleSignature) == 3


def test_band_lookups_are_one_query_per_batch(engine: Engine) -> None:
    old, new = seed_articles()
    store(engine, old, new)
    many = [
        replace(copy_of(old if i % 2 else new, f"site{i}", ""), text=f"Dispatch {i}.\n\n{a.text}")
        for i, a in enumerate([old, new] * 15)
    ]
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        result = store(engine, *many)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert result.duplicates == 30
    lookups = [s for s in statements if s.lstrip().startswith("SELECT") and "article_bands" in s]
    assert len(lookups) == 1
    # The same batch again: every record is stored, so no bucket is looked up.
    statements.clear()
    event.listen(engine, "before_cursor_execute", record)
    try:
        again = store(engine, *many)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert (again.unchanged, again.new, again.duplicates) == (30, 0, 0)
    assert not [s for s in statements if "article_bands" in s or "article_signatures" in s]


def test_buckets_made_with_the_signature_are_those_stored(engine: Engine) -> None:
    old, new = seed_articles()
    near = NearDupConfig()
    items = process([old, new, variants(old)["framed"]], tagger_for(None), near)
    for item in items:
        assert item.signature is not None and item.bands == tuple(band_keys(item.signature, near))
    # Without them (items made elsewhere), storing computes the same buckets.
    bare = [replace(item, bands=None) for item in items]
    results = [store_batch(engine, batch, near) for batch in (items[:1], bare[1:])]
    assert [(r.new, r.duplicates) for r in results] == [(1, 0), (1, 1)]
    with Session(engine) as session:
        B = models.ArticleBand
        stored = session.execute(select(B.article_id, B.band, B.bucket)).all()
    ids = results[0].new_ids + results[1].new_ids[:1]
    expected = {
        (article_id, band, bucket)
        for article_id, item in zip(ids, items[:2], strict=True)
        for band, bucket in enumerate(item.bands or ())
    }
    assert set(stored) == expected


def test_disabled_detection_stores_no_signatures(engine: Engine) -> None:
    old, _ = seed_articles()
    off = NearDupConfig(enabled=False)
    store(engine, old, near=off)
    assert store(engine, variants(old)["framed"], near=off).new == 1
    assert count(engine, models.ArticleSignature) == 0


def test_index_is_found_by_another_process(db_url: str, engine: Engine) -> None:
    old, _ = seed_articles()
    [original] = store(engine, old).new_ids
    script = textwrap.dedent(
        f"""
        import sys
        from dataclasses import replace
        from newsflow.article import Article
        from newsflow.pipeline import ingest_batch, prepare_database, tagger_for
        from parsers import iter_path
        from pathlib import Path
        seeds = sorted((a for a in iter_path(Path({str(SEEDS)!r})) if isinstance(a, Article)),
                       key=lambda a: a.guid)
        copy = replace(seeds[0], source="elsewhere", guid="x", url="https://x.example/1",
                       text="Advertisement\\n\\n" + seeds[0].text)
        engine = prepare_database({db_url!r}, tagger_for(None))
        print(ingest_batch([copy], engine, tagger_for(None), None).duplicates)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "1"
    assert duplicate_of(engine)["x"] == original


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_cli_hides_copies_and_show_lists_them(
    db_url: str, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = seed_articles()
    first = store(engine, old, new)
    copies = store(engine, variants(old)["framed"], variants(old)["head"])
    assert main(["query", "--db", db_url, "--format", "jsonl"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    assert main(["query", "--db", db_url, "--format", "jsonl", "--include-duplicates"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 4
    assert main(["show", str(first.new_ids[0]), "--db", db_url]) == 0
    assert f"copies: {', '.join(map(str, copies.new_ids))}" in capsys.readouterr().out
    assert main(["show", str(copies.new_ids[0]), "--db", db_url]) == 0
    assert f"duplicate of article {first.new_ids[0]}" in capsys.readouterr().out


def test_articles_stored_before_the_index_are_signed_by_the_migration(new_db_url: str) -> None:
    from alembic import command

    from storage.db import _alembic_config, _create_engine, migrate, normalize_url

    engine = _create_engine(normalize_url(new_db_url))
    try:
        config = _alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0001")  # the schema before near-dup detection
        old, new = seed_articles()
        stored = store(engine, old, new, near=NearDupConfig(enabled=False))
        migrate(engine)
        assert count(engine, models.ArticleSignature) == 2
        assert count(engine, models.ArticleBand) == 2 * NearDupConfig().bands
        assert store(engine, variants(new)["edited"]).duplicates == 1
        assert duplicate_of(engine)["edited"] == stored.new_ids[1]
    finally:
        engine.dispose()


def test_copies_stored_at_the_same_moment_make_one_original(engine: Engine) -> None:
    """Four writers (threads, each its own connection) store four copies of one new story."""
    import threading

    story = seed_articles()[1]
    copies = list(variants(story).values())[:4]
    tagger = tagger_for(None)
    batches = [process([copy], tagger) for copy in copies]
    start = threading.Barrier(len(batches))
    results: list[BatchResult] = []

    def write(batch: list[Any]) -> None:
        start.wait()
        results.append(store_batch(engine, batch))

    threads = [threading.Thread(target=write, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted((r.new, r.duplicates) for r in results) == [(0, 1)] * 3 + [(1, 0)]
    with Session(engine) as session:
        originals = session.scalars(
            select(models.Article.id).where(models.Article.duplicate_of.is_(None))
        ).all()
    assert len(originals) == 1
