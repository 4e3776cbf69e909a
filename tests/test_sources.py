"""The sources file, due-ness and back-off, and feeds stored in the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from newsflow.errors import ConfigError, NewsflowError
from newsflow.sources import (
    FeedSource,
    add_to_file,
    check_tags,
    is_due,
    load_sources,
    next_poll,
    parse_interval,
    remove_from_file,
)
from storage import feeds
from storage.feeds import FeedUpdate

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

GOOD = """
feeds:
  - name: world-desk
    url: https://news.example.com/world/rss.xml
    poll_interval: 30m
    fetch_full_text: true
    tags: [russia-china, arms-control]
  - name: energy
    url: http://energy.example.org/feed.json
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_sources(tmp_path: Path) -> None:
    world, energy = load_sources(write(tmp_path, GOOD))
    assert world == FeedSource(
        "world-desk",
        "https://news.example.com/world/rss.xml",
        1800,
        True,
        ("russia-china", "arms-control"),
    )
    assert (energy.poll_interval, energy.fetch_full_text, energy.tags) == (None, False, ())
    assert load_sources(write(tmp_path, "")) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("feeds: [{name: a}]", r"sources.yaml: feeds\[0\]: url: missing"),
        ("feeds: [{name: a, url: 'ftp://x/f'}]", r"feeds\[0\]\.url: 'ftp://x/f' is not an http"),
        ("feeds: [{name: a, url: 'http://x/f', poll_interval: 5}]", r"poll_interval: must be"),
        ("feeds: [{name: a, url: 'http://x/f', poll_interval: soon}]", r"not a duration"),
        ("feeds: [{name: a, url: 'http://x/f', fetch_full_text: maybe}]", r"fetch_full_text"),
        ("feeds: [{name: a, url: 'http://x/f', tags: [1]}]", r"feeds\[0\]\.tags"),
        ("feeds: [{name: a, url: 'http://x/f', colour: red}]", r"unknown key 'colour'"),
        ("feeds: [{name: a, url: 'http://x/f'}, {name: a, url: 'http://y/f'}]", r"twice"),
        ("feeds: [just-a-string]", r"feeds\[0\]: expected a mapping"),
        ("- a\n- b", r"expected a mapping with a `feeds` list"),
        ("feeds: {a: 1}", r"feeds: expected a list"),
        ("feeds: [unclosed", r"not valid YAML"),
    ],
)
def test_bad_sources_file_names_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_sources(write(tmp_path, text))


def test_missing_sources_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read sources file"):
        load_sources(tmp_path / "nope.yaml")


def test_unknown_tag() -> None:
    source = FeedSource("a", "http://x.example/f", tags=("russia-china", "gossip"))
    with pytest.raises(ConfigError, match="unknown topic 'gossip'"):
        check_tags([source], ["russia-china"], "sources.yaml")


@pytest.mark.parametrize(
    ("value", "seconds"), [(3600, 3600), ("90s", 90), ("30m", 1800), ("2h", 7200), ("1d", 86400)]
)
def test_intervals(value: object, seconds: int) -> None:
    assert parse_interval(value) == seconds


def test_next_poll_backs_off_failing_feeds() -> None:
    assert next_poll(NOW, 600) == NOW + timedelta(minutes=10)
    assert next_poll(NOW, 600, error_count=1) == NOW + timedelta(minutes=20)
    assert next_poll(NOW, 600, error_count=3) == NOW + timedelta(minutes=80)
    assert next_poll(NOW, 600, error_count=40, max_backoff=3600) == NOW + timedelta(hours=1)
    assert is_due(None, NOW) and is_due(NOW, NOW) and not is_due(NOW + timedelta(1), NOW)


def test_feeds_in_the_database(engine: Engine) -> None:
    first = FeedSource("desk", "https://a.example/rss", 600, True, ("trade",))
    (record,) = feeds.sync_feeds(engine, [first])
    assert (record.name, record.url, record.poll_interval, record.tags) == (
        "desk",
        "https://a.example/rss",
        600,
        ("trade",),
    )
    assert record.next_poll_at is None and record.error_count == 0
    assert [f.name for f in feeds.due_feeds(engine, NOW)] == ["desk"]
    feeds.save_poll(
        engine,
        record.id,
        FeedUpdate("ok", NOW, NOW + timedelta(minutes=10), 200, '"e1"', "Tue, 1 Jan 2026"),
    )
    assert feeds.due_feeds(engine, NOW) == []
    assert [f.name for f in feeds.due_feeds(engine, NOW + timedelta(minutes=10))] == ["desk"]
    feeds.save_poll(engine, record.id, FeedUpdate("error", NOW, NOW, 500, error="HTTP 500"))
    feeds.save_poll(engine, record.id, FeedUpdate("error", NOW, NOW, None, error="timed out"))
    (stored,) = feeds.list_feeds(engine)
    assert (stored.etag, stored.last_status, stored.error_count, stored.last_error) == (
        '"e1"',
        500,
        2,
        "timed out",
    )
    assert stored.last_success_at == NOW and stored.last_outcome == "error"
    # the file changes the feed's URL: validators are forgotten, the state is kept
    (moved,) = feeds.sync_feeds(engine, [FeedSource("desk", "https://b.example/rss")])
    assert (moved.url, moved.etag, moved.poll_interval, moved.error_count) == (
        "https://b.example/rss",
        None,
        None,
        2,
    )
    with pytest.raises(NewsflowError, match="exists already"):
        feeds.add_feed(engine, FeedSource("desk", "https://c.example/rss"))
    feeds.add_feed(engine, FeedSource("other", "https://c.example/rss"))
    assert [f.name for f in feeds.list_feeds(engine)] == ["desk", "other"]
    assert feeds.remove_feed(engine, "desk").name == "desk"
    with pytest.raises(NewsflowError, match="no feed named 'desk'"):
        feeds.remove_feed(engine, "desk")
    assert [f.name for f in feeds.list_feeds(engine)] == ["other"]


def test_edit_sources_file(tmp_path: Path) -> None:
    path = tmp_path / "new" / "sources.yaml"
    path.parent.mkdir()
    source = FeedSource("desk", "https://a.example/rss", 1800, True, ("trade",))
    add_to_file(path, source)
    add_to_file(path, FeedSource("wire", "https://b.example/feed.json"))
    assert load_sources(path) == [source, FeedSource("wire", "https://b.example/feed.json")]
    with pytest.raises(ConfigError, match="listed already"):
        add_to_file(path, FeedSource("desk", "https://c.example/rss"))
    assert remove_from_file(path, "desk") == source
    assert [s.name for s in load_sources(path)] == ["wire"]
    with pytest.raises(ConfigError, match="no feed named 'desk'"):
        remove_from_file(path, "desk")
