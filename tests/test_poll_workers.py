"""Polling with the CPU work in worker processes: the same stored result as in one process.

Feeds served by a real loopback server (full-text feeds with their pages, summary feeds, an
Atom feed, a feed that is down, one that is not a feed, one with no entries) are polled with
``workers=1`` (everything in the polling process) and with a pool of two workers started from
the first call (``start_after=0``): the articles, their tags and signatures, the errors and the
feeds' states must not differ, and a re-poll must add nothing. :class:`CallPool` itself: where
calls run, errors, threads, a worker that dies, and Ctrl-C while its workers start.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from flows.cli import main
from newsflow.parallel import CallPool
from newsflow.pipeline import prepare_database, tagger_for
from newsflow.polling import FeedOutcome, feed_workers, poll_feeds
from newsflow.settings import Settings
from newsflow.sources import FeedSource
from storage import feeds, models
from tests.commands import ctrl_c_script
from tests.conftest import DATA
from tests.loopback import LoopbackServer, Reply
from tests.test_polling import settings_for
from tests.warcbuild import article_html, story

LIVE = DATA / "live"
TOPICS = ["trade", "energy", "sanctions", "arms control", "semiconductors"]


def _burn(seconds: float) -> int:
    """Spend ``seconds`` of CPU time in the calling thread; the process's id."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass
    return os.getpid()


def _exit_in_worker(value: int) -> int:
    """Kill the worker process it runs in (as a crash would); in the parent, ``value``."""
    if multiprocessing.parent_process() is not None:
        os._exit(3)
    return value


def _rss(base: str, name: str, numbers: range, *, link_only: bool = False) -> bytes:
    items = []
    for n in numbers:
        topic = TOPICS[n % len(TOPICS)]
        body = "" if link_only else f"<description>{' '.join(story(n, topic))}</description>"
        title = "" if link_only else f"<title>{name} story {n} on {topic}</title>"
        items.append(
            f"<item>{title}<link>{base}/{name}/{n}.html</link><guid>{name}-{n}</guid>"
            f"<pubDate>Mon, {n % 28 + 1:02d} Jun 2026 10:00:00 GMT</pubDate>{body}</item>"
        )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title>'
        f"{''.join(items)}</channel></rss>"
    ).encode()


def _atom(base: str, name: str, numbers: range) -> bytes:
    entries = "".join(
        f"<entry><title>{name} report {n}</title><id>urn:{name}:{n}</id>"
        f'<link href="{base}/{name}/{n}"/><updated>2026-06-{n % 28 + 1:02d}T09:00:00Z</updated>'
        f"<summary>{' '.join(story(n, 'sanctions'))}</summary></entry>"
        for n in numbers
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{name}</title><id>urn:{name}</id><updated>2026-06-30T00:00:00Z</updated>"
        f"{entries}</feed>"
    ).encode()


@pytest.fixture
def newsroom(loopback: LoopbackServer) -> Iterator[list[FeedSource]]:
    """Feeds of every kind on ``loopback``, with distinct stories (no feed copies another,
    so the order feeds are polled in does not change what is stored)."""
    base = loopback.base
    feed = (LIVE / "feed.xml").read_text(encoding="utf-8").replace("{base}", base)
    loopback.routes["/feed.xml"] = Reply(200, feed.encode(), {"ETag": '"v1"'})
    loopback.routes["/world/arms-talks.html"] = Reply(200, (LIVE / "arms-talks.html").read_bytes())
    loopback.routes["/energy/siberia-gas.html"] = Reply(
        200,
        (LIVE / "energy-deal.html").read_text(encoding="utf-8").encode("cp1252"),
        {"Content-Type": "text/html"},
        gzip=True,
    )
    loopback.routes["/wire.xml"] = Reply(200, _rss(base, "wire", range(1, 13)))
    loopback.routes["/longform.xml"] = Reply(200, _rss(base, "longform", range(20, 28)))
    for n in range(20, 27):  # 27: no page, the summary is kept
        paragraphs = [*story(n, "energy"), *story(n + 100, "trade"), *story(n + 200, "energy")]
        html = article_html(f"Longform {n}", paragraphs, published="2026-06-02T08:00:00Z")
        loopback.routes[f"/longform/{n}.html"] = Reply(200, html.encode())
    loopback.routes["/links.xml"] = Reply(200, _rss(base, "links", range(40, 44), link_only=True))
    for n in range(40, 43):  # 43: a link with no page, so no title: an error
        html = article_html(f"Linked story {n} on sanctions", story(n, "sanctions") * 3)
        loopback.routes[f"/links/{n}.html"] = Reply(200, html.encode())
    loopback.routes["/atom.xml"] = Reply(200, _atom(base, "bulletin", range(60, 70)))
    loopback.routes["/down.xml"] = Reply(503, b"maintenance")
    loopback.routes["/page.xml"] = Reply(200, b"<html><body>Not a feed</body></html>")
    loopback.routes["/empty.xml"] = Reply(
        200, b'<?xml version="1.0"?><rss version="2.0"><channel><title>e</title></channel></rss>'
    )
    yield [
        FeedSource("desk", loopback.url("/feed.xml"), fetch_full_text=True, tags=("trade",)),
        FeedSource("wire", loopback.url("/wire.xml"), tags=("energy",)),
        FeedSource("longform", loopback.url("/longform.xml"), fetch_full_text=True),
        FeedSource("links", loopback.url("/links.xml"), fetch_full_text=True),
        FeedSource("bulletin", loopback.url("/atom.xml")),
        FeedSource("down", loopback.url("/down.xml")),
        FeedSource("page", loopback.url("/page.xml")),
        FeedSource("empty", loopback.url("/empty.xml")),
    ]


def _poll(
    engine: Engine, settings: Settings, sources: list[FeedSource], workers: CallPool | None
) -> list[FeedOutcome]:
    due = [r for r in feeds.sync_feeds(engine, sources) if r.next_poll_at is None]
    return poll_feeds(
        due,
        engine=engine,
        tagger=tagger_for(settings.taxonomy),
        settings=settings,
        run_id=None,
        workers=workers,
    )


def _outcomes(outcomes: list[FeedOutcome]) -> list[tuple[Any, ...]]:
    return sorted(
        (
            o.name,
            o.outcome,
            o.status,
            o.error,
            o.error_kind,
            o.entries,
            o.skipped_known,
            o.result.counts(),
            [(p.origin, p.message) for p in o.problems],
        )
        for o in outcomes
    )


def stored(engine: Engine) -> dict[str, Any]:
    """Everything a poll stores, independent of row ids and of the order feeds finished in."""
    with Session(engine) as session:
        articles = session.scalars(select(models.Article)).unique().all()
        url_of = {a.id: a.url for a in articles}
        signatures = {
            s.article_id: (s.scheme, s.minhash, s.shingles)
            for s in session.scalars(select(models.ArticleSignature))
        }
        bands: dict[int, list[tuple[int, int]]] = {}
        for band in session.scalars(select(models.ArticleBand)):
            bands.setdefault(band.article_id, []).append((band.band, band.bucket))
        rows = sorted(
            (
                a.url or "",
                a.guid,
                a.source.name,
                a.title,
                a.text,
                a.language,
                a.authors,
                a.published_at,
                a.content_hash,
                a.word_count,
                url_of.get(a.duplicate_of) if a.duplicate_of else None,
                sorted((t.topic.slug, t.score, str(t.evidence), t.tagger_version) for t in a.tags),
                signatures.get(a.id),
                sorted(bands.get(a.id, [])),
            )
            for a in articles
        )
        errors = sorted(
            (e.origin, e.message) for e in session.scalars(select(models.IngestionError))
        )
    states = sorted(
        (
            f.name,
            f.last_outcome,
            f.last_status,
            f.etag,
            f.error_count,
            f.last_error,
            (f.next_poll_at - f.last_polled_at).total_seconds()
            if f.next_poll_at and f.last_polled_at
            else None,
        )
        for f in feeds.list_feeds(engine)
    )
    return {"articles": rows, "errors": errors, "feeds": states}


def test_call_pool_runs_here_until_enough_work_then_in_workers() -> None:
    with CallPool(2, start_after=0.2) as pool:
        assert pool.run(_burn, 0.1) == os.getpid() and not pool.started
        assert pool.run(_burn, 0.15) == os.getpid() and not pool.started  # 0.25 s: enough
        assert pool.run(os.getpid) == os.getpid()  # here while the workers start
        assert pool.started and pool.worker_calls == 0
        pool.start(wait=True)
        assert pool.run(os.getpid) != os.getpid()
        assert pool.worker_calls == 1
        with pytest.raises(ValueError, match="invalid literal for int"):
            pool.run(int, "twelve")  # raised in the worker, raised here
    assert not pool.started
    assert pool.run(os.getpid) == os.getpid()  # after close: here
    one = CallPool(1, start_after=0)
    assert one.run(_burn, 0.01) == os.getpid() and one.run(os.getpid) == os.getpid()
    assert not one.started and one.worker_calls == 0


def test_call_pool_takes_spare_processes_at_its_first_call() -> None:
    """Processes started ahead for a pool of its size serve a CallPool from its first call,
    however much ``start_after`` asks for; calls run here until they are ready."""
    from newsflow import parallel

    parallel.start_spare(2)
    try:
        spare = parallel._spare
        with CallPool(2, start_after=3600) as pool:
            pool.run(os.getpid)
            assert pool._executor is spare and parallel._spare is None
            pool.start(wait=True)
            assert pool.run(os.getpid) != os.getpid() and pool.worker_calls >= 1
        with CallPool(2, start_after=3600) as later:  # none left: this one waits as before
            assert later.run(os.getpid) == os.getpid() and not later.started
    finally:
        parallel._stop_spare()


def test_a_poll_of_many_feeds_starts_its_workers_early(tmp_path: Path) -> None:
    """``ingest --sources`` starts a poll's workers before Prefect when at least
    ``WORKERS_EARLY_FEEDS`` feeds are due and more than one worker is set."""
    from newsflow import parallel
    from newsflow.polling import WORKERS_EARLY_FEEDS, start_workers_for_poll
    from storage.models import utcnow

    url = f"sqlite:///{tmp_path / 'feeds.db'}"
    engine = prepare_database(url, tagger_for(None))
    feeds.sync_feeds(
        engine,
        [FeedSource(f"f{n}", f"http://127.0.0.1:9/{n}.xml") for n in range(WORKERS_EARLY_FEEDS)],
    )
    due = feeds.due_feeds(engine, utcnow())
    assert len(due) == WORKERS_EARLY_FEEDS
    try:
        for feeds_due, workers, started in [
            (due[:-1], 2, False),
            (due, 1, False),
            (due, 2, True),
        ]:
            settings = settings_for(url, workers=workers)
            assert start_workers_for_poll(feeds_due, settings) is started
            assert (parallel._spare is not None) is started
        with feed_workers(settings) as pool:
            pool.run(os.getpid)
            assert pool.started and parallel._spare is None
    finally:
        parallel._stop_spare()


def test_call_pool_from_many_threads() -> None:
    with CallPool(2, start_after=0) as pool, ThreadPoolExecutor(8) as threads:
        pool.start(wait=True)
        results = list(threads.map(lambda n: pool.run(pow, n, 2), range(200)))
        assert results == [n * n for n in range(200)]
        assert pool.worker_calls == 200
        pids = set(threads.map(lambda _: pool.run(_burn, 0.05), range(8)))
        assert os.getpid() not in pids


def test_a_worker_that_dies_costs_nothing_but_its_pool() -> None:
    with CallPool(2, start_after=0) as pool:
        pool.start(wait=True)
        assert pool.run(abs, -4) == 4 and pool.started
        assert pool.run(_exit_in_worker, 7) == 7  # the worker died: run here instead
        assert not pool.started
        assert pool.run(os.getpid) == os.getpid()  # not started again
    assert pool.worker_calls == 1


def test_polls_with_workers_store_what_one_process_stores(
    tmp_path: Path, newsroom: list[FeedSource], loopback: LoopbackServer
) -> None:
    results = []
    two = CallPool(2, start_after=0)
    two.start(wait=True)
    for name, pool in [("one", None), ("two", two)]:
        url = f"sqlite:///{tmp_path / f'{name}.db'}"
        engine = prepare_database(url, tagger_for(None))
        settings = settings_for(url, workers=1 if pool is None else 2, fetch_retries=0)
        first = _poll(engine, settings, newsroom, pool)
        pages = len(loopback.requests)
        with Session(engine) as session, session.begin():  # every feed due again
            for feed in session.scalars(select(models.Feed)):
                feed.next_poll_at = None
        again = _poll(engine, settings, newsroom, pool)
        if pool is not None:
            assert pool.started and pool.worker_calls >= 8  # parse, extract, process: there
            pool.close()
        refetched = [r.path for r in loopback.requests[pages:] if r.path.endswith(".html")]
        assert refetched == ["/links/43.html"]  # not stored (no title): tried again
        results.append((_outcomes(first), _outcomes(again), stored(engine)))
        loopback.requests.clear()
    assert results[0] == results[1]
    polled, repolled, state = results[0]
    by_name = {row[0]: row for row in polled}
    assert by_name["down"][1:5] == ("error", 503, "HTTP 503", "http")
    assert by_name["page"][4] == "parse" and "not an RSS" in by_name["page"][3]
    assert by_name["empty"][4] == "empty"
    assert sum(row[7]["new"] for row in polled) == 3 + 12 + 8 + 3 + 10
    assert all(row[7]["new"] == row[7]["updated"] == 0 for row in repolled)  # a no-op
    assert len(state["articles"]) == 36
    tags = {row[0]: {t[0] for t in row[11]} for row in state["articles"]}
    assert "trade" in tags[loopback.url("/world/arms-talks.html")]  # the feed's own tag
    longform = [row for row in state["articles"] if row[2] == "longform"]
    assert sum("Story 120" in row[4] for row in longform) == 1  # page text from a worker
    assert ("down", "error", 503, None, 2, "HTTP 503", 600 * 4.0) in state["feeds"]  # backed off


def test_a_summary_feed_is_handed_to_a_worker_once(
    tmp_path: Path, newsroom: list[FeedSource]
) -> None:
    """A feed whose entries are the articles is parsed, signed and tagged in one worker call;
    a full-text feed is parsed, each page extracted, then its articles processed."""
    url = f"sqlite:///{tmp_path / 'once.db'}"
    engine = prepare_database(url, tagger_for(None))
    settings = settings_for(url, workers=2)
    by_name = {source.name: source for source in newsroom}
    with CallPool(2, start_after=0) as pool:
        pool.start(wait=True)
        (wire,) = _poll(engine, settings, [by_name["wire"]], pool)
        assert (wire.result.new, pool.worker_calls) == (12, 1)
        (bulletin,) = _poll(engine, settings, [by_name["bulletin"]], pool)
        assert (bulletin.result.new, pool.worker_calls) == (10, 2)
        (longform,) = _poll(engine, settings, [by_name["longform"]], pool)
        assert longform.result.new == 8
        assert pool.worker_calls == 2 + 1 + 7 + 1  # parse, 7 pages, process


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="process groups are POSIX")
def test_ctrl_c_while_call_pool_workers_start_is_left_to_the_parent(tmp_path: Path) -> None:
    """A call from a thread starts the workers; a Ctrl-C to the process group while they
    import does not reach them: every later call is answered by a worker, no traceback."""
    done = ctrl_c_script(tmp_path, _CTRL_C_WHILE_CALLS_START)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["parent: Ctrl-C", "sum 210", "in workers 20"]
    assert "Traceback" not in done.stderr, done.stderr


_CTRL_C_WHILE_CALLS_START = """
import os, signal, threading
from concurrent.futures import ThreadPoolExecutor

from newsflow.parallel import CallPool

if __name__ == "__main__":
    import slow_start

    signal.signal(signal.SIGINT, lambda *_: print("parent: Ctrl-C", flush=True))
    threading.Timer(1.5, os.killpg, (os.getpgid(0), signal.SIGINT)).start()
    with CallPool(2, start_after=0, initializer=slow_start.ready) as pool:
        with ThreadPoolExecutor(4) as threads:
            threads.submit(pool.run, abs, -1).result()  # starts the workers, from a thread
            pool.start(wait=True)
            print("sum", sum(threads.map(lambda n: pool.run(abs, n), range(-20, 0))))
        print("in workers", pool.worker_calls)
"""


@pytest.mark.prefect
def test_poll_flow_and_cli_with_workers(
    prefect_server: None,
    tmp_path: Path,
    newsroom: list[FeedSource],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import flows.poll
    from flows.poll import poll_flow

    for name, value in [
        ("ALLOW_PRIVATE_ADDRESSES", "1"),
        ("HOST_DELAY", "0"),
        ("FETCH_BACKOFF", "0"),
        ("FETCH_RETRIES", "0"),
    ]:
        monkeypatch.setenv(f"NEWSFLOW_{name}", value)
    pools: list[CallPool] = []

    def started_at_once(settings: Settings, **_: object) -> CallPool:
        pools.append(feed_workers(settings, start_after=0))
        pools[-1].start(wait=True)
        return pools[-1]

    monkeypatch.setattr(flows.poll, "feed_workers", started_at_once)
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "feeds:\n"
        + "".join(
            f"  - {{name: {s.name}, url: '{s.url}', fetch_full_text: {s.fetch_full_text}, "
            f"tags: [{', '.join(s.tags)}]}}\n"
            for s in newsroom
        ),
        encoding="utf-8",
    )
    results = []
    for workers in (1, 2):
        url = f"sqlite:///{tmp_path / f'flow{workers}.db'}"
        summary = poll_flow(str(sources), database_url=url, workers=workers)
        assert pools[-1].workers == workers and not pools[-1].started  # closed at the end
        assert (pools[-1].worker_calls > 0) == (workers == 2)
        counts = summary.totals.counts()
        results.append((counts, sorted(summary.errors), summary.topics, stored(open_db(url))))
    assert results[0] == results[1]
    # three feeds; three pages not found, one of them a link with no title either
    assert results[0][0]["new"] == 36 and len(results[0][1]) == 3 + 4
    # the command passes --workers on to the flow
    monkeypatch.setenv("NEWSFLOW_WORKERS", "1")
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    code = main(["ingest", "--sources", str(sources), "--db", url, "--workers", "2"])
    assert code == 1 and "Polled 8 feeds" in capsys.readouterr().out  # three feeds failed
    assert pools[-1].workers == 2 and pools[-1].worker_calls > 0
    assert stored(open_db(url)) == results[0][3]


def open_db(url: str) -> Engine:
    return prepare_database(url, tagger_for(None))
