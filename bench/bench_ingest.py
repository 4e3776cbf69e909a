"""Ingestion benchmark: the pipeline against a bare-library baseline, measured in one run.

    python bench/bench_ingest.py [--articles 2000] [--batch-size 100] [--out bench/results.md]

It writes a JSONL corpus built from the seed articles (each record a distinct article: its
paragraphs re-ordered, with a unique dateline, so none is an exact copy) and then times:

1. baseline: the bare libraries in a loop: ``json.loads``, SHA-256 of the body and a
   ``sqlite3`` ``executemany`` insert, committed per batch (no cleaning, tagging or dedup);
2. pipeline: newsflow's plain functions (parse + clean, dedup hash + tag, store) per stage,
   into a fresh SQLite file;
3. flow: ``newsflow ingest`` as a user runs it (a subprocess: Prefect's temporary server
   start-up included), into a fresh SQLite file; also on PostgreSQL when reachable.

Figures are ratios against the baseline measured in the same run, because these machines are
noisy. Peak memory is the maximum resident set size of each subprocess.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsflow.article import Article  # noqa: E402
from newsflow.pipeline import process, tagger_for  # noqa: E402
from parsers import batched, iter_path  # noqa: E402
from storage.db import open_database  # noqa: E402
from storage.repository import store_batch, sync_topics  # noqa: E402


def make_corpus(path: Path, count: int) -> None:
    rng = random.Random(20260204)
    seeds = [a for a in iter_path(ROOT / "seeds") if isinstance(a, Article)]
    with path.open("w", encoding="utf-8") as out:
        for i in range(count):
            seed = seeds[i % len(seeds)]
            paragraphs = seed.paragraphs
            rng.shuffle(paragraphs)
            body = "\n\n".join(
                [f"Dispatch {i} from desk {i % 17}.", *paragraphs[: rng.randint(6, 20)]]
            )
            record = {
                "id": f"bench-{i}",
                "source": f"source-{i % 25}",
                "url": f"https://bench.example/{i % 25}/story-{i}?utm_source=rss",
                "title": f"{seed.title} ({i})",
                "text": body,
                "published": f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}T08:00:00Z",
                "language": "en",
            }
            out.write(json.dumps(record) + "\n")


def baseline(corpus: Path, db: Path, batch_size: int) -> float:
    started = time.perf_counter()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        "CREATE TABLE articles (id INTEGER PRIMARY KEY, guid TEXT UNIQUE, url TEXT, "
        "title TEXT, text TEXT, published TEXT, content_hash TEXT)"
    )
    rows = []
    with corpus.open("rb") as handle:
        for line in handle:
            r = json.loads(line)
            digest = hashlib.sha256(r["text"].encode()).hexdigest()
            rows.append((r["id"], r["url"], r["title"], r["text"], r["published"], digest))
            if len(rows) == batch_size:
                conn.executemany(
                    "INSERT INTO articles (guid, url, title, text, published, "
                    "content_hash) VALUES (?, ?, ?, ?, ?, ?)",
                    rows,
                )
                conn.commit()
                rows = []
    if rows:
        conn.executemany(
            "INSERT INTO articles (guid, url, title, text, published, content_hash) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.commit()
    conn.close()
    return time.perf_counter() - started


def pipeline(corpus: Path, db: Path, batch_size: int) -> dict[str, float]:
    tagger = tagger_for(None)
    engine = open_database(f"sqlite:///{db}")
    sync_topics(engine, ((t.slug, t.label, t.description) for t in tagger.taxonomy.topics.values()))
    times = {"parse + clean": 0.0, "hash + tag": 0.0, "store": 0.0}
    stored = 0
    items = iter_path(corpus)
    while True:
        t0 = time.perf_counter()
        batch = next(batched(items, batch_size), None)
        t1 = time.perf_counter()
        times["parse + clean"] += t1 - t0
        if batch is None:
            break
        processed = process([a for a in batch if isinstance(a, Article)], tagger)
        t2 = time.perf_counter()
        stored += store_batch(engine, processed).new
        times["hash + tag"] += t2 - t1
        times["store"] += time.perf_counter() - t2
    times["total"] = sum(times.values())
    times["stored"] = stored
    return times


def run_cli(args: list[str], cwd: Path) -> tuple[float, int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API", "NEWSFLOW_"))}
    env["PREFECT_HOME"] = str(cwd / ".prefect")
    command = [sys.executable, "-c", "from flows.cli import run; run()", *args]
    started = time.perf_counter()
    proc = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output, _ = proc.communicate()
    elapsed = time.perf_counter() - started
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # largest child so far, KiB
    if proc.returncode:
        raise SystemExit(f"newsflow {' '.join(args)} failed:\n{output}")
    return elapsed, rss, output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.md")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        corpus = work / "corpus.jsonl"
        make_corpus(corpus, args.articles)
        size_mb = corpus.stat().st_size / 1e6
        base = baseline(corpus, work / "baseline.db", args.batch_size)
        stages = pipeline(corpus, work / "pipeline.db", args.batch_size)
        # The first run in a fresh PREFECT_HOME also creates Prefect's own database: do it
        # once, unmeasured, so the figures below are those of every later run.
        run_cli(["ingest", str(ROOT / "seeds"), "--db", f"sqlite:///{work / 'warm.db'}"], work)
        startup, _, _ = run_cli(
            ["ingest", str(ROOT / "seeds"), "--db", f"sqlite:///{work / 'empty.db'}"], work
        )
        flow_seconds, flow_rss, output = run_cli(
            [
                "ingest",
                str(corpus),
                "--db",
                f"sqlite:///{work / 'flow.db'}",
                "--batch-size",
                str(args.batch_size),
                "--format",
                "json",
            ],
            work,
        )
        flow_new = json.loads(output[output.index("{") :])["new"]
        pg_row = ""
        try:
            import psycopg

            with psycopg.connect(args.postgres.replace("+psycopg", ""), connect_timeout=3) as c:
                c.execute(
                    "DROP TABLE IF EXISTS article_topics, ingestion_errors, ingestion_runs, "
                    "articles, topics, sources, alembic_version CASCADE"
                )
            pg_seconds, _, _ = run_cli(
                [
                    "ingest",
                    str(corpus),
                    "--db",
                    args.postgres,
                    "--batch-size",
                    str(args.batch_size),
                ],
                work,
            )
            pg_row = (
                f"| flow, PostgreSQL (`newsflow ingest --db postgresql://…`) | "
                f"{pg_seconds:.2f} | {args.articles / pg_seconds:,.0f} | "
                f"{pg_seconds / base:.1f}x |\n"
            )
        except Exception as exc:  # PostgreSQL is optional for the benchmark
            pg_row = f"| flow, PostgreSQL | skipped: {type(exc).__name__} | | |\n"
    n = args.articles
    table = (
        f"# Ingestion benchmark\n\n{n:,} articles ({size_mb:.1f} MB of JSONL made from the seeds), "
        f"batches of {args.batch_size}, Python {sys.version.split()[0]}, {os.cpu_count()} cores. "
        f"Produced by `python bench/bench_ingest.py --articles {n}`.\n\n"
        "| run | seconds | articles/s | vs baseline |\n|---|---|---|---|\n"
        f"| baseline: json + sha256 + sqlite3 executemany | {base:.2f} | {n / base:,.0f} | 1.0x |\n"
        f"| pipeline, plain functions, SQLite | {stages['total']:.2f} | "
        f"{n / stages['total']:,.0f} | {stages['total'] / base:.1f}x |\n"
        f"| flow, SQLite (`newsflow ingest`, Prefect start-up included) | {flow_seconds:.2f} | "
        f"{n / flow_seconds:,.0f} | {flow_seconds / base:.1f}x |\n"
        f"{pg_row}"
        f"| `newsflow ingest seeds/` (2 articles: the fixed cost of Prefect start-up) | "
        f"{startup:.2f} | | |\n\n"
        "Pipeline stages (share of the pipeline's time):\n\n"
        "| stage | seconds | share |\n|---|---|---|\n"
        + "".join(
            f"| {k} | {v:.2f} | {v / stages['total']:.0%} |\n"
            for k, v in stages.items()
            if k not in ("total", "stored")
        )
        + f"\nFlow minus start-up vs plain pipeline: "
        f"{(flow_seconds - startup) / stages['total']:.2f}x. "
        f"Articles stored: pipeline {stages['stored']:,}, flow {flow_new:,}. "
        f"Peak RSS of the `newsflow ingest` processes: {flow_rss / 1024:.0f} MB.\n"
    )
    args.out.write_text(table, encoding="utf-8")
    print(table)


if __name__ == "__main__":
    main()
