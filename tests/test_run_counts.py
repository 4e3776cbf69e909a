"""Records a run skips are kept with the run: pages with no article text, and records outside a
backfill's date window, in ``ingestion_runs``, the run's Markdown report and ``stats``."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from flows.cli import main
from flows.reporting import report_markdown, source_counts
from newsflow.api import database_stats
from newsflow.escape import markdown_cell
from storage import models, repository
from storage.db import open_database
from storage.repository import BatchResult
from tests.warcbuild import Record, page_record, write_warc


def _crawl(path: Path) -> Path:
    """Three article pages (1 and 5 March, 1 April) and two pages with no article text."""
    return write_warc(
        path,
        [
            page_record(1, date="2026-03-01T12:00:00Z"),
            Record("https://news.example.org/", b"<html><body><nav>Home</nav></body></html>"),
            page_record(2, date="2026-03-05T12:00:00Z"),
            Record("https://news.example.org/empty", b""),
            page_record(3, date="2026-04-01T12:00:00Z"),
        ],
        gzip=True,
    )


def _runs(url: str) -> list[tuple[str, int, int, int]]:
    with Session(open_database(url)) as session:
        runs = session.scalars(select(models.IngestionRun).order_by(models.IngestionRun.id))
        return [(r.status, r.new, r.skipped_no_text, r.skipped_by_date) for r in runs]


def test_a_run_is_recorded_with_its_skipped_records(engine: Engine, db_url: str) -> None:
    started = repository.start_run(engine, ["crawl.warc.gz"])
    assert _runs(db_url) == [("running", 0, 0, 0)]
    repository.finish_run(engine, started, BatchResult(read=3, new=3, no_text=2), skipped_by_date=4)
    other = repository.start_run(engine, ["more.warc.gz"])
    repository.finish_run(engine, other, BatchResult(no_text=1), "interrupted")
    assert _runs(db_url) == [("completed", 3, 2, 4), ("interrupted", 0, 1, 0)]
    stats = database_stats(db_url).as_dict()
    assert (stats["skipped_no_text"], stats["skipped_by_date"]) == (3, 4)


def test_the_run_report_has_a_column_and_a_row_for_each_kind_of_skip(engine: Engine) -> None:
    totals = BatchResult(read=2, new=2, errors=1, no_text=3)
    rows = source_counts(engine, Counter({"news": 2}), totals, parse_errors=1, skipped_by_date=4)
    assert [(r.source, r.read, r.skipped_no_text, r.skipped_by_date) for r in rows] == [
        ("(no article text)", 3, 3, 0),
        ("(outside the date window)", 4, 0, 4),
        ("(unreadable input)", 1, 0, 0),
        ("news", 2, 0, 0),
    ]
    markdown = report_markdown("run", rows, [], [])
    assert (
        "| source | read | new | updated | duplicates | unchanged | errors | no article text | "
        "skipped by date |"
    ) in markdown
    assert "| \\(no article text\\) | 3 | 0 | 0 | 0 | 0 | 0 | 3 | 0 |" in markdown
    assert "| **total** | 10 | 0 | 0 | 0 | 2 | 1 | 3 | 4 |" in markdown


@pytest.mark.prefect
def test_ingest_and_backfill_runs_store_their_skipped_records(
    prefect_server: None, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.backfill import backfill_flow
    from flows.ingest import ingest_flow

    crawl = _crawl(tmp_path / "crawl.warc.gz")
    backfill = backfill_flow(
        [str(crawl)],
        database_url=db_url,
        since=datetime(2026, 3, 1, tzinfo=UTC),
        until=datetime(2026, 4, 1, tzinfo=UTC),
    )
    assert (backfill.totals.new, backfill.totals.no_text, backfill.skipped_by_date) == (2, 2, 1)
    ingest = ingest_flow([str(crawl)], database_url=db_url)
    assert (ingest.totals.new, ingest.totals.no_text) == (1, 2)
    assert _runs(db_url) == [("completed", 2, 2, 1), ("completed", 1, 2, 0)]

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["backfill-summary"]))
        )
    with Session(open_database(db_url)) as session:
        flow_run_id = session.get_one(models.IngestionRun, backfill.run_id).flow_run_id
    (report,) = [str(a.data) for a in artifacts if str(a.flow_run_id) == flow_run_id]
    assert "| **total** | 5 | 2 | 0 | 0 | 0 | 0 | 2 | 1 |" in report
    assert f"| {markdown_cell(str(crawl))} | 1 | 5 | 2 | 0 | 0 | 0 | 0 | 2 | 1 |" in report

    assert main(["stats", "--db", db_url, "--format", "json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert (stats["runs"], stats["skipped_no_text"], stats["skipped_by_date"]) == (2, 4, 1)
