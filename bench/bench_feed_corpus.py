"""Serve every feed file of feedparser's test corpus over loopback and ingest it as a feed.

Each file becomes one feed (``<corpus>/wellformed/rss/x.xml`` is served at ``/wellformed/rss/x.xml``
with the HTTP headers its leading comment names, e.g. ``Header: Content-type: ...``) and is
polled with the plain functions (no Prefect) into one SQLite database. Each must yield
articles or one clear error recorded for its feed; nothing may crash the run.

    python bench/bench_feed_corpus.py [--corpus DIR] [--db URL] [--workers N]

prints the counts: files, feeds with articles, articles, feeds with an error by kind.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsflow.fetch import Fetcher, FetchPolicy  # noqa: E402
from newsflow.pipeline import prepare_database, tagger_for  # noqa: E402
from newsflow.polling import FeedOutcome, poll_feed  # noqa: E402
from newsflow.settings import load_settings  # noqa: E402
from newsflow.sources import FeedSource  # noqa: E402
from storage import feeds, repository  # noqa: E402
from tests.loopback import Reply, serving  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpora" / "feedparser"
_HEADER = re.compile(rb"^Header:\s*([\w-]+):[ \t]*(.*?)\s*$", re.MULTILINE)
_FEED_SUFFIXES = (".xml", ".json", ".rdf", ".atom", ".rss")


@dataclass
class CorpusCounts:
    files: int = 0
    feeds_with_articles: int = 0
    articles_read: int = 0
    articles_stored: int = 0  # new + copies: the corpus repeats many links across files
    entry_errors: int = 0  # entries skipped (no title and no text) in feeds with articles
    crashed: list[str] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)  # feeds with an error, by kind
    examples: dict[str, str] = field(default_factory=dict)  # one message per kind
    seconds: float = 0.0

    @property
    def feeds_with_error(self) -> int:
        return sum(self.errors.values())

    def report(self) -> str:
        lines = [
            f"files                 {self.files}",
            f"feeds with articles   {self.feeds_with_articles}",
            f"articles read         {self.articles_read}",
            f"articles stored       {self.articles_stored}",
            f"entries skipped       {self.entry_errors}",
            f"feeds with an error   {self.feeds_with_error}",
        ]
        for kind, count in self.errors.most_common():
            lines.append(f"  {kind:<20}{count}   e.g. {self.examples[kind][:90]}")
        lines.append(f"crashed               {len(self.crashed)}")
        lines.append(f"seconds               {self.seconds:.1f}")
        return "\n".join(lines)


def corpus_files(corpus: Path) -> list[Path]:
    return sorted(
        p for p in corpus.rglob("*") if p.is_file() and p.suffix.lower() in _FEED_SUFFIXES
    )


def declared_headers(content: bytes) -> dict[str, str]:
    """The ``Header: Name: value`` lines of a corpus file's leading comment."""
    head = content[: content.find(b"-->") + 1 or 2000]
    headers = {}
    for name, value in _HEADER.findall(head):
        headers[name.decode("latin-1")] = value.decode("latin-1")
    return headers


def run_corpus(corpus: Path, database_url: str, workers: int = 4) -> CorpusCounts:
    """Serve and poll every corpus file; the counts (see the module docstring)."""
    files = corpus_files(corpus)
    settings = load_settings(
        database_url=database_url,
        allow_private_addresses=True,
        host_delay=0.0,
        host_concurrency=workers * 2,
        fetch_retries=0,
        fetch_timeout=10.0,
    )
    tagger = tagger_for(settings.taxonomy)
    engine = prepare_database(settings.database_url, tagger)
    counts = CorpusCounts(files=len(files))
    started = time.monotonic()
    with serving() as server, Fetcher(FetchPolicy.from_settings(settings)) as fetcher:
        names: dict[str, Path] = {}
        for path in files:
            relative = path.relative_to(corpus).as_posix()
            content = path.read_bytes()
            headers = declared_headers(content)
            if path.suffix == ".json":
                headers.setdefault("Content-Type", "application/feed+json")
            server.routes[f"/{relative}"] = Reply(200, content, headers)
            names[relative] = path
        sources = [FeedSource(name, server.url(f"/{name}")) for name in names]
        records = feeds.sync_feeds(engine, sources)
        run_id = repository.start_run(engine, [str(corpus)])

        def one(record: feeds.FeedRecord) -> FeedOutcome | str:
            try:
                return poll_feed(
                    record,
                    engine=engine,
                    tagger=tagger,
                    fetcher=fetcher,
                    settings=settings,
                    run_id=run_id,
                )
            except Exception as exc:  # counted: the test requires none
                return f"{record.name}: {type(exc).__name__}: {exc}"

        with ThreadPoolExecutor(max_workers=workers) as pool:
            outcomes = list(pool.map(one, records))
    for outcome in outcomes:
        if isinstance(outcome, str):
            counts.crashed.append(outcome)
            continue
        result = outcome.result
        if outcome.error is not None:
            kind = outcome.error_kind or "unknown"
            counts.errors[kind] += 1
            counts.examples.setdefault(kind, f"{outcome.name}: {outcome.error}")
        else:
            counts.feeds_with_articles += 1
            counts.articles_read += result.read
            counts.articles_stored += result.new + result.duplicates
            counts.entry_errors += len(outcome.problems)
    counts.seconds = time.monotonic() - started
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    if not args.corpus.is_dir():
        print(f"no corpus at {args.corpus}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{tmp}/corpus.db"
        counts = run_corpus(args.corpus, url, args.workers)
    print(counts.report())
    return 1 if counts.crashed else 0


if __name__ == "__main__":
    sys.exit(main())
