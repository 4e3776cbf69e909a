"""Ingestion benchmark: the Prefect flow against a bare loop of the libraries, in one run.

    python bench/bench_pipeline.py [--sizes 10000,100000] [--kinds jsonl,feed,html,warc]
        [--feed-sizes 2000,10000] [--feed-entries 100] [--page-sizes 1000,4000] [--batch-size 100]
        [--modes bare,flow-w2,...] [--baseline COMMIT] [--postgres URL] [--out bench/results.md]

For each input kind and size (corpora from ``bench/corpus.py``, cached) it measures, each in a
subprocess of its own (so peak RSS is that run's alone):

1. **bare**: the libraries alone in a loop, no orchestration: read (``json`` / ``feedparser`` /
   file read / ``warcio``), extract (``trafilatura.bare_extraction`` with metadata for pages,
   ``lxml`` text of a feed entry's HTML), SHA-256 of the text, ``sqlite3`` ``executemany``
   insert committed per batch;
   **bare-all** is the same loop with the kinds of work newsflow adds, done by the libraries
   alone (:class:`SameWork`): an FTS5 index kept by a trigger, a datasketch MinHash checked
   against an in-memory LSH index, one pyahocorasick pass for the taxonomy's phrases, and
   their rows stored. It shows how much of the flow's time over **bare** is that work itself;
2. **stages**: newsflow's plain functions stage by stage (parse, extract, dedup keys: hash and
   near-dup signature, tag, store) into a fresh SQLite database, timed per stage;
3. **flow**: the Prefect flow as users run it: ``newsflow ingest PATH`` (``newsflow ingest
   --sources FILE`` for feeds, served from a loopback HTTP server), Prefect's start-up included;
   start-up alone is the same command over an empty directory (the median of
   ``--startup-rounds`` runs, alternating with the baseline's when there is one). Modes
   ``flow-w1``/``flow-w2`` are the same with ``NEWSFLOW_WORKERS=1`` (everything in one
   process) and ``=2`` (parsing, extraction, signing and tagging in two worker processes);
   ``served-w1``/``served-w2`` run it against a Prefect server the script started once
   beforehand (``PREFECT_API_URL``), as scheduled deployments run, so no temporary server
   starts with each run; their start-up is measured the same way. ``flow`` alone means the
   default worker count (one per CPU).

``--baseline COMMIT`` also runs each flow mode with that commit's code (``MODE@base``, the
commit's tree from ``git archive`` first on ``PYTHONPATH``), right after this tree's run of
the mode, so before and after are measured in one run on the same corpora. ``--postgres URL``
stores the flow modes' runs in a new PostgreSQL database on that server (``newsflow_bench_ingest``,
created afresh for each run) instead of SQLite; the bare loop and the stages stay on SQLite.

Peak memory: ``rss_mb`` is the largest single process (``ru_maxrss``: the CLI, or a worker if
larger); ``tree_mb`` the peak sum over the command's process tree (the CLI, its workers, the
temporary Prefect server), sampled from ``/proc`` every 0.2 s.

Feed files hold ``--feed-entries`` entries each (100 by default; 10 is closer to the feeds a
poll meets, and costs orchestration per feed rather than per entry).

Pages (``html``, ``warc``) go through trafilatura and feed entries through feedparser's
sanitiser, slower than JSONL records, so they have sizes of their own (``--page-sizes``,
``--feed-sizes``); ``--sizes 10000,100000 --feed-sizes 10000,100000 --page-sizes
10000,100000`` is the full-size run (about half an hour a pass at 100k pages on 2 idle cores).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import corpus  # noqa: E402
from newsflow.settings import Settings  # noqa: E402

PAGE_KINDS = ("html", "warc")


# --- reading the corpora ------------------------------------------------------------------


def _files(directory: Path, suffixes: tuple[str, ...]) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file() and p.name.endswith(suffixes))


def iter_pages(directory: Path, kind: str) -> Iterator[tuple[str, bytes]]:
    """(URL or path, HTML bytes) of every page of an ``html`` or ``warc`` corpus."""
    if kind == "html":
        for path in _files(directory, (".html",)):
            yield str(path), path.read_bytes()
        return
    from warcio.archiveiterator import ArchiveIterator

    for path in _files(directory, (".warc.gz",)):
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type == "response":
                    url = record.rec_headers.get_header("WARC-Target-URI")
                    yield url, record.content_stream().read()


# --- 1. the bare loop ---------------------------------------------------------------------


class SameWork:
    """What newsflow does to an article beyond the bare loop, done by the libraries alone
    (mode ``bare-all``): a full-text index (an FTS5 table kept by a trigger, with newsflow's
    tokenizer), a MinHash signature of the text's 5-word shingles (datasketch, with the XXH3
    hash newsflow uses) checked against and added to an LSH index of the originals
    (datasketch's, in memory) and stored, and one Aho-Corasick pass (pyahocorasick) for the
    taxonomy's phrases, each whole-word match tagging the topics that use the phrase.

    No rules beyond that (co-occurrence windows, exclusions, scores), no look-ups of stored
    records, no updates: the least work that produces the same kinds of data.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        import ahocorasick
        from datasketch import MinHash, MinHashLSH

        from processing.neardup import shingle_hash
        from processing.taxonomy import load_taxonomy

        conn.executescript(
            """
            CREATE VIRTUAL TABLE articles_fts USING fts5(title, text, content='articles',
                content_rowid='id', tokenize='porter unicode61 remove_diacritics 2');
            CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN
                INSERT INTO articles_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
            END;
            CREATE TABLE signatures (article_id INTEGER PRIMARY KEY, minhash BLOB,
                duplicate_of INTEGER);
            CREATE TABLE article_topics (article_id INTEGER, topic TEXT,
                PRIMARY KEY (article_id, topic));
            """
        )
        taxonomy = load_taxonomy(None)
        topics_of: dict[str, set[str]] = {}
        for topic in taxonomy.topics.values():
            for phrase in taxonomy.evidence_phrases(topic):
                topics_of.setdefault(phrase.lstrip("=").lower(), set()).add(topic.slug)
        self.automaton = ahocorasick.Automaton()
        for phrase, slugs in topics_of.items():
            self.automaton.add_word(phrase, (len(phrase), frozenset(slugs)))
        self.automaton.make_automaton()
        self.lsh = MinHashLSH(threshold=0.8, num_perm=128)
        self.minhash = MinHash
        self.shingle_hash = shingle_hash  # XXH3's low 32 bits, the hash newsflow signs with
        self.signatures: list[tuple[int, bytes, int | None]] = []
        self.tags: list[tuple[int, str]] = []

    def add(self, article_id: int, text: str) -> None:
        words = text.lower().split()
        shingles = {" ".join(words[i : i + 5]).encode() for i in range(max(len(words) - 4, 1))}
        minhash = self.minhash(num_perm=128, hashfunc=self.shingle_hash)
        minhash.update_batch(list(shingles))
        near = self.lsh.query(minhash)
        if not near:
            self.lsh.insert(article_id, minhash)
        self.signatures.append(
            (article_id, minhash.hashvalues.astype("uint32").tobytes(), near[0] if near else None)
        )
        lowered, found = text.lower(), set()
        for end, (length, slugs) in self.automaton.iter(lowered):
            start = end + 1 - length
            if (start == 0 or not lowered[start - 1].isalnum()) and (
                end + 1 == len(lowered) or not lowered[end + 1].isalnum()
            ):
                found.update(slugs)
        self.tags.extend((article_id, slug) for slug in found)

    def flush(self, conn: sqlite3.Connection) -> None:
        conn.executemany("INSERT INTO signatures VALUES (?, ?, ?)", self.signatures)
        conn.executemany("INSERT OR IGNORE INTO article_topics VALUES (?, ?)", self.tags)
        self.signatures, self.tags = [], []


def bare(
    kind: str, directory: Path, db: Path, batch_size: int, same_work: bool = False
) -> dict[str, Any]:
    started = time.perf_counter()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        "CREATE TABLE articles (id INTEGER PRIMARY KEY, url TEXT UNIQUE, title TEXT, "
        "text TEXT, published TEXT, content_hash TEXT)"
    )
    insert = (
        "INSERT OR IGNORE INTO articles (url, title, text, published, content_hash) "
        "VALUES (?, ?, ?, ?, ?)"
    )
    extra = SameWork(conn) if same_work else None
    if extra is not None:  # ids given here, for the signature and topic rows
        insert = (
            "INSERT OR IGNORE INTO articles (id, url, title, text, published, content_hash) "
            "VALUES (?, ?, ?, ?, ?, ?)"
        )
    rows: list[tuple[object, ...]] = []
    count = 0

    def add(url: object, title: object, text: str, published: object) -> None:
        nonlocal rows, count
        digest = hashlib.sha256(text.encode()).hexdigest()
        count += 1
        if extra is None:
            rows.append((url, title, text, published, digest))
        else:
            rows.append((count, url, title, text, published, digest))
            extra.add(count, text)
        if len(rows) == batch_size:
            conn.executemany(insert, rows)
            if extra is not None:
                extra.flush(conn)
            conn.commit()
            rows = []

    if kind == "jsonl":
        with (directory / "articles.jsonl").open("rb") as handle:
            for line in handle:
                r = json.loads(line)
                add(r["url"], r["title"], r["text"], r["published"])
    elif kind == "feed":
        import feedparser
        import lxml.html

        for path in _files(directory, (".rss", ".atom")):
            for entry in feedparser.parse(path.read_bytes()).entries:
                content = entry.get("content") or [{"value": entry.get("summary", "")}]
                text = lxml.html.fromstring(content[0]["value"]).text_content()
                add(entry.get("link"), entry.get("title"), text, entry.get("published"))
    else:
        import trafilatura

        for url, page in iter_pages(directory, kind):
            doc = trafilatura.bare_extraction(page.decode("utf-8"), with_metadata=True)
            if doc is None:
                continue
            d = doc if isinstance(doc, dict) else doc.as_dict()
            add(d.get("url") or url, d.get("title"), str(d.get("text") or ""), d.get("date"))
    if rows:
        conn.executemany(insert, rows)
    if extra is not None:
        extra.flush(conn)
    conn.commit()
    conn.close()
    return {"seconds": time.perf_counter() - started, "articles": count}


# --- 2. newsflow's plain functions, stage by stage ------------------------------------------


def stages(kind: str, directory: Path, db: Path, batch_size: int) -> dict[str, Any]:
    from newsflow.article import Article, ProcessedArticle
    from newsflow.errors import SourceError
    from newsflow.pipeline import neardup_config, prepare_database, tag_document, tagger_for
    from parsers import batched, iter_path
    from processing.dedup import dedup_basis, hash_of_basis
    from processing.neardup import signature_of_basis
    from storage.repository import BatchResult, store_batch

    started = time.perf_counter()
    tagger = tagger_for(None)
    near = neardup_config()
    engine = prepare_database(f"sqlite:///{db}", tagger)
    times = dict.fromkeys(("parse", "extract", "dedup", "tag", "store"), 0.0)
    totals = BatchResult()

    def process_and_store(articles: list[Article]) -> None:
        t0 = time.perf_counter()
        bases = [dedup_basis(a) for a in articles]  # normalised once for both keys, as in the flow
        keys = [
            (hash_of_basis(b), signature_of_basis(b, near) if near.enabled else None) for b in bases
        ]
        t1 = time.perf_counter()
        tags = [tag_document(tagger, a.document) for a in articles]
        t2 = time.perf_counter()
        items = [
            ProcessedArticle(a, h, t, tagger.version, s)
            for a, (h, s), t in zip(articles, keys, tags, strict=True)
        ]
        totals.add(store_batch(engine, items, near))
        t3 = time.perf_counter()
        times["dedup"] += t1 - t0
        times["tag"] += t2 - t1
        times["store"] += t3 - t2

    def timed_batches(items: Iterator[Any], stage: str) -> Iterator[list[Any]]:
        batches = batched(items, batch_size)
        while True:
            t0 = time.perf_counter()
            batch = next(batches, None)
            times[stage] += time.perf_counter() - t0
            if batch is None:
                return
            yield batch

    if kind == "jsonl":
        # Parsing and cleaning (and HTML to text, for HTML bodies) happen in one reader.
        for batch in timed_batches(iter_path(directory / "articles.jsonl"), "parse"):
            process_and_store([a for a in batch if isinstance(a, Article)])
    elif kind == "feed":
        from parsers.feed import parse_feed

        def feed_articles() -> Iterator[Article]:
            for path in _files(directory, (".rss", ".atom")):
                parsed = parse_feed(path.read_bytes(), source=path.stem, origin=path.as_uri())
                yield from (item.article for item in parsed.items)

        for batch in timed_batches(feed_articles(), "parse"):
            process_and_store(batch)
    else:
        from parsers.extract import extract_page

        for batch in timed_batches(iter_pages(directory, kind), "parse"):
            t0 = time.perf_counter()
            articles = []
            for origin, page in batch:
                content = extract_page(page.decode("utf-8"), origin)
                if content is not None:
                    articles.append(
                        Article(
                            source=directory.name,
                            title=content.title,
                            text=content.text,
                            origin=origin,
                            url=origin if origin.startswith("http") else None,
                            guid=None if origin.startswith("http") else Path(origin).name,
                        )
                    )
            times["extract"] += time.perf_counter() - t0
            process_and_store(articles)
    del SourceError
    return {
        "seconds": time.perf_counter() - started,
        "stages": times,
        "articles": totals.read,
        "new": totals.new,
        "duplicates": totals.duplicates,
        "topics": dict(totals.topics),
    }


# --- 3. the flow, as users run it ---------------------------------------------------------


def _env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API", "NEWSFLOW_"))}
    env["PREFECT_HOME"] = str(home / ".prefect")
    return {**env, **(extra or {})}


def _tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and its descendants, now (Linux ``/proc``)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
            except (OSError, ValueError):
                continue
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        tree.update(children)
        frontier.extend(children)
    total = 0
    for pid in tree:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return total * os.sysconf("SC_PAGE_SIZE")


class _TreeSampler(threading.Thread):
    """The peak of :func:`_tree_rss` while a process runs."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.2):
            self.peak = max(self.peak, _tree_rss(self.pid))


LAST_TREE_MB = [0.0]
LAST_TREE_CPU = [0.0]


def run(
    command: list[str], cwd: Path, extra_env: dict[str, str] | None = None
) -> tuple[float, float, str]:
    """Run ``command``; its wall time, its peak RSS in MB and its output.

    The peak of its whole process tree is left in ``LAST_TREE_MB[0]``, the CPU seconds (user
    and system) of the command and of the processes it waited for in ``LAST_TREE_CPU[0]``.
    """
    started = time.perf_counter()
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        env=_env(cwd, extra_env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    sampler = _TreeSampler(proc.pid)
    sampler.start()
    assert proc.stdout is not None
    output = proc.stdout.read().decode("utf-8", "replace")
    sampler.done.set()
    sampler.join()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - started
    if proc.returncode not in (0,):
        raise SystemExit(f"{' '.join(command)} failed ({proc.returncode}):\n{output[-3000:]}")
    LAST_TREE_MB[0] = sampler.peak / 2**20
    LAST_TREE_CPU[0] = usage.ru_utime + usage.ru_stime
    return elapsed, usage.ru_maxrss / 1024, output


# The installed command's entry point (flows/entry.py), or flows.cli's in a baseline older than it.
ENTRY = """
from pathlib import Path
import flows
if (Path(flows.__file__).parent / "entry.py").exists():
    from flows.entry import run
else:
    from flows.cli import run
run()
"""


def newsflow(
    args: list[str], cwd: Path, extra_env: dict[str, str] | None = None
) -> tuple[float, float, dict[str, Any]]:
    seconds, rss, output = run(
        [sys.executable, "-c", ENTRY, *args, "--format", "json"],
        cwd,
        extra_env,
    )
    summary, _ = json.JSONDecoder().raw_decode(output[output.index("{") :])
    return seconds, rss, summary


def _startup_key(mode: str) -> str:
    """The start-up a flow mode shares with others: ``flow``, ``served``, ``flow@base``."""
    kind, _, tag = mode.partition("@")
    return kind.split("-")[0] + (f"@{tag}" if tag else "")


def flow_env(mode: str, api_url: str | None, baseline: Path | None = None) -> dict[str, str]:
    """The environment of a flow mode: ``flow``, ``flow-w2``, ``served-w1``, ``flow-w2@base``...

    ``@base`` runs the code of ``--baseline`` (extracted to ``baseline``) instead of this tree's.
    """
    env: dict[str, str] = {}
    mode, _, tag = mode.partition("@")
    if tag:
        assert baseline is not None
        env["PYTHONPATH"] = str(baseline)
    kind, _, workers = mode.partition("-w")
    if workers:
        env["NEWSFLOW_WORKERS"] = workers
    if kind == "served":
        assert api_url is not None
        env["PREFECT_API_URL"] = api_url
    return env


class PrefectServer:
    """A Prefect server running beside the measured commands (as for scheduled deployments)."""

    def __init__(self, work: Path) -> None:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.api_url = f"http://127.0.0.1:{port}/api"
        env = _env(work, {"PREFECT_UI_ENABLED": "0", "PREFECT_SERVER_ANALYTICS_ENABLED": "0"})
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "uvicorn", "--factory"),
                "prefect.server.api.server:create_app",
                *("--host", "127.0.0.1", "--port", str(port), "--log-level", "critical"),
            ],
            cwd=work,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import httpx

        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.api_url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise SystemExit("the Prefect server did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def flow(
    kind: str,
    directory: Path,
    url: str,
    batch_size: int,
    work: Path,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    if kind != "feed":
        target = directory / "articles.jsonl" if kind == "jsonl" else directory
        seconds, rss, out = newsflow(
            ["ingest", str(target), "--db", url, "--batch-size", str(batch_size)], work, env
        )
        return _flow_result(seconds, rss, out)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        sources = work / f"sources-{directory.name}.yaml"
        sources.write_text(
            "feeds:\n"
            + "".join(
                f"  - name: {p.stem}\n    url: http://127.0.0.1:{port}/{p.name}\n"
                for p in _files(directory, (".rss", ".atom"))
            ),
            encoding="utf-8",
        )
        # All the feeds are on one loopback server, so one host: its politeness delay would
        # space the fetches host_delay apart and time the waiting. A real poll spreads its feeds
        # over many hosts, which do not wait on each other.
        no_delay = {**(env or {}), "NEWSFLOW_HOST_DELAY": "0"}
        seconds, rss, out = newsflow(
            ["ingest", "--sources", str(sources), "--db", url], work, no_delay
        )
    finally:
        server.shutdown()
    return _flow_result(seconds, rss, out)


def _flow_result(seconds: float, rss: float, out: dict[str, Any]) -> dict[str, Any]:
    """One flow run's figures: time, peak RSS of its process and of its tree, what it stored."""
    return {
        "seconds": seconds,
        "rss_mb": rss,
        "tree_mb": LAST_TREE_MB[0],
        "cpu_s": LAST_TREE_CPU[0],
        "new": out["new"],
        "read": out["read"],
    }


# --- the run --------------------------------------------------------------------------------


def worker(
    mode: str, kind: str, directory: Path, db: Path, batch_size: int, work: Path
) -> dict[str, Any]:
    """Run one measurement in a subprocess of its own; its result with its peak RSS."""
    seconds, rss, output = run(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--worker",
            mode,
            "--kinds",
            kind,
            "--input",
            str(directory),
            "--db",
            str(db),
            "--batch-size",
            str(batch_size),
        ],
        work,
    )
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    result["rss_mb"] = rss
    result["tree_mb"] = LAST_TREE_MB[0]
    result["process_seconds"] = seconds
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="sizes for jsonl")
    parser.add_argument("--feed-sizes", default="2000,10000", help="sizes for feed")
    parser.add_argument("--page-sizes", default="1000,4000", help="sizes for html and warc")
    parser.add_argument(
        "--feed-entries",
        type=int,
        default=corpus.PER_FEED,
        help="entries per feed file (the feed input of 10,000 entries is 100 feeds by default)",
    )
    parser.add_argument("--kinds", default="jsonl,feed,html,warc")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=Settings.model_fields["batch_size"].default,
        help="articles per batch (default: newsflow's batch_size)",
    )
    parser.add_argument(
        "--startup-rounds",
        type=int,
        default=3,
        help="start-up runs of each flow mode (and its baseline), alternating: the median",
    )
    parser.add_argument(
        "--modes",
        default="bare,stages,flow-w1,flow-w2,served-w1,served-w2",
        help="bare, bare-all, stages, flow[-wN] (temporary Prefect server), served[-wN] "
        "(running server)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.md")
    parser.add_argument(
        "--baseline",
        default=None,
        help="a git commit: each flow mode also runs with that commit's code (MODE@base), "
        "right after this tree's, in the same run",
    )
    parser.add_argument(
        "--postgres",
        default=None,
        help="a PostgreSQL server URL: the flow modes store into a new database there "
        "(newsflow_bench_ingest, created afresh for each run) instead of SQLite",
    )
    parser.add_argument("--worker", choices=["bare", "bare-all", "stages"], help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        call = (args.kinds, args.input, args.db, args.batch_size)
        if args.worker == "stages":
            print(json.dumps(stages(*call)))
        else:
            print(json.dumps(bare(*call, same_work=args.worker == "bare-all")))
        return
    kinds = args.kinds.split(",")
    modes = args.modes.split(",")
    if args.baseline:
        modes = [
            m for mode in modes for m in ([mode, f"{mode}@base"] if _is_flow(mode) else [mode])
        ]
    results: list[dict[str, Any]] = []
    load = {"before": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="newsflow-bench-") as tmp:
        work = Path(tmp)
        # The first run in a fresh PREFECT_HOME also creates Prefect's own database: do it
        # once, unmeasured; then start-up alone is an ingest of an empty directory.
        empty = work / "empty"
        empty.mkdir()
        baseline = extract_commit(args.baseline, work / "baseline") if args.baseline else None
        newsflow(["ingest", str(ROOT / "seeds"), "--db", f"sqlite:///{work / 'warm.db'}"], work)
        server = PrefectServer(work) if any(m.startswith("served") for m in modes) else None
        api_url = server.api_url if server else None
        startup: dict[str, tuple[float, float]] = {}
        try:
            # each flow mode's start-up (and its baseline's), the variants alternating for
            # --startup-rounds rounds: the median
            variants = sorted({_startup_key(m) for m in modes if _is_flow(m)})
            seen: dict[str, list[tuple[float, float]]] = {v: [] for v in variants}
            for _ in range(args.startup_rounds):
                for variant in variants:
                    env = flow_env(variant, api_url, baseline)
                    # a database per variant: a baseline's code may not know this tree's schema
                    db = work / f"startup-{variant.replace('@', '-')}.db"
                    seconds, rss, _ = newsflow(
                        ["ingest", str(empty), "--db", f"sqlite:///{db}"], work, env
                    )
                    seen[variant].append((seconds, rss))
            for variant, runs in seen.items():
                ordered = sorted(runs)
                startup[variant] = ordered[len(ordered) // 2]
                print(
                    f"start-up ({variant}): {startup[variant][0]:.1f} s "
                    f"({', '.join(f'{sec:.1f}' for sec, _ in runs)}), "
                    f"{startup[variant][1]:.0f} MB",
                    flush=True,
                )
            for kind in kinds:
                sizes = {"feed": args.feed_sizes, "jsonl": args.sizes}.get(kind, args.page_sizes)
                for n in (int(s) for s in sizes.split(",") if s):
                    t0 = time.perf_counter()
                    per_feed = args.feed_entries if kind == "feed" else None
                    directory = corpus.corpus(kind, n, per_feed=per_feed)
                    made = time.perf_counter() - t0
                    row: dict[str, Any] = {
                        "kind": kind,
                        "input": kind
                        if per_feed in (None, corpus.PER_FEED)
                        else f"feed ({per_feed} a file)",
                        "n": n,
                        "mb": corpus.size_mb(directory),
                        "generated_s": made,
                    }
                    for mode in modes:
                        db = work / f"{mode}-{kind}-{n}.db"
                        if _is_flow(mode):
                            env = flow_env(mode, api_url, baseline)
                            url = (
                                new_postgres(args.postgres) if args.postgres else f"sqlite:///{db}"
                            )
                            row[mode] = flow(kind, directory, url, args.batch_size, work, env)
                        else:
                            row[mode] = worker(mode, kind, directory, db, args.batch_size, work)
                        row[mode]["load"] = os.getloadavg()[0]
                        print(kind, n, mode, json.dumps(row[mode]), flush=True)
                        db.unlink(missing_ok=True)
                    results.append(row)
        finally:
            if server:
                server.stop()
    load["after"] = os.getloadavg()
    report = markdown(results, startup, load, modes, args)
    args.out.write_text(report, encoding="utf-8")
    (args.out.with_suffix(".json")).write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(report)


def _table_head(caption: str, columns: list[str]) -> list[str]:
    """A captioned table's first lines: one row per input, a column per mode."""
    return [
        "",
        caption,
        "",
        "| input | articles |" + "".join(f" {c} |" for c in columns),
        "|---|---|" + "---|" * len(columns),
    ]


def _is_flow(mode: str) -> bool:
    return mode.startswith(("flow", "served"))


def extract_commit(commit: str, directory: Path) -> Path:
    """The tree of ``commit`` in ``directory`` (``git archive``): a baseline's code."""
    directory.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", commit], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(directory)], input=archive, check=True)
    return directory


BENCH_DATABASE = "newsflow_bench_ingest"


def new_postgres(server: str, database: str = BENCH_DATABASE) -> str:
    """A new, empty ``database`` on the PostgreSQL ``server`` (dropped first if it exists);
    its SQLAlchemy URL."""
    import psycopg

    admin = server.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {database}")
    base = admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{database}"


def _flow_seconds(
    row: dict[str, Any], mode: str, startup: dict[str, tuple[float, float]]
) -> tuple[float | None, float | None]:
    """A flow mode's seconds on an input, and the same without the mode's start-up."""
    seconds: float | None = row.get(mode, {}).get("seconds")
    if not seconds:
        return None, None
    return seconds, seconds - startup.get(_startup_key(mode), (0.0, 0.0))[0]


def markdown(
    results: list[dict[str, Any]],
    startup: dict[str, tuple[float, float]],
    load: dict[str, tuple[float, float, float]],
    modes: list[str],
    args: Any,
) -> str:
    command = "python bench/bench_pipeline.py " + " ".join(
        f"--{k.replace('_', '-')} {v}"
        for k, v in (
            ("sizes", args.sizes),
            ("feed_sizes", args.feed_sizes),
            ("page_sizes", args.page_sizes),
            ("feed_entries", args.feed_entries if args.feed_entries != corpus.PER_FEED else None),
            ("kinds", args.kinds),
            ("batch_size", args.batch_size),
            ("startup_rounds", args.startup_rounds),
            ("modes", args.modes),
            ("baseline", args.baseline),
            ("postgres", args.postgres),
        )
        if v
    )

    def fmt(x: float | None, spec: str = ".1f") -> str:
        return "" if x is None else format(x, spec)

    def times(part: float | None, whole: float | None) -> str:
        """``part / whole`` as a ratio cell ("1.23x"), empty when either is missing."""
        return f"{fmt(part / whole if part and whole else None, '.2f')}x"

    def loads(values: tuple[float, ...]) -> str:
        return " / ".join(f"{v:.1f}" for v in values)

    lines = [
        "# Ingestion benchmark",
        "",
        f"Produced by `{command}` on {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC: "
        f"Python {sys.version.split()[0]}, {os.cpu_count()} cores. Load average (1/5/15 min) "
        f"{loads(load['before'])} before, {loads(load['after'])} after (the cores are shared "
        "with other work: absolute times are noisy; every ratio compares runs of the same "
        "invocation).",
        "",
        f"Start-up (`newsflow ingest` of an empty directory, median of {args.startup_rounds}): "
        + "; ".join(
            f"{name} {sec:.1f} s, peak RSS {rss:.0f} MB" for name, (sec, rss) in startup.items()
        )
        + ".",
        "",
    ]
    flows = [m for m in modes if _is_flow(m)]
    head = "| input | articles | MB | bare s |" + "".join(
        f" {m} s | {m} / bare |" for m in ["bare-all", "stages", *flows] if m in modes
    )
    lines += [head, "|---|---|---|---|" + "---|---|" * (head.count("/ bare"))]
    for r in results:
        bs = r.get("bare", {}).get("seconds")
        cells = [f"| {r['input']} | {r['n']:,} | {r['mb']:.0f} | {fmt(bs)} |"]
        for m in ["bare-all", "stages", *flows]:
            if m not in modes:
                continue
            sec = r.get(m, {}).get("seconds")
            cells.append(f" {fmt(sec)} | {times(sec, bs)} |")
        lines.append("".join(cells))
    if flows:
        lines += [
            "",
            "The flow without its start-up (flow s − the same mode's start-up s), against bare:",
            "",
            "| input | articles |" + "".join(f" {m} − start-up s | / bare |" for m in flows),
            "|---|---|" + "---|---|" * len(flows),
        ]
        for r in results:
            bs = r.get("bare", {}).get("seconds")
            cells = [f"| {r['input']} | {r['n']:,} |"]
            nets = [_flow_seconds(r, m, startup)[1] for m in flows]
            lines.append("".join(cells + [f" {fmt(net)} | {times(net, bs)} |" for net in nets]))
    if "bare-all" in modes and flows:
        lines += [
            "",
            "Against the libraries doing the same kinds of work (bare-all: full-text index, "
            "MinHash and LSH, phrase matching; see `SameWork`):",
            "",
            "| input | articles | bare-all s |"
            + "".join(f" {m} / bare-all | − start-up |" for m in flows),
            "|---|---|---|" + "---|---|" * len(flows),
        ]
        for r in results:
            full = r.get("bare-all", {}).get("seconds")
            cells = [f"| {r['input']} | {r['n']:,} | {fmt(full)} |"]
            pairs = [_flow_seconds(r, m, startup) for m in flows]
            lines.append(
                "".join(
                    cells + [f" {times(sec, full)} | {times(net, full)} |" for sec, net in pairs]
                )
            )
    if "stages" in modes:
        lines += [
            "",
            "Per-stage time of newsflow's plain functions in one process (seconds, share):",
            "",
            "| input | articles | parse | extract | dedup keys | tag | store |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in results:
            st = r.get("stages", {}).get("stages")
            if not st:
                continue
            total = sum(st.values()) or 1.0
            shares = " | ".join(
                f"{st[k]:.1f} ({st[k] / total:.0%})"
                for k in ("parse", "extract", "dedup", "tag", "store")
            )
            lines.append(f"| {r['input']} | {r['n']:,} | {shares} |")
    lines += _table_head(
        "Peak memory (MB): largest single process / sum over the process tree (CLI, workers, "
        "temporary Prefect server); the load average (1 min) when each run ended.",
        modes,
    )
    for r in results:
        lines.append(
            f"| {r['input']} | {r['n']:,} |"
            + "".join(
                f" {r.get(m, {}).get('rss_mb', 0):.0f} / {r.get(m, {}).get('tree_mb', 0):.0f}"
                f" (load {r.get(m, {}).get('load', 0):.1f}) |"
                for m in modes
            )
        )
    if flows:
        lines += _table_head(
            "CPU seconds of each flow run's process tree (user + system, the processes it "
            "waited for included), and the cores kept busy on average (CPU s / wall s):",
            flows,
        )
        for r in results:
            cells = [f"| {r['input']} | {r['n']:,} |"]
            for m in flows:
                cpu, sec = r.get(m, {}).get("cpu_s"), r.get(m, {}).get("seconds")
                busy = f" ({cpu / sec:.2f} cores)" if cpu and sec else ""
                cells.append(f" {fmt(cpu)}{busy} |")
            lines.append("".join(cells))
    lines += [
        "",
        "Stored (new / read): "
        + "; ".join(
            f"{r['input']} {r['n']:,}: "
            + ", ".join(
                f"{m} {r[m].get('new', '')} / {r[m].get('read', r[m].get('articles', ''))}"
                for m in modes
                if m in r and m not in ("bare", "bare-all")
            )
            for r in results
        ),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
