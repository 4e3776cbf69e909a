"""Feeds to Articles: RSS 0.9x/1.0/2.0 and Atom (feedparser), JSON Feed 1.x (by hand).

:func:`parse_feed` takes the fetched bytes and response headers and returns a
:class:`ParsedFeed`: one :class:`FeedItem` per usable entry (the cleaned :class:`Article` and
the entry's link as given, to fetch the full page from) and a :class:`SourceError` per entry
that cannot become an article. A document that is not a feed at all raises ``SourceError``.
"""

from __future__ import annotations

import calendar
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from newsflow.article import Article
from newsflow.errors import SourceError
from parsers.clean import clean_body, clip_title, normalize_line, normalize_unicode
from parsers.dates import date_problem, parse_date
from parsers.html import html_to_text, looks_like_html
from parsers.urls import canonicalize_url

_JSON_FEED_VERSION = re.compile(r"^https?://jsonfeed\.org/version/1(?:\.\d+)?/?$")
_TITLE_FROM_TEXT_MAX = 120
# feedparser's content types of markup (RSS fields it guessed to be HTML are "text/html" too)
_MARKUP_TYPES = frozenset(["text/html", "application/xhtml+xml"])


@dataclass(frozen=True)
class FeedItem:
    article: Article
    link: str | None  # absolute http(s) link as the feed gives it (not canonicalised)


@dataclass
class ParsedFeed:
    title: str | None
    kind: str  # "rss20", "atom10", "json1", ... (feedparser's version names)
    items: list[FeedItem] = field(default_factory=list)
    problems: list[SourceError] = field(default_factory=list)
    entries: int = 0


def _text(value: object, markup: bool | None = None) -> str:
    """Plain text of a feed field: markup (``markup``, else when it looks like HTML or has
    an entity) becomes its text."""
    text = str(value or "")
    if markup if markup is not None else (looks_like_html(text) or "&" in text):
        text = html_to_text(text)
    return normalize_line(normalize_unicode(text))


def _body(html_or_text: str, title: str, markup: bool | None = None) -> list[str]:
    if markup if markup is not None else looks_like_html(html_or_text):
        html_or_text = html_to_text(html_or_text)
    return clean_body(html_or_text, title)


def _is_markup(entry: Mapping[str, Any], key: str) -> bool | None:
    """Whether feedparser's ``key_detail`` says the field is markup (see :func:`_markup_type`).

    feedparser declares Atom's types as given and guesses RSS's (a field that looks like HTML
    is "text/html"). Its sanitiser is off (:func:`_parse_xml`), so markup is given as the feed
    has it: tags, entities and all, for :func:`parsers.html.html_to_text`.
    """
    detail = entry.get(f"{key}_detail")
    return _markup_type(detail.get("type") if isinstance(detail, Mapping) else None)


def _markup_type(kind: object) -> bool | None:
    """HTML or XHTML: ``True``; plain text: ``False``; any other type, or none: ``None``
    (decided from the value, as for a field without a type)."""
    if kind in _MARKUP_TYPES:
        return True
    return False if kind == "text/plain" else None


def _http_link(value: object, base: str | None) -> tuple[str | None, str | None]:
    """A link made absolute, and its canonical form: ``(None, None)`` unless http(s)."""
    if not isinstance(value, str) or not value.strip():
        return None, None
    link = urljoin(base, value.strip()) if base else value.strip()
    canonical = canonicalize_url(link)
    return (link, canonical) if canonical else (None, None)


def _make_article(
    *,
    source: str,
    origin: str,
    title: str,
    body: str,
    link: str | None,
    url: str | None,
    guid: str | None,
    published: datetime | None,
    language: str | None,
    authors: Iterable[str],
    link_only: bool = False,
    markup: bool | None = None,
) -> Article:
    paragraphs = _body(body, title, markup) if body else []
    if not title and paragraphs:
        first = paragraphs[0]
        title = first if len(first) <= _TITLE_FROM_TEXT_MAX else first[:_TITLE_FROM_TEXT_MAX] + "…"
        if title == first:
            paragraphs = paragraphs[1:]
    if not title and not (link_only and link):
        raise SourceError(origin, "entry has no title and no text")
    unique_authors = tuple(
        dict.fromkeys(a for a in (normalize_line(normalize_unicode(x)) for x in authors) if a)
    )
    guid = normalize_unicode(guid).strip()[:500] if guid else None
    title, text = clip_title(title, "\n\n".join(paragraphs))
    return Article(
        source=source,
        title=title,
        text=text,
        origin=origin,
        url=url,
        guid=guid or None,
        published=published,
        language=(language or "").strip()[:16] or None,
        authors=unique_authors,
    )


def _note_bad_date(result: ParsedFeed, raw: object) -> None:
    """Report an entry's date that could not be used (its article is kept, without a date)."""
    article = result.items[-1].article
    if article.published is not None or raw in (None, ""):
        return
    note = date_problem(raw) or f"date {raw!r} cannot be read: the article is stored without a date"
    if note:
        result.problems.append(SourceError(article.origin, note))


def _struct_date(entry: Mapping[str, Any], *keys: str) -> datetime | None:
    for key in keys:
        # dict.get: feedparser's own get maps a missing "updated*" to "published*" and warns
        value = dict.get(entry, key) if isinstance(entry, dict) else entry.get(key)
        if value:
            try:
                return parse_date(datetime.fromtimestamp(calendar.timegm(value), UTC))
            except (OverflowError, OSError, ValueError, TypeError):
                continue
    return None


def _entry_body(entry: Mapping[str, Any]) -> tuple[str, bool | None]:
    """The richest text an entry carries (its longest content, else its summary) and whether
    it is markup (:func:`_is_markup`)."""
    contents = [c for c in entry.get("content") or [] if hasattr(c, "get")]
    best = max(contents, key=lambda c: len(str(c.get("value") or "")), default=None)
    body = str(best.get("value") or "") if best is not None else ""
    summary = str(entry.get("summary") or "")
    if best is not None and len(body) >= len(summary):
        return body, _markup_type(best.get("type"))
    return summary, _is_markup(entry, "summary")


def _entry_authors(entry: Mapping[str, Any]) -> list[str]:
    names = [str(a.get("name") or "") for a in entry.get("authors") or [] if hasattr(a, "get")]
    if not any(names) and entry.get("author"):
        names = [str(entry["author"])]
    return [_text(n) for n in names]


def _parse_xml(content: bytes, headers: Mapping[str, str], *, source: str, origin: str) -> Any:
    # feedparser's HTML sanitiser and its resolver of links inside entry HTML are off: every
    # field is reduced to plain text (html_to_text drops scripts, styles and the like, and all
    # tags), the links inside it are not kept, and the entry's own link is resolved by
    # feedparser and _http_link. They re-parsed each entry's HTML twice (a third of
    # feedparser's time), at a cost that grows with depth times size for hostile nesting.
    parsed = feedparser.parse(
        io.BytesIO(content),
        response_headers=dict(headers),
        resolve_relative_uris=False,
        sanitize_html=False,
    )
    if not parsed.get("version") and not parsed.get("entries"):
        reason = parsed.get("bozo_exception")
        detail = f": {_one_line(reason)}" if reason else ""
        raise SourceError(origin, f"not an RSS, Atom or JSON feed{detail}")
    return parsed


def _one_line(value: object) -> str:
    return " ".join(str(value).split())[:300]


def _from_feedparser(
    parsed: Any, *, source: str, origin: str, base: str | None, link_only: bool = False
) -> ParsedFeed:
    feed = parsed.get("feed") or {}
    language = feed.get("language")
    result = ParsedFeed(
        title=_text(feed.get("title"), _is_markup(feed, "title")) or None,
        kind=str(parsed.get("version") or "unknown"),
        entries=len(parsed.get("entries") or []),
    )
    for number, entry in enumerate(parsed.get("entries") or [], start=1):
        entry_origin = f"{origin}#entry-{number}"
        try:
            title = _text(entry.get("title"), _is_markup(entry, "title"))
            link, url = _http_link(entry.get("link"), base)
            guid = entry.get("id")
            body, markup = _entry_body(entry)
            result.items.append(
                FeedItem(
                    _make_article(
                        source=source,
                        origin=entry_origin,
                        title=title,
                        body=body,
                        link=link,
                        url=url,
                        guid=str(guid) if guid else None,
                        published=_struct_date(entry, "published_parsed", "updated_parsed"),
                        language=language,
                        authors=_entry_authors(entry),
                        link_only=link_only,
                        markup=markup,
                    ),
                    link,
                )
            )
            _note_bad_date(result, dict.get(entry, "published") or dict.get(entry, "updated"))
        except SourceError as exc:
            result.problems.append(exc)
    return result


def _looks_like_json(content: bytes, content_type: str) -> bool:
    if "json" in content_type.lower():
        return True
    return content.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")


def parse_json_feed(
    content: bytes, *, source: str, origin: str, base: str | None, link_only: bool = False
) -> ParsedFeed:
    """A JSON Feed (https://jsonfeed.org/version/1.1) as articles."""
    try:
        data = json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceError(origin, f"not a JSON feed: {_one_line(exc)}") from None
    if not isinstance(data, dict) or not _JSON_FEED_VERSION.match(str(data.get("version", ""))):
        raise SourceError(origin, "not a JSON feed: no jsonfeed.org version")
    items = data.get("items")
    if not isinstance(items, list):
        raise SourceError(origin, "JSON feed has no items list")
    base = _http_link(data.get("home_page_url"), base)[0] or base
    feed_authors = _json_authors(data)
    result = ParsedFeed(title=_text(data.get("title")) or None, kind="json1", entries=len(items))
    for number, item in enumerate(items, start=1):
        entry_origin = f"{origin}#entry-{number}"
        if not isinstance(item, dict):
            result.problems.append(SourceError(entry_origin, "item is not a JSON object"))
            continue
        try:
            link, url = _http_link(item.get("url") or item.get("external_url"), base)
            html = str(item.get("content_html") or "")
            body = html or str(item.get("content_text") or "") or str(item.get("summary") or "")
            guid = item.get("id")
            result.items.append(
                FeedItem(
                    _make_article(
                        source=source,
                        origin=entry_origin,
                        title=_text(item.get("title")),
                        body=body,
                        link=link,
                        url=url,
                        guid=str(guid) if guid not in (None, "") else None,
                        published=parse_date(item.get("date_published"))
                        or parse_date(item.get("date_modified")),
                        language=str(item.get("language") or data.get("language") or "") or None,
                        authors=_json_authors(item) or feed_authors,
                        link_only=link_only,
                        markup=True if html else None,
                    ),
                    link,
                )
            )
            _note_bad_date(result, item.get("date_published") or item.get("date_modified"))
        except SourceError as exc:
            result.problems.append(exc)
    return result


def _json_authors(obj: Mapping[str, Any]) -> list[str]:
    authors = obj.get("authors")
    if not isinstance(authors, list):
        authors = [obj["author"]] if isinstance(obj.get("author"), dict) else []
    return [_text(a.get("name")) for a in authors if isinstance(a, dict) and a.get("name")]


def parse_feed(
    content: bytes,
    *,
    source: str,
    origin: str,
    base_url: str | None = None,
    headers: Mapping[str, str] | None = None,
    link_only: bool = False,
) -> ParsedFeed:
    """Articles from a fetched feed; raises :class:`SourceError` when it is not a feed.

    Relative links resolve against ``base_url`` (the feed's final URL), else ``origin``. With
    ``link_only`` (the caller will fetch each page), an entry with a link but neither title nor
    text is kept, with an empty title, for its page to fill in.
    """
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    base_url = base_url or (origin if canonicalize_url(origin) else None)
    if not content.strip():
        raise SourceError(origin, "empty response: no feed")
    if _looks_like_json(content, headers.get("content-type", "")):
        return parse_json_feed(
            content, source=source, origin=origin, base=base_url, link_only=link_only
        )
    if base_url:
        headers.setdefault("content-location", base_url)
    parsed = _parse_xml(content, headers, source=source, origin=origin)
    return _from_feedparser(
        parsed, source=source, origin=origin, base=base_url, link_only=link_only
    )
