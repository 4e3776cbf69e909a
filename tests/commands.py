"""`newsflow` in a subprocess, as a user runs it, and the checks every such run shares.

With ``api_url`` (the session's server, the ``prefect_api_url`` fixture) the command sends its
flow runs there; without, no Prefect server is configured and the command starts a temporary
one of its own, as on a user's machine (slower: keep that to the tests about it).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NEWSFLOW = [sys.executable, "-c", "from flows.entry import run; run()"]  # as installed


def newsflow_env(cwd: Path, api_url: str | None = None, **extra: str) -> dict[str, str]:
    """The environment of a user with no newsflow or Prefect settings (Prefect's home in
    ``cwd``), plus ``PREFECT_API_URL`` when ``api_url`` is given, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NEWSFLOW_"))}
    env["PREFECT_HOME"] = str(cwd / ".prefect")
    if api_url is not None:
        env["PREFECT_API_URL"] = api_url
    env.update(extra)
    return env


def newsflow(
    cwd: Path, *args: str, api_url: str | None = None, **extra: str
) -> subprocess.CompletedProcess[str]:
    """Run ``newsflow ARGS`` in ``cwd`` and wait for it (five minutes at most)."""
    return subprocess.run(
        [*NEWSFLOW, *args],
        cwd=cwd,
        env=newsflow_env(cwd, api_url, **extra),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def start_newsflow(
    cwd: Path, *args: str, api_url: str | None = None, **options: Any
) -> subprocess.Popen[str]:
    """Start ``newsflow ARGS`` in ``cwd`` without waiting (``options`` go to Popen)."""
    return subprocess.Popen(
        [*NEWSFLOW, *args], cwd=cwd, env=newsflow_env(cwd, api_url), text=True, **options
    )


def assert_clean(result: subprocess.CompletedProcess[str], code: int = 0) -> None:
    """Exit ``code``, and no traceback, ERROR line or locked-database message."""
    output = result.stdout + result.stderr
    assert result.returncode == code, output
    assert "Traceback" not in output and "ERROR" not in output, output
    assert "database is locked" not in output, output


@dataclass(frozen=True)
class StoredRun:
    status: str
    new: int
    inputs: list[str]


def stored_runs(database: Path) -> list[StoredRun]:
    """The ingestion runs so far, read without migrating: the command under test may be
    creating the file."""
    if not database.exists():
        return []
    try:
        with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)) as db:
            rows = db.execute("SELECT status, new, inputs FROM ingestion_runs ORDER BY id")
            return [StoredRun(str(s), int(n), json.loads(i)) for s, n, i in rows]
    except sqlite3.Error:  # not migrated yet
        return []


def wait_for_runs(
    process: subprocess.Popen[str], database: Path, completed: int, timeout: float
) -> list[StoredRun]:
    """The runs stored by served flows once ``completed`` of them have completed, or as they
    are when ``process`` exits or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    runs: list[StoredRun] = []
    while time.monotonic() < deadline and process.poll() is None:
        time.sleep(1)
        runs = stored_runs(database)
        if sum(r.status == "completed" for r in runs) >= completed:
            break
    return runs


def processes_with(marker: str) -> list[int]:
    """Live processes whose environment contains ``marker`` (e.g. ``PREFECT_HOME=…``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:  # gone, or not ours
                pass
    return found


SLOW_START = "import time\ntime.sleep(4)\n\n\ndef ready() -> None:\n    pass\n"


def ctrl_c_script(directory: Path, script: str) -> subprocess.CompletedProcess[str]:
    """Run ``script`` (main.py in ``directory``, beside a ``slow_start`` module whose import
    takes 4 s, for workers that start slowly) as a terminal runs a command: in a process group
    of its own, with SIGINT's default action (a test run started in the background has SIGINT
    ignored, and that is inherited). The script sends the Ctrl-C to its own group."""
    import signal

    (directory / "slow_start.py").write_text(SLOW_START)
    (directory / "main.py").write_text(script)
    root = Path(__file__).resolve().parent.parent
    return subprocess.run(
        [sys.executable, "main.py"],
        cwd=directory,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(directory)])},
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
