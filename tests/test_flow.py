"""The ingest flow on a real (temporary) Prefect server, into SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage import models
from storage.db import open_database
from tests.conftest import DATA

pytestmark = pytest.mark.prefect


def test_ingest_seeds_then_rerun_is_a_no_op(
    prefect_server: None, db_url: str, seeds_dir: Path
) -> None:
    from flows.ingest import ingest_flow

    first = ingest_flow([str(seeds_dir)], database_url=db_url)
    assert (first.totals.new, first.totals.read, first.errors) == (2, 2, [])
    topics = dict(first.topics)
    assert topics["russia-china"] == 2 and topics["arms-control"] == 1
    second = ingest_flow([str(seeds_dir)], database_url=db_url)
    assert (second.totals.new, second.totals.unchanged, second.totals.updated) == (0, 2, 0)
    with Session(open_database(db_url)) as session:
        runs = session.scalars(select(models.IngestionRun).order_by(models.IngestionRun.id)).all()
        assert [(r.status, r.new, r.unchanged) for r in runs] == [
            ("completed", 2, 0),
            ("completed", 0, 2),
        ]
        assert all(r.flow_run_id for r in runs)


def test_ctrl_c_is_recorded_as_interrupted(
    prefect_server: None, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C (KeyboardInterrupt) in the second batch: the run is interrupted, not failed."""
    from flows.ingest import ingest_flow, store_batch_task

    for n in range(4):
        (tmp_path / f"{n}.txt").write_text(f"Headline {n}\n\nA body about trade deal number {n}.")
    calls: list[int] = []

    def ctrl_c_in_second_batch(*args: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return store_batch_task(*args)

    monkeypatch.setattr("flows.ingest.store_batch_task", ctrl_c_in_second_batch)
    with pytest.raises(KeyboardInterrupt):
        ingest_flow([str(tmp_path)], database_url=sqlite_url, batch_size=2, workers=1)
    with Session(open_database(sqlite_url)) as session:
        runs = session.scalars(select(models.IngestionRun)).all()
        assert [(r.status, r.new) for r in runs] == [("interrupted", 2)]


def test_bad_inputs_recorded_and_batch_goes_on(
    prefect_server: None, sqlite_url: str, tmp_path: Path
) -> None:
    from flows.ingest import ingest_flow

    (tmp_path / "dump.jsonl").write_bytes((DATA / "broken.jsonl").read_bytes())
    (tmp_path / "bin.txt").write_bytes(b"\x00\x00binary")
    (tmp_path / "good.txt").write_text("A headline\n\nA body about tariffs and a trade deal.")
    summary = ingest_flow([str(tmp_path)], database_url=sqlite_url, batch_size=2)
    assert summary.totals.new == 3 and summary.totals.errors == 4
    assert {Path(o).name.split(":")[0] for o, _ in summary.errors} == {"bin.txt", "dump.jsonl"}
    with Session(open_database(sqlite_url)) as session:
        stored = session.scalars(select(models.IngestionError)).all()
        assert len(stored) == 4 and {e.run_id for e in stored} == {summary.run_id}
    assert json.loads(json.dumps(summary.as_dict()))["errors"] == 4


def test_retag_flow_applies_a_changed_taxonomy_once(
    prefect_server: None, sqlite_url: str, seeds_dir: Path, tmp_path: Path
) -> None:
    from flows.ingest import ingest_flow
    from flows.retag import retag_flow

    ingest_flow([str(seeds_dir)], database_url=sqlite_url)
    changed = tmp_path / "taxonomy.yaml"
    builtin = Path(__file__).resolve().parent.parent / "processing" / "taxonomy.yaml"
    text = builtin.read_text(encoding="utf-8").replace('version: "', 'version: "changed-', 1)
    changed.write_text(text, encoding="utf-8")
    first = retag_flow(database_url=sqlite_url, taxonomy=str(changed), batch_size=1)
    # Same rules, new version: every tag is rewritten with the new tagger version, none lost.
    assert first.counts.articles == 2 and first.counts.restamped > 0
    assert (first.counts.added, first.counts.removed, first.counts.changed) == (0, 0, 0)
    again = retag_flow(database_url=sqlite_url, taxonomy=str(changed), batch_size=1)
    assert (again.counts.added, again.counts.removed, again.counts.restamped) == (0, 0, 0)
    with Session(open_database(sqlite_url)) as session:
        versions = set(session.scalars(select(models.ArticleTopic.tagger_version)))
    assert versions == {first.tagger_version} and "changed-" in first.tagger_version
