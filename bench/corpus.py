"""Realistic benchmark corpora, generated deterministically from a seed and cached.

    python bench/corpus.py --articles 10000 --kind html --kind feed --kind warc --kind jsonl

Every article is a distinct text. Its sentences are drawn from a pool made of the seed
articles' sentences (which carry the taxonomy's vocabulary: Russia, China, sanctions, New
START …), the text of the feed entries in ``../shared/corpora/feedparser`` and sentences of
words drawn from a Zipf-distributed vocabulary (the words of those texts plus generated ones,
about 30,000 types), so full-text queries meet realistic term frequencies. About a quarter of
the articles take a few seed sentences (so topics apply at realistic rates: most news is not
about arms control) and a few take many. A controlled share (``COPY_SHARE``, 5 %) are copies
of an earlier article under another source, URL and headline: half exact copies of its text,
half near copies (a sentence edited, a credit line added, the last paragraph cut).

The same articles are written as:

- ``html``: one page per article with realistic markup (navigation, header, article,
  related links, cookie banner, footer), 1,000 pages per directory;
- ``feed``: RSS 2.0 and Atom files of ``per_feed`` entries each (full text in
  ``content:encoded`` / ``content``);
- ``warc``: WARC.gz files of ``response`` records with HTTP headers (10,000 records a file);
- ``jsonl``: one JSON object per line in the shape ``newsflow ingest`` reads.

Files are cached under ``$TMPDIR/newsflow-bench/<kind>-<n>-<seed>/``; a finished corpus has a
``.done`` marker and is reused.
"""

from __future__ import annotations

import argparse
import html
import io
import json
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
FEED_CORPUS = ROOT.parent / "shared" / "corpora" / "feedparser"
CACHE = Path(tempfile.gettempdir()) / "newsflow-bench"
DEFAULT_SEED = 20261125
PER_FEED = 100  # entries per feed file
COPY_SHARE = 0.05
VOCABULARY_SIZE = 30_000
SOURCES = 200
_START = datetime(2024, 1, 1, tzinfo=UTC)
_SPAN_MINUTES = 60 * 24 * (365 * 2 + 300)

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“])")
_TAG = re.compile(r"<[^>]+>")
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]{1,20}")
_SYLLABLES = [
    *("ka", "ro", "mi", "ten", "sa", "lo", "ver", "dan", "pel", "ri", "tor", "bal", "ne"),
    *("ska", "vin", "mar", "gu", "lef", "sor", "ti", "an", "el", "on", "ur", "bri", "cal"),
    *("dor", "fen", "gar", "hol", "jun", "kel", "lum", "nor", "pra", "quin", "ros", "sul"),
    *("tav", "wen", "yar", "zol"),
]


@dataclass(frozen=True)
class GenArticle:
    """One generated article: its record, and the original it copies (if it is a copy)."""

    index: int
    source: str
    url: str
    guid: str
    title: str
    paragraphs: tuple[str, ...]
    published: datetime
    authors: tuple[str, ...]
    copy_of: int | None = None
    near: bool = False

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)

    def record(self) -> dict[str, object]:
        """The JSONL object ``newsflow ingest`` reads."""
        return {
            "id": self.guid,
            "source": self.source,
            "url": self.url,
            "title": self.title,
            "text": self.text,
            "published": self.published.isoformat().replace("+00:00", "Z"),
            "language": "en",
            "authors": list(self.authors),
        }


def _seed_sentences() -> list[str]:
    sentences: list[str] = []
    for path in sorted(SEEDS.glob("*.txt")):
        body = path.read_text(encoding="utf-8").split("\n", 1)[-1]
        for paragraph in body.split("\n\n"):
            for sentence in _SENTENCE_END.split(" ".join(paragraph.split())):
                if 6 <= len(sentence.split()) <= 60:
                    sentences.append(sentence)
    return sentences


def _feed_sentences() -> list[str]:
    """Sentences of the feed test corpus's entries (many are short; kept if 5+ words)."""
    sentences: list[str] = []
    if not FEED_CORPUS.is_dir():
        return sentences
    pattern = re.compile(
        rb"<(?:description|summary|content|title|subtitle)[^>]*>(.*?)</", re.DOTALL
    )
    for path in sorted(FEED_CORPUS.rglob("*.xml")):
        for raw in pattern.findall(path.read_bytes()[:50_000]):
            text = html.unescape(_TAG.sub(" ", html.unescape(raw.decode("utf-8", "replace"))))
            text = " ".join(text.split())
            if len(text.split()) >= 5 and "<" not in text:
                sentences.append(text[:300])
    return sorted(set(sentences))


@dataclass(frozen=True)
class _Pool:
    seed_sentences: list[str]
    feed_sentences: list[str]
    vocabulary: list[str]
    cumulative: np.ndarray  # Zipf cumulative weights over ``vocabulary``


@cache
def _pool(seed: int) -> _Pool:
    seeds = _seed_sentences()
    feeds = _feed_sentences()
    counts: dict[str, int] = {}
    for sentence in seeds + feeds:
        for word in _WORD.findall(sentence):
            counts[word.lower()] = counts.get(word.lower(), 0) + 1
    known = sorted(counts, key=lambda w: (-counts[w], w))
    rng = np.random.default_rng(seed)
    made: set[str] = set(known)
    while len(made) < VOCABULARY_SIZE:
        parts = rng.choice(_SYLLABLES, size=int(rng.integers(2, 5)))
        made.add("".join(parts))
    extra = sorted(made - set(known))
    rng.shuffle(extra)
    vocabulary = known + extra
    weights = 1.0 / np.arange(1, len(vocabulary) + 1) ** 1.05
    return _Pool(seeds, feeds, vocabulary, np.cumsum(weights / weights.sum()))


def _words(rng: np.random.Generator, pool: _Pool, n: int) -> list[str]:
    picks = np.searchsorted(pool.cumulative, rng.random(n))
    vocab = pool.vocabulary
    return [vocab[min(int(k), len(vocab) - 1)] for k in picks]


def _sentence(rng: np.random.Generator, pool: _Pool) -> str:
    words = _words(rng, pool, int(rng.integers(8, 25)))
    return words[0].capitalize() + " " + " ".join(words[1:]) + "."


def _original(index: int, seed: int, short: bool) -> GenArticle:
    pool = _pool(seed)
    rng = np.random.default_rng([seed, index])
    kind = rng.random()
    seed_share = 0.0 if kind < 0.72 else 0.12 if kind < 0.95 else 0.45
    n_paragraphs = int(rng.integers(2, 5) if short else rng.integers(3, 9))
    paragraphs = []
    for _ in range(n_paragraphs):
        sentences = []
        for _ in range(int(rng.integers(2, 5) if short else rng.integers(2, 6))):
            roll = rng.random()
            if roll < seed_share:
                sentences.append(pool.seed_sentences[int(rng.integers(len(pool.seed_sentences)))])
            elif roll < seed_share + 0.05 and pool.feed_sentences:
                sentences.append(pool.feed_sentences[int(rng.integers(len(pool.feed_sentences)))])
            else:
                sentences.append(_sentence(rng, pool))
        paragraphs.append(" ".join(sentences))
    title_words = _words(rng, pool, int(rng.integers(6, 13)))
    title = " ".join(w.capitalize() if i == 0 else w for i, w in enumerate(title_words))
    source = f"desk-{int(rng.zipf(1.3)) % SOURCES:03d}"
    published = _START + timedelta(minutes=int(rng.integers(_SPAN_MINUTES)))
    slug = "-".join(title_words[:5]).lower()
    author = " ".join(w.capitalize() for w in _words(rng, pool, 2))
    return GenArticle(
        index=index,
        source=source,
        url=f"https://{source}.news.example/{published:%Y/%m}/{slug}-{index}",
        guid=f"{source}-{index}",
        title=title,
        paragraphs=tuple(paragraphs),
        published=published,
        authors=(author,),
    )


def article(index: int, seed: int = DEFAULT_SEED, short: bool = False) -> GenArticle:
    """Article ``index`` of the corpus made with ``seed`` (the same for every output kind)."""
    rng = np.random.default_rng([seed, index, 1])
    if index < 20 or rng.random() >= COPY_SHARE:
        return _original(index, seed, short)
    of = int(rng.integers(index))
    base = article(of, seed, short)
    while base.copy_of is not None:  # copy the original, not a copy
        base = article(base.copy_of, seed, short)
    source = f"syndicate-{int(rng.integers(20)):02d}"
    near = bool(rng.random() < 0.5)
    paragraphs = list(base.paragraphs)
    if near:
        pool = _pool(seed)
        sentences = paragraphs[0].split(". ")
        sentences[0] = _sentence(rng, pool).rstrip(".")
        paragraphs[0] = ". ".join(sentences)
        if len(paragraphs) > 3:
            paragraphs.pop()
        paragraphs.append(f"Reporting by {base.authors[0]}; editing by {source} staff.")
    published = base.published + timedelta(minutes=int(rng.integers(5, 600)))
    return GenArticle(
        index=index,
        source=source,
        url=f"https://{source}.wire.example/{published:%Y/%m/%d}/story-{index}",
        guid=f"{source}-{index}",
        title=f"{base.title} ({source})",
        paragraphs=tuple(paragraphs),
        published=published,
        authors=base.authors,
        copy_of=base.index,
        near=near,
    )


def articles(
    count: int, seed: int = DEFAULT_SEED, short: bool = False, start: int = 0
) -> Iterator[GenArticle]:
    for index in range(start, count):
        yield article(index, seed, short)


# --- output formats -----------------------------------------------------------------------

_NAV = " ".join(
    f'<li><a href="/{s}/">{s.title()}</a></li>'
    for s in ("world", "politics", "business", "technology", "science", "opinion", "sport")
)


def page_html(a: GenArticle) -> str:
    """A full article page: the text in ``<article>`` among the usual boilerplate."""
    e = html.escape
    body = "\n".join(f"      <p>{e(p)}</p>" for p in a.paragraphs)
    related = "\n".join(
        f'        <li><a href="/story/{(a.index * 7 + k) % 99991}">More coverage {k}</a></li>'
        for k in range(1, 6)
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{e(a.title)} | {e(a.source)}</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta property="og:title" content="{e(a.title)}">
  <meta property="og:url" content="{e(a.url)}">
  <meta name="author" content="{e(a.authors[0])}">
  <meta property="article:published_time" content="{a.published.isoformat()}">
  <link rel="canonical" href="{e(a.url)}">
  <link rel="stylesheet" href="/static/site.css">
  <script>window.dataLayer = window.dataLayer || []; dataLayer.push({{"page": "article"}});</script>
</head>
<body>
  <div class="cookie-banner">We use cookies to improve your experience.
    <button>Accept</button></div>
  <header class="site-header">
    <a class="logo" href="/">{e(a.source)}</a>
    <nav><ul>{_NAV}</ul></nav>
    <form class="search" action="/search"><input name="q" placeholder="Search"></form>
  </header>
  <main>
    <article>
      <h1>{e(a.title)}</h1>
      <div class="byline">By <span class="author">{e(a.authors[0])}</span>
        <time datetime="{a.published.isoformat()}">{a.published:%d %B %Y, %H:%M}</time></div>
{body}
    </article>
    <aside class="related">
      <h2>Related stories</h2>
      <ul>
{related}
      </ul>
    </aside>
  </main>
  <footer>
    <p>&copy; 2026 {e(a.source)}. All rights reserved.</p>
    <ul><li><a href="/privacy">Privacy</a></li><li><a href="/terms">Terms</a></li>
      <li><a href="/contact">Contact us</a></li></ul>
  </footer>
</body>
</html>
"""


def _rss(entries: list[GenArticle], name: str) -> str:
    e = html.escape
    items = "\n".join(
        f"""  <item>
    <title>{e(a.title)}</title>
    <link>{e(a.url)}</link>
    <guid isPermaLink="false">{e(a.guid)}</guid>
    <pubDate>{a.published:%a, %d %b %Y %H:%M:%S} +0000</pubDate>
    <dc:creator>{e(a.authors[0])}</dc:creator>
    <description>{e(a.paragraphs[0])}</description>
    <content:encoded>{e("".join(f"<p>{e(p)}</p>" for p in a.paragraphs))}</content:encoded>
  </item>"""
        for a in entries
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
  <title>{name}</title>
  <link>https://{name}.news.example/</link>
  <description>Latest stories from {name}</description>
  <language>en</language>
{items}
</channel>
</rss>
"""


def _atom(entries: list[GenArticle], name: str) -> str:
    e = html.escape
    items = "\n".join(
        f"""  <entry>
    <title>{e(a.title)}</title>
    <link rel="alternate" href="{e(a.url)}"/>
    <id>urn:newsflow-bench:{e(a.guid)}</id>
    <published>{a.published.isoformat()}</published>
    <updated>{a.published.isoformat()}</updated>
    <author><name>{e(a.authors[0])}</name></author>
    <summary>{e(a.paragraphs[0])}</summary>
    <content type="html">{e("".join(f"<p>{e(p)}</p>" for p in a.paragraphs))}</content>
  </entry>"""
        for a in entries
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>{name}</title>
  <id>urn:newsflow-bench:{name}</id>
  <updated>2026-11-01T00:00:00Z</updated>
{items}
</feed>
"""


def write_jsonl(directory: Path, count: int, seed: int) -> None:
    with (directory / "articles.jsonl").open("w", encoding="utf-8") as out:
        for a in articles(count, seed):
            out.write(json.dumps(a.record(), ensure_ascii=False) + "\n")


def write_html(directory: Path, count: int, seed: int) -> None:
    for a in articles(count, seed):
        folder = directory / f"{a.index // 1000:04d}"
        if a.index % 1000 == 0:
            folder.mkdir(exist_ok=True)
        (folder / f"{a.index:07d}.html").write_text(page_html(a), encoding="utf-8")


def write_feeds(directory: Path, count: int, seed: int, per_feed: int = PER_FEED) -> None:
    for start in range(0, count, per_feed):
        entries = list(articles(min(count, start + per_feed), seed, start=start))
        number = start // per_feed
        name = f"feed-{number:05d}"
        if number % 2:
            (directory / f"{name}.atom").write_text(_atom(entries, name), encoding="utf-8")
        else:
            (directory / f"{name}.rss").write_text(_rss(entries, name), encoding="utf-8")


def write_warc(directory: Path, count: int, seed: int, per_file: int = 10_000) -> None:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    for start in range(0, count, per_file):
        with (directory / f"pages-{start // per_file:04d}.warc.gz").open("wb") as out:
            writer = WARCWriter(out, gzip=True)
            for a in articles(min(count, start + per_file), seed, start=start):
                payload = page_html(a).encode("utf-8")
                headers = StatusAndHeaders(
                    "200 OK",
                    [
                        ("Content-Type", "text/html; charset=utf-8"),
                        ("Content-Length", str(len(payload))),
                        ("Date", f"{a.published:%a, %d %b %Y %H:%M:%S} GMT"),
                        ("Server", "nginx"),
                    ],
                    protocol="HTTP/1.1",
                )
                record = writer.create_warc_record(
                    a.url,
                    "response",
                    payload=io.BytesIO(payload),
                    http_headers=headers,
                    warc_headers_dict={"WARC-Date": a.published.strftime("%Y-%m-%dT%H:%M:%SZ")},
                )
                writer.write_record(record)


WRITERS = {"jsonl": write_jsonl, "html": write_html, "feed": write_feeds, "warc": write_warc}


def corpus(
    kind: str,
    count: int,
    seed: int = DEFAULT_SEED,
    cache_dir: Path = CACHE,
    *,
    per_feed: int | None = None,
) -> Path:
    """The directory holding ``count`` articles as ``kind``, generated once and cached; feed
    files hold ``per_feed`` entries each (:data:`PER_FEED` when ``None``)."""
    per_feed = per_feed or PER_FEED
    shape = "" if kind != "feed" or per_feed == PER_FEED else f"x{per_feed}"
    directory = cache_dir / f"{kind}-{count}{shape}-{seed}"
    if (directory / ".done").exists():
        return directory
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    if kind == "feed":
        write_feeds(directory, count, seed, per_feed)
    else:
        WRITERS[kind](directory, count, seed)
    (directory / ".done").write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ"), encoding="utf-8")
    return directory


def size_mb(directory: Path) -> float:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file()) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--kind", action="append", choices=sorted(WRITERS))
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args()
    for kind in args.kind or sorted(WRITERS):
        started = time.perf_counter()
        path = corpus(kind, args.articles, args.seed)
        print(
            f"{kind}: {args.articles:,} articles in {path} ({size_mb(path):.0f} MB, "
            f"{time.perf_counter() - started:.1f} s)"
        )


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
