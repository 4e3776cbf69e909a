"""Hostile and broken input through the real entry points, into SQLite and PostgreSQL.

Feeds and pages go through the loopback server, the fetcher, the feed parser and the page
extractor (``poll_feed``); files through ``parsers.iter_path`` and ``ingest_batch``. Each bad
input gives a clear per-input error or a documented result, and the rest is stored. Big inputs
are made at test time and must be refused or capped cheaply.
"""

from __future__ import annotations

import gzip
import json
import random
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from newsflow.article import Article
from newsflow.errors import SourceError
from newsflow.pipeline import ingest_batch, tagger_for
from newsflow.polling import FeedOutcome
from newsflow.sources import FeedSource
from parsers import iter_path
from parsers.clean import MAX_TITLE_CHARS
from storage import models
from tests.loopback import LoopbackServer, Reply
from tests.test_faults import WORDS
from tests.test_polling import poll, settings_for

MB = 1024 * 1024
DEEP = 100_000
STORY = (
    "The harbour authority approved the new ferry terminal after a long public consultation. "
    "Work on the quay starts in spring and the first ships are expected next year."
)


def story(seed: str, words: int = 60) -> str:
    """A paragraph of its own for each seed (no two are near copies)."""
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def deep_html(levels: int = DEEP, text: str = STORY) -> str:
    return "<div>" * levels + f"<p>{text}</p>" + "</div>" * levels


def rss(*items: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Wire</title>'
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def item(
    title: str,
    body: str | None = None,
    link: str | None = None,
    date: str = "Mon, 06 Jan 2025 10:00:00 GMT",
    guid: str | None = None,
) -> str:
    parts = [f"<title><![CDATA[{title}]]></title>"] if title else []
    body = story(title) if body is None else body
    if body:
        parts.append(f"<description><![CDATA[{body}]]></description>")
    if link:
        parts.append(f"<link>{link}</link>")
    if date:
        parts.append(f"<pubDate>{date}</pubDate>")
    parts.append(f"<guid isPermaLink='false'>{guid or title or body[:20]}</guid>")
    return "<item>" + "".join(parts) + "</item>"


def poll_feed_at(
    engine: Engine,
    db_url: str,
    loopback: LoopbackServer,
    reply: Reply,
    *,
    full_text: bool = False,
    name: str = "wire",
) -> FeedOutcome:
    loopback.routes[f"/{name}.xml"] = reply
    source = FeedSource(name, loopback.url(f"/{name}.xml"), fetch_full_text=full_text)
    (outcome,) = poll(engine, settings_for(db_url), [source])
    return outcome


def articles(engine: Engine) -> list[models.Article]:
    with Session(engine) as session:
        return list(session.scalars(select(models.Article).order_by(models.Article.id)))


def error_messages(engine: Engine) -> dict[str, str]:
    with Session(engine) as session:
        return {e.origin: e.message for e in session.scalars(select(models.IngestionError))}


GOOD_FEED = Reply(
    200, rss(item("Ferry terminal approved")), {"Content-Type": "application/rss+xml"}
)


# Feeds


def test_binary_data_as_a_feed(engine: Engine, db_url: str, loopback: LoopbackServer) -> None:
    noise = random.Random(1).randbytes(20_000)
    loopback.routes["/noise.xml"] = Reply(200, noise, {"Content-Type": "application/rss+xml"})
    loopback.routes["/good.xml"] = GOOD_FEED
    sources = [
        FeedSource("noise", loopback.url("/noise.xml")),
        FeedSource("good", loopback.url("/good.xml")),
    ]
    bad, good = sorted(poll(engine, settings_for(db_url), sources), key=lambda o: o.name != "noise")
    assert bad.outcome == "error" and bad.error_kind == "parse"
    assert bad.error and bad.error.startswith("not an RSS, Atom or JSON feed")
    assert good.outcome == "ok" and good.result.new == 1
    assert [a.title for a in articles(engine)] == ["Ferry terminal approved"]


def _bomb(size: int = 50 * MB) -> bytes:
    """``size`` bytes that compress to a few tens of kilobytes."""
    return gzip.compress(b"<rss>" + b" " * size, compresslevel=9)


def test_gzip_bomb_as_a_feed(engine: Engine, db_url: str, loopback: LoopbackServer) -> None:
    bomb = Reply(200, _bomb(), {"Content-Type": "application/rss+xml", "Content-Encoding": "gzip"})
    started = time.monotonic()
    outcome = poll_feed_at(engine, db_url, loopback, bomb)
    assert outcome.outcome == "error" and outcome.error_kind == "too-large"
    assert time.monotonic() - started < 20  # stopped at the cap, not inflated to 50 MB
    assert articles(engine) == []


def test_deeply_nested_html_in_a_feed_entry(
    engine: Engine, db_url: str, loopback: LoopbackServer
) -> None:
    feed = rss(item("Deep entry", deep_html()), item("Plain entry"))
    outcome = poll_feed_at(engine, db_url, loopback, Reply(200, feed))
    assert outcome.outcome == "ok" and outcome.result.new == 2
    deep = {a.title: a for a in articles(engine)}["Deep entry"]
    assert deep.text == STORY


def test_invalid_utf8_in_a_feed(engine: Engine, db_url: str, loopback: LoopbackServer) -> None:
    feed = rss(item("Caf\u00e9 au lait"), item("Second story")).replace(b"\xc3\xa9", b"\xff")
    outcome = poll_feed_at(engine, db_url, loopback, Reply(200, feed))
    assert outcome.outcome == "ok" and outcome.result.new == 2  # decoded by a fallback charset
    titles = [a.title for a in articles(engine)]
    assert "Second story" in titles and any(t.startswith("Caf") for t in titles)


def test_feed_entries_without_text(engine: Engine, db_url: str, loopback: LoopbackServer) -> None:
    empty = (
        "<item><guid>empty-1</guid></item>"
        "<item><title>  </title><description> </description><guid>empty-2</guid></item>"
    )
    feed = rss(empty, item("A story with text"))
    outcome = poll_feed_at(engine, db_url, loopback, Reply(200, feed))
    assert outcome.outcome == "ok" and outcome.result.new == 1
    assert [p.message for p in outcome.problems] == ["entry has no title and no text"] * 2
    assert [a.title for a in articles(engine)] == ["A story with text"]


def test_a_feed_of_empty_entries_only(
    engine: Engine, db_url: str, loopback: LoopbackServer
) -> None:
    feed = rss("<item><guid>a</guid></item>", "<item><guid>b</guid></item>")
    outcome = poll_feed_at(engine, db_url, loopback, Reply(200, feed))
    assert outcome.outcome == "error" and outcome.error_kind == "no-usable-entries"
    assert outcome.error == "none of the feed's 2 entries has a title or text"


@pytest.mark.parametrize(
    ("date", "reason"),
    [
        ("Fri, 31 Dec 9999 23:59:59 GMT", "is outside 1800-2199"),
        ("Mon, 01 Jan 0001 00:00:00 GMT", "cannot be read"),
        ("next Tuesday-ish", "is not a date"),
    ],
)
def test_far_future_past_and_nonsense_dates_in_a_feed(
    engine: Engine, db_url: str, loopback: LoopbackServer, date: str, reason: str
) -> None:
    feed = rss(item("Dated oddly", date=date), item("Dated well"))
    outcome = poll_feed_at(engine, db_url, loopback, Reply(200, feed))
    assert outcome.outcome == "ok", outcome.error
    assert outcome.result.new == 2  # both stored
    stored = {a.title: a for a in articles(engine)}
    assert stored["Dated oddly"].published_at is None
    assert stored["Dated well"].published_at is not None
    (note,) = outcome.problems
    assert reason in note.message and "stored without a date" in note.message
    assert any("stored without a date" in m for m in error_messages(engine).values())


def test_a_1mb_title_in_a_feed(engine: Engine, db_url: str, loopback: LoopbackServer) -> None:
    title = ("Headline word " * 80_000).strip()  # over 1 MB
    outcome = poll_feed_at(
        engine, db_url, loopback, Reply(200, rss(item(title, STORY, guid="long")))
    )
    assert outcome.result.new == 1
    (row,) = articles(engine)
    assert len(row.title) <= MAX_TITLE_CHARS and row.title.endswith("…")
    assert row.text.startswith(title)  # the whole line is kept, as the text's first paragraph
    assert row.text.endswith(STORY)


# Pages (full-text feeds): the page fails, the feed's summary is kept


def _full_text_feed(loopback: LoopbackServer, page: Reply) -> Reply:
    loopback.routes["/story.html"] = page
    link = loopback.url("/story.html")
    return Reply(200, rss(item("Ferry terminal approved", STORY, link=link)))


def test_a_50mb_page_is_refused_cheaply(
    engine: Engine, db_url: str, loopback: LoopbackServer
) -> None:
    page = Reply(200, b"<html><body><p>" + b"word " * (10 * MB) + b"</p></body></html>")
    started = time.monotonic()
    outcome = poll_feed_at(
        engine, db_url, loopback, _full_text_feed(loopback, page), full_text=True
    )
    assert time.monotonic() - started < 20
    assert outcome.result.new == 1
    (problem,) = outcome.problems
    assert "full text not fetched (response larger than the 10000000-byte cap)" in problem.message
    (row,) = articles(engine)
    assert row.text == STORY  # the summary


def test_gzip_bomb_page(engine: Engine, db_url: str, loopback: LoopbackServer) -> None:
    page = Reply(200, _bomb(), {"Content-Type": "text/html", "Content-Encoding": "gzip"})
    outcome = poll_feed_at(
        engine, db_url, loopback, _full_text_feed(loopback, page), full_text=True
    )
    assert outcome.result.new == 1
    (problem,) = outcome.problems
    assert "response larger than" in problem.message
    assert articles(engine)[0].text == STORY


def test_deeply_nested_page(engine: Engine, db_url: str, loopback: LoopbackServer) -> None:
    body = f"<html><head><title>Deep</title></head><body>{deep_html(text=STORY * 5)}</body></html>"
    page = Reply(200, body.encode(), {"Content-Type": "text/html; charset=utf-8"})
    started = time.monotonic()
    outcome = poll_feed_at(
        engine, db_url, loopback, _full_text_feed(loopback, page), full_text=True
    )
    assert time.monotonic() - started < 20
    # lxml stops building the tree at its depth limit: no main text is found in the page,
    # and the feed's summary is stored (no RecursionError, no error for the feed).
    assert outcome.outcome == "ok" and outcome.result.new == 1
    assert articles(engine)[0].text.startswith(STORY)


def test_invalid_utf8_page(engine: Engine, db_url: str, loopback: LoopbackServer) -> None:
    paragraphs = "".join(f"<p>{STORY} Paragraph {i}.</p>" for i in range(5))
    body = f"<html><body><article>{paragraphs}</article></body></html>".encode()
    body = body.replace(b"ferry", b"f\xff\xfery")
    page = Reply(200, body, {"Content-Type": "text/html; charset=utf-8"})
    outcome = poll_feed_at(
        engine, db_url, loopback, _full_text_feed(loopback, page), full_text=True
    )
    assert outcome.outcome == "ok" and outcome.result.new == 1 and outcome.problems == []
    (row,) = articles(engine)
    assert "Paragraph 4." in row.text  # the page's text, undecodable bytes replaced


# Files


def ingest_files(engine: Engine, path: Path) -> tuple[list[Article], list[SourceError]]:
    items = list(iter_path(path))
    ingest_batch(items, engine, tagger_for(None), None)
    return (
        [i for i in items if isinstance(i, Article)],
        [i for i in items if isinstance(i, SourceError)],
    )


def good_file(directory: Path, name: str = "good.txt") -> Path:
    directory.mkdir(exist_ok=True)
    path = directory / name
    path.write_text(f"A good story\n\n{STORY}\n", "utf-8")
    return path


def test_a_50mb_text_file_is_refused_by_its_size(engine: Engine, tmp_path: Path) -> None:
    good_file(tmp_path / "in")
    with (tmp_path / "in" / "huge.txt").open("wb") as handle:
        handle.truncate(50 * MB)  # 50 MB on disk, never read
    stored, errors = ingest_files(engine, tmp_path / "in")
    assert [e.message for e in errors] == [f"file is {50 * MB} bytes, over the {20 * MB} byte cap"]
    assert [a.title for a in stored] == ["A good story"] and len(articles(engine)) == 1


def test_a_50mb_jsonl_line_is_skipped(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "dump.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        handle.write(json.dumps({"title": "Before", "text": STORY, "id": "1"}) + "\n")
        handle.write(json.dumps({"title": "Huge", "text": "word " * (10 * MB), "id": "2"}) + "\n")
        handle.write(json.dumps({"title": "After", "text": STORY, "id": "3"}) + "\n")
    _, errors = ingest_files(engine, path)
    assert [(e.origin, e.message) for e in errors] == [
        (f"{path}:2", f"line longer than the {20 * MB} byte cap")
    ]
    assert [a.title for a in articles(engine)] == ["Before", "After"]


def test_binary_data_named_as_a_text_file(engine: Engine, tmp_path: Path) -> None:
    good_file(tmp_path / "in")
    (tmp_path / "in" / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(range(256)))
    stored, errors = ingest_files(engine, tmp_path / "in")
    assert [e.message for e in errors] == ["binary data, not a text article"]
    assert len(stored) == 1 and len(articles(engine)) == 1


def test_invalid_utf8_text_file(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "legacy.txt"
    path.write_bytes(b"Caf\xe9 owners protest\n\nThe caf\xe9 owners \xff\xfe marched today.\n")
    stored, errors = ingest_files(engine, path)
    # Not UTF-8: read as Windows-1252 (Latin-1 for its undefined bytes), as documented.
    assert errors == [] and stored[0].title == "Café owners protest"
    assert articles(engine)[0].text == "The café owners ÿþ marched today."


def test_invalid_utf8_jsonl_line(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "dump.jsonl"
    path.write_bytes(
        json.dumps({"title": "Good one", "text": STORY}).encode()
        + b"\n"
        + b'{"title": "Bad \xff byte", "text": "x"}\n'
        + json.dumps({"title": "Good two", "text": STORY + " Again."}).encode()
        + b"\n"
    )
    _, errors = ingest_files(engine, path)
    assert [(e.origin, e.message) for e in errors] == [
        (f"{path}:2", "not UTF-8: invalid start byte at byte 15")
    ]
    assert [a.title for a in articles(engine)] == ["Good one", "Good two"]


def test_far_future_past_and_nonsense_dates_in_jsonl(engine: Engine, tmp_path: Path) -> None:
    dates: list[object] = [
        "9999-12-31T00:00:00Z",
        "0001-01-01",
        1e12,
        -86_400,
        "nonsense",
        "1799-12-31",
        "2025-01-06T10:00:00+02:00",
    ]
    path = tmp_path / "dump.jsonl"
    path.write_text(
        "".join(
            json.dumps({"id": str(n), "title": f"Story {n}", "text": f"{STORY} ({n})", "date": d})
            + "\n"
            for n, d in enumerate(dates)
        ),
        "utf-8",
    )
    stored, errors = ingest_files(engine, path)
    assert len(stored) == len(dates) and len(articles(engine)) == len(dates)  # all stored
    published = {a.title: a.published_at for a in articles(engine)}
    assert [published[f"Story {n}"] is not None for n in range(len(dates))] == [
        False,
        False,
        False,
        True,  # a day before the epoch is a fine date
        False,
        False,
        True,
    ]
    notes = {e.origin: e.message for e in errors}
    assert notes == {
        f"{path}:1": "date '9999-12-31T00:00:00Z' is outside 1800-2199: "
        "the article is stored without a date",
        f"{path}:2": "date '0001-01-01' is outside 1800-2199: the article is stored without a date",
        f"{path}:3": "date 1000000000000.0 is not a date: the article is stored without a date",
        f"{path}:5": "date 'nonsense' is not a date: the article is stored without a date",
        f"{path}:6": "date '1799-12-31' is outside 1800-2199: the article is stored without a date",
    }
    assert error_messages(engine) == notes  # recorded against the run, visible in `stats`


def test_bad_date_in_a_manifest(engine: Engine, tmp_path: Path) -> None:
    directory = tmp_path / "in"
    good_file(directory)
    (directory / "manifest.yaml").write_text(
        "articles:\n  good.txt:\n    published: '9999-01-01'\n", "utf-8"
    )
    stored, errors = ingest_files(engine, directory)
    assert len(stored) == 1 and stored[0].published is None
    assert [e.message for e in errors] == [
        "date '9999-01-01' is outside 1800-2199: the article is stored without a date"
    ]


def test_empty_articles(engine: Engine, tmp_path: Path) -> None:
    directory = tmp_path / "in"
    good_file(directory)
    (directory / "empty.txt").write_bytes(b"")
    (directory / "blank.txt").write_text("  \n\n\t \n", "utf-8")
    (directory / "dump.jsonl").write_text(
        '{"title": "", "text": "   "}\n{}\n{"title": "Only a title"}\n', "utf-8"
    )
    _, errors = ingest_files(engine, directory)
    assert sorted((Path(e.origin).name, e.message) for e in errors) == [
        ("blank.txt", "empty article: no title and no text"),
        ("dump.jsonl:1", "empty article: no title and no text"),
        ("dump.jsonl:2", "empty article: no title and no text"),
        ("empty.txt", "empty article: no title and no text"),
    ]
    assert sorted(a.title for a in articles(engine)) == ["A good story", "Only a title"]


def test_a_1mb_title_in_a_text_file(engine: Engine, tmp_path: Path) -> None:
    line = ("Everything on one line " * 50_000).strip()  # over 1 MB, no line break
    (tmp_path / "one-line.txt").write_text(line, "utf-8")
    _, errors = ingest_files(engine, tmp_path / "one-line.txt")
    assert errors == []
    (row,) = articles(engine)
    assert len(row.title) <= MAX_TITLE_CHARS and row.title.endswith("…")
    assert row.title[:-1] == line[: len(row.title) - 1]
    assert row.text == line  # nothing lost


def test_deeply_nested_html_in_jsonl(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "dump.jsonl"
    path.write_text(json.dumps({"title": "Deep", "html": deep_html()}) + "\n", "utf-8")
    started = time.monotonic()
    _, errors = ingest_files(engine, path)
    assert time.monotonic() - started < 20
    assert errors == [] and articles(engine)[0].text == STORY


def test_over_long_metadata_is_cut_to_its_column(engine: Engine, tmp_path: Path) -> None:
    # PostgreSQL refuses a value longer than its column, which would fail the whole batch.
    path = tmp_path / "dump.jsonl"
    record = {
        "title": "Long fields",
        "text": STORY,
        "id": "g" * 600,
        "source": "s" * 300,
        "language": "en-" + "x" * 100,
    }
    path.write_text(
        json.dumps(record) + "\n" + json.dumps({"title": "Neighbour", "text": story("n")}) + "\n",
        "utf-8",
    )
    _, errors = ingest_files(engine, path)
    assert errors == []
    rows = {a.title: a for a in articles(engine)}
    assert set(rows) == {"Long fields", "Neighbour"}
    long = rows["Long fields"]
    assert long.guid == "g" * 500 and long.language == ("en-" + "x" * 100)[:16]
    with Session(engine) as session:
        assert "s" * 200 in session.scalars(select(models.Source.name)).all()
