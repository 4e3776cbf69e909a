"""HTML fragments (feed summaries, JSONL ``html`` fields) to clean paragraphs (beautifulsoup4)."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup

_DROP = (
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
)
_BLOCKS = (
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
)
_LOOKS_LIKE_HTML = re.compile(r"<(?:p|div|br|span|a|b|i|em|strong|h[1-6]|ul|li|img)\b[^>]*>", re.I)


def looks_like_html(text: str) -> bool:
    return bool(_LOOKS_LIKE_HTML.search(text))


def html_to_text(html: str) -> str:
    """Visible text of an HTML fragment, one block per paragraph (blank-line separated)."""
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(_DROP):
        tag.decompose()
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for block in soup.find_all(_BLOCKS):
        block.insert_before("\n\n")
        block.insert_after("\n\n")
    text = soup.get_text()
    return "\n\n".join(
        " ".join(chunk.split()) for chunk in re.split(r"\n\s*\n", text) if chunk.strip()
    )
