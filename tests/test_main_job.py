"""The README's main job, as a user runs it: `newsflow ingest seeds/` in a fresh directory.

The first run has no Prefect server configured, so newsflow starts its temporary local
server: the output must stay short, with no traceback or ERROR. This is the suite's one
end-to-end run of that path; the other command-line runs use the session's server.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.commands import assert_clean, newsflow

pytestmark = pytest.mark.prefect


def test_main_job_on_default_sqlite(tmp_path: Path, seeds_dir: Path, prefect_api_url: str) -> None:
    shutil.copytree(seeds_dir, tmp_path / "seeds")
    first = newsflow(tmp_path, "ingest", "seeds/")  # no server configured: a temporary one
    assert_clean(first)
    assert "new 2" in first.stdout and "russia-china 2" in first.stdout
    assert len(first.stdout.splitlines()) <= 8
    assert (tmp_path / "newsflow.db").is_file()
    second = newsflow(tmp_path, "ingest", "seeds/", api_url=prefect_api_url)
    assert_clean(second)
    assert "nothing new" in second.stdout
    listed = newsflow(tmp_path, "query", "--format", "json")
    assert_clean(listed)
    assert len(json.loads(listed.stdout)) == 2


@pytest.mark.postgres
def test_main_job_on_postgresql(
    tmp_path: Path, seeds_dir: Path, postgres_url: str, prefect_api_url: str
) -> None:
    result = newsflow(
        tmp_path,
        "ingest",
        str(seeds_dir),
        "--db",
        postgres_url,
        "--format",
        "json",
        api_url=prefect_api_url,
    )
    assert_clean(result)
    summary = json.loads(result.stdout)
    assert (summary["new"], summary["errors"]) == (2, 0)
    listed = newsflow(
        tmp_path, "query", "--db", postgres_url, "--topic", "arms-control", "--format", "jsonl"
    )
    assert_clean(listed)
    assert len(listed.stdout.splitlines()) == 1
