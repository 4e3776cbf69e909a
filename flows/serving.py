"""``newsflow serve``: the ingest and poll flows as deployments on a schedule, until stopped.

The schedule is an interval (``schedule_interval`` seconds) or a cron expression
(``schedule_cron``, UTC), from the settings or the command line. The ingest flow is served
when there are paths to ingest; the poll flow when there is a sources file, or no paths (it
then polls the feeds stored with ``newsflow sources add``). Each deployment runs one run at a
time. Ctrl-C and SIGTERM stop serving the same way: in-flight runs are cancelled, the
deployments' schedules are paused on the server, and the command exits with status 0.
"""

from __future__ import annotations

import asyncio
import signal
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from newsflow.settings import DEFAULT_SCHEDULE_INTERVAL, Settings

FIRST_RUN_DELAY = 5  # seconds after `serve` starts: serving starts with a run, not a wait


@dataclass(frozen=True)
class ServePlan:
    """What ``serve`` serves, and when."""

    interval: int | None
    cron: str | None
    paths: tuple[str, ...]
    sources: str | None
    poll: bool

    def describe(self) -> str:
        when = f"on cron '{self.cron}' (UTC)" if self.cron else f"every {self.interval} s"
        flows = (["the ingest flow"] if self.paths else []) + (
            ["the poll flow"] if self.poll else []
        )
        return f"{' and '.join(flows)} {when}"


def serve_plan(
    settings: Settings,
    paths: list[Path],
    sources: Path | None,
    interval: int | None = None,
    cron: str | None = None,
) -> ServePlan:
    """The plan from the command line (``paths``, ``sources``, ``interval``, ``cron``), falling
    back on the settings (``serve_paths``, ``serve_sources``, ``schedule_*``)."""
    if interval is not None and cron is not None:
        raise ValueError("give --interval or --cron, not both")
    if interval is None and cron is None:
        interval, cron = settings.schedule_interval, settings.schedule_cron
    if interval is None and cron is None:
        interval = DEFAULT_SCHEDULE_INTERVAL
    if cron is not None:
        check_cron(cron)
    chosen_paths = paths or list(settings.serve_paths)
    chosen_sources = sources if sources is not None else settings.serve_sources
    return ServePlan(
        interval=interval,
        cron=cron,
        paths=tuple(str(p.resolve()) for p in chosen_paths),
        sources=str(chosen_sources.resolve()) if chosen_sources else None,
        poll=chosen_sources is not None or not chosen_paths,
    )


def check_cron(cron: str) -> None:
    """Raise ``ValueError`` unless ``cron`` is a cron expression Prefect accepts."""
    from prefect.client.schemas.schedules import CronSchedule
    from pydantic import ValidationError

    try:
        CronSchedule(cron=cron, timezone="UTC")
    except ValidationError as exc:
        raise ValueError(f"{cron!r} is not a cron expression Prefect accepts") from exc


def schedule(interval: int | None, cron: str | None) -> Any:
    """A Prefect schedule: the cron expression (UTC) or the interval, starting shortly."""
    from prefect.schedules import Cron, Interval

    if cron is not None:
        return Cron(cron, timezone="UTC")
    first = datetime.now(UTC) + timedelta(seconds=FIRST_RUN_DELAY)
    return Interval(timedelta(seconds=interval or DEFAULT_SCHEDULE_INTERVAL), anchor_date=first)


def deployments(
    plan: ServePlan, database_url: str, taxonomy: str | None, workers: int | None = None
) -> list[Any]:
    """The ingest and/or poll deployments of ``plan``; ``workers`` ``None``: the setting's,
    read by each run."""
    from flows.ingest import ingest_flow
    from flows.poll import poll_deployment

    served: list[Any] = []
    if plan.paths:
        served.append(
            ingest_flow.to_deployment(
                name="newsflow-ingest",
                schedule=schedule(plan.interval, plan.cron),
                parameters={
                    "paths": list(plan.paths),
                    "database_url": database_url,
                    "taxonomy": taxonomy,
                    "workers": workers,
                },
                concurrency_limit=1,
                description="Ingest the configured files and directories (new and changed "
                "articles only: a re-run of the same input is a no-op).",
                tags=["newsflow", "files"],
            )
        )
    if plan.poll:
        served.append(
            poll_deployment(
                plan.interval, plan.sources, database_url, taxonomy, cron=plan.cron, workers=workers
            )
        )
    return served


def exit_on_sigterm() -> None:
    """Until the runner takes over SIGTERM: exit 0 through ``finally`` blocks (so the local
    Prefect server, in a session of its own, is stopped too) instead of dying on the spot."""

    def exit_cleanly(*_: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, exit_cleanly)


def serve_until_stopped(served: list[Any]) -> None:
    """Serve ``served`` until Ctrl-C or SIGTERM; both stop cleanly."""
    from prefect.runner import Runner

    runner = Runner(pause_on_shutdown=True)
    for deployment in served:
        runner.add_deployment(deployment)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()

        def stop(*_: object) -> None:
            if task is not None:
                loop.call_soon_threadsafe(task.cancel)

        # The runner installs its own SIGTERM handler when it starts; its shutdown path races
        # the API client and prints CancelledError/ConnectError tracebacks. Cancelling the
        # main task is what Ctrl-C does (asyncio's SIGINT handler), and that path is clean.
        runner.handle_sigterm = stop  # type: ignore[method-assign]
        await runner.start()

    with suppress(KeyboardInterrupt, asyncio.CancelledError):
        asyncio.run(main())
