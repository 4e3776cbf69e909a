"""Backfills as plain functions: date filters, checkpoints, interruption and resume.

On SQLite and PostgreSQL; the records are prepared by the same :class:`Preparer` and the
batches stored by the same plain ``store_prepared`` the flow's ``store-batch`` task wraps.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from newsflow.article import Article
from newsflow.backfill import (
    BackfillSummary,
    DateWindow,
    Done,
    Pending,
    Stored,
    plan_backfill,
    run_backfill,
    total_bytes,
)
from newsflow.pipeline import Preparer, neardup_config, store_prepared
from storage import models, repository
from storage.checkpoints import load_checkpoints
from storage.repository import BatchResult
from tests.warcbuild import Record, article_html, page_record, story, write_warc

PREPARER = Preparer(None, neardup_config())


def _backfill(
    engine: Engine,
    paths: list[Path],
    *,
    batch_size: int = 4,
    window: DateWindow | None = None,
    restart: bool = False,
    max_batches: int | None = None,
    concurrency: int = 2,
    submit: object = None,
    workers: int = 1,
) -> BackfillSummary:
    run_id = repository.start_run(engine, [str(p) for p in paths])
    summary = BackfillSummary(run_id, "test", window or DateWindow(), restart)

    def plain(items: list[Stored]) -> Pending:
        return Done(store_prepared(items, engine, run_id))

    plan = plan_backfill([str(p) for p in paths], engine, restart=restart)
    run_backfill(
        plan,
        submit or plain,  # type: ignore[arg-type]
        summary,
        engine=engine,
        preparer=PREPARER,
        batch_size=batch_size,
        concurrency=concurrency,
        workers=workers,
        max_batches=max_batches,
    )
    return summary


def _stored(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return sorted(session.scalars(select(models.Article.title)))


def _crawl(tmp_path: Path, count: int, *, gzip: bool = True) -> Path:
    records = [
        page_record(n, date=f"2026-03-{n % 28 + 1:02d}T12:00:00Z") for n in range(1, count + 1)
    ]
    return write_warc(tmp_path / ("crawl.warc.gz" if gzip else "crawl.warc"), records, gzip=gzip)


def _dump(tmp_path: Path, count: int) -> Path:
    path = tmp_path / "dump.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for n in range(1, count + 1):
            record = {
                "title": f"Dump story {n}",
                "text": " ".join(story(1000 + n)),
                "url": f"https://dump.example.org/{n}",
                "published": f"2025-06-{n % 28 + 1:02d}",
            }
            handle.write(json.dumps(record) + "\n")
            if n % 5 == 0:
                handle.write("\n{broken\n")
    return path


def _tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    (root / "pages").mkdir(parents=True)
    (root / "notes").mkdir()
    (root / "notes" / "a.txt").write_text("Trade note A\n\n" + "\n\n".join(story(501)))
    (root / "notes" / "b.txt").write_text("Trade note B\n\n" + "\n\n".join(story(502)))
    (root / "pages" / "p.html").write_text(
        article_html("Saved page", story(503), canonical="https://pages.example.org/p"),
        encoding="utf-8",
    )
    (root / "pages" / "list.json").write_text(
        json.dumps([{"title": f"Json {n}", "text": " ".join(story(600 + n))} for n in range(3)])
    )
    write_warc(root / "c.warc.gz", [page_record(n) for n in range(700, 705)], gzip=True)
    _dump(root, 6)
    return root


def test_date_window() -> None:
    def at(day: str | None) -> Article:
        published = datetime.fromisoformat(day).replace(tzinfo=UTC) if day else None
        return Article("s", "t", "x", "o", published=published)

    window = DateWindow(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC))
    assert [window.admits(at(d)) for d in ("2026-02-28", "2026-03-01", "2026-03-02T23:59")] == [
        False,
        True,
        True,
    ]
    assert not window.admits(at("2026-03-03"))
    assert not window.admits(at(None))
    assert DateWindow(until=window.until, include_undated=True).admits(at(None))
    assert DateWindow().admits(at(None))


def test_tree_then_second_run_adds_nothing(engine: Engine, tmp_path: Path) -> None:
    root = _tree(tmp_path)
    first = _backfill(engine, [root])
    t = first.totals
    # 2 notes + 1 page + 3 JSON + 5 WARC pages + 6 JSONL lines; 1 broken JSONL line
    assert (t.new, t.errors, t.duplicates) == (17, 1, 0)
    [report] = first.inputs
    assert (report.files, report.files_complete_before, report.read) == (6, 0, 18)
    stored = _stored(engine)
    assert len(stored) == 17
    assert len(load_checkpoints(engine, str(root.resolve()))) == 6
    assert all(c.completed for c in load_checkpoints(engine, str(root.resolve())).values())

    second = _backfill(engine, [root])
    assert second.read == 0 and second.batches == 0
    assert second.inputs[0].files_complete_before == 6
    restarted = _backfill(engine, [root], restart=True)
    assert (restarted.totals.unchanged, restarted.totals.new) == (17, 0)
    assert _stored(engine) == stored


@pytest.mark.parametrize("kind", ["warc.gz", "warc", "jsonl", "tree"])
def test_interrupted_then_resumed_loses_and_doubles_nothing(
    engine: Engine, tmp_path: Path, kind: str
) -> None:
    if kind == "tree":
        path = _tree(tmp_path)
        expected = 17
    elif kind == "jsonl":
        path = _dump(tmp_path, 23)
        expected = 23
    else:
        path = _crawl(tmp_path, 23, gzip=kind == "warc.gz")
        expected = 23
    first = _backfill(engine, [path], batch_size=4, max_batches=2)
    assert first.stopped and first.batches == 2
    stored_first = len(_stored(engine))
    assert 0 < stored_first < expected
    assert first.totals.new == stored_first

    second = _backfill(engine, [path], batch_size=4)
    assert not second.stopped
    assert second.inputs[0].files_resumed >= 1
    assert second.totals.new == expected - stored_first
    assert second.totals.unchanged == 0  # resumed after the committed part, not re-read
    assert len(_stored(engine)) == expected
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(models.Article)) == expected


def test_since_until_on_warc_dates(engine: Engine, tmp_path: Path) -> None:
    crawl = _crawl(tmp_path, 20)  # WARC-Dates 2026-03-02 … 2026-03-21
    window = DateWindow(datetime(2026, 3, 5, tzinfo=UTC), datetime(2026, 3, 11, tzinfo=UTC))
    summary = _backfill(engine, [crawl], window=window)
    assert summary.totals.new == 6  # 5 … 10 March
    assert summary.skipped_by_date == 14
    assert summary.read == 20


def test_undated_articles_with_a_window(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "undated.txt").write_text("No date here\n\n" + "\n\n".join(story(1)))
    window = DateWindow(since=datetime(2020, 1, 1, tzinfo=UTC))
    assert _backfill(engine, [tmp_path], window=window).skipped_by_date == 1
    assert _stored(engine) == []
    kept = DateWindow(since=window.since, include_undated=True)
    assert _backfill(engine, [tmp_path], window=kept, restart=True).totals.new == 1


def test_a_changed_file_is_read_again(engine: Engine, tmp_path: Path) -> None:
    dump = _dump(tmp_path, 6)
    assert _backfill(engine, [dump]).totals.new == 6
    with dump.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"title": "Appended", "text": "A late addition."}) + "\n")
    again = _backfill(engine, [dump])
    assert (again.totals.new, again.totals.unchanged) == (1, 6)


def test_a_failed_batch_stops_the_checkpoint(engine: Engine, tmp_path: Path) -> None:
    crawl = _crawl(tmp_path, 12)
    calls = 0

    def failing(items: list[Stored]) -> Pending:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("database went away")
        return Done(store_prepared(items, engine, None))

    with pytest.raises(RuntimeError):
        _backfill(engine, [crawl], batch_size=4, submit=failing)
    [checkpoint] = load_checkpoints(engine, str(crawl.resolve())).values()
    assert (checkpoint.records, checkpoint.completed) == (4, False)
    resumed = _backfill(engine, [crawl], batch_size=4)
    assert resumed.totals.new == 8 and len(_stored(engine)) == 12


def test_parallel_batches_settle_in_order(engine: Engine, tmp_path: Path) -> None:
    crawl = _crawl(tmp_path, 30)
    seen: list[int] = []

    def advance(count: int) -> None:
        seen.append(count)

    with ThreadPoolExecutor(max_workers=3) as pool:

        def threaded(items: list[Stored]) -> Pending:
            return pool.submit(store_prepared, items, engine, None)

        run_id = repository.start_run(engine, [str(crawl)])
        summary = BackfillSummary(run_id, "test")
        plan = plan_backfill([str(crawl)], engine)
        total = total_bytes(plan)
        run_backfill(
            plan,
            threaded,
            summary,
            engine=engine,
            preparer=PREPARER,
            batch_size=3,
            concurrency=3,
            advance=advance,
        )
    assert summary.totals.new == 30 and summary.batches == 10
    assert sum(seen) == total == crawl.stat().st_size
    [checkpoint] = load_checkpoints(engine, str(crawl.resolve())).values()
    assert checkpoint.completed and checkpoint.records == 30


def test_missing_input_and_errors_are_reported(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "menu.html").write_text("<html><nav>Home</nav></html>")
    summary = _backfill(engine, [tmp_path / "nope", tmp_path])
    assert [r.input for r in summary.inputs] == [str(tmp_path / "nope"), str(tmp_path)]
    assert summary.totals.errors == 2
    origins = {origin for origin, _ in summary.errors}
    assert origins == {str(tmp_path / "nope"), str(tmp_path / "menu.html")}
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(models.IngestionError)) == 2


def test_pages_with_no_article_text_are_skipped_not_errors(
    engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A crawl's index and empty pages are counted apart (not stored, not recorded as errors,
    the file still completes); a damaged record stays an error."""
    from flows.cli import _print_backfill

    menu = Record("https://example.org/", b"<html><body><nav>Home</nav></body></html>")
    empty = Record("https://example.org/empty", b"")
    records = [page_record(1), menu, page_record(2), empty, page_record(3)]
    crawl = write_warc(tmp_path / "crawl.warc.gz", records, gzip=True)
    summary = _backfill(engine, [crawl], batch_size=2)
    t = summary.totals
    assert (t.new, t.errors, t.no_text, summary.read, summary.errors) == (3, 0, 2, 5, [])
    data = summary.as_dict()
    assert (data["skipped_no_text"], data["errors"]) == (2, 0)
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(models.IngestionError)) == 0
    _print_backfill(summary, 1.0)
    assert "errors 0 · no article text 2 · skipped by date 0" in capsys.readouterr().out
    again = _backfill(engine, [crawl])  # the file completed: nothing is read again
    assert (again.read, again.inputs[0].files_complete_before) == (0, 1)
    # a page over the size cap is still an error
    big = Record("https://example.org/big", b"<p>" + b"x" * (21 * 1024 * 1024) + b"</p>")
    crawl = write_warc(tmp_path / "big.warc", [big, page_record(4)], gzip=False)
    summary = _backfill(engine, [crawl])
    assert (summary.totals.new, summary.totals.errors, summary.totals.no_text) == (1, 1, 0)


def test_batch_result_counts_add_up(engine: Engine, tmp_path: Path) -> None:
    crawl = _crawl(tmp_path, 5)
    summary = _backfill(engine, [crawl, tmp_path])  # the file, then its directory
    assert [r.files for r in summary.inputs] == [1, 0]  # each file is read once
    assert isinstance(summary.totals, BatchResult) and summary.totals.new == 5
    data = json.loads(json.dumps(summary.as_dict()))
    assert data["new"] == 5 and data["inputs"][1]["read"] == 0
