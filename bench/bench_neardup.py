"""Near-duplicate benchmark: check-and-insert cost as the signature store grows.

    python bench/bench_neardup.py [--sizes 10000,100000,1000000] [--postgres URL]
                                  [--out bench/results-neardup.md]

One database is grown to each size in turn with synthetic articles (random MinHash signatures,
so random buckets: what unrelated stored articles look like), bulk-loaded with ``executemany``
on SQLite and ``COPY`` on PostgreSQL, plus a few hundred real-text originals stored through
``store_batch``. At each size it times ``store_batch`` (look-ups, decision, insert, commit):

- one new article per call, with near-dup detection on, and with it off (the exact-hash path
  alone: the baseline measured in the same run, at the same size);
- one near copy of a stored original per call;
- batches of 100 new articles (the ingest path), per article.

Figures are medians over the probes; ratios are against the exact-hash path at the same size
and against the 10k case. RSS is the process's resident set size after the probes at each
size; peak RSS its maximum so far (the bulk load included).
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy import Engine, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from newsflow.article import Article, ProcessedArticle  # noqa: E402
from parsers import iter_path  # noqa: E402
from processing.dedup import content_hash, normalized_content  # noqa: E402
from processing.neardup import NearDupConfig, Signature, band_keys, signature  # noqa: E402
from storage import models  # noqa: E402
from storage.db import close_all, describe, open_database  # noqa: E402
from storage.repository import ensure_sources, store_batch  # noqa: E402

CHUNK = 5_000
NEAR = NearDupConfig()
OFF = NearDupConfig(enabled=False)


def vocabulary() -> list[str]:
    seeds = [a for a in iter_path(ROOT / "seeds") if isinstance(a, Article)]
    return sorted({w for a in seeds for w in normalized_content(a.text).split()})


class Texts:
    """Distinct article texts of random words from the seeds' vocabulary (seeded)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.words = vocabulary()
        self.count = 0

    def article(self, prefix: str) -> Article:
        self.count += 1
        body = " ".join(self.rng.choices(self.words, k=400))
        name = f"{prefix}-{self.count}"
        return Article(
            source="bench-probe",
            title=f"Probe {name}",
            text=body,
            origin=name,
            guid=name,
            url=f"https://probe.example/{name}",
        )


def processed(article: Article, near: NearDupConfig) -> ProcessedArticle:
    sig = signature(article, near) if near.enabled else None
    return ProcessedArticle(article, content_hash(article), (), "bench", sig)


def near_copy(article: Article, n: int) -> Article:
    return Article(
        source="bench-mirror",
        title=article.title.upper(),
        text=f"Advertisement\n\n{article.text}\n\nAll rights reserved.",
        origin=f"copy-{n}",
        guid=f"copy-{n}",
        url=f"https://mirror.example/{n}",
    )


# --- bulk load ---------------------------------------------------------------------------


def synthetic_rows(start: int, stop: int, source_id: int) -> Iterator[tuple[list[Any], ...]]:
    """(articles, signatures, bands) rows for ids start..stop-1, in chunks."""
    rng = np.random.default_rng(start)
    now = datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None).isoformat(sep=" ")
    for lo in range(start, stop, CHUNK):
        hi = min(lo + CHUNK, stop)
        values = rng.integers(0, 2**32, size=(hi - lo, NEAR.num_perm), dtype=np.uint32)
        articles: list[list[Any]] = []
        signatures: list[list[Any]] = []
        bands: list[list[Any]] = []
        for offset, article_id in enumerate(range(lo, hi)):
            sig = Signature(values[offset], 380)
            articles.append(
                [
                    article_id,
                    source_id,
                    f"syn-{article_id}",
                    f"Synthetic {article_id}",
                    f"synthetic body {article_id}",
                    "[]",
                    f"{article_id:064x}",
                    3,
                    now,
                    now,
                ]
            )
            signatures.append([article_id, NEAR.scheme, sig.to_bytes(), sig.size])
            bands.extend([article_id, band, key] for band, key in enumerate(band_keys(sig, NEAR)))
        yield articles, signatures, bands


ARTICLE_COLUMNS = (
    "id, source_id, guid, title, text, authors, content_hash, word_count, ingested_at, updated_at"
)


def load_sqlite(engine: Engine, start: int, stop: int, source_id: int) -> None:
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for articles, signatures, bands in synthetic_rows(start, stop, source_id):
            cur.executemany(
                f"INSERT INTO articles ({ARTICLE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)",  # noqa: S608
                articles,
            )
            cur.executemany(
                "INSERT INTO article_signatures (article_id, scheme, minhash, shingles) "
                "VALUES (?,?,?,?)",
                signatures,
            )
            cur.executemany(
                "INSERT INTO article_bands (article_id, band, bucket) VALUES (?,?,?)", bands
            )
            raw.commit()
    finally:
        raw.close()


def load_postgres(engine: Engine, start: int, stop: int, source_id: int) -> None:
    raw = engine.raw_connection()
    try:
        cur: Any = raw.cursor()
        for articles, signatures, bands in synthetic_rows(start, stop, source_id):
            for table, columns, rows in (
                ("articles", ARTICLE_COLUMNS, articles),
                ("article_signatures", "article_id, scheme, minhash, shingles", signatures),
                ("article_bands", "article_id, band, bucket", bands),
            ):
                with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            raw.commit()
        cur.execute("SELECT setval('articles_id_seq', (SELECT max(id) FROM articles))")
        cur.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()


# --- measurements ------------------------------------------------------------------------


@dataclass
class Row:
    backend: str
    size: int
    load_s: float
    new_ms: float
    exact_ms: float
    copy_ms: float
    batch_ms: float
    batch_exact_ms: float
    rss_mb: float
    peak_mb: float
    copies_found: int


def timed(calls: list[Callable[[], object]]) -> list[float]:
    times = []
    for call in calls:
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    """The resident set size now (Linux), 0 where /proc is missing."""
    status = Path("/proc/self/status")
    if not status.exists():
        return 0.0
    for line in status.read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(engine: Engine, texts: Texts, originals: list[Article], probes: int) -> list[float]:
    new = [processed(texts.article("new"), NEAR) for _ in range(probes)]
    exact = [processed(texts.article("exact"), OFF) for _ in range(probes)]
    copies = [
        processed(near_copy(originals[i % len(originals)], texts.count + i), NEAR)
        for i in range(probes)
    ]
    texts.count += probes
    batches = [[processed(texts.article("batch"), NEAR) for _ in range(100)] for _ in range(5)]
    batches_off = [[processed(texts.article("b-off"), OFF) for _ in range(100)] for _ in range(5)]
    found = 0

    def copy_call(item: ProcessedArticle) -> Callable[[], object]:
        def call() -> None:
            nonlocal found
            found += store_batch(engine, [item], NEAR).duplicates

        return call

    # Interleave the kinds so that drift on a shared machine hits them alike.
    def call(items: list[ProcessedArticle], near: NearDupConfig) -> Callable[[], object]:
        return lambda: store_batch(engine, items, near)

    t_new: list[float] = []
    t_exact: list[float] = []
    t_copy: list[float] = []
    for a, b, c in zip(new, exact, copies, strict=True):
        t_new += timed([call([a], NEAR)])
        t_exact += timed([call([b], OFF)])
        t_copy += timed([copy_call(c)])
    t_batch: list[float] = []
    t_batch_off: list[float] = []
    for on, off in zip(batches, batches_off, strict=True):
        t_batch += [t / 100 for t in timed([call(on, NEAR)])]
        t_batch_off += [t / 100 for t in timed([call(off, OFF)])]
    med = statistics.median
    return [med(t_new), med(t_exact), med(t_copy), med(t_batch), med(t_batch_off), float(found)]


plans: dict[str, str] = {}


def run_backend(url: str, sizes: list[int], probes: int) -> list[Row]:
    engine = open_database(url)
    backend = engine.dialect.name
    with Session(engine) as session, session.begin():
        source_id = ensure_sources(session, ["bench-synthetic"])["bench-synthetic"]
    texts = Texts(20261125)
    originals = [texts.article("original") for _ in range(200)]
    store_batch(engine, [processed(a, NEAR) for a in originals], NEAR)
    loader = load_sqlite if backend == "sqlite" else load_postgres
    rows: list[Row] = []
    loaded = 0
    for size in sizes:
        with Session(engine) as session:
            first_id = (session.scalar(select(func.max(models.Article.id))) or 0) + 1
        started = time.perf_counter()
        loader(engine, first_id, first_id + size - loaded, source_id)
        load_s = time.perf_counter() - started
        loaded = size
        if backend == "sqlite":
            with engine.begin() as conn:
                conn.execute(text("ANALYZE"))
        new, exact, copy, batch, batch_exact, found = measure(engine, texts, originals, probes)
        rows.append(
            Row(
                backend,
                size,
                load_s,
                new,
                exact,
                copy,
                batch,
                batch_exact,
                rss_mb(),
                peak_rss_mb(),
                int(found),
            )
        )
        print(
            f"{backend} {size:>9,}: new {new:.2f} ms, exact-only {exact:.2f} ms, "
            f"copy {copy:.2f} ms, batch {batch:.2f} ms/article (exact-only {batch_exact:.2f}), "
            f"load {load_s:.0f} s, "
            f"rss {rss_mb():.0f} MB (peak {peak_rss_mb():.0f}), copies found {int(found)}/{probes}",
            flush=True,
        )
    plans[backend] = query_plan(engine)
    print(plans[backend])
    close_all()
    return rows


def query_plan(engine: Engine) -> str:
    """How the database runs the bucket look-up ``store_batch`` sends (two pairs here)."""
    B = models.ArticleBand
    stmt = select(B.band, B.bucket, B.article_id).where(B.bucket.in_([42, 43]))
    sql = str(stmt.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            plan = conn.execute(text(f"EXPLAIN QUERY PLAN {sql}"))
            return "; ".join(str(r[-1]) for r in plan)
        return "; ".join(str(r[0]).strip() for r in conn.execute(text(f"EXPLAIN {sql}")))


def report(rows: list[Row], signature_ms: float, args: argparse.Namespace) -> str:
    lines = [
        "# Near-duplicate benchmark",
        "",
        f"`python bench/bench_neardup.py --sizes {args.sizes}` on {time.strftime('%Y-%m-%d')}, "
        "a 2-core machine shared with other work. Per-article times are medians over "
        f"{args.probes} probes per kind; each call is one `store_batch` transaction "
        "(look-ups, decision, insert, commit). *x exact* is the ratio to the exact-hash path "
        "alone (near-dup detection off) at the same size; *x 10k* to the same figure at 10k.",
        "",
        f"Computing a signature (400-word article, pure CPU): {signature_ms:.2f} ms, "
        "independent of the store.",
        "",
        "| backend | stored | one new article (ms) | x exact | x 10k | exact-hash only (ms) "
        "| one near copy (ms) | batch of 100 (ms/article) | x exact | x 10k "
        "| exact-hash only (ms/article) | copies found | bulk load (s) | RSS (MB) "
        "| peak RSS (MB) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        base = next(x for x in rows if x.backend == r.backend)
        lines.append(
            f"| {r.backend} | {r.size:,} | {r.new_ms:.2f} | {r.new_ms / r.exact_ms:.2f} "
            f"| {r.new_ms / base.new_ms:.2f} | {r.exact_ms:.2f} | {r.copy_ms:.2f} "
            f"| {r.batch_ms:.2f} | {r.batch_ms / r.batch_exact_ms:.2f} "
            f"| {r.batch_ms / base.batch_ms:.2f} | {r.batch_exact_ms:.2f} "
            f"| {r.copies_found}/{args.probes} | {r.load_s:.0f} | {r.rss_mb:.0f} "
            f"| {r.peak_mb:.0f} |"
        )
    lines += ["", "Bucket look-up plans:", ""]
    lines += [f"- {backend}: `{plan}`" for backend, plan in plans.items()]
    return "\n".join(lines) + "\n"


@contextmanager
def scratch_postgres(admin_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database beside ``admin_url``'s, dropped afterwards."""
    admin = make_url(admin_url).set(drivername="postgresql")
    name = f"newsflow_bench_{uuid.uuid4().hex[:8]}"
    libpq = admin.render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        close_all()
        with psycopg.connect(libpq, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--probes", type=int, default=100)
    parser.add_argument("--postgres", default=None, help="also bench this PostgreSQL URL")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results-neardup.md")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    texts = Texts(1)
    sample = texts.article("sig")
    started = time.perf_counter()
    for _ in range(200):
        signature(sample, NEAR)
    signature_ms = (time.perf_counter() - started) * 1000 / 200
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        rows += run_backend(f"sqlite:///{tmp}/bench.db", sizes, args.probes)
    if args.postgres:
        print(f"PostgreSQL: {describe(args.postgres)}")
        with scratch_postgres(args.postgres) as url:
            rows += run_backend(url, sizes, args.probes)
    args.out.write_text(report(rows, signature_ms, args), encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
