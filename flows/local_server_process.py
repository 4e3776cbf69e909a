"""The process of a local Prefect server (see flows/local_server.py): Prefect's app served by
uvicorn on a loopback port, until it is stopped or the newsflow process that started it is gone.

The server runs in a session of its own, so a signal to newsflow's process group does not
reach it; newsflow stops it on the way out. If newsflow cannot (``kill -9``), the server
notices that its parent has gone and stops too, rather than running on unseen.

    python -m flows.local_server_process PORT PARENT_PID
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

CHECK_SECONDS = 1.0


def stop_when_orphaned(parent: int, every: float = CHECK_SECONDS) -> threading.Thread:
    """A daemon thread that sends this process SIGTERM once its parent is no longer ``parent``
    (the process that started it, by its id: it may be gone before this process runs)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=watch, name="stop-when-orphaned", daemon=True)
    thread.start()
    return thread


def main(port: int, parent: int) -> None:
    import uvicorn

    stop_when_orphaned(parent)
    uvicorn.run(
        "prefect.server.api.server:create_app",
        factory=True,
        host="127.0.0.1",
        port=port,
        log_level="critical",
        lifespan="on",
    )


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
