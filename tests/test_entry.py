"""The entry point starts the local Prefect server first for the commands that run flows
(flows/entry.py), and only for them: never for help, reading commands or feed polls, which
may have nothing to run."""

from __future__ import annotations

import pytest

from flows.entry import server_wanted


@pytest.mark.parametrize(
    ("argv", "wanted"),
    [
        (["ingest", "seeds/"], False),
        (["ingest", "a.warc.gz", "--workers", "2", "--db", "x.db"], False),
        (["backfill", "archive/", "--since", "2026-01-01"], False),
        (["retag", "--topic", "energy"], False),
        (["serve", "inbox/", "--interval", "60"], True),
        (["ingest", "--feeds"], None),  # a server only if a feed is due (flows/cli.py)
        (["ingest", "seeds/", "--sources", "sources.yaml"], None),
        (["ingest", "--sources=sources.yaml"], None),
        (["ingest", "--help"], None),
        (["serve", "-h"], None),
        (["ingest", "--", "--odd-name"], None),
        (["query", "--topic", "energy"], None),
        (["stats"], None),
        (["--version"], None),
        ([], None),
    ],
)
def test_server_wanted(argv: list[str], wanted: bool | None) -> None:
    assert server_wanted(argv) is wanted
