"""deploy/: every deployment of prefect.yaml names a real flow with parameters it accepts, and
the compose file wires the server, the one-shot deploy step, the workers and the databases.

(No Docker engine runs on the build machines: the image and the compose stack are checked by
reading them here, not started.)
"""

from __future__ import annotations

import importlib
import inspect
import tomllib
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
PREFECT_YAML = yaml.safe_load((DEPLOY / "prefect.yaml").read_text(encoding="utf-8"))
COMPOSE = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
DEPLOYMENTS: list[dict[str, Any]] = PREFECT_YAML["deployments"]


def test_the_expected_deployments() -> None:
    names = {d["name"]: d for d in DEPLOYMENTS}
    assert set(names) == {"ingest", "poll-feeds", "backfill", "retag"}
    assert names["ingest"]["schedules"] and names["poll-feeds"]["schedules"]
    assert "schedules" not in names["backfill"] and "schedules" not in names["retag"]
    assert {d["work_pool"]["name"] for d in DEPLOYMENTS} == {"newsflow"}


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=lambda d: str(d["name"]))
def test_entrypoint_is_a_flow_taking_the_parameters(deployment: dict[str, Any]) -> None:
    from flows.runtime import configure_prefect

    configure_prefect()
    from prefect import Flow

    path, name = deployment["entrypoint"].split(":")
    if path == "flows/backfill.py" and not (ROOT / path).exists():
        pytest.skip("flows/backfill.py comes with the backfill feature (branch issue-6a)")
    assert (ROOT / path).is_file()
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    flow = getattr(module, name)
    assert isinstance(flow, Flow)
    signature = inspect.signature(flow.fn)
    given = deployment.get("parameters") or {}
    assert set(given) <= set(signature.parameters), "unknown parameters"
    required = {n for n, p in signature.parameters.items() if p.default is p.empty}
    assert required <= set(given), "required parameters missing"
    flow.validate_parameters(given)  # the values have the flow's types


def test_schedules_are_valid() -> None:
    from flows.runtime import configure_prefect

    configure_prefect()
    from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule

    for deployment in DEPLOYMENTS:
        for entry in deployment.get("schedules", []):
            if "cron" in entry:
                CronSchedule(cron=entry["cron"], timezone=entry.get("timezone", "UTC"))
            else:
                assert IntervalSchedule(interval=entry["interval"]).interval.total_seconds() >= 60


def test_compose_wires_server_pool_workers_and_databases() -> None:
    services = COMPOSE["services"]
    assert set(services) == {"postgres", "prefect-server", "deploy", "worker"}
    for name, service in services.items():
        for needed in service.get("depends_on", {}):
            assert needed in services, f"{name} depends on unknown {needed}"
    server = services["prefect-server"]
    assert server["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"].startswith(
        "postgresql+asyncpg://"
    )
    assert "healthcheck" in server
    deploy = services["deploy"]
    script = " ".join(deploy["command"])
    assert "work-pool create newsflow --type process" in script
    assert "deploy --all" in script
    assert deploy["depends_on"]["prefect-server"]["condition"] == "service_healthy"
    worker = services["worker"]
    assert worker["entrypoint"][:5] == ["prefect", "worker", "start", "--pool", "newsflow"]
    assert "container_name" not in worker and "ports" not in worker  # so it can --scale
    assert worker["depends_on"]["deploy"]["condition"] == "service_completed_successfully"
    env = worker["environment"]
    assert env["PREFECT_API_URL"] == "http://prefect-server:4200/api"
    assert (
        env["NEWSFLOW_DATABASE_URL"].startswith("postgresql://")
        and "@postgres:" in env["NEWSFLOW_DATABASE_URL"]
    )
    initdb = (DEPLOY / "initdb" / "create-databases.sql").read_text(encoding="utf-8")
    assert "CREATE DATABASE prefect" in initdb and "CREATE DATABASE news" in initdb
    paths = {p["paths"][0] for d in DEPLOYMENTS if (p := d.get("parameters"))}
    mounts = {volume.rsplit(":", 2)[1] for volume in worker["volumes"]}
    assert paths <= mounts


def test_dockerfile_installs_the_package_as_a_non_root_user() -> None:
    lines = [
        line.strip()
        for line in (DEPLOY / "Dockerfile").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0].startswith("FROM python:3.11")
    copied = {line.split()[1] for line in lines if line.startswith("COPY") and "--" not in line}
    packages = {"newsflow", "parsers", "processing", "storage", "flows", "pyproject.toml"}
    assert packages <= copied
    assert any(line.startswith("RUN pip install .") for line in lines)
    assert any(line.endswith("deploy/prefect.yaml ./prefect.yaml") for line in lines)
    users = [line for line in lines if line.startswith("USER")]
    assert users and users[-1] != "USER root"
    assert lines.index(users[-1]) > max(i for i, line in enumerate(lines) if "pip install" in line)


def test_every_package_installed_is_copied_into_the_image() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {name.split(".")[0] for name in pyproject["tool"]["setuptools"]["packages"]}
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert all(f"COPY {package} ./{package}" in dockerfile for package in packages)
