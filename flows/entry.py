"""The ``newsflow`` command's entry point: starts the local Prefect server a command will need
(flows/local_server.py) before anything else, then runs the command line (flows/cli.py).

The server takes seconds to start, mostly importing Prefect's server; the command spends about
as long importing its own modules and Prefect's client before it would start one. Started
first, the two overlap on a second core. Only a command that runs flows, and not its help,
starts one; with ``PREFECT_API_URL`` set none is started, and one started for nothing (an
API set in Prefect's profile, a bad argument) is stopped as the command exits.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

# Commands that run flows, and whether their server runs Prefect's services (the scheduler).
FLOW_COMMANDS = {"ingest": False, "backfill": False, "retag": False, "serve": True}
# ingest's options for polling feeds, which start a server only if a feed is due
POLL_OPTIONS = ("--feeds", "--sources")


def server_wanted(argv: Sequence[str]) -> bool | None:
    """Whether the command in ``argv`` (without the program name) runs flows: ``None`` if not,
    else whether its server needs Prefect's services."""
    if not argv or argv[0] not in FLOW_COMMANDS:
        return None
    if any(arg in ("--help", "-h", "--") for arg in argv):
        return None
    if argv[0] == "ingest" and any(arg.startswith(POLL_OPTIONS) for arg in argv):
        return None
    return FLOW_COMMANDS[argv[0]]


def run() -> None:
    services = server_wanted(sys.argv[1:])
    if services is not None:
        from flows.local_server import start_early

        start_early(services)
    from flows.cli import run as run_cli

    run_cli()
