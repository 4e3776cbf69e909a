"""bench/bench_pipeline.py's baselines do the work they say (no timing: that is the script's)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bench import corpus
from bench.bench_pipeline import bare


def test_bare_all_indexes_signs_and_tags_what_the_bare_loop_stores(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    corpus.write_feeds(feeds, 300, corpus.DEFAULT_SEED, per_feed=50)
    plain, full = tmp_path / "bare.db", tmp_path / "bare-all.db"

    assert bare("feed", feeds, plain, 100)["articles"] == 300
    assert bare("feed", feeds, full, 100, same_work=True)["articles"] == 300

    with sqlite3.connect(plain) as p, sqlite3.connect(full) as f:
        assert p.execute("SELECT count(*) FROM articles").fetchone() == (300,)
        assert f.execute("SELECT count(*) FROM articles").fetchone() == (300,)
        # the full-text index finds what a scan of the texts finds
        word = "sanctions"
        scanned = f.execute(
            "SELECT count(*) FROM articles WHERE lower(text) LIKE ?", (f"%{word}%",)
        ).fetchone()[0]
        indexed = f.execute(
            "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH ?", (word,)
        ).fetchone()[0]
        assert 0 < scanned <= indexed  # the porter stemmer also finds "sanction"
        # one signature each; the corpus's copies (5 %) are found near their originals
        assert f.execute("SELECT count(*) FROM signatures").fetchone() == (300,)
        copies = f.execute(
            "SELECT count(*) FROM signatures WHERE duplicate_of IS NOT NULL"
        ).fetchone()[0]
        assert 0 < copies < 30
        # topics from the taxonomy's phrases
        topics = dict(f.execute("SELECT topic, count(*) FROM article_topics GROUP BY topic"))
        assert topics.get("arms-control", 0) > 0 and set(topics) <= set(_taxonomy_topics())


def _taxonomy_topics() -> list[str]:
    from processing.taxonomy import load_taxonomy

    return list(load_taxonomy(None).topics)
