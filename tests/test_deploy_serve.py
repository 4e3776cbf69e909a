"""`newsflow serve`: what it serves and when (settings, flags); one real `serve` process runs
both flows on schedule, then stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from flows.cli import main
from flows.serving import ServePlan, serve_plan
from newsflow.settings import load_settings
from tests.commands import StoredRun, wait_for_runs
from tests.conftest import ROOT
from tests.loopback import serving
from tests.test_poll_flow import write_sources


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
        "workers": None,  # each run reads the workers setting
    }
    assert poll.parameters["sources_file"] == str(tmp_path / "s.yaml")
    assert poll.parameters["workers"] is None
    # serve --workers N: every run of both flows uses N worker processes
    for deployment in deployments(plan, "sqlite:///x.db", None, workers=3):
        assert deployment.parameters["workers"] == 3
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


def test_a_server_set_in_the_prefect_profile_is_used(tmp_path: Path) -> None:
    """`prefect config set PREFECT_API_URL=…` counts as much as the environment variable:
    `serve` then starts no local server (nothing listens at that address: none is needed)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    prefect = str(Path(sys.executable).with_name("prefect"))
    setting = "PREFECT_API_URL=http://127.0.0.1:9/api"
    subprocess.run([prefect, "config", "set", setting], env=env, check=True, capture_output=True)
    assert (tmp_path / "prefect-home" / "profiles.toml").is_file()
    code = "from flows.local_server import local_prefect_server as s\nwith s() as u: print(u)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert (result.returncode, result.stdout) == (0, "None\n"), result.stderr


@dataclass(frozen=True)
class Served:
    """What one `newsflow serve` process did: its runs, output and exit status."""

    runs: list[StoredRun]
    out: str
    err: str
    returncode: int | None

    def runs_of(self, input_name: str) -> list[tuple[str, int]]:
        return [(r.status, r.new) for r in self.runs if any(input_name in i for i in r.inputs)]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, seeds_dir: Path) -> Served:
    """`newsflow serve seeds/ --sources FILE` in a subprocess, on the local Prefect server it
    starts, until the first run of both flows has completed; then SIGTERM."""
    home = tmp_path_factory.mktemp("serve")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NEWSFLOW_"))}
    env.update(
        {
            "PREFECT_HOME": str(home / "prefect-home"),
            "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2",
            "PREFECT_RUNNER_POLL_FREQUENCY": "2",
            "NEWSFLOW_ALLOW_PRIVATE_ADDRESSES": "1",  # the feeds are on loopback
            "NEWSFLOW_HOST_DELAY": "0",
            "NEWSFLOW_FETCH_RETRIES": "0",
        }
    )
    command = [str(Path(sys.executable).with_name("newsflow")), "serve", str(seeds_dir)]
    with serving() as loopback:
        sources = write_sources(loopback, home)
        process = subprocess.Popen(
            [*command, "--sources", str(sources), "--interval", "3600"],
            cwd=home,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            runs = wait_for_runs(process, home / "newsflow.db", completed=2, timeout=180)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                out, err = process.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                out, err = process.communicate()
    return Served(runs, out, err, process.returncode)


@pytest.mark.prefect
def test_serve_ingests_on_schedule(served: Served, seeds_dir: Path) -> None:
    """A scheduled run of the ingest flow ingests the seeds."""
    assert served.runs_of(str(seeds_dir))[:1] == [("completed", 2)], served
    assert (
        "Serving the ingest flow and the poll flow every 3600 s on a local Prefect server"
        in served.out
    )


@pytest.mark.prefect
def test_serve_polls_the_feeds_on_schedule(served: Served) -> None:
    """A scheduled run of the poll flow polls the sources file's feeds."""
    assert served.runs_of("/feed.xml")[:1] == [("completed", 3)], served


@pytest.mark.prefect
def test_serve_stops_cleanly_on_sigterm(served: Served) -> None:
    assert served.returncode == 0, served
    assert "Traceback" not in served.err and "Error" not in served.err, served.err
