"""The local Prefect server's process stops itself when the newsflow process that started it
is killed outright (it has a session of its own, so a kill of newsflow's group misses it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

from tests.commands import processes_with
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
