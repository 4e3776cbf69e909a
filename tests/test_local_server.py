"""The local Prefect server's process stops itself when the newsflow process that started it
is killed outright (it has a session of its own, so a kill of newsflow's group misses it); a
server started early (flows/entry.py) stops with a command that fails, and is not used when
Prefect has an API configured."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from tests.commands import newsflow, newsflow_env, processes_with
from tests.conftest import ROOT

# newsflow's stand-in: starts a child in a session of its own, like flows/local_server.py
PARENT = """
import os, subprocess, sys, time
child = subprocess.Popen(
    [sys.executable, "-c", sys.argv[1], str(os.getpid())], start_new_session=True
)
print(child.pid, flush=True)
time.sleep(600)
"""
# the server's stand-in: the watch of flows/local_server_process.py, then a long sleep
CHILD = """
import sys, time
from flows.local_server_process import stop_when_orphaned
stop_when_orphaned(int(sys.argv[1]), every=0.1)
time.sleep(600)
"""


def test_a_server_whose_parent_is_killed_stops() -> None:
    marker = f"NEWSFLOW_TEST_MARK={uuid.uuid4().hex}"
    name, value = marker.split("=")
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, CHILD],
        cwd=ROOT,
        env={**os.environ, name: value},
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        deadline = time.monotonic() + 30
        while len(processes_with(marker)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)  # the child may still be starting (exec)
        assert sorted(processes_with(marker)) == sorted([parent.pid, child])
        os.killpg(parent.pid, signal.SIGKILL)  # the parent's group: the child is not in it
        parent.wait(10)
        deadline = time.monotonic() + 30
        while processes_with(marker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert processes_with(marker) == []
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if parent.stdout:
            parent.stdout.close()


def test_a_server_started_early_for_a_failing_command_stops_with_it(tmp_path: Path) -> None:
    """`ingest` starts its server before it checks its arguments (flows/entry.py); a command
    that then fails leaves no server behind."""
    marker = f"NEWSFLOW_TEST_MARK={uuid.uuid4().hex}"
    name, value = marker.split("=")
    result = newsflow(tmp_path, "ingest", "missing-dir", **{name: value})
    assert result.returncode == 1
    assert result.stderr == "newsflow: error: no such file or directory: missing-dir\n"
    assert processes_with(marker) == []


def test_a_server_started_early_is_stopped_when_prefect_has_an_api(tmp_path: Path) -> None:
    """With an API set in Prefect's profile (not seen before Prefect is imported), the runs go
    there and the server started early is stopped unused."""
    env = newsflow_env(tmp_path)
    prefect = str(Path(sys.executable).with_name("prefect"))
    setting = "PREFECT_API_URL=http://127.0.0.1:9/api"
    subprocess.run([prefect, "config", "set", setting], env=env, check=True, capture_output=True)
    code = (
        "import flows.local_server as m\n"
        "m.start_early(services=False)\n"
        "process = m._early.process\n"
        "with m.server_for_runs() as url: print(url, process.poll() is not None, m._early)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert (result.returncode, result.stdout) == (0, "None True None\n"), result.stderr


def test_runs_on_the_temporary_server_send_no_heartbeats(tmp_path: Path) -> None:
    """The command's own server has no services to watch heartbeats and stops with it: its
    runs send none (Prefect's heartbeat thread held each run's end for up to a second)."""
    code = (
        "import flows.local_server as m\n"
        "from prefect.settings import get_current_settings as current\n"
        "with m.server_for_runs() as url:\n"
        "    print(url is not None, current().api.url == url, current().flows.heartbeat_frequency)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=newsflow_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (result.returncode, result.stdout) == (0, "True True None\n"), result.stderr
