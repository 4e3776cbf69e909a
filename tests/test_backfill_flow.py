"""The backfill flow on a real Prefect server, and `newsflow backfill` as a user runs it."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage import models
from storage.db import open_database
from tests.warcbuild import page_record, write_warc

pytestmark = pytest.mark.prefect
NEWSFLOW = [sys.executable, "-c", "from flows.cli import run; run()"]


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


def _env(cwd: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NEWSFLOW_"))}
    env["PREFECT_HOME"] = str(cwd / ".prefect")
    return env


def _newsflow(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*NEWSFLOW, *args],
        cwd=cwd,
        env=_env(cwd),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _assert_clean(result: subprocess.CompletedProcess[str], code: int = 0) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == code, output
    assert "Traceback" not in output and "ERROR" not in output, output
    assert "database is locked" not in output, output


def test_cli_backfill_is_clean_and_a_rerun_adds_nothing(tmp_path: Path) -> None:
    _crawl(tmp_path / "cc.warc.gz", 12)
    (tmp_path / "dump.jsonl").write_text(
        json.dumps(
            {"title": "Dumped", "text": "A body about a grain deal.", "published": "2025-01-02"}
        )
        + "\n"
    )
    first = _newsflow(tmp_path, "backfill", "cc.warc.gz", "dump.jsonl", "--db", "b.db")
    _assert_clean(first)
    assert "read 13 · new 13" in first.stdout
    assert "cc.warc.gz: 1 file · read 12 · new 12" in first.stdout
    second = _newsflow(
        tmp_path, "backfill", "cc.warc.gz", "dump.jsonl", "--db", "b.db", "--format", "json"
    )
    _assert_clean(second)
    data = json.loads(second.stdout)
    assert (data["read"], data["new"]) == (0, 0)
    assert [i["files_complete_before"] for i in data["inputs"]] == [1, 1]
    dated = _newsflow(
        tmp_path, "backfill", ".", "--db", "b.db", "--restart", "--until", "2025-01-02"
    )
    _assert_clean(dated)
    assert "read 13 · new 0 · updated 0 · duplicates 0 · unchanged 1" in dated.stdout
    assert "skipped by date 12" in dated.stdout


def test_cli_backfill_bad_arguments(tmp_path: Path) -> None:
    missing = _newsflow(tmp_path, "backfill", "nope.warc.gz", "--db", "b.db")
    assert missing.returncode == 1 and "no such file or directory" in missing.stderr
    bad = _newsflow(tmp_path, "backfill", ".", "--since", "2026-02-01", "--until", "2026-01-01")
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


def test_sigkill_mid_run_then_resume(tmp_path: Path) -> None:
    total = 160
    _crawl(tmp_path / "cc.warc.gz", total)
    db = tmp_path / "k.db"
    args = ["backfill", "cc.warc.gz", "--db", str(db), "--batch-size", "5", "--concurrency", "1"]
    process = subprocess.Popen(
        [*NEWSFLOW, *args],
        cwd=tmp_path,
        env=_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and process.poll() is None:
            if _checkpoint(db)[0] >= 10:
                break
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    records, completed = _checkpoint(db)
    assert 10 <= records < total and not completed, "the run was not stopped mid-way"
    resumed = _newsflow(tmp_path, "backfill", "cc.warc.gz", "--db", str(db), "--format", "json")
    _assert_clean(resumed)
    data = json.loads(resumed.stdout)
    assert data["inputs"][0]["files_resumed"] == 1
    assert data["read"] <= total - records  # started after the checkpoint
    with sqlite3.connect(db) as conn:
        titles = [row[0] for row in conn.execute("SELECT title FROM articles")]
    assert len(titles) == len(set(titles)) == total
