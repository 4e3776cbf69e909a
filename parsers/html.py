"""HTML fragments (feed summaries, JSONL ``html`` fields) to clean paragraphs (lxml).

HTML nested deeper than :data:`MAX_DEPTH` elements (no real article is; a hostile or broken
page can be) is not given to the tree builder, whose cost grows with depth times size: its
tags are stripped by a linear scan instead, blocks still becoming paragraphs.
"""

from __future__ import annotations

import html as html_module
import re

import lxml.html
from lxml.etree import ParserError, iterwalk

_DROP = frozenset(
    [
        "script",
        "style",
        "noscript",
        "template",
        "iframe",
        "svg",
        "form",
        "nav",
        "aside",
        "figure",
        "figcaption",
        "footer",
        "header",
        "button",
    ]
)
_BLOCKS = frozenset(
    [
        "p",
        "div",
        "section",
        "article",
        "li",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "pre",
        "tr",
        "dd",
        "dt",
        "td",
        "th",
        "ul",
        "ol",
        "table",
    ]
)
MAX_DEPTH = 512
_TAG = re.compile(r"<(/?)([A-Za-z][\w:-]*)[^>]*?(/?)>")
# Elements that never hold others, or are commonly left open: not counted as nesting.
_NOT_NESTING = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "track",
        "wbr",
        "p",
        "li",
        "dt",
        "dd",
        "tr",
        "td",
        "th",
        "option",
    ]
)
_DROPPED_CONTENT = re.compile(
    r"<(script|style|noscript|template|svg)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL
)
_BLOCK_TAG = re.compile(r"</?(?:%s|br)\b[^>]*>" % "|".join(sorted(_BLOCKS)), re.IGNORECASE)  # noqa: UP031
_ANY_TAG = re.compile(r"<[^>]*>")
_LOOKS_LIKE_HTML = re.compile(r"<(?:p|div|br|span|a|b|i|em|strong|h[1-6]|ul|li|img)\b[^>]*>", re.I)


def looks_like_html(text: str) -> bool:
    return bool(_LOOKS_LIKE_HTML.search(text))


def nesting_depth(html: str) -> int:
    """How deep elements nest in ``html`` (a linear scan; unclosed ``<p>``, ``<li>``… ignored)."""
    depth = deepest = 0
    for match in _TAG.finditer(html):
        closing, name, self_closing = match.groups()
        if self_closing or name.lower() in _NOT_NESTING:
            continue
        if closing:
            depth = max(0, depth - 1)
        else:
            depth += 1
            deepest = max(deepest, depth)
    return deepest


def _paragraphs(text: str) -> str:
    return "\n\n".join(
        " ".join(chunk.split()) for chunk in re.split(r"\n\s*\n", text) if chunk.strip()
    )


def _stripped_text(html: str) -> str:
    """Text of HTML too deep for the tree builder: tags removed, blocks as paragraphs."""
    text = _DROPPED_CONTENT.sub(" ", html)
    text = _BLOCK_TAG.sub("\n\n", text)
    return _paragraphs(html_module.unescape(_ANY_TAG.sub(" ", text)))


# huge_tree: libxml2 otherwise drops what is nested deeper than 256 elements (MAX_DEPTH is 512)
_FRAGMENT_PARSER = lxml.html.HTMLParser(remove_comments=True, remove_pis=True, huge_tree=True)


def html_to_text(html: str) -> str:
    """Visible text of an HTML fragment, one block per paragraph (blank-line separated)."""
    if html.count("<") > MAX_DEPTH and nesting_depth(html) > MAX_DEPTH:
        return _stripped_text(html)
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div", parser=_FRAGMENT_PARSER)
    except (ParserError, ValueError):  # no elements at all, or a declared encoding in a str
        return _stripped_text(html)
    parts: list[str] = []
    walker = iterwalk(root, events=("start", "end"))
    for event, element in walker:
        tag = element.tag
        if event == "start":
            if tag in _DROP:
                walker.skip_subtree()  # its "end" still comes, for the text after it
                continue
            if tag in _BLOCKS:
                parts.append("\n\n")
            elif tag == "br":
                parts.append("\n")
            if element.text:
                parts.append(element.text)
        else:
            if tag in _BLOCKS:
                parts.append("\n\n")
            if element.tail and element is not root:
                parts.append(element.tail)
    return _paragraphs("".join(parts))
