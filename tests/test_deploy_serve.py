"""`newsflow serve`: what it serves and when (settings, flags), and a clean stop on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from flows.cli import main
from flows.serving import ServePlan, serve_plan
from newsflow.settings import load_settings
from tests.commands import wait_for_first_run


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("NEWSFLOW_SCHEDULE", "NEWSFLOW_SERVE", "NEWSFLOW_CONFIG")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_plan_from_settings_and_flags(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    plan = serve_plan(load_settings(), [], None)
    assert plan == ServePlan(interval=300, cron=None, paths=(), sources=None, poll=True)
    (tmp_path / "inbox").mkdir()
    (tmp_path / "newsflow.toml").write_text(
        'schedule_cron = "*/15 * * * *"\nserve_paths = ["inbox"]\n', encoding="utf-8"
    )
    plan = serve_plan(load_settings(), [], None)
    assert (plan.cron, plan.interval, plan.poll) == ("*/15 * * * *", None, False)
    assert plan.paths == (str(tmp_path / "inbox"),)
    assert plan.describe() == "the ingest flow on cron '*/15 * * * *' (UTC)"
    flags = serve_plan(load_settings(), [tmp_path], tmp_path / "s.yaml", interval=60)
    assert (flags.interval, flags.cron, flags.paths, flags.poll) == (
        60,
        None,
        (str(tmp_path),),
        True,
    )
    assert flags.describe() == "the ingest flow and the poll flow every 60 s"
    monkeypatch.setenv("NEWSFLOW_SCHEDULE_INTERVAL", "120")
    with pytest.raises(Exception, match="schedule_interval or schedule_cron, not both"):
        load_settings()
    monkeypatch.delenv("NEWSFLOW_SCHEDULE_INTERVAL")
    with pytest.raises(ValueError, match="not both"):
        serve_plan(load_settings(), [], None, interval=60, cron="0 * * * *")


def test_cron_checked_before_serving() -> None:
    with pytest.raises(ValueError, match="not a cron expression Prefect accepts"):
        serve_plan(load_settings(), [], None, cron="61 * * * *")
    with pytest.raises(Exception, match="is not a cron expression"):
        load_settings(schedule_cron="every day")


def test_deployments_carry_schedule_and_parameters(tmp_path: Path) -> None:
    from flows.runtime import configure_prefect

    configure_prefect()
    from flows.serving import deployments

    plan = serve_plan(load_settings(), [tmp_path], tmp_path / "s.yaml", cron="0 6 * * *")
    ingest, poll = deployments(plan, "sqlite:///x.db", None)
    assert (ingest.name, poll.name) == ("newsflow-ingest", "newsflow-poll")
    assert ingest.parameters == {
        "paths": [str(tmp_path)],
        "database_url": "sqlite:///x.db",
        "taxonomy": None,
    }
    assert poll.parameters["sources_file"] == str(tmp_path / "s.yaml")
    for deployment in (ingest, poll):
        (schedule,) = deployment.schedules
        assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 6 * * *", "UTC")
        assert deployment.concurrency_limit == 1
    (interval,) = deployments(serve_plan(load_settings(), [tmp_path], None, 90), "x", None)[
        0
    ].schedules
    assert interval.schedule.interval == timedelta(seconds=90)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["serve", "--interval", "60", "--cron", "0 * * * *"], "not both"),
        (["serve", "--cron", "61 * * * *"], "not a cron expression"),
        (["serve", "missing-dir"], "no such file or directory"),
    ],
)
def test_serve_cli_errors(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str, tmp_path: Path
) -> None:
    assert main([*args, "--db", f"sqlite:///{tmp_path / 'n.db'}"]) in (1, 2)
    err = capsys.readouterr().err
    assert err.startswith("newsflow: error:") and message in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.prefect
def test_serve_ingests_on_schedule_and_stops_cleanly_on_sigterm(
    tmp_path: Path, seeds_dir: Path
) -> None:
    """`newsflow serve seeds/` in a subprocess: a run ingests the seeds; SIGTERM exits 0."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NEWSFLOW_"))}
    env.update(
        {
            "PREFECT_HOME": str(tmp_path / "prefect-home"),
            "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2",
            "PREFECT_RUNNER_POLL_FREQUENCY": "2",
        }
    )
    database_url = f"sqlite:///{tmp_path / 'news.db'}"
    command = [str(Path(sys.executable).with_name("newsflow")), "serve", str(seeds_dir)]
    process = subprocess.Popen(
        [*command, "--interval", "3600", "--db", database_url],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        runs = wait_for_first_run(process, tmp_path / "news.db", timeout=180)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            out, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
    assert runs[:1] == [("completed", 2)], (out, err)
    assert "Serving the ingest flow every 3600 s on a local Prefect server" in out
    assert process.returncode == 0, (out, err)
    assert "Traceback" not in err and "Error" not in err, err
