"""Full-text extraction from article pages (pure: no network)."""

from __future__ import annotations

from datetime import UTC, datetime

from newsflow.article import Article
from parsers.extract import extract_page, page_language, with_full_text
from tests.conftest import DATA

LIVE = DATA / "live"


def test_article_page_main_text_and_metadata() -> None:
    page = extract_page((LIVE / "arms-talks.html").read_text(encoding="utf-8"))
    assert page is not None
    assert page.title == "Moscow and Beijing discuss strategic stability as New START expires"
    assert page.paragraphs[0].startswith("Russian and Chinese officials met in Beijing")
    assert len(page.paragraphs) == 6
    for boilerplate in ("cookies", "Related Posts", "All rights reserved", "Subscribe", "Opinion"):
        assert boilerplate not in page.text, boilerplate
    assert page.published == "2026-02-05"
    assert page.authors == ("Anna Petrova",)
    assert page.language == "en-gb"


def test_second_page_in_windows_1252() -> None:
    html = (LIVE / "energy-deal.html").read_text(encoding="utf-8")
    page = extract_page(html, "https://energy.example.com/siberia")
    assert page is not None and len(page.paragraphs) == 5
    assert "China’s hand" in page.text and "Share this article" not in page.text
    assert page.authors == ("James O’Neill",) and page.language == "en"


def test_no_main_text() -> None:
    assert extract_page("") is None
    assert extract_page("<html><body><nav><a href='/'>Home</a></nav></body></html>") is None


def test_language_declarations() -> None:
    assert page_language('<html lang="fr-CA"><body></body></html>') == "fr-ca"
    assert page_language('<meta http-equiv="content-language" content="de">') == "de"
    assert page_language('<html lang="not a language!">') is None
    xhtml = '<?xml version="1.0"?>\n<html xmlns="http://www.w3.org/1999/xhtml" lang="it">'
    assert page_language(xhtml) == "it"
    # the text is decoded already: a declared encoding is not applied a second time
    declared = '<?xml version="1.0" encoding="iso-8859-1"?><html lang="pt"><title>Café</title>'
    assert page_language(declared) == "pt"
    for nothing in ("", "   ", "<!-- only a comment -->", "\x00"):
        assert page_language(nothing) is None


def test_xhtml_page_without_warnings() -> None:
    html = (LIVE / "arms-talks.html").read_text(encoding="utf-8")
    xhtml = html.replace("<!DOCTYPE html>", '<?xml version="1.0" encoding="utf-8"?>', 1)
    page = extract_page(xhtml)  # pytest turns warnings into errors
    assert page is not None and len(page.paragraphs) == 6


def test_full_text_replaces_a_shorter_summary_only() -> None:
    summary = Article(
        source="desk",
        title="Feed title",
        text="Short summary.",
        origin="o",
        published=datetime(2026, 2, 5, tzinfo=UTC),
    )
    page = extract_page((LIVE / "arms-talks.html").read_text(encoding="utf-8"))
    merged = with_full_text(summary, page)
    assert merged.title == "Feed title" and merged.published == summary.published
    assert merged.text.startswith("Russian and Chinese officials") and merged.language == "en-gb"
    assert merged.authors == ("Anna Petrova",)
    assert with_full_text(summary, None) == summary
    long_summary = Article(source="d", title="T", text="x " * 5000, origin="o")
    assert with_full_text(long_summary, page).text == long_summary.text
