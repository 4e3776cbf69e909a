"""Small article pages and WARC files for tests, written with warcio."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter


def article_html(
    title: str,
    paragraphs: Sequence[str],
    *,
    canonical: str | None = None,
    published: str | None = None,
    author: str | None = None,
    lang: str = "en",
) -> str:
    """An article page as news sites write them (head metadata, nav, article body, footer)."""
    head = [f"<title>{title} | Example News</title>", '<meta charset="utf-8">']
    if canonical:
        head.append(f'<link rel="canonical" href="{canonical}">')
    if published:
        head.append(f'<meta property="article:published_time" content="{published}">')
    if author:
        head.append(f'<meta name="author" content="{author}">')
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head>{"".join(head)}</head><body>'
        '<nav><a href="/">Home</a> <a href="/world">World</a></nav>'
        f"<article><h1>{title}</h1>{body}</article>"
        "<footer>© Example News</footer></body></html>"
    )


def story(number: int, topic: str = "trade") -> list[str]:
    """Paragraphs of a distinct made-up story (long enough to count as an article)."""
    return [
        f"Story {number}: officials met on day {number} to discuss {topic} between the two "
        f"countries, according to people familiar with meeting number {number}.",
        f"The talks on {topic} lasted {number % 7 + 2} hours and ended without a statement; "
        f"a second round, the {number}th so far, is planned for next month in the capital.",
    ]


@dataclass
class Record:
    """One WARC record to write."""

    uri: str
    body: bytes = b""
    kind: str = "response"
    status: str = "200 OK"
    content_type: str = "text/html; charset=utf-8"
    date: str = "2026-03-01T12:00:00Z"
    headers: list[tuple[str, str]] = field(default_factory=list)


def write_warc(path: Path, records: Sequence[Record], *, gzip: bool) -> Path:
    with path.open("wb") as handle:
        writer = WARCWriter(handle, gzip=gzip)
        for item in records:
            http = None
            if item.kind in ("response", "request"):
                if item.kind == "request":
                    http = StatusAndHeaders(
                        "GET / HTTP/1.1", [("Host", "example.org")], is_http_request=True
                    )
                else:
                    http = StatusAndHeaders(
                        item.status,
                        [("Content-Type", item.content_type), *item.headers],
                        protocol="HTTP/1.1",
                    )
            record = writer.create_warc_record(
                item.uri,
                item.kind,
                payload=BytesIO(item.body),
                length=len(item.body),  # a known length: warcio needs no temporary file
                http_headers=http,
                warc_headers_dict={"WARC-Date": item.date},
            )
            writer.write_record(record)
    return path


def page_record(
    number: int, *, host: str = "news.example.org", date: str = "2026-03-01T12:00:00Z"
) -> Record:
    """A 200 response with article ``number``'s page."""
    html = article_html(f"Headline number {number} on trade", story(number))
    return Record(f"https://{host}/story/{number}", html.encode(), date=date)
