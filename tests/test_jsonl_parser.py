"""JSONL dumps (parsers/jsonl.py): field mapping, HTML bodies, per-line errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from newsflow.article import Article
from newsflow.errors import SourceError
from parsers.jsonl import iter_jsonl, parse_record

DATA = Path(__file__).parent / "data"


def test_fields_mapped_and_url_canonical() -> None:
    items = list(iter_jsonl(DATA / "articles.jsonl", source="dump"))
    assert all(isinstance(i, Article) for i in items)
    first = items[0]
    assert isinstance(first, Article)
    assert first.guid == "wire-001" and first.source == "wire"
    assert first.url == "https://news.example.org/world/arms-talks"
    assert first.published == datetime(2026, 2, 6, 9, 30, tzinfo=UTC)
    assert first.authors == ("A. Reporter",)
    assert len(first.paragraphs) == 3
    assert first.origin.endswith("articles.jsonl:1")


def test_html_body_converted_and_captions_dropped() -> None:
    article = [i for i in iter_jsonl(DATA / "articles.jsonl", source="d")][1]
    assert isinstance(article, Article)
    assert "<p>" not in article.text and "Photo: Reuters" not in article.text
    assert article.paragraphs[0].startswith("Russia's state nuclear company Rosatom")
    assert article.published == datetime(2026, 1, 15, 11, 0, tzinfo=UTC)


def test_bad_lines_reported_with_line_numbers() -> None:
    items = list(iter_jsonl(DATA / "broken.jsonl", source="broken"))
    errors = [i for i in items if isinstance(i, SourceError)]
    assert [e.origin.rsplit(":", 1)[1] for e in errors] == ["2", "3", "4"]
    assert "invalid JSON" in errors[0].message
    assert "JSON object" in errors[1].message
    assert "empty article" in errors[2].message
    assert [i.guid for i in items if isinstance(i, Article)] == ["ok-1", "ok-2"]


def test_title_taken_from_body_when_missing() -> None:
    article = parse_record({"text": "Headline\n\nBody."}, origin="x", source="s")
    assert (article.title, article.text) == ("Headline", "Body.")


def test_nested_source_and_numeric_id() -> None:
    record = {"id": 7, "title": "T", "source": {"name": "Agency"}, "date": 1767225600}
    article = parse_record(json.loads(json.dumps(record)), origin="x", source="s")
    assert (article.guid, article.source) == ("7", "Agency")
    assert article.published == datetime(2026, 1, 1, tzinfo=UTC)
