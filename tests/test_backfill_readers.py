"""Readers for saved article pages (.html/.htm) and JSON files (one article or a list)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from newsflow.article import Article
from newsflow.errors import SourceError
from parsers import iter_path
from tests.conftest import DATA
from tests.warcbuild import article_html, story


def _only(path: Path) -> Article:
    [item] = list(iter_path(path))
    assert isinstance(item, Article), item
    return item


def test_html_page_with_its_metadata() -> None:
    article = _only(DATA / "live" / "arms-talks.html")
    assert article.title.startswith("Moscow and Beijing discuss strategic stability")
    assert article.published == datetime(2026, 2, 5, tzinfo=UTC)  # to the day
    assert article.authors == ("Anna Petrova",)
    assert "New START" in article.text
    assert article.url is None
    assert article.guid == "arms-talks"  # no URL declared: the file name identifies it
    assert article.source == "live"  # the directory, as for text files


def test_html_canonical_url_and_og_url(tmp_path: Path) -> None:
    page = tmp_path / "page.htm"
    page.write_text(
        article_html("Grain deal", story(1), canonical="https://example.com/a/grain?utm_medium=x"),
        encoding="utf-8",
    )
    article = _only(page)
    assert article.url == "https://example.com/a/grain"
    assert article.source == "example.com"
    assert article.guid is None
    og = tmp_path / "og.html"
    og.write_text(
        article_html("Grain deal", story(2)).replace(
            "<title>", '<meta property="og:url" content="https://news.example.net/x/2"><title>'
        ),
        encoding="utf-8",
    )
    assert _only(og).url == "https://news.example.net/x/2"


def test_html_manifest_entry_wins(tmp_path: Path) -> None:
    (tmp_path / "p.html").write_text(article_html("Grain deal", story(1)), encoding="utf-8")
    (tmp_path / "manifest.yaml").write_text(
        "defaults: {source: desk}\narticles:\n  p.html: {published: 2024-05-01, language: de}\n",
        encoding="utf-8",
    )
    article = _only(tmp_path / "p.html")
    assert article.source == "desk"
    assert article.published == datetime(2024, 5, 1, tzinfo=UTC)
    assert article.language == "de"


def test_html_without_text_is_an_error(tmp_path: Path) -> None:
    page = tmp_path / "menu.html"
    page.write_text("<html><body><nav>Home</nav></body></html>", encoding="utf-8")
    [item] = list(iter_path(page))
    assert isinstance(item, SourceError)
    assert item.origin == str(page)


def test_json_object_and_list(tmp_path: Path) -> None:
    one = {"title": "Single", "text": "Body of the single article.", "url": "https://e.org/1"}
    (tmp_path / "one.json").write_text(json.dumps(one), encoding="utf-8")
    many = [
        {
            "headline": "First",
            "body": "<p>Para one.</p><p>Para two.</p>",
            "published": "2026-01-02",
        },
        {"title": "Second", "content": "Text two.", "source": {"name": "wire"}},
        "not an object",
        {"title": ""},
    ]
    (tmp_path / "many.json").write_text(json.dumps(many), encoding="utf-8")
    items = list(iter_path(tmp_path))
    articles = [i for i in items if isinstance(i, Article)]
    errors = [i for i in items if isinstance(i, SourceError)]
    assert [a.title for a in articles] == ["First", "Second", "Single"]
    assert articles[0].text == "Para one.\n\nPara two."
    assert articles[0].source == "many"  # the file name, as for JSONL dumps
    assert articles[1].source == "wire"
    assert articles[2].url == "https://e.org/1"
    assert [e.origin for e in errors] == [
        f"{tmp_path / 'many.json'}[2]",
        f"{tmp_path / 'many.json'}[3]",
    ]


def test_bad_json_file_is_one_error(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "scalar.json").write_text("42", encoding="utf-8")
    items = list(iter_path(tmp_path))
    assert all(isinstance(i, SourceError) for i in items)
    assert len(items) == 2
