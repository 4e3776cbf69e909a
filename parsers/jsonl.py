"""JSON Lines dumps: one article object per line.

Recognised keys (first present wins): title / headline; text / body / content / html
(HTML is converted to text); url / link; guid / id; source / site / source_name;
published / published_at / date / pubDate; language / lang; authors / author.
A bad line (invalid JSON or UTF-8, longer than :data:`MAX_LINE_BYTES`, not an article) is
reported with its line number and the rest of the file is still read; a date that cannot be
used is reported too, and its article stored without a date.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newsflow.article import Article
from newsflow.errors import SourceError
from parsers.clean import (
    MAX_GUID_CHARS,
    MAX_LANGUAGE_CHARS,
    MAX_SOURCE_CHARS,
    clean_body,
    clip_title,
    field_text,
    normalize_line,
    normalize_unicode,
)
from parsers.dates import date_problem, parse_date
from parsers.html import html_to_text, looks_like_html
from parsers.text import authors_of
from parsers.urls import canonicalize_url

MAX_LINE_BYTES = 20 * 1024 * 1024  # one article; as parsers.text.MAX_TEXT_BYTES
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
    title, text = clip_title(title, "\n\n".join(paragraphs))
    return Article(
        source=field_text(src or source, MAX_SOURCE_CHARS) or source,
        title=title,
        text=text,
        origin=origin,
        url=canonicalize_url(str(_first(record, "url") or "")),
        guid=str(guid)[:MAX_GUID_CHARS] if guid is not None else None,
        published=parse_date(_first(record, "published")),
        language=field_text(language, MAX_LANGUAGE_CHARS) or None if language else None,
        authors=authors_of(_first(record, "authors")),
    )


@dataclass(frozen=True, slots=True)
class JsonlLine:
    """One non-blank line of a JSONL file as read, unparsed: picklable."""

    origin: str
    line: bytes
    source: str

    def parse(self) -> list[Article | SourceError]:
        """The line's article (and a note on an unusable date), or its error."""
        try:
            record = json.loads(self.line)
        except UnicodeDecodeError as exc:
            return [SourceError(self.origin, f"not UTF-8: {exc.reason} at byte {exc.start}")]
        except json.JSONDecodeError as exc:
            return [SourceError(self.origin, f"invalid JSON: {exc}")]
        try:
            article = parse_record(record, origin=self.origin, source=self.source)
        except SourceError as exc:
            return [exc]
        note = date_problem(_first(record, "published"))
        # the article is stored; the unusable date is reported, not dropped silently
        return [article, SourceError(self.origin, note)] if note else [article]


def iter_jsonl_raw(
    path: Path, *, source: str, resume_after: tuple[int, int] | None = None
) -> Iterator[tuple[JsonlLine | SourceError, int, int]]:
    """Each non-blank line (unparsed) or error of a JSONL file with its number and byte offset.

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
        while line := handle.readline(MAX_LINE_BYTES + 1):
            number += 1
            start = offset
            if len(line) > MAX_LINE_BYTES:
                while line and not line.endswith(b"\n"):  # skip the rest of the line, unread
                    offset += len(line)
                    line = handle.readline(1 << 20)
            offset += len(line)
            origin = f"{path}:{number}"
            if offset - start > MAX_LINE_BYTES:
                yield (
                    SourceError(origin, f"line longer than the {MAX_LINE_BYTES} byte cap"),
                    number,
                    start,
                )
                continue
            if line.strip():
                yield JsonlLine(origin, line, source), number, start


def iter_jsonl_lines(
    path: Path, *, source: str, resume_after: tuple[int, int] | None = None
) -> Iterator[tuple[Article | SourceError, int, int]]:
    """Each article (or error) of a JSONL file with its line number and the line's byte offset.

    With ``resume_after`` (a line number and its offset, as yielded before), reading starts
    with the line after it.
    """
    for raw, number, start in iter_jsonl_raw(path, source=source, resume_after=resume_after):
        for item in [raw] if isinstance(raw, SourceError) else raw.parse():
            yield item, number, start


def iter_jsonl(path: Path, *, source: str) -> Iterator[Article | SourceError]:
    """Articles from a JSONL file, streamed line by line; bad lines come out as errors."""
    for item, _, _ in iter_jsonl_lines(path, source=source):
        yield item
