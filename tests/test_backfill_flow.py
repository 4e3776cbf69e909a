"""The backfill flow on a real Prefect server, and `newsflow backfill` as a user runs it."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage import models
from storage.db import open_database
from tests.commands import (
    assert_clean,
    newsflow,
    processes_with,
    start_newsflow,
    stored_runs,
)
from tests.warcbuild import page_record, write_warc

pytestmark = pytest.mark.prefect


def _crawl(path: Path, count: int) -> Path:
    records = [page_record(n, date=f"2026-03-{n % 28 + 1:02d}T12:00:00Z") for n in range(count)]
    return write_warc(path, records, gzip=True)


def test_backfill_flow_stops_and_resumes(prefect_server: None, db_url: str, tmp_path: Path) -> None:
    from flows.backfill import backfill_flow

    crawl = _crawl(tmp_path / "cc.warc.gz", 14)
    first = backfill_flow([str(crawl)], database_url=db_url, batch_size=3, max_batches=2)
    assert first.stopped and first.totals.new == 6
    second = backfill_flow(
        [str(crawl)],
        database_url=db_url,
        batch_size=3,
        since=datetime(2026, 3, 1, tzinfo=UTC),
        until=datetime(2026, 3, 10, tzinfo=UTC),
    )
    assert not second.stopped
    assert second.inputs[0].files_resumed == 1
    # records 6…13 have WARC-Dates 7…14 March: 7, 8, 9 March are in the window
    assert (second.totals.new, second.skipped_by_date) == (3, 5)
    third = backfill_flow([str(crawl)], database_url=db_url)
    assert third.read == 0 and third.inputs[0].files_complete_before == 1
    with Session(open_database(db_url)) as session:
        assert session.scalar(select(func.count()).select_from(models.Article)) == 9
        runs = session.scalars(select(models.IngestionRun).order_by(models.IngestionRun.id)).all()
        assert [r.status for r in runs] == ["interrupted", "completed", "completed"]
        assert all(r.flow_run_id for r in runs)


def test_ctrl_c_is_recorded_as_interrupted(
    prefect_server: None, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C (KeyboardInterrupt) in the third batch: the run is recorded as interrupted, not
    failed, with the two batches stored before; `stats` counts the runs by status."""
    from flows.backfill import backfill_flow
    from newsflow.api import database_stats
    from newsflow.backfill import run_backfill

    crawl = _crawl(tmp_path / "cc.warc.gz", 14)

    def ctrl_c_in_third_batch(plan: Any, submit: Any, summary: Any, **options: Any) -> Any:
        def submit_or_stop(items: Any) -> Any:
            if summary.batches == 2:
                raise KeyboardInterrupt
            return submit(items)

        return run_backfill(plan, submit_or_stop, summary, **options)

    monkeypatch.setattr("flows.backfill.run_backfill", ctrl_c_in_third_batch)
    with pytest.raises(KeyboardInterrupt):
        backfill_flow([str(crawl)], database_url=sqlite_url, batch_size=3, workers=1)
    monkeypatch.undo()
    stats = database_stats(sqlite_url)
    assert (stats.articles, stats.run_statuses) == (6, {"interrupted": 1})
    resumed = backfill_flow([str(crawl)], database_url=sqlite_url, batch_size=3, workers=1)
    assert resumed.totals.new == 8
    assert database_stats(sqlite_url).run_statuses == {"completed": 1, "interrupted": 1}


def test_cli_backfill_is_clean_and_a_rerun_adds_nothing(
    tmp_path: Path, prefect_api_url: str
) -> None:
    _crawl(tmp_path / "cc.warc.gz", 12)
    (tmp_path / "dump.jsonl").write_text(
        json.dumps(
            {"title": "Dumped", "text": "A body about a grain deal.", "published": "2025-01-02"}
        )
        + "\n"
    )
    first = newsflow(
        tmp_path, "backfill", "cc.warc.gz", "dump.jsonl", "--db", "b.db", api_url=prefect_api_url
    )
    assert_clean(first)
    assert "read 13 · new 13" in first.stdout
    assert "cc.warc.gz: 1 file · read 12 · new 12" in first.stdout
    second = newsflow(
        tmp_path,
        *("backfill", "cc.warc.gz", "dump.jsonl", "--db", "b.db", "--format", "json"),
        api_url=prefect_api_url,
    )
    assert_clean(second)
    data = json.loads(second.stdout)
    assert (data["read"], data["new"]) == (0, 0)
    assert [i["files_complete_before"] for i in data["inputs"]] == [1, 1]
    dated = newsflow(
        tmp_path,
        *("backfill", ".", "--db", "b.db", "--restart", "--until", "2025-01-02"),
        api_url=prefect_api_url,
    )
    assert_clean(dated)
    assert "read 13 · new 0 · updated 0 · duplicates 0 · unchanged 1" in dated.stdout
    assert "skipped by date 12" in dated.stdout


def test_cli_backfill_bad_arguments(tmp_path: Path) -> None:
    missing = newsflow(tmp_path, "backfill", "nope.warc.gz", "--db", "b.db")
    assert missing.returncode == 1 and "no such file or directory" in missing.stderr
    bad = newsflow(tmp_path, "backfill", ".", "--since", "2026-02-01", "--until", "2026-01-01")
    assert bad.returncode == 2 and "--until" in bad.stderr
    assert "Traceback" not in missing.stderr + bad.stderr


def _checkpoint(db: Path) -> tuple[int, int]:
    """(records, completed) of the one checkpoint, (0, 0) before there is one."""
    if not db.exists():
        return 0, 0
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            row = conn.execute("SELECT records, completed FROM backfill_checkpoints").fetchone()
    except sqlite3.OperationalError:  # not migrated yet
        return 0, 0
    return (int(row[0]), int(row[1])) if row else (0, 0)


def _wait_for_checkpoint(process: subprocess.Popen[Any], db: Path, records: int) -> None:
    """Wait (up to 240 s) until ``process`` has checkpointed ``records`` records or ended."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        if _checkpoint(db)[0] >= records:
            return
        time.sleep(0.05)


def test_killed_mid_run_then_resumed(tmp_path: Path, prefect_api_url: str) -> None:
    total = 160
    _crawl(tmp_path / "cc.warc.gz", total)
    db = tmp_path / "k.db"
    args = ["backfill", "cc.warc.gz", "--db", str(db), "--batch-size", "5", "--concurrency", "1"]
    process = start_newsflow(
        tmp_path,
        *args,
        api_url=prefect_api_url,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: kill -9 it all, not the test
    )
    try:
        _wait_for_checkpoint(process, db, records=10)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    records, completed = _checkpoint(db)
    assert 10 <= records < total and not completed, "the run was not stopped mid-way"
    resumed = newsflow(
        tmp_path,
        *("backfill", "cc.warc.gz", "--db", str(db), "--format", "json"),
        api_url=prefect_api_url,
    )
    assert_clean(resumed)
    data = json.loads(resumed.stdout)
    assert data["inputs"][0]["files_resumed"] == 1
    assert data["read"] == total - records  # started after the checkpoint
    with sqlite3.connect(db) as conn:
        titles = [row[0] for row in conn.execute("SELECT title FROM articles")]
    assert len(titles) == len(set(titles)) == total


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_with_the_temporary_server_stops_cleanly(tmp_path: Path) -> None:
    """Ctrl-C (SIGINT to the whole process group) mid-backfill, with no Prefect server
    configured: one "interrupted" line and exit 130, and no server left running."""
    _crawl(tmp_path / "cc.warc.gz", 160)
    db = tmp_path / "i.db"
    args = ["backfill", "cc.warc.gz", "--db", str(db), "--batch-size", "5", "--concurrency", "1"]
    process = start_newsflow(
        tmp_path,
        *args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # a process group of its own, as a shell gives a command
        # Ctrl-C's default action, as in a terminal's foreground command: a test run started in
        # the background (`make test &`, a CI job) has SIGINT ignored, and that is inherited.
        preexec_fn=_default_sigint,
    )
    try:
        _wait_for_checkpoint(process, db, records=10)
        assert process.poll() is None, "the backfill ended before it could be interrupted"
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    assert process.returncode == 130, (out, err)
    assert "newsflow: interrupted; what was stored is kept" in err
    assert "Traceback" not in err and "ConnectError" not in err, err
    assert processes_with(f"PREFECT_HOME={tmp_path / '.prefect'}") == []
    records, completed = _checkpoint(db)
    assert 10 <= records < 160 and not completed
    assert [run.status for run in stored_runs(db)] == ["interrupted"]
    stats = newsflow(tmp_path, "stats", "--db", str(db))
    assert "run statuses     interrupted 1" in stats.stdout, stats
