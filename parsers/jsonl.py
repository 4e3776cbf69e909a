"""JSON Lines dumps: one article object per line.

Recognised keys (first present wins): title / headline; text / body / content / html
(HTML is converted to text); url / link; guid / id; source / site / source_name;
published / published_at / date / pubDate; language / lang; authors / author.
A bad line is reported with its line number and the rest of the file is still read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from newsflow.article import Article
from newsflow.errors import SourceError
from parsers.clean import clean_body, normalize_line, normalize_unicode
from parsers.dates import parse_date
from parsers.html import html_to_text, looks_like_html
from parsers.text import authors_of
from parsers.urls import canonicalize_url

_KEYS: dict[str, tuple[str, ...]] = {
    "title": ("title", "headline"),
    "text": ("text", "body", "content", "html"),
    "url": ("url", "link"),
    "guid": ("guid", "id"),
    "source": ("source", "site", "source_name"),
    "published": ("published", "published_at", "date", "pubDate"),
    "language": ("language", "lang"),
    "authors": ("authors", "author"),
}


def _first(record: dict[str, Any], field: str) -> Any:
    for key in _KEYS[field]:
        value = record.get(key)
        if value not in (None, "", []):
            return value
    return None


def parse_record(record: object, *, origin: str, source: str) -> Article:
    """An :class:`Article` from one decoded JSON object."""
    if not isinstance(record, dict):
        raise SourceError(origin, "expected a JSON object")
    title = normalize_line(normalize_unicode(str(_first(record, "title") or "")))
    body = _first(record, "text")
    body_text = str(body) if body is not None else ""
    if body_text and looks_like_html(body_text):
        body_text = html_to_text(body_text)
    paragraphs = clean_body(body_text, title)
    if not title and paragraphs:
        title, paragraphs = paragraphs[0], paragraphs[1:]
    if not title:
        raise SourceError(origin, "empty article: no title and no text")
    guid = _first(record, "guid")
    src = _first(record, "source")
    if isinstance(src, dict):  # {"name": "...", "url": "..."}
        src = src.get("name")
    language = _first(record, "language")
    return Article(
        source=str(src or source),
        title=title,
        text="\n\n".join(paragraphs),
        origin=origin,
        url=canonicalize_url(str(_first(record, "url") or "")),
        guid=str(guid) if guid is not None else None,
        published=parse_date(_first(record, "published")),
        language=str(language) if language else None,
        authors=authors_of(_first(record, "authors")),
    )


def iter_jsonl_lines(
    path: Path, *, source: str, resume_after: tuple[int, int] | None = None
) -> Iterator[tuple[Article | SourceError, int, int]]:
    """Each article (or error) of a JSONL file with its line number and the line's byte offset.

    With ``resume_after`` (a line number and its offset, as yielded before), reading starts
    with the line after it.
    """
    try:
        handle = path.open("rb")
    except OSError as exc:
        yield SourceError(str(path), f"cannot read file: {exc.strerror or exc}"), 0, 0
        return
    with handle:
        number, offset = 0, 0
        if resume_after is not None:
            number, offset = resume_after
            handle.seek(offset)
            offset += len(handle.readline())
        for line in handle:
            number += 1
            start, offset = offset, offset + len(line)
            origin = f"{path}:{number}"
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                yield SourceError(origin, f"invalid JSON: {exc}"), number, start
                continue
            try:
                yield parse_record(record, origin=origin, source=source), number, start
            except SourceError as exc:
                yield exc, number, start


def iter_jsonl(path: Path, *, source: str) -> Iterator[Article | SourceError]:
    """Articles from a JSONL file, streamed line by line; bad lines come out as errors."""
    for item, _, _ in iter_jsonl_lines(path, source=source):
        yield item
