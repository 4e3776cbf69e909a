"""Prefect settings for running flows from the command line: offline, quiet and clean.

With no ``PREFECT_API_URL`` configured, Prefect starts a temporary local server for the run.
These defaults (set only where the user has not set them) keep it offline (no telemetry) and
keep its log lines out of the CLI's output; ``--verbose`` shows Prefect's own logs.
"""

from __future__ import annotations

import os

QUIET = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_LOG_PRINTS": "false",
    "PREFECT_SERVER_LOGGING_LEVEL": "CRITICAL",
    "PREFECT_LOGGING_SERVER_LEVEL": "CRITICAL",
    "PREFECT_LOGGING_LEVEL": "CRITICAL",
    "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
}
VERBOSE = {
    "PREFECT_LOGGING_LEVEL": "INFO",
    "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
    "PREFECT_LOGGING_SERVER_LEVEL": "WARNING",
}


def configure_prefect(verbose: bool = False) -> None:
    """Set Prefect's environment before ``prefect`` is first imported."""
    for name, value in {**QUIET, **(VERBOSE if verbose else {})}.items():
        os.environ.setdefault(name, value)
