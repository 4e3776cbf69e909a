"""Parsing and processing in worker processes: the same result, in the same order, as in one.

A mixed tree (WARC with a page that has no text and a truncated archive, saved HTML, JSONL with
a bad line and a bad date, plain text with a binary file) goes through ingestion with
``workers=1`` (everything in this process) and ``workers=2`` (a pool, started because the tree
has more records than a batch); the prepared items, what is stored and the checkpoints of an
interrupted and resumed backfill must not differ.
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Iterator
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

import parsers
from newsflow.article import ProcessedArticle
from newsflow.backfill import (
    BackfillSummary,
    Done,
    Pending,
    Stored,
    plan_backfill,
    run_backfill,
)
from newsflow.errors import SourceError
from newsflow.parallel import WorkerPool
from newsflow.pipeline import (
    Preparer,
    neardup_config,
    prepare_batches,
    prepare_database,
    store_prepared,
    tagger_for,
)
from storage import models, repository
from storage.checkpoints import load_checkpoints
from tests.commands import ctrl_c_script
from tests.warcbuild import Record, article_html, page_record, story, write_warc

PREPARER = Preparer(None, neardup_config())
BATCH = 4
ARTICLES = 8 + 2 + 7 + 3 + 3  # WARC pages, the cut WARC's first two, JSONL, HTML, text


def _tree(root: Path) -> Path:
    """Every kind of input, with one bad record of each kind, and a WARC page with no article
    text (skipped, not an error)."""
    root.mkdir()
    records = [page_record(n, date=f"2026-03-{n:02d}T12:00:00Z") for n in range(1, 9)]
    records.insert(3, Record("https://news.example.org/menu", b"<html><nav>Home</nav></html>"))
    write_warc(root / "a-crawl.warc.gz", records, gzip=True)
    cut = write_warc(root / "b-cut.warc.gz", [page_record(n) for n in range(20, 23)], gzip=True)
    cut.write_bytes(cut.read_bytes()[:-200])
    lines = [
        json.dumps({"title": f"Dump story {n}", "text": " ".join(story(100 + n, "energy"))})
        for n in range(6)
    ]
    lines.insert(2, "{not json")
    lines.append(json.dumps({"title": "Undated", "text": "Some text.", "published": "soon"}))
    (root / "c-dump.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    pages = root / "pages"
    pages.mkdir()
    for n in range(3):
        html = article_html(f"Saved page {n} on arms control", story(200 + n, "arms control"))
        (pages / f"page-{n}.html").write_text(html, encoding="utf-8")
    notes = root / "notes"
    notes.mkdir()
    for n in range(3):
        text = f"Note {n} about sanctions\n\n" + "\n\n".join(story(300 + n, "sanctions"))
        (notes / f"note-{n}.txt").write_text(text, encoding="utf-8")
    (notes / "broken.txt").write_bytes(b"\x00\x01binary")
    return root


def _view(item: ProcessedArticle | SourceError) -> tuple[Any, ...]:
    if isinstance(item, SourceError):
        return ("error", item.origin, item.message)
    sig = item.signature.values.tolist() if item.signature is not None else None
    return (
        item.article,
        item.content_hash,
        [(t.topic, t.score, t.evidence) for t in item.tags],
        sig,
    )


def _prepared(tree: Path, workers: int) -> list[tuple[Any, ...]]:
    records = parsers.iter_records(tree)
    batches = prepare_batches(records, PREPARER, workers=workers, batch_size=BATCH)
    return [_view(item) for batch in batches for item in batch]


def _stored(engine: Engine) -> list[tuple[Any, ...]]:
    with Session(engine) as session:
        articles = session.scalars(select(models.Article).order_by(models.Article.id)).all()
        by_id = {a.id: a.title for a in articles}
        return [
            (a.title, a.url, a.content_hash, by_id.get(a.duplicate_of) if a.duplicate_of else None)
            for a in articles
        ]


def test_errors_and_records_pickle() -> None:
    error = pickle.loads(pickle.dumps(SourceError("dump.jsonl:3", "invalid JSON")))
    assert (error.origin, error.message) == ("dump.jsonl:3", "invalid JSON")
    assert pickle.loads(pickle.dumps(PREPARER)) == PREPARER


def test_pool_keeps_order_and_starts_only_for_enough_work() -> None:
    with WorkerPool(str, 2, start_after=5, chunk=2) as pool:
        assert list(pool.map(range(5))) == [str(n) for n in range(5)]
        assert not pool.started  # no more than one batch: mapped in this process
        assert list(pool.map(range(40))) == [str(n) for n in range(40)]
        assert pool.started
    assert not pool.started  # stopped on exit


def _worker_pid(_: object) -> int:
    return os.getpid()


def test_a_pool_takes_the_spare_processes_started_for_it() -> None:
    """Processes started ahead (start_spare) serve the next pool of as many workers, which
    starts none of its own; a pool of another size leaves them to the next one."""
    from newsflow import parallel

    parallel.start_spare(2)
    try:
        spare = parallel._spare
        assert spare is not None
        with WorkerPool(_worker_pid, 3, start_after=0, chunk=1) as other:
            list(other.map(range(6)))
            assert other._executor is not spare and parallel._spare is spare
        with WorkerPool(_worker_pid, 2, start_after=0, chunk=1) as pool:
            pids = set(pool.map(range(20)))
            assert pool._executor is spare and parallel._spare is None
        assert len(pids) <= 2 and os.getpid() not in pids
    finally:
        parallel._stop_spare()


def test_workers_are_started_early_for_more_than_a_batch(tmp_path: Path) -> None:
    """``ingest`` starts the workers before Prefect when its input holds more than a batch of
    records and more than one worker is set; not for the seeds, not with one worker."""
    from newsflow import parallel
    from newsflow.pipeline import start_workers_for
    from newsflow.settings import load_settings
    from tests.conftest import SEEDS

    tree = _tree(tmp_path / "tree")
    try:
        for paths, workers, batch, started in [
            ([SEEDS], 2, 100, False),
            ([tree], 1, BATCH, False),
            ([tree], 2, 100, False),
            ([SEEDS, tree], 2, BATCH, True),
        ]:
            settings = load_settings(workers=workers, batch_size=batch)
            assert start_workers_for(paths, settings) is started
            assert (parallel._spare is not None) is started
    finally:
        parallel._stop_spare()
    assert parallel._spare is None


def test_pool_reads_its_input_lazily() -> None:
    read = 0

    def numbers() -> Iterator[int]:
        nonlocal read
        for n in count():
            read += 1
            yield n

    with WorkerPool(str, 2, start_after=5, chunk=2, ahead=3) as pool:
        results = pool.map(numbers())
        assert [next(results) for _ in range(20)] == [str(n) for n in range(20)]
        assert read <= 20 + 3 * 2 + 2  # what was consumed, plus the chunks in flight
        results.close()


# A Ctrl-C sent to the whole process group while a worker is starting (importing slowly),
# as a terminal sends it. The parent records the signal, as the CLI does.
_CTRL_C_WHILE_STARTING = """
import os, signal, threading

from newsflow.parallel import WorkerPool

if __name__ == "__main__":
    import slow_start

    signal.signal(signal.SIGINT, lambda *_: print("parent: Ctrl-C"))
    threading.Timer(1.5, os.killpg, (os.getpgid(0), signal.SIGINT)).start()
    with WorkerPool(abs, 2, start_after=0, chunk=1, initializer=slow_start.ready) as pool:
        print("sum", sum(pool.map(range(-20, 0))))
"""


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="process groups are POSIX")
def test_ctrl_c_while_a_worker_starts_is_left_to_the_parent(tmp_path: Path) -> None:
    """Before, a worker still importing when Ctrl-C came raised KeyboardInterrupt there: a
    traceback on stderr and a broken pool. Now it is started with SIGINT blocked."""
    done = ctrl_c_script(tmp_path, _CTRL_C_WHILE_STARTING)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["parent: Ctrl-C", "sum 210"]
    assert "Traceback" not in done.stderr, done.stderr


def test_workers_prepare_the_same_items_in_the_same_order(tmp_path: Path) -> None:
    tree = _tree(tmp_path / "tree")
    one = _prepared(tree, workers=1)
    assert _prepared(tree, workers=2) == one
    errors = [view[1] for view in one if view[0] == "error"]
    assert len(errors) == 5  # each bad record (and the page with no text) in its place
    assert errors[0].startswith(f"{tree / 'a-crawl.warc.gz'}@") and "menu" in errors[0]
    assert errors[1].startswith(f"{tree / 'b-cut.warc.gz'}@")
    assert errors[2:] == [
        f"{tree / 'c-dump.jsonl'}:3",
        f"{tree / 'c-dump.jsonl'}:8",
        str(tree / "notes" / "broken.txt"),
    ]
    assert len(one) - len(errors) == ARTICLES


def test_workers_store_the_same_result(tmp_path: Path) -> None:
    tree = _tree(tmp_path / "tree")
    results = []
    for workers in (1, 2):
        engine = prepare_database(f"sqlite:///{tmp_path / f'w{workers}.db'}", tagger_for(None))
        records = parsers.iter_records(tree)
        totals = [
            store_prepared(batch, engine, None)
            for batch in prepare_batches(records, PREPARER, workers=workers, batch_size=BATCH)
        ]
        counts = [(t.new, t.duplicates, t.errors, t.no_text) for t in totals]
        results.append((_stored(engine), counts))
    assert results[0] == results[1]
    assert sum(errors for _, _, errors, _ in results[0][1]) == 4
    assert sum(no_text for _, _, _, no_text in results[0][1]) == 1  # the menu page


def _backfill(engine: Engine, tree: Path, workers: int, max_batches: int | None = None) -> Any:
    run_id = repository.start_run(engine, [str(tree)])
    summary = BackfillSummary(run_id, "test")

    def store(items: list[Stored]) -> Pending:
        return Done(store_prepared(items, engine, run_id))

    plan = plan_backfill([str(tree)], engine)
    return run_backfill(
        plan,
        store,
        summary,
        engine=engine,
        preparer=PREPARER,
        batch_size=BATCH,
        workers=workers,
        max_batches=max_batches,
    )


@pytest.mark.parametrize("stop_after", [1, 3, 5])
def test_backfill_resumed_with_workers_is_exact(tmp_path: Path, stop_after: int) -> None:
    tree = _tree(tmp_path / "tree")
    whole = prepare_database(f"sqlite:///{tmp_path / 'whole.db'}", tagger_for(None))
    _backfill(whole, tree, workers=1)
    engine = prepare_database(f"sqlite:///{tmp_path / 'resumed.db'}", tagger_for(None))
    first = _backfill(engine, tree, workers=2, max_batches=stop_after)
    assert first.stopped and first.batches == stop_after
    rest = _backfill(engine, tree, workers=2)
    assert not rest.stopped
    assert first.totals.new + rest.totals.new == len(_stored(whole))
    assert sorted(_stored(engine)) == sorted(_stored(whole))
    marks = load_checkpoints(engine, str(tree.resolve()))
    assert marks == load_checkpoints(whole, str(tree.resolve()))


def test_ingest_flow_with_workers(
    prefect_server: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.ingest import ingest_flow

    tree = _tree(tmp_path / "tree")
    outcomes = []
    for workers in ("1", "2"):
        monkeypatch.setenv("NEWSFLOW_WORKERS", workers)
        url = f"sqlite:///{tmp_path / f'flow{workers}.db'}"
        summary = ingest_flow([str(tree)], database_url=url, batch_size=BATCH)
        stored = _stored(prepare_database(url, tagger_for(None)))
        counts = {**summary.totals.counts(), "no_text": summary.totals.no_text}
        outcomes.append((counts, summary.errors, summary.topics, stored))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0]["new"] + outcomes[0][0]["duplicates"] == ARTICLES
    assert (len(outcomes[0][1]), outcomes[0][0]["no_text"]) == (4, 1)  # the menu page: skipped


def _frozen_objects(_: object) -> int:
    import gc

    return gc.get_freeze_count()


def test_start_up_objects_are_left_out_of_garbage_collection() -> None:
    """Workers freeze what their start-up loaded (trafilatura, the taxonomy): full collections
    no longer walk it. In the flow's process it is frozen for the run only."""
    import gc

    from newsflow.parallel import startup_frozen

    with WorkerPool(_frozen_objects, 2, start_after=0, chunk=1) as pool:
        assert min(pool.map(range(4))) > 10_000
    before = gc.get_freeze_count()
    with startup_frozen():
        assert gc.get_freeze_count() > before
    assert gc.get_freeze_count() == before
