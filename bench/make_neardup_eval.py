"""Build the labelled near-duplicate evaluation set, ``tests/data/neardup_pairs.jsonl``.

    python bench/make_neardup_eval.py [--corpus ../shared/corpora/feedparser] [--out ...]

Real texts come from the two seed articles (whole, and cut into sections of consecutive
paragraphs), the JSONL fixture ``tests/data/articles.jsonl`` and the feedparser corpus entries
with at least 30 words of content. From each, seeded edits derive the copies a news desk sees:
a different header and footer, a changed headline with a dateline, a few edited sentences, the
first 70 % only, all of these at once, and two differently edited copies of one text.

Pairs labelled ``duplicate`` join a text with a copy of it; pairs labelled ``distinct`` are
unrelated texts and hard negatives: the two seeds (same leaders, same themes, different events
a year apart) and their sections, disjoint sections of one article, different texts wrapped in
the same site boilerplate, entries of one feed written from one template, and a text quoting
one paragraph of another. Everything is derived with a fixed seed, so a re-run writes the same
file. The output describes itself: its first line states the expectation the tests check.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import feedparser  # noqa: E402

from newsflow.article import Article  # noqa: E402
from parsers import iter_path  # noqa: E402
from parsers.html import html_to_text, looks_like_html  # noqa: E402
from processing.dedup import normalized_content  # noqa: E402

SEED = 20261125
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpora" / "feedparser"
DEFAULT_OUT = ROOT / "tests" / "data" / "neardup_pairs.jsonl"
MIN_WORDS = 30

HEADERS = [
    "Listen to this article",
    "Advertisement",
    "Breaking news | World | Politics | Business | Opinion",
    "Subscribe now for unlimited access to our journalism.",
    "Share this story on Facebook, X and WhatsApp",
    "Skip to main content",
]
FOOTERS = [
    "Reporting by our correspondents; editing by the world desk.",
    "This article was originally published by a wire service and is republished with permission.",
    "Sign up for our morning newsletter to get the day's top stories in your inbox.",
    "© 2026 The Daily Ledger. All rights reserved. This material may not be published, "
    "broadcast, rewritten or redistributed.",
    "Follow us on social media for more updates. Comments are closed for this article.",
    "Have a tip? Contact our newsroom by email.",
]
DATELINES = ["MOSCOW (Wire) —", "BEIJING, Feb 4 —", "WASHINGTON (AP) —", "GENEVA, Reuters —"]
HEADLINE_PREFIXES = ["UPDATE 2:", "Analysis:", "WATCH:", "In brief:", "Exclusive:"]
# One site's boilerplate around different stories: a hard negative for short texts.
SITE_HEADER = "World news | Politics | Economy | Opinion | Video. Listen to this article."
SITE_FOOTER = (
    "Sign up for our morning newsletter to get the day's top stories in your inbox. "
    "© 2026 The Daily Ledger. All rights reserved."
)
SWAPS = {
    "said": "stated",
    "the": "this",
    "and": "as well as",
    "on": "upon",
    "new": "fresh",
    "talks": "negotiations",
    "relationship": "ties",
    "president": "leader",
    "between": "among",
    "will": "would",
}


@dataclass(frozen=True)
class Text:
    id: str
    origin: str
    title: str
    text: str

    @property
    def paragraphs(self) -> list[str]:
        return [p for p in self.text.split("\n\n") if p.strip()]

    def record(self) -> dict[str, object]:
        return {
            "type": "text",
            "id": self.id,
            "origin": self.origin,
            "title": self.title,
            "text": self.text,
        }


def _sentences(paragraph: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", paragraph) if s]


def seed_texts() -> list[Text]:
    articles = [a for a in iter_path(ROOT / "seeds") if isinstance(a, Article)]
    return [Text(f"seed-{a.guid}", f"seeds/{a.guid}.txt", a.title, a.text) for a in articles]


def sections(seed: Text, size: int = 4) -> list[Text]:
    """Consecutive paragraphs of a seed as short stories of their own (non-overlapping)."""
    paragraphs = seed.paragraphs
    result = []
    for number, start in enumerate(range(0, len(paragraphs) - size + 1, size)):
        body = "\n\n".join(paragraphs[start : start + size])
        first = _sentences(paragraphs[start])[0]
        result.append(Text(f"{seed.id}-s{number}", f"{seed.origin}#p{start}", first[:90], body))
    return result


def fixture_texts() -> list[Text]:
    path = ROOT / "tests" / "data" / "articles.jsonl"
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["id"] in ("wire-005", "wire-006"):  # copies of wire-001 (paired below)
            continue
        text = record["text"]
        text = html_to_text(text) if looks_like_html(text) else text
        found.append(
            Text(record["id"], f"tests/data/articles.jsonl#{record['id']}", record["title"], text)
        )
    return found


def corpus_texts(corpus: Path) -> list[Text]:
    """Entries of the feedparser corpus with enough content, one text per distinct body."""
    found: list[Text] = []
    seen: set[str] = set()
    files = sorted(p for p in corpus.rglob("*") if p.is_file() and p.name != "LICENSE")
    for path in files:
        if "illformed" in path.parts:
            continue  # undecodable on purpose: mojibake, not article text
        parsed = feedparser.parse(path.read_bytes())
        for number, entry in enumerate(parsed.entries):
            contents = entry.get("content") or []
            raw = contents[0].get("value", "") if contents else entry.get("summary", "")
            text = html_to_text(raw)  # markup (XHTML, SVG, MathML) out
            key = normalized_content(text)
            if len(key.split()) < MIN_WORDS or key in seen:
                continue
            seen.add(key)
            relative = path.relative_to(corpus).as_posix()
            title = " ".join(str(entry.get("title", "")).split()) or relative
            found.append(
                Text(f"fp-{len(found):03d}", f"feedparser/{relative}#{number}", title, text)
            )
    return found


# --- edits -------------------------------------------------------------------------------


def header_footer(t: Text, rng: random.Random) -> str:
    return "\n\n".join([rng.choice(HEADERS), t.text, rng.choice(FOOTERS)])


def headline(t: Text, rng: random.Random) -> tuple[str, str]:
    paragraphs = t.paragraphs
    paragraphs[0] = f"{rng.choice(DATELINES)} {paragraphs[0]}"
    return f"{rng.choice(HEADLINE_PREFIXES)} {t.title.upper()}", "\n\n".join(paragraphs)


def edit_sentence(sentence: str, rng: random.Random) -> str:
    words = sentence.split()
    kind = rng.choice(["swap", "drop", "insert"])
    if kind == "swap":
        changed = [SWAPS.get(w.lower(), w) for w in words]
        if changed == words and len(words) > 3:
            i = rng.randrange(1, len(words) - 1)
            changed[i] = "reportedly"
        return " ".join(changed)
    if kind == "drop" and len(words) > 8:
        cut = rng.randrange(len(words) // 2, len(words) - 1)
        return " ".join(words[:cut]) + "."
    i = rng.randrange(0, len(words) + 1)
    return " ".join(
        [
            *words[:i],
            rng.choice(["officials said", "on Tuesday", "according to sources"]),
            *words[i:],
        ]
    )


def edited(t: Text, rng: random.Random) -> str:
    """A few sentences edited: about one in eight, at least one, at most four."""
    paragraphs = [_sentences(p) for p in t.paragraphs]
    places = [(i, j) for i, p in enumerate(paragraphs) for j in range(len(p))]
    count = max(1, min(4, len(places) // 8))
    for i, j in rng.sample(places, count):
        paragraphs[i][j] = edit_sentence(paragraphs[i][j], rng)
    return "\n\n".join(" ".join(p) for p in paragraphs)


def prefix(t: Text, share: float = 0.7) -> str:
    """The first ``share`` of the words, paragraphs kept (a feed that truncates its items)."""
    left = round(len(t.text.split()) * share)
    kept = []
    for paragraph in t.paragraphs:
        words = paragraph.split()
        if left <= 0:
            break
        kept.append(" ".join(words[:left]))
        left -= len(words)
    return "\n\n".join(kept)


def combined(t: Text, rng: random.Random) -> tuple[str, str]:
    title, body = headline(Text(t.id, t.origin, t.title, edited(t, rng)), rng)
    return title, "\n\n".join([rng.choice(HEADERS), body, rng.choice(FOOTERS)])


def wrapped(t: Text) -> str:
    return "\n\n".join([SITE_HEADER, t.text, SITE_FOOTER])


# --- pairs -------------------------------------------------------------------------------


def family(t: Text) -> str:
    """Texts opening with the same words are variants of one text (the corpus has a few:
    one feed description copied into several test files with clauses added). Pairs within a
    family are never used as negatives."""
    text = t.text.removeprefix(SITE_HEADER)
    return " ".join(normalized_content(text).split()[:8])


class Builder:
    def __init__(self) -> None:
        self.texts: dict[str, Text] = {}
        self.pairs: list[dict[str, object]] = []

    def text(self, t: Text) -> str:
        self.texts.setdefault(t.id, t)
        return t.id

    def pair(self, a: Text, b: Text, label: str, kind: str, note: str = "") -> None:
        if label == "distinct" and family(a) == family(b):
            return
        self.pairs.append(
            {
                "type": "pair",
                "id": f"p{len(self.pairs):04d}",
                "a": self.text(a),
                "b": self.text(b),
                "label": label,
                "kind": kind,
                "note": note,
            }
        )

    def copies(self, base: Text, rng: random.Random) -> list[Text]:
        title, body = headline(base, rng)
        title2, body2 = combined(base, rng)
        derived = [
            Text(f"{base.id}~header_footer", base.origin, base.title, header_footer(base, rng)),
            Text(f"{base.id}~headline", base.origin, title, body),
            Text(f"{base.id}~edited", base.origin, base.title, edited(base, rng)),
            Text(f"{base.id}~prefix70", base.origin, base.title, prefix(base)),
            Text(f"{base.id}~combined", base.origin, title2, body2),
        ]
        for copy in derived:
            self.pair(base, copy, "duplicate", copy.id.split("~")[1])
        self.pair(
            derived[0],
            derived[2],
            "duplicate",
            "siblings",
            "two sites' copies of one text, edited differently",
        )
        return derived


def build(corpus: Path) -> Builder:
    rng = random.Random(SEED)
    b = Builder()
    seeds = seed_texts()
    seed_sections = [sections(s) for s in seeds]
    fixtures = fixture_texts()
    feeds = corpus_texts(corpus)
    bases = [*seeds, *seed_sections[0], *seed_sections[1], *fixtures, *feeds]
    derived = {base.id: b.copies(base, rng) for base in bases}

    # The real syndicated copy in the JSONL fixture.
    fixture_lines = [
        json.loads(line)
        for line in (ROOT / "tests/data/articles.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    wire = {r["id"]: r for r in fixture_lines}
    w5 = wire["wire-005"]
    b.pair(
        next(f for f in fixtures if f.id == "wire-001"),
        Text("wire-005", "tests/data/articles.jsonl#wire-005", w5["title"], w5["text"]),
        "duplicate",
        "syndicated",
        "the fixture's copy from another site",
    )

    # A real variant in the corpus: one feed description with a clause added.
    variants: dict[str, list[Text]] = {}
    for f in feeds:
        variants.setdefault(family(f), []).append(f)
    for group in variants.values():
        for x, y in itertools.pairwise(group):
            if "no default namespace declared" in y.text and "no default" not in x.text:
                b.pair(x, y, "duplicate", "real_variant", "one clause added")
    # Hard negatives: the two seeds, whole, edited and in sections (same leaders and themes,
    # different events a year apart).
    a, c = seeds
    b.pair(a, c, "distinct", "seed_pair", "same leaders and themes, different events")
    for da, dc in zip(derived[a.id], derived[c.id], strict=True):
        b.pair(da, dc, "distinct", "seed_pair", "copies of the two seeds")
        b.pair(a, dc, "distinct", "seed_pair", "a seed against a copy of the other")
    for sa in seed_sections[0]:
        for sc in seed_sections[1]:
            b.pair(sa, sc, "distinct", "seed_sections", "same topic, different event")
    for sections_of_one in seed_sections:
        for i, x in enumerate(sections_of_one):
            for y in sections_of_one[i + 1 :]:
                b.pair(x, y, "distinct", "same_article_sections", "one event, different text")
    # Hard negatives: different stories in one site's boilerplate.
    short = [*fixtures, *feeds]
    for x, y in itertools.pairwise(short):
        b.pair(
            Text(f"{x.id}~site", x.origin, x.title, wrapped(x)),
            Text(f"{y.id}~site", y.origin, y.title, wrapped(y)),
            "distinct",
            "shared_boilerplate",
            "one site's header and footer",
        )
    # Hard negatives: entries of one feed written from one template (feedparser corpus).
    by_feed: dict[str, list[Text]] = {}
    for f in feeds:
        by_feed.setdefault(f.origin.split("#")[0], []).append(f)
    for group in by_feed.values():
        for i, x in enumerate(group):
            for y in group[i + 1 : i + 4]:
                b.pair(x, y, "distinct", "same_feed_template", "one feed's template")
    # Hard negatives: a story quoting one paragraph of another.
    for x, y in zip(bases, rng.sample(bases, len(bases)), strict=True):
        if x.id == y.id or len(x.paragraphs) < 3:
            continue
        quote = rng.choice(y.paragraphs)
        if len(quote.split()) * 4 > len(x.text.split()) or len(quote.split()) * 3 > len(
            y.text.split()
        ):
            continue  # a quote that is most of either text is not a quote
        body = x.paragraphs
        body.insert(len(body) // 2, quote)
        b.pair(
            Text(f"{x.id}~quotes~{y.id}", x.origin, x.title, "\n\n".join(body)),
            y,
            "distinct",
            "quotes_a_paragraph",
            "one paragraph of the other quoted",
        )
    # Unrelated texts, and copies of unrelated texts.
    for _ in range(150):
        x, y = rng.sample(bases, 2)
        if x.id.startswith(("seed", "fp-")) and y.id.startswith(x.id[:4]):
            continue  # covered by the hard cases above
        dy = rng.choice(derived[y.id])
        b.pair(x, rng.choice([y, dy]), "distinct", "unrelated")
    return b


def records(builder: Builder) -> Iterator[dict[str, object]]:
    pairs = builder.pairs
    yield {
        "type": "about",
        "description": "Labelled pairs for near-duplicate detection, built by "
        "bench/make_neardup_eval.py from the seeds, tests/data/articles.jsonl and the "
        "feedparser corpus; a pair is a duplicate when b is a copy of a (or both are copies "
        "of one text), distinct otherwise.",
        "seed": SEED,
        "pairs": len(pairs),
        "duplicates": sum(p["label"] == "duplicate" for p in pairs),
        "distinct": sum(p["label"] == "distinct" for p in pairs),
        "expect": {"precision_at_least": 0.95, "recall_at_least": 0.90},
        "must_separate": "kind seed_pair",
        "must_join": "kinds header_footer, headline, edited, prefix70",
    }
    for t in builder.texts.values():
        yield t.record()
    yield from pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    builder = build(args.corpus)
    with args.out.open("w", encoding="utf-8") as out:
        for record in records(builder):
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    about = next(records(builder))
    print(
        f"wrote {args.out}: {about['pairs']} pairs ({about['duplicates']} duplicate, "
        f"{about['distinct']} distinct), {len(builder.texts)} texts"
    )


if __name__ == "__main__":
    main()
