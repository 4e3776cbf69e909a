"""The README's main job, as a user runs it: `newsflow ingest seeds/` in a fresh directory.

Runs the installed command in a subprocess with no Prefect server configured, so Prefect
starts its temporary local server: the output must stay short, with no traceback or ERROR.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.prefect
NEWSFLOW = [sys.executable, "-c", "from flows.cli import run; run()"]


def newsflow(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NEWSFLOW_"))}
    env["PREFECT_HOME"] = str(cwd / ".prefect")
    return subprocess.run(
        [*NEWSFLOW, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def assert_clean(result: subprocess.CompletedProcess[str]) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Traceback" not in output and "ERROR" not in output, output
    assert "database is locked" not in output, output


def test_main_job_on_default_sqlite(tmp_path: Path, seeds_dir: Path) -> None:
    shutil.copytree(seeds_dir, tmp_path / "seeds")
    first = newsflow(tmp_path, "ingest", "seeds/")
    assert_clean(first)
    assert "new 2" in first.stdout and "russia-china 2" in first.stdout
    assert len(first.stdout.splitlines()) <= 8
    assert (tmp_path / "newsflow.db").is_file()
    second = newsflow(tmp_path, "ingest", "seeds/")
    assert_clean(second)
    assert "nothing new" in second.stdout
    listed = newsflow(tmp_path, "query", "--format", "json")
    assert_clean(listed)
    assert len(json.loads(listed.stdout)) == 2


@pytest.mark.postgres
def test_main_job_on_postgresql(tmp_path: Path, seeds_dir: Path, postgres_url: str) -> None:
    result = newsflow(tmp_path, "ingest", str(seeds_dir), "--db", postgres_url, "--format", "json")
    assert_clean(result)
    summary = json.loads(result.stdout)
    assert (summary["new"], summary["errors"]) == (2, 0)
    listed = newsflow(
        tmp_path, "query", "--db", postgres_url, "--topic", "arms-control", "--format", "jsonl"
    )
    assert_clean(listed)
    assert len(listed.stdout.splitlines()) == 1
