"""A local Prefect server for the commands that run flows when none is configured.

``serve`` (:func:`local_prefect_server`) needs a real local server (the same ASGI app, with
its services, UI off): Prefect's temporary server runs no scheduler, so a served deployment
would never get a run. It is started only when no API is configured, in the environment or
in the active Prefect profile; its address then goes into the environment and Prefect's
settings.

The one-off flow runs of ``ingest``, ``backfill`` and ``retag`` (:func:`server_for_runs`) get
the same app with only the services of Prefect's temporary server, started here rather than
by Prefect: Prefect starts its temporary server in the command's process group, so a Ctrl-C
stopped the server as well, and the interrupted run ended with a connection error instead of
a clean stop. Here each server has a session of its own: only newsflow gets the Ctrl-C,
records how the run ended, then stops the server. Servers listen on a free loopback port and
are stopped on the way out.

A command that will need such a server starts it as its very first step (:func:`start_early`,
from ``flows.entry``), so that the server's start-up (seconds, mostly imports) overlaps the
command's own imports and checks rather than following them. Should Prefect turn out to have
an API configured after all (in its profile, say), that server is stopped unused.
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from newsflow.errors import NewsflowError

STARTUP_SECONDS = 90.0
DRAIN_SECONDS = 10.0  # longest wait for the run's events to reach the server at the end

# The API URLs of the servers server_for_runs started in this process and still runs.
_for_runs: set[str] = set()


@dataclass(frozen=True)
class _Spawned:
    process: subprocess.Popen[bytes]
    api_url: str
    services: bool


# A server start_early started and no command has taken yet.
_early: _Spawned | None = None


def on_temporary_server() -> bool:
    """Whether Prefect's API is a server :func:`server_for_runs` started for this process's
    runs: it serves this process alone and stops with the command, so nothing else can
    subscribe to its events or share its limits."""
    from prefect.settings import get_current_settings

    return get_current_settings().api.url in _for_runs


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def local_prefect_server() -> Iterator[str | None]:
    """For ``serve``: yields the API URL of a local server it started (with its services, the
    scheduler among them), or ``None`` if Prefect has an API configured (``PREFECT_API_URL``
    in the environment or in the active profile, ``prefect config set``). The started
    server's address is put in the environment, for the flow runs' processes, and in
    Prefect's settings of this process."""
    from prefect.context import refresh_global_settings_context
    from prefect.settings import get_current_settings

    if get_current_settings().api.url:
        _stop_early()
        yield None
        return
    with _server(services=True) as api_url:
        os.environ["PREFECT_API_URL"] = api_url
        refresh_global_settings_context()
        try:
            yield api_url
        finally:
            if os.environ.get("PREFECT_API_URL") == api_url:
                del os.environ["PREFECT_API_URL"]
                refresh_global_settings_context()


@contextmanager
def server_for_runs() -> Iterator[str | None]:
    """For one-off flow runs (``ingest``, ``backfill``, ``retag``): ``None`` when Prefect has an
    API configured (environment, profile, or a test harness), else the URL of a local server
    with only the services of Prefect's temporary server, in force for Prefect until the
    block ends. The events the runs emitted are sent before the server stops.

    The runs send no heartbeats to that server: it has no services to notice a run that
    stopped beating, and it stops with the command. (Prefect's heartbeat thread sleeps a
    second at a time, so each run waited up to a second for it at its end.)"""
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        get_current_settings,
        temporary_settings,
    )

    if get_current_settings().api.url:
        _stop_early()
        yield None
        return
    with _server(services=False) as api_url:
        _for_runs.add(api_url)
        try:
            updates = {PREFECT_API_URL: api_url, PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
            with temporary_settings(updates=updates):
                yield api_url
        finally:
            _for_runs.discard(api_url)
            from prefect.events.worker import EventsWorker
            from prefect.logging.handlers import APILogWorker

            with temporary_settings(updates={PREFECT_API_URL: api_url}):
                EventsWorker.drain_all(timeout=DRAIN_SECONDS)
                APILogWorker.drain_all(timeout=DRAIN_SECONDS)


def start_early(services: bool) -> None:
    """Start the local server a command is about to need (``services`` as for
    :func:`local_prefect_server`, else as for :func:`server_for_runs`) before the command has
    imported Prefect, unless ``PREFECT_API_URL`` is set in the environment. The server is
    stopped when this process exits, unless :func:`server_for_runs` or
    :func:`local_prefect_server` has taken it."""
    global _early
    if _early is not None or os.environ.get("PREFECT_API_URL"):
        return
    _early = _spawn(services)
    atexit.register(_stop_early)


def _stop_early() -> None:
    global _early
    if _early is not None:
        _stop(_early.process)
        _early = None


def _spawn(services: bool) -> _Spawned:
    """A Prefect server process on a free loopback port, in a session of its own.

    ``services=False`` runs only the services of Prefect's temporary server (events, task run
    records): enough for flow runs, not for schedules.
    """
    from flows.runtime import QUIET

    port = _free_port()
    env = {**QUIET, **os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_FINAL": "1"}
    if not services:
        env["PREFECT__SERVER_EPHEMERAL"] = "1"
    env.pop("PREFECT_API_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "flows.local_server_process", str(port), str(os.getpid())],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # its own session: a Ctrl-C or SIGTERM sent to the whole process group must not stop
        # the server before newsflow has recorded how its runs ended (it is stopped below, last;
        # should newsflow be killed outright, the server stops itself: local_server_process)
        start_new_session=True,
    )
    return _Spawned(process, f"http://127.0.0.1:{port}/api", services)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def _server(services: bool) -> Iterator[str]:
    """A Prefect server (:func:`_spawn`; the one :func:`start_early` started, if it has the
    same services) once it answers, until the block ends."""
    import httpx

    global _early
    if _early is not None and _early.services == services:
        spawned, _early = _early, None
    else:
        spawned = _spawn(services)
    process, api_url = spawned.process, spawned.api_url
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            while True:
                if process.poll() is not None:
                    raise NewsflowError(
                        f"the local Prefect server exited with code {process.returncode}"
                    )
                try:
                    if client.get(f"{api_url}/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise NewsflowError("the local Prefect server did not start in time")
                time.sleep(0.1)
        yield api_url
    finally:
        _stop(process)
