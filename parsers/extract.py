"""Full text from a fetched article page (trafilatura), merged into the feed's article.

Pure: HTML text in, :class:`PageContent` out; fetching is :mod:`newsflow.fetch`'s job. The page's
main text replaces the feed summary only when it says more; the feed's own title, date, authors
and language win over what is read from the page, which fills in what the feed leaves out.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass

import lxml.html
import trafilatura
from lxml.etree import ParserError

from newsflow.article import Article
from parsers.clean import clean_body, clip_title, normalize_line, normalize_unicode
from parsers.dates import parse_date
from parsers.text import authors_of

_LANG = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")
MIN_TEXT_CHARS = 100
_AUTHOR_SPLIT = re.compile(r"\s*(?:;|\band\b|&)\s*")

# trafilatura logs every page it finds too short at WARNING; newsflow reports by its own means.
logging.getLogger("trafilatura").setLevel(logging.ERROR)


@dataclass(frozen=True)
class PageContent:
    title: str
    paragraphs: list[str]
    published: str | None = None
    authors: tuple[str, ...] = ()
    language: str | None = None

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


_HEAD_END = re.compile(r"</head\s*>|<body[\s>]", re.IGNORECASE)
HEAD_CHARS = 200_000  # where the head is looked for, and its longest
# Bytes in, decoded as UTF-8 whatever an XML declaration or <meta charset> says: the text was
# decoded already (newsflow.charset), and lxml refuses a str that declares an encoding.
_HEAD_PARSER = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True)

PageHead = lxml.html.HtmlElement


def page_head(html: str) -> PageHead:
    """The page up to the end of its ``<head>`` (where ``<html lang>``, the canonical link
    and the meta tags are), parsed (lxml); parsing only that keeps it cheap on long pages."""
    end = _HEAD_END.search(html, 0, HEAD_CHARS)
    head = html[: end.start() if end else HEAD_CHARS].replace("\x00", "")
    try:
        return lxml.html.document_fromstring(head.encode("utf-8", "replace"), parser=_HEAD_PARSER)
    except ParserError:  # nothing but white space or comments
        return lxml.html.Element("html")


def page_language(html: str | PageHead) -> str | None:
    """The language a page declares (``<html lang>``, ``content-language`` meta), if valid."""
    root = page_head(html) if isinstance(html, str) else html
    candidates: list[object] = [root.get("lang")]
    for meta in root.iter("meta"):
        key = str(meta.get("http-equiv") or meta.get("property") or meta.get("name") or "")
        if key.lower() in ("content-language", "og:locale", "language"):
            candidates.append(meta.get("content"))
    for value in candidates:
        if isinstance(value, str) and _LANG.match(value.strip()):
            return value.strip().replace("_", "-").lower()[:16]
    return None


def extract_page(
    html: str, url: str | None = None, head: PageHead | None = None
) -> PageContent | None:
    """Main text, title, date, authors and language of an article page; ``None`` if no text.

    ``head`` is the page's head as :func:`page_head` parsed it, when the caller has it.
    """
    if not html.strip():
        return None
    document = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        deduplicate=False,
    )
    if document is None:
        return None
    if not isinstance(document, dict):
        document = document.as_dict()
    raw_text = str(document.get("text") or "")
    title = clip_title(normalize_line(normalize_unicode(str(document.get("title") or ""))), "")[0]
    # trafilatura puts one paragraph per line
    paragraphs = clean_body("\n\n".join(raw_text.splitlines()), title)
    if sum(len(p) for p in paragraphs) < MIN_TEXT_CHARS:  # a menu or a stub, not an article
        return None
    author = str(document.get("author") or "")
    authors = authors_of([a for a in _AUTHOR_SPLIT.split(author) if a]) if author else ()
    return PageContent(
        title=title,
        paragraphs=paragraphs,
        published=str(document.get("date")) if document.get("date") else None,
        authors=authors,
        language=page_language(head if head is not None else html),
    )


def with_full_text(article: Article, page: PageContent | None) -> Article:
    """``article`` with the page's main text when it is longer than the feed's summary."""
    if page is None:
        return article
    text = page.text if len(page.text) > len(article.text) else article.text
    return dataclasses.replace(
        article,
        title=article.title or page.title,
        text=text,
        published=article.published or parse_date(page.published),
        authors=article.authors or page.authors,
        language=article.language or page.language,
    )
