"""A local Prefect server for ``newsflow serve`` when no ``PREFECT_API_URL`` is configured.

Prefect's temporary (ephemeral) server, which ``newsflow ingest`` uses, runs no scheduler, so
a served deployment would never get a run. ``serve`` therefore starts a real local server
(the same ASGI app, with its services, UI off) on a free loopback port for as long as it
serves, and stops it afterwards. Prefect itself is not imported here: the server's address
must be in the environment before it is.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from newsflow.errors import NewsflowError

STARTUP_SECONDS = 90.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def local_prefect_server() -> Iterator[str | None]:
    """Yields the API URL of a local server it started, or ``None`` if one is configured."""
    if os.environ.get("PREFECT_API_URL"):
        yield None
        return
    port = _free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_FINAL": "1"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "prefect.server.api.server:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "critical",
            "--lifespan",
            "on",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # its own session: a Ctrl-C or SIGTERM sent to the whole process group must not stop
        # the server before the runner has shut down (it is stopped below, last)
        start_new_session=True,
    )
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
                time.sleep(0.2)
        os.environ["PREFECT_API_URL"] = api_url
        yield api_url
    finally:
        if os.environ.get("PREFECT_API_URL") == api_url:
            del os.environ["PREFECT_API_URL"]
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
