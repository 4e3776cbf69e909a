"""Every file of feedparser's test corpus, served over loopback and ingested as a feed:
each yields articles or one clear error recorded for its feed; nothing crashes the run."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bench.bench_feed_corpus import CORPUS, corpus_files, declared_headers, run_corpus
from storage import models
from storage.db import open_database


def test_declared_headers() -> None:
    content = b"<!--\nHeader:      Content-type: text/xml; charset=windows-1252\n-->\n<rss/>"
    assert declared_headers(content) == {"Content-type": "text/xml; charset=windows-1252"}


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"no feedparser corpus at {CORPUS}")
def test_every_corpus_feed_yields_articles_or_one_error(sqlite_url: str) -> None:
    counts = run_corpus(CORPUS, sqlite_url)
    assert counts.crashed == []
    assert counts.files == len(corpus_files(CORPUS)) > 2000
    assert counts.feeds_with_articles + counts.feeds_with_error == counts.files
    # Over a hundred of the sanitiser's test files hold an entry of markup with no text at
    # all (an empty <sound/>, an <svg> drawing): each is one entry error, not an article.
    assert counts.feeds_with_articles > 450 and counts.articles_read > 450
    assert counts.articles_stored > 75  # the corpus repeats a few example.org links
    assert set(counts.errors) <= {
        "empty",
        "no-usable-entries",
        "parse",
    }  # loopback: no fetch errors expected
    with Session(open_database(sqlite_url)) as session:
        failed = session.scalar(
            select(func.count()).select_from(models.Feed).where(models.Feed.error_count == 1)
        )
        assert failed == counts.feeds_with_error
        polled = session.scalar(
            select(func.count())
            .select_from(models.Feed)
            .where(models.Feed.last_polled_at.is_not(None))
        )
        assert polled == counts.files
        feed_errors = session.scalar(
            select(func.count(func.distinct(models.IngestionError.origin))).where(
                models.IngestionError.origin.like("http://127.0.0.1:%.%")
            )
        )
        assert feed_errors is not None and feed_errors >= counts.feeds_with_error


def test_corpus_locations_are_relative_to_the_repository() -> None:
    expected = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "feedparser"
    assert expected == CORPUS
