"""The ingest flow as a deployment on a real local Prefect server, run by a real worker.

A process work pool, a deployment of ``flows/ingest.py:ingest_flow`` from the project source
(parameters: a temporary copy of the seeds and a temporary SQLite database), a ``prefect
worker`` subprocess polling the pool, a run triggered with ``run_deployment``: the run
completes and the seed articles are in the database.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flows.runtime import QUIET
from storage import models
from storage.db import open_database
from tests.conftest import ROOT

pytestmark = pytest.mark.prefect
RUN_TIMEOUT = 240.0  # seconds for the worker to pick up and finish the run


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def work_pool(prefect_server: None) -> Iterator[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate

    name = f"newsflow-test-{uuid.uuid4().hex[:8]}"
    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name=name, type="process"))
    yield name
    with get_client(sync_client=True) as client:
        client.delete_work_pool(name)


@pytest.fixture
def worker(work_pool: str, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``prefect worker start`` for the pool, pointed at the test server."""
    from prefect.settings import PREFECT_API_URL

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NEWSFLOW_"))}
    env.update(QUIET)
    env.update(
        {
            "PREFECT_API_URL": str(PREFECT_API_URL.value()),
            "PREFECT_HOME": str(tmp_path / "worker-home"),
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_LOGGING_LEVEL": "WARNING",
        }
    )
    log = (tmp_path / "worker.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "prefect", "worker", "start", "--pool", work_pool],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield process
    finally:
        _stop(process)
        log.close()


def test_worker_runs_the_ingest_deployment(
    worker: subprocess.Popen[bytes], work_pool: str, tmp_path: Path, seeds_dir: Path
) -> None:
    from prefect import Flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments import run_deployment

    from flows.ingest import ingest_flow

    shutil.copytree(seeds_dir, tmp_path / "seeds")
    database_url = f"sqlite:///{tmp_path / 'news.db'}"
    from_source = ingest_flow.from_source(
        source=str(ROOT), entrypoint="flows/ingest.py:ingest_flow"
    )
    assert isinstance(from_source, Flow)  # (sync context: not a coroutine)
    deployment_id = from_source.deploy(
        name="ingest-test",
        work_pool_name=work_pool,
        parameters={"paths": [str(tmp_path / "seeds")], "database_url": database_url},
        build=False,
        push=False,
        print_next_steps=False,
    )
    assert isinstance(deployment_id, UUID)
    flow_run = run_deployment(deployment_id, timeout=0)
    assert isinstance(flow_run, FlowRun)
    deadline = time.monotonic() + RUN_TIMEOUT
    with get_client(sync_client=True) as client:
        while True:
            state = client.read_flow_run(flow_run.id).state
            if state is not None and state.is_final():
                break
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            assert time.monotonic() < deadline, f"run not done in time: {state}"
            time.sleep(1)
    assert state.is_completed(), (state, (tmp_path / "worker.log").read_text())
    with Session(open_database(database_url)) as session:
        assert session.scalar(select(func.count()).select_from(models.Article)) == 2
        (run,) = session.scalars(select(models.IngestionRun)).all()
        assert (run.status, run.new, run.flow_run_id) == ("completed", 2, str(flow_run.id))
