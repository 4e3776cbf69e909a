"""Plain-text articles: the first line is the title, the rest the body."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from newsflow.article import Article
from newsflow.errors import SourceError
from parsers.clean import (
    MAX_GUID_CHARS,
    MAX_LANGUAGE_CHARS,
    MAX_SOURCE_CHARS,
    clean_article_text,
    clip_title,
    field_text,
    normalize_line,
    normalize_unicode,
)
from parsers.dates import parse_date
from parsers.urls import canonicalize_url

MAX_TEXT_BYTES = 20 * 1024 * 1024


def decode_text(data: bytes, origin: str) -> str:
    """UTF-8 (with or without BOM), else Windows-1252; binary data is an error."""
    if b"\x00" in data[:4096]:
        raise SourceError(origin, "binary data, not a text article")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError:
            return data.decode("latin-1")


def authors_of(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value.strip(),) if value.strip() else ()
    if isinstance(value, list | tuple):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return (str(value),)


def parse_text(
    raw: str, *, origin: str, source: str, meta: Mapping[str, Any] | None = None
) -> Article:
    """An :class:`Article` from plain text and optional metadata (see :mod:`parsers.manifest`)."""
    meta = meta or {}
    cleaned = clean_article_text(raw)
    title = normalize_line(normalize_unicode(str(meta.get("title") or cleaned.title)))
    if not title and not cleaned.paragraphs:
        raise SourceError(origin, "empty article: no title and no text")
    url = canonicalize_url(meta.get("url")) if meta.get("url") else None
    title, text = clip_title(title, cleaned.text)
    return Article(
        source=field_text(meta.get("source") or source, MAX_SOURCE_CHARS) or source,
        title=title,
        text=text,
        origin=origin,
        url=url,
        guid=str(meta["guid"])[:MAX_GUID_CHARS] if meta.get("guid") else None,
        published=parse_date(meta.get("published")),
        language=field_text(meta["language"], MAX_LANGUAGE_CHARS) or None
        if meta.get("language")
        else None,
        authors=authors_of(meta.get("authors")),
    )


def read_text_file(path: Path, *, source: str, meta: Mapping[str, Any] | None = None) -> Article:
    """Read one text file; its name (without suffix) is the article's GUID unless given."""
    origin = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_TEXT_BYTES:
            raise SourceError(origin, f"file is {size} bytes, over the {MAX_TEXT_BYTES} byte cap")
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(origin, f"cannot read file: {exc.strerror or exc}") from None
    meta = {"guid": path.stem, **(meta or {})}
    return parse_text(decode_text(data, origin), origin=origin, source=source, meta=meta)
