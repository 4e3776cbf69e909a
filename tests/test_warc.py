"""WARC/WARC.gz reading: small archives written with warcio, good and damaged."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsflow.article import Article
from newsflow.errors import NoArticleText, SourceError
from parsers import iter_path
from parsers.warc import iter_warc, iter_warc_records
from tests.warcbuild import Record, article_html, page_record, story, write_warc


def _mixed() -> list[Record]:
    return [
        Record("https://news.example.org/", kind="request"),
        page_record(1, date="2026-03-01T12:00:00Z"),
        Record("https://news.example.org/logo.png", b"\x89PNG\r\n", content_type="image/png"),
        Record(
            "https://news.example.org/gone",
            b"<html><p>Not found</p></html>",
            status="404 Not Found",
        ),
        Record("https://news.example.org/moved", b"", status="301 Moved Permanently"),
        Record("https://news.example.org/feed", b"{}", content_type="application/json"),
        page_record(2, date="2026-03-02T08:00:00Z"),
    ]


@pytest.mark.parametrize("gzip", [True, False])
def test_reads_only_html_2xx_responses(tmp_path: Path, gzip: bool) -> None:
    path = write_warc(tmp_path / ("crawl.warc.gz" if gzip else "crawl.warc"), _mixed(), gzip=gzip)
    items = list(iter_warc(path))
    assert all(isinstance(item, Article) for item in items)
    articles = [item for item in items if isinstance(item, Article)]
    assert [a.title for a in articles] == [
        "Headline number 1 on trade",
        "Headline number 2 on trade",
    ]
    first = articles[0]
    assert first.url == "https://news.example.org/story/1"
    assert first.source == "news.example.org"
    assert first.language == "en"
    assert first.published == datetime(2026, 3, 1, 12, tzinfo=UTC)  # WARC-Date: the page has none
    assert first.text.startswith("Story 1: officials met")
    assert "Home" not in first.text and "Example News" not in first.text
    assert str(path) in first.origin


def test_page_metadata_wins_over_the_record(tmp_path: Path) -> None:
    html = article_html(
        "Talks resume",
        story(7),
        canonical="https://www.example.com/world/talks-resume?utm_source=x",
        published="2025-12-24T06:00:00+00:00",
        author="Anna Petrova",
    )
    record = Record("https://m.example.com/amp/123", html.encode(), date="2026-03-01T00:00:00Z")
    [article] = list(iter_warc(write_warc(tmp_path / "one.warc.gz", [record], gzip=True)))
    assert isinstance(article, Article)
    assert article.url == "https://www.example.com/world/talks-resume"
    assert article.source == "example.com"
    assert article.published == datetime(2025, 12, 24, tzinfo=UTC)  # to the day
    assert article.authors == ("Anna Petrova",)


def test_charset_from_the_http_header(tmp_path: Path) -> None:
    html = article_html("Café talks in Zürich", story(3)).replace('<meta charset="utf-8">', "")
    record = Record(
        "https://example.org/cafe",
        html.encode("cp1252"),
        content_type="text/html; charset=windows-1252",
    )
    [article] = list(iter_warc(write_warc(tmp_path / "cp.warc", [record], gzip=False)))
    assert isinstance(article, Article)
    assert article.title == "Café talks in Zürich"


def test_a_page_without_text_is_skipped_naming_file_offset_and_uri(tmp_path: Path) -> None:
    stub = Record("https://example.org/menu", b"<html><body><nav>Home</nav></body></html>")
    path = write_warc(tmp_path / "stub.warc.gz", [page_record(1), stub, page_record(2)], gzip=True)
    items = list(iter_warc_records(path))
    # an index page is normal in a crawl: skipped (NoArticleText), not an error
    assert [type(item) for item, _ in items] == [Article, NoArticleText, Article]
    error, offset = items[1]
    assert isinstance(error, NoArticleText)
    assert offset > 0
    assert error.origin == f"{path}@{offset} <https://example.org/menu>"
    assert "no article text" in error.message


@pytest.mark.parametrize("gzip", [True, False])
@pytest.mark.parametrize("keep", [0.5, 0.97])
def test_truncated_archive_keeps_what_precedes_the_damage(
    tmp_path: Path, gzip: bool, keep: float
) -> None:
    whole = write_warc(tmp_path / "whole.warc", [page_record(n) for n in range(1, 4)], gzip=gzip)
    data = whole.read_bytes()
    cut = tmp_path / ("cut.warc.gz" if gzip else "cut.warc")
    cut.write_bytes(data[: int(len(data) * keep)])
    items = list(iter_warc(cut))
    articles = [item for item in items if isinstance(item, Article)]
    errors = [item for item in items if isinstance(item, SourceError)]
    assert 1 <= len(articles) < 3
    assert len(errors) == 1
    assert errors[0].origin.startswith(f"{cut}@")


@pytest.mark.parametrize("gzip", [True, False])
def test_corrupt_bytes_are_an_error_not_an_exception(tmp_path: Path, gzip: bool) -> None:
    whole = write_warc(tmp_path / "whole.warc", [page_record(n) for n in range(1, 4)], gzip=gzip)
    data = whole.read_bytes()
    bad = tmp_path / "bad.warc"
    bad.write_bytes(data[:700] + b"\x00" * 300 + data[1000:])
    items = list(iter_warc(bad))
    assert any(isinstance(item, SourceError) for item in items)
    assert all(isinstance(item, Article | SourceError) for item in items)


def test_not_a_warc(tmp_path: Path) -> None:
    path = tmp_path / "notes.warc"
    path.write_text("hello world\n" * 20)
    [error] = list(iter_warc(path))
    assert isinstance(error, SourceError)
    assert "Unknown archive format" in error.message


def test_no_warc_output_on_stderr(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    whole = write_warc(tmp_path / "w.warc", [page_record(n) for n in range(1, 4)], gzip=False)
    data = whole.read_bytes()
    bad = tmp_path / "bad.warc"
    bad.write_bytes(data[: len(data) // 2] + b"junk\r\n" * 40 + data[len(data) // 2 :])
    list(iter_warc(bad))
    assert capfd.readouterr().err == ""


def test_resume_after_an_offset(tmp_path: Path) -> None:
    path = write_warc(tmp_path / "r.warc.gz", [page_record(n) for n in range(1, 6)], gzip=True)
    everything = list(iter_warc_records(path))
    offsets = [offset for _, offset in everything]
    rest = list(iter_warc_records(path, resume_after=offsets[1]))
    assert [offset for _, offset in rest] == offsets[2:]
    assert [item.title for item, _ in rest if isinstance(item, Article)] == [
        f"Headline number {n} on trade" for n in (3, 4, 5)
    ]


def test_directory_tree_reads_warc_files(tmp_path: Path) -> None:
    (tmp_path / "crawl").mkdir()
    write_warc(tmp_path / "crawl" / "a.warc.gz", [page_record(1)], gzip=True)
    write_warc(tmp_path / "crawl" / "b.warc", [page_record(2)], gzip=False)
    titles = [item.title for item in iter_path(tmp_path) if isinstance(item, Article)]
    assert titles == ["Headline number 1 on trade", "Headline number 2 on trade"]
