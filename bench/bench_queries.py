"""Query latency at scale: 1M stored articles on SQLite and PostgreSQL, through newsflow's API.

    python bench/bench_queries.py [--articles 1000000] [--queries 60] [--out FILE.md]
        [--sqlite PATH] [--postgres URL | --no-postgres | --no-sqlite] [--rebuild] [--build-only]
        [--baseline COMMIT] [--slowest N] [--label TEXT] [--query-seed N] [--cold]

Builds the database once (cached: the SQLite file under ``$TMPDIR/newsflow-bench/`` and the
PostgreSQL database ``newsflow_bench_<n>``; a completed build is recorded as an ingestion run,
``--rebuild`` starts again). The articles are those of ``bench/corpus.py`` (short variant,
~150 words each), 5 % of them copies; each is hashed and tagged by newsflow's own tagger in a
process pool, and inserted in bulk through the ``storage.models`` tables, so the FTS5 table
(SQLite triggers) and the ``tsvector`` column (PostgreSQL) are filled as ingestion fills them,
with real topics, scores and evidence. Indexes are dropped during the load and re-created
from their own definitions afterwards; on SQLite the FTS5 insert trigger is dropped too and the
full-text index built once from the stored rows (FTS5 ``'rebuild'``, the same index the trigger
builds row by row). Near-duplicate signatures are not stored (no query
reads them); copies are linked with ``duplicate_of`` as ingestion links them.

Then, warm (each query shape run once unmeasured first), it measures p50/p95/p99 of
``newsflow.api.find_articles`` (what ``newsflow query`` runs) for: full text only, full text +
topic, full text + topic + date range, topic + date range, each with many different words
(frequent, mid-frequency and rare ones, phrases, ``OR``), 20 results as the CLI shows.
``--baseline COMMIT`` also runs ``storage/queries.py`` and ``storage/fulltext.py`` as they were
at that commit, each query once with each code, interleaved, on the same database (before and
after in one run); ``--slowest N`` prints the N slowest queries of each row. ``--cold`` reads
every measured query from disk: the page cache is dropped and newsflow's connections closed
before each one (root only; PostgreSQL's shared buffers stay), so each code's cost from a
cold cache is measured query by query, not helped by the pages the queries before it read.
The load average of the machine at the start and end of the measurement goes into the
results heading.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import pickle
import subprocess
import sys
import time
import types
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, insert, select, text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import corpus  # noqa: E402
from newsflow import api  # noqa: E402
from newsflow.article import document_of  # noqa: E402
from newsflow.pipeline import prepare_database, tag_document, tagger_for  # noqa: E402
from processing.dedup import normalized_content  # noqa: E402
from storage import models, queries, repository  # noqa: E402
from storage.db import close_all, open_database  # noqa: E402
from storage.queries import ArticleQuery  # noqa: E402

CHUNK = 5_000


@dataclass
class Chunk:
    articles: list[tuple[Any, ...]]  # ARTICLE_COLUMNS
    tags: list[tuple[int, str, float, str]]  # article id, topic slug, score, evidence JSON


ARTICLE_COLUMNS = (
    "id", "source_id", "guid", "url", "title", "text", "language", "authors", "published_at",
    "content_hash", "word_count", "duplicate_of", "origin", "ingested_at", "updated_at",
)  # fmt: skip


def _chunk_path(directory: Path, start: int) -> Path:
    return directory / f"chunk-{start:08d}.pickle"


def _make_chunk(args: tuple[int, int, int, dict[str, int], Path]) -> Path:
    """Generate, hash and tag articles ``start:stop``; saved as a pickle (cached)."""
    start, stop, seed, source_ids, directory = args
    path = _chunk_path(directory, start)
    if path.exists():
        return path
    tagger = tagger_for(None)
    now = datetime.now(UTC)
    rows: list[tuple[Any, ...]] = []
    tags: list[tuple[int, str, float, str]] = []
    for a in corpus.articles(stop, seed, short=True, start=start):
        body = a.text
        article_id = a.index + 1
        rows.append(
            (
                article_id,
                source_ids[a.source],
                a.guid,
                a.url,
                a.title,
                body,
                "en",
                json.dumps(list(a.authors)),
                a.published,
                hashlib.sha256(normalized_content(body).encode()).hexdigest(),
                len(body.split()),
                None if a.copy_of is None else a.copy_of + 1,
                f"bench:{a.index}",
                now,
                now,
            )
        )
        for tag in tag_document(tagger, document_of(a.title, body)):
            tags.append((article_id, tag.topic, tag.score, json.dumps(tag.evidence)))
    partial = path.with_suffix(".partial")
    with partial.open("wb") as out:
        pickle.dump(Chunk(rows, tags), out, protocol=pickle.HIGHEST_PROTOCOL)
    partial.rename(path)
    return path


def _source_names() -> list[str]:
    return sorted(
        {f"desk-{i:03d}" for i in range(corpus.SOURCES)} | {f"syndicate-{i:02d}" for i in range(20)}
    )


def _indexes(engine: Engine) -> list[tuple[str, str]]:
    """(name, CREATE statement) of the indexes of articles and article_topics."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            sql = (
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                "AND tbl_name IN ('articles', 'article_topics')"
            )
        else:
            sql = (
                "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename IN "
                "('articles', 'article_topics') AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
                "WHERE c.conname = i.indexname)"
            )
        return [(name, ddl) for name, ddl in conn.execute(text(sql))]


def built_marker(n: int, seed: int) -> str:
    return f"bench-queries:{n}:{seed}"


def is_built(engine: Engine, n: int, seed: int) -> bool:
    with Session(engine) as session:
        runs = session.scalars(
            select(models.IngestionRun.inputs).where(models.IngestionRun.status == "completed")
        )
        return any(built_marker(n, seed) in (inputs or []) for inputs in runs)


def _sqlite_time(value: datetime) -> str:
    # As SQLAlchemy stores ``UTCDateTime`` on SQLite: naive UTC, microseconds.
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _schedule(n: int, distinct: int) -> Iterator[tuple[int, int]]:
    """(variant, chunk start) pairs that make ``n`` rows out of ``distinct`` generated ones."""
    for variant in range(-(-n // distinct)):
        for start in range(0, min(distinct, n - variant * distinct), CHUNK):
            yield variant, start


def _variant(chunk: Chunk, variant: int, distinct: int, source_ids: dict[str, int]) -> Chunk:
    """Variant ``variant`` of a chunk: each article's paragraphs rotated, a new date, source,
    URL and id; the same words, so the same topics and scores (evidence offsets not redone)."""
    rng = np.random.default_rng(variant)
    offset = variant * distinct
    rows = []
    sources = sorted(source_ids.values())
    for r in chunk.articles:
        paragraphs = r[5].split("\n\n")
        k = variant % len(paragraphs)
        body = "\n\n".join(paragraphs[k:] + paragraphs[:k])
        published = corpus._START + timedelta(minutes=int(rng.integers(corpus._SPAN_MINUTES)))
        article_id = r[0] + offset
        rows.append(
            (
                article_id,
                sources[int(rng.integers(len(sources)))],
                f"{r[2]}-v{variant}",
                f"{r[3]}-v{variant}",
                f"{r[4]} (update {variant})",
                body,
                *r[6:8],
                published,
                hashlib.sha256(normalized_content(body).encode()).hexdigest(),
                r[10],
                None if r[11] is None else r[11] + offset,
                f"{r[12]}-v{variant}",
                *r[13:],
            )
        )
    tags = [(a + offset, slug, score, evidence) for a, slug, score, evidence in chunk.tags]
    return Chunk(rows, tags)


def load(url: str, n: int, seed: int, chunks: Path, distinct: int) -> float:
    """Fill one (empty, migrated) database with the chunk files as they appear."""
    started = time.perf_counter()
    tagger = tagger_for(None)
    engine = prepare_database(url, tagger)
    source_ids = {name: i + 1 for i, name in enumerate(_source_names())}
    with engine.begin() as conn:
        conn.execute(
            insert(models.Source),
            [{"id": i, "name": name, "kind": "file"} for name, i in source_ids.items()],
        )
    saved = _indexes(engine)
    sqlite = engine.dialect.name == "sqlite"
    fts_insert = None
    with engine.begin() as conn:
        for name, _ in saved:
            conn.execute(text(f"DROP INDEX {name}"))
        if sqlite:  # FTS5 filled once after the load ('rebuild'), not row by row by the trigger
            fts_insert = conn.execute(
                text("SELECT sql FROM sqlite_master WHERE name = 'articles_fts_insert'")
            ).scalar()
            if fts_insert:
                conn.execute(text("DROP TRIGGER articles_fts_insert"))
    with Session(engine) as session:
        topics = dict(session.execute(select(models.Topic.slug, models.Topic.id)).all())
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for variant, start in _schedule(n, distinct):
            path = _chunk_path(chunks, start)
            while not path.exists():
                time.sleep(0.5)
            with path.open("rb") as handle:
                chunk: Chunk = pickle.load(handle)
            if variant:
                chunk = _variant(chunk, variant, distinct, source_ids)
            now = datetime.now(UTC)
            tag_rows = [
                (a, topics[slug], score, evidence, tagger.version, now)
                for a, slug, score, evidence in chunk.tags
            ]
            if sqlite:
                marks = ", ".join("?" * len(ARTICLE_COLUMNS))
                cursor.executemany(
                    f"INSERT INTO articles ({', '.join(ARTICLE_COLUMNS)}) VALUES ({marks})",  # noqa: S608
                    [
                        (*r[:8], _sqlite_time(r[8]), *r[9:13], _sqlite_time(r[13]),
                         _sqlite_time(r[14]))
                        for r in chunk.articles
                    ],
                )  # fmt: skip
                cursor.executemany(
                    "INSERT INTO article_topics (article_id, topic_id, score, evidence, "
                    "tagger_version, tagged_at) VALUES (?, ?, ?, ?, ?, ?)",
                    [(*t[:5], _sqlite_time(t[5])) for t in tag_rows],
                )
            else:
                with cursor.copy(
                    f"COPY articles ({', '.join(ARTICLE_COLUMNS)}) FROM STDIN"
                ) as copy:
                    for row in chunk.articles:
                        copy.write_row(row)
                with cursor.copy(
                    "COPY article_topics (article_id, topic_id, score, evidence, tagger_version, "
                    "tagged_at) FROM STDIN"
                ) as copy:
                    for row in tag_rows:
                        copy.write_row(row)
            raw.commit()
            done = variant * distinct + min(distinct, start + CHUNK)
            if done % 100_000 == 0 or done == n:
                print(
                    f"  {engine.dialect.name}: {done:,} articles, "
                    f"{time.perf_counter() - started:.0f} s",
                    flush=True,
                )
    finally:
        raw.close()
    with engine.begin() as conn:
        for _, ddl in saved:
            conn.execute(text(ddl))
        if fts_insert:  # the index the trigger would have built, from the stored rows
            conn.execute(text("INSERT INTO articles_fts(articles_fts) VALUES ('rebuild')"))
            conn.execute(text(fts_insert))
            print(f"  sqlite: full-text index rebuilt, {time.perf_counter() - started:.0f} s")
        if not sqlite:  # ids were given: move the sequence on
            conn.execute(
                text("SELECT setval(pg_get_serial_sequence('articles', 'id'), :n)"), {"n": n}
            )
        conn.execute(text("ANALYZE"))
    if not sqlite:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE articles"))
            conn.execute(text("VACUUM ANALYZE article_topics"))
    run_id = repository.start_run(engine, [built_marker(n, seed)])
    repository.finish_run(engine, run_id, repository.BatchResult(read=n))
    close_all()
    return time.perf_counter() - started


def build(urls: Sequence[str], n: int, seed: int, workers: int, distinct: int) -> float:
    """Generate the articles (cached chunk files) and load every database in parallel."""
    started = time.perf_counter()
    chunks = corpus.CACHE / f"query-chunks-{seed}"
    chunks.mkdir(parents=True, exist_ok=True)
    source_ids = {name: i + 1 for i, name in enumerate(_source_names())}
    jobs = [
        (s, min(distinct, s + CHUNK), seed, source_ids, chunks) for s in range(0, distinct, CHUNK)
    ]
    # Fresh interpreters, not forks of this one (which holds database connections).
    context = multiprocessing.get_context("spawn")
    with (
        ProcessPoolExecutor(workers, mp_context=context) as pool,
        ProcessPoolExecutor(len(urls), mp_context=context) as loaders,
    ):
        loading = [loaders.submit(load, url, n, seed, chunks, distinct) for url in urls]
        for _ in pool.map(_make_chunk, jobs):
            pass
        print(f"  generated in {time.perf_counter() - started:.0f} s", flush=True)
        for future in loading:
            future.result()
    return time.perf_counter() - started


# --- the queries --------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    name: str
    make: Callable[[np.random.Generator], ArticleQuery]


def _word_bands() -> dict[str, list[str]]:
    vocab = corpus._pool(corpus.DEFAULT_SEED).vocabulary
    words = [w for w in vocab if w.isalpha() and len(w) > 3]
    return {"frequent": words[10:60], "mid": words[800:1500], "rare": words[8000:12000]}


PHRASES = [
    '"New START"',
    '"strategic partnership"',
    '"Xi Jinping"',
    "sanctions",
    "nuclear OR reactor",
    "energy -oil",
    "warheads",
    '"Power of Siberia"',
]


def shapes(topics: list[str]) -> list[Shape]:
    bands = _word_bands()
    start = datetime(2024, 1, 1, tzinfo=UTC)

    def words(rng: np.random.Generator) -> str:
        roll = rng.random()
        if roll < 0.2:
            return str(rng.choice(PHRASES))
        if roll < 0.4:
            return str(rng.choice(bands["frequent"]))
        if roll < 0.7:
            return str(rng.choice(bands["mid"]))
        if roll < 0.85:
            return f"{rng.choice(bands['mid'])} {rng.choice(bands['frequent'])}"
        return str(rng.choice(bands["rare"]))

    def window(rng: np.random.Generator) -> tuple[datetime, datetime]:
        since = start + timedelta(days=int(rng.integers(0, 900)))
        return since, since + timedelta(days=int(rng.choice([7, 30, 90])))

    def topic(rng: np.random.Generator) -> str:
        return str(rng.choice(topics))

    def text_topic_date(rng: np.random.Generator) -> ArticleQuery:
        since, until = window(rng)
        return ArticleQuery(text=words(rng), topic=topic(rng), since=since, until=until)

    def topic_date(rng: np.random.Generator) -> ArticleQuery:
        since, until = window(rng)
        return ArticleQuery(topic=topic(rng), since=since, until=until)

    return [
        Shape("full text", lambda rng: ArticleQuery(text=words(rng))),
        Shape("full text + topic", lambda rng: ArticleQuery(text=words(rng), topic=topic(rng))),
        Shape("full text + topic + dates", text_topic_date),
        Shape("topic + dates", topic_date),
        Shape("topic only (newest 20)", lambda rng: ArticleQuery(topic=topic(rng))),
    ]


def percentiles(samples: Sequence[float]) -> tuple[float, float, float, float]:
    ordered = sorted(samples)

    def at(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]

    return at(0.5), at(0.95), at(0.99), ordered[-1]


def _api(query: ArticleQuery, url: str) -> object:
    return api.find_articles(query, url)


def iter_runners(baseline: bool) -> Iterator[tuple[str, Callable[[ArticleQuery, str], object]]]:
    yield "api", _api
    if baseline:
        yield "storage only", lambda q, url: queries.find_articles(open_database(url), q)


def baseline_queries(commit: str) -> types.ModuleType:
    """``storage/queries.py`` (and the ``storage/fulltext.py`` it imports) as they were at
    ``commit``, loaded beside today's modules, so both plans run on the same database."""
    modules = {}
    for name in ("fulltext", "queries"):
        source = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{commit}:storage/{name}.py"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        source = source.replace("from storage.fulltext import", "from baseline_fulltext import")
        module = types.ModuleType(f"baseline_{name}")
        sys.modules[module.__name__] = module  # dataclasses look their module up
        exec(compile(source, f"{commit[:10]}:storage/{name}.py", "exec"), module.__dict__)
        modules[name] = module
    return modules["queries"]


def _through_api(module: types.ModuleType) -> Callable[[ArticleQuery, str], object]:
    """``api.find_articles`` (its checks included) with ``module`` as its storage queries."""

    def run(query: ArticleQuery, url: str) -> object:
        names = vars(api)
        saved = names["queries"]
        names["queries"] = module
        try:
            return api.find_articles(query, url)
        finally:
            names["queries"] = saved

    return run


_last_queries: list[ArticleQuery] = []  # the queries of the last measure_interleaved call


def slowest(samples: Sequence[float], count: int) -> str:
    """The ``count`` slowest queries of the last measurement, for a look at their plans."""
    worst = sorted(range(len(samples)), key=lambda i: -samples[i])[:count]
    return "; ".join(f"{samples[i]:.0f} ms {_describe(_last_queries[i])}" for i in worst)


def _describe(query: ArticleQuery) -> str:
    parts = [f"text={query.text!r}"] if query.text else []
    if query.topic:
        parts.append(f"topic={query.topic}")
    if query.since and query.until:
        parts.append(f"{query.since:%Y-%m-%d}..{query.until:%Y-%m-%d}")
    return " ".join(parts)


def drop_caches() -> None:
    """Empty the operating system's page cache and close newsflow's connections (SQLite's own
    page cache goes with them; PostgreSQL's shared buffers stay): the next query reads from
    disk. Needs root."""
    close_all()
    subprocess.run(["sync"], check=True)
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError as exc:
        raise SystemExit(f"--cold needs root to drop the page cache: {exc}") from None


def measure_interleaved(
    url: str,
    shape: Shape,
    count: int,
    seed: int,
    runners: Sequence[Callable[..., object]],
    before: Callable[[], None] | None = None,
) -> list[list[float]]:
    """Each query run once by every runner, one after the other (order alternating);
    ``before`` is called before each measured run (``drop_caches`` for ``--cold``)."""
    rng = np.random.default_rng(seed)
    made = [shape.make(rng) for _ in range(count)]
    for run in runners:
        run(made[0], url)  # warm
    samples: list[list[float]] = [[] for _ in runners]
    _last_queries[:] = made
    for i, query in enumerate(made):
        order = list(range(len(runners)))
        if i % 2:
            order.reverse()
        for k in order:
            if before is not None:
                before()
            t0 = time.perf_counter()
            runners[k](query, url)
            samples[k].append((time.perf_counter() - t0) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=corpus.DEFAULT_SEED)
    parser.add_argument(
        "--query-seed",
        type=int,
        default=None,
        help="draws other queries on the same database (default: --seed); a second run with "
        "the same queries finds their pages cached",
    )
    parser.add_argument("--queries", type=int, default=60, help="queries per shape and database")
    parser.add_argument("--sqlite", type=Path, default=None)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument(
        "--distinct",
        type=int,
        default=100_000,
        help="articles generated and tagged; the rest are variants of them (see the docstring)",
    )
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument(
        "--cold",
        action="store_true",
        help="drop the page cache before every measured query (root; see drop_caches)",
    )
    parser.add_argument("--label", default="", help="a note for the results table (e.g. before)")
    parser.add_argument("--slowest", type=int, default=0, help="print the N slowest queries")
    parser.add_argument(
        "--baseline",
        default=None,
        help="a git commit: run its storage queries too, interleaved with today's (before/after)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results-queries.md")
    args = parser.parse_args()
    n = args.articles
    sqlite_path = args.sqlite or corpus.CACHE / f"queries-{n}-{args.seed}.db"
    sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    urls = {} if args.no_sqlite else {"SQLite": f"sqlite:///{sqlite_path}"}
    if not args.no_postgres:
        import psycopg

        admin = args.postgres.replace("postgresql+psycopg", "postgresql")
        name = f"newsflow_bench_{n}"
        with psycopg.connect(admin, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if args.rebuild and exists:
                conn.execute(f"DROP DATABASE {name}")
                exists = None
            if not exists:
                conn.execute(f"CREATE DATABASE {name}")
        urls["PostgreSQL"] = admin.rsplit("/", 1)[0] + f"/{name}"
    if args.rebuild and sqlite_path.exists():
        sqlite_path.unlink()
    tagger = tagger_for(None)
    to_build = []
    for url in urls.values():
        engine = prepare_database(url, tagger)
        if not is_built(engine, n, args.seed):
            with engine.connect() as conn:
                count = conn.execute(text("SELECT count(*) FROM articles")).scalar()
            if count:
                raise SystemExit(f"{url} holds a partial build: run with --rebuild")
            to_build.append(url)
    close_all()
    if to_build:
        print(f"building {n:,} articles into {', '.join(to_build)}")
        seconds = build(to_build, n, args.seed, args.workers, min(n, args.distinct))
        print(f"built in {seconds:.0f} s")
    if args.build_only:
        return
    topics = sorted(t.slug for t in tagger.taxonomy.topics.values())
    lines = [
        "| database | query | runner | p50 ms | p95 ms | p99 ms | max ms | p95 < 100 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    runners: list[tuple[str, Callable[[ArticleQuery, str], object]]] = [("api", _api)]
    if args.baseline:
        runners.insert(
            0, (f"api, {args.baseline[:10]}", _through_api(baseline_queries(args.baseline)))
        )
    query_seed = args.seed if args.query_seed is None else args.query_seed
    load = os.getloadavg()
    for db_name, url in urls.items():
        close_all()
        for shape in shapes(topics):
            measured = measure_interleaved(
                url,
                shape,
                args.queries,
                query_seed,
                [run for _, run in runners],
                drop_caches if args.cold else None,
            )
            for (runner_name, _), samples in zip(runners, measured, strict=True):
                p50, p95, p99, worst = percentiles(samples)
                row = (
                    f"| {db_name} | {shape.name} | {runner_name} | {p50:.1f} | {p95:.1f} | "
                    f"{p99:.1f} | {worst:.0f} | {'yes' if p95 < 100 else '**no**'} |"
                )
                print(row, flush=True)
                lines.append(row)
                if args.slowest:
                    print(f"    slowest: {slowest(samples, args.slowest)}", flush=True)
    ended = os.getloadavg()
    with open(args.out, "a", encoding="utf-8") as out:
        out.write(
            f"\n### {args.label or 'run'}: {n:,} articles, {args.queries} queries per shape "
            f"(query seed {query_seed}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
            "load average 1/5/15 min "
            f"{' '.join(f'{x:.2f}' for x in load)} at the start, "
            f"{' '.join(f'{x:.2f}' for x in ended)} at the end)\n\n" + "\n".join(lines) + "\n"
        )


if __name__ == "__main__":
    main()
