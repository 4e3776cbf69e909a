"""Saved article pages (``.html`` files, WARC response records) to Articles (trafilatura).

The page's own metadata fills the record: main text, title, date, authors and language come from
:func:`parsers.extract.extract_page`; the URL from ``<link rel="canonical">`` or ``og:url`` when
the page declares one, else the address it was fetched from (a WARC record's target URI).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from newsflow.article import Article
from newsflow.charset import decode_body
from newsflow.errors import NoArticleText, SourceError
from parsers.dates import parse_date
from parsers.extract import PageHead, extract_page, page_head
from parsers.text import authors_of
from parsers.urls import canonicalize_url

MAX_PAGE_BYTES = 20 * 1024 * 1024


def declared_url(html: str | PageHead, base: str | None = None) -> str | None:
    """The page's canonical address: ``<link rel="canonical">``, else ``og:url``; absolute only."""
    root = page_head(html) if isinstance(html, str) else html
    candidates: list[object] = []
    for link in root.iter("link"):
        if "canonical" in str(link.get("rel") or "").lower().split():
            candidates.append(link.get("href"))
    for meta in root.iter("meta"):
        if str(meta.get("property") or meta.get("name") or "").lower() == "og:url":
            candidates.append(meta.get("content"))
    for value in candidates:
        if not isinstance(value, str) or not value.strip():
            continue
        url = urljoin(base, value.strip()) if base else value.strip()
        if urlsplit(url).scheme in ("http", "https") and urlsplit(url).netloc:
            return url
    return None


def host_of(url: str | None) -> str | None:
    """The host of ``url`` without a leading ``www.``: the source of a page with no other."""
    if not url:
        return None
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.") or None


def parse_page(
    html: str,
    *,
    origin: str,
    url: str | None = None,
    source: str | None = None,
    fallback_date: datetime | None = None,
    meta: Mapping[str, Any] | None = None,
    default_source: str = "local",
) -> Article:
    """An :class:`Article` from an article page; :class:`NoArticleText` when it has no main text.

    ``meta`` (a manifest entry) wins over what the page says; then the page's own metadata;
    then ``url`` (where the page was fetched from) and ``fallback_date`` (when it was fetched).
    The source is ``meta``'s, else ``source``, else the host of the page's URL, else
    ``default_source``. Dates are read to the day (trafilatura's precision).
    """
    meta = meta or {}
    head = page_head(html)
    page_url = declared_url(head, url) or url
    content = extract_page(html, page_url, head)
    if content is None:
        raise NoArticleText(origin, "no article text found in the page")
    final_url = canonicalize_url(str(meta.get("url") or page_url or "")) or None
    language = meta.get("language") or content.language
    return Article(
        source=str(meta.get("source") or source or host_of(final_url) or default_source),
        title=str(meta.get("title") or content.title or content.paragraphs[0]),
        text="\n\n".join(content.paragraphs if content.title else content.paragraphs[1:]),
        origin=origin,
        url=final_url,
        guid=str(meta["guid"]) if meta.get("guid") else None,
        published=parse_date(meta.get("published"))
        or parse_date(content.published)
        or fallback_date,
        language=str(language) if language else None,
        authors=authors_of(meta.get("authors")) or content.authors,
    )


def read_html_file(path: Path, *, meta: Mapping[str, Any] | None = None) -> Article:
    """One saved ``.html``/``.htm`` page; the file name is its GUID when it declares no URL.

    A page with no article text is an error here (unlike a crawl archive's index pages).

    Its source is the manifest's, else the host of its URL, else its directory's name.
    """
    origin = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_PAGE_BYTES:
            raise SourceError(origin, f"file is {size} bytes, over the {MAX_PAGE_BYTES} byte cap")
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(origin, f"cannot read file: {exc.strerror or exc}") from None
    if b"\x00" in data[:4096]:
        raise SourceError(origin, "binary data, not an HTML page")
    try:
        article = parse_page(
            decode_body(data), origin=origin, meta=meta, default_source=path.parent.name or "local"
        )
    except NoArticleText as exc:  # a page saved on its own is meant to be an article: an error
        raise SourceError(exc.origin, exc.message) from None
    if article.url is None and article.guid is None:
        return Article(**{**_fields(article), "guid": path.stem})
    return article


def _fields(article: Article) -> dict[str, Any]:
    return {name: getattr(article, name) for name in Article.__dataclass_fields__}
