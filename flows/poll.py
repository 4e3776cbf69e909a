"""The poll flow: poll the feeds that are due, a few tasks at a time.

Each task polls a group of feeds one after another (:func:`newsflow.polling.feed_groups`): one
feed per task in a small poll, up to 20 in a large one, since a task run costs about as much
CPU as polling a small feed. The logic is :mod:`newsflow.polling`'s; this module only
orchestrates it. ``newsflow serve`` serves this flow on a schedule (:func:`poll_deployment`),
so each run polls only what is due. The tasks run in threads of the flow's process and share
one pool of worker processes for the CPU work (:func:`newsflow.polling.feed_workers`), started
only when a run has enough of it.
"""

from __future__ import annotations

import atexit
import threading
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.context import get_run_context
from prefect.futures import PrefectFuture, as_completed

from flows.host_limits import limiter_for
from flows.reporting import emit_article_events, poll_source_counts, publish_run_report
from newsflow.escape import markdown_cell
from newsflow.fetch import Fetcher, FetchPolicy
from newsflow.parallel import CallPool, startup_frozen
from newsflow.pipeline import prepare_database, tagger_for
from newsflow.polling import (
    INLINE,
    FeedOutcome,
    PollSummary,
    feed_groups,
    feed_workers,
    feeds_to_poll,
    group_label,
    poll_group,
    summarize,
)
from newsflow.settings import load_settings
from storage import repository
from storage.db import describe, open_database
from storage.feeds import FeedRecord

_fetchers: dict[FetchPolicy, Fetcher] = {}
_lock = threading.Lock()
# Each poll run's worker processes, by run id, for its tasks (threads of the flow's process).
_run_workers: dict[int, CallPool] = {}


def shared_fetcher(policy: FetchPolicy) -> Fetcher:
    """One client per policy for the whole process, so per-host limits hold across tasks.

    Its limiter holds across processes too when a Prefect server is configured (workers):
    see :mod:`flows.host_limits`.
    """
    with _lock:
        fetcher = _fetchers.get(policy)
        if fetcher is None:
            fetcher = _fetchers[policy] = Fetcher(policy, limiter=limiter_for(policy))
        return fetcher


@atexit.register
def close_shared_fetchers() -> None:
    with _lock:
        for fetcher in _fetchers.values():
            fetcher.close()
        _fetchers.clear()


@task(name="poll-feeds", cache_policy=NO_CACHE, task_run_name="poll-{label}")
def poll_feeds_task(
    group: list[FeedRecord], label: str, database_url: str, taxonomy: str | None, run_id: int
) -> list[FeedOutcome]:
    """Fetch, parse and store a group of feeds (:func:`newsflow.polling.feed_groups`), one
    after another, storing a few feeds at a time (:func:`newsflow.polling.poll_group`); each
    feed's failures come back in its outcome. The pool of the run (when the task runs in the
    flow's process) parses, extracts and tags."""
    settings = load_settings(database_url=database_url, taxonomy=taxonomy)
    engine = open_database(settings.database_url)
    tagger = tagger_for(settings.taxonomy)
    fetcher = shared_fetcher(FetchPolicy.from_settings(settings))
    workers = _run_workers.get(run_id, INLINE)
    return poll_group(
        group,
        engine=engine,
        tagger=tagger,
        fetcher=fetcher,
        settings=settings,
        run_id=run_id,
        workers=workers,
    )


def _feeds_markdown(summary: PollSummary) -> str:
    lines = [
        "| feed | outcome | HTTP | entries | new | updated | unchanged | error |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for f in summary.feeds:
        error = markdown_cell(f.error or "")
        lines.append(
            f"| {markdown_cell(f.name)} | {f.outcome} | {f.status or ''} | {f.entries} | "
            f"{f.result.new} | {f.result.updated} | {f.result.unchanged} | {error} |"
        )
    return "\n".join(lines)


def _keep_first_done(
    running: dict[PrefectFuture[list[FeedOutcome]], int], polled: list[list[FeedOutcome]]
) -> None:
    """Wait for whichever ``running`` task (its group's index) finishes first; keep its
    outcomes in ``polled``. The next group starts as soon as any task ends, not only the
    oldest: a group held up by a slow feed does not hold up the others."""
    done = next(as_completed(list(running)))
    polled[running.pop(done)] = done.result()


@flow(name="poll-feeds", log_prints=False)
def poll_flow(
    sources_file: str | None = None,
    database_url: str | None = None,
    taxonomy: str | None = None,
    workers: int | None = None,
) -> PollSummary:
    """Poll the feeds that are due (those of ``sources_file``, else all stored feeds).

    ``workers`` processes parse, extract and tag (the ``workers`` setting when ``None``).
    """
    settings = load_settings(database_url=database_url, taxonomy=taxonomy, workers=workers)
    taxonomy_name = str(settings.taxonomy) if settings.taxonomy else None
    tagger = tagger_for(settings.taxonomy)
    engine = prepare_database(settings.database_url, tagger)
    due = feeds_to_poll(engine, tagger, Path(sources_file) if sources_file else None)
    flow_run = get_run_context().flow_run  # type: ignore[union-attr]
    urls = [f.url for f in due]
    run_id = repository.start_run(engine, urls, str(flow_run.id) if flow_run else None)
    summary = PollSummary(run_id=run_id, database=describe(settings.database_url), inputs=urls)
    groups = feed_groups(due, settings.poll_concurrency)
    polled: list[list[FeedOutcome]] = [[] for _ in groups]  # each group's outcomes, in order
    status = "completed"
    try:
        with startup_frozen(), feed_workers(settings) as pool:
            _run_workers[run_id] = pool
            try:
                running: dict[PrefectFuture[list[FeedOutcome]], int] = {}
                for index, group in enumerate(groups):
                    if len(running) >= settings.poll_concurrency:
                        _keep_first_done(running, polled)
                    future = poll_feeds_task.submit(
                        group,
                        group_label([f.name for f in group]),
                        settings.database_url,
                        taxonomy_name,
                        run_id,
                    )
                    running[future] = index
                while running:
                    _keep_first_done(running, polled)
            finally:
                del _run_workers[run_id]
    except BaseException as stop:  # an error, or Ctrl-C (KeyboardInterrupt): interrupted
        status = repository.ended_status(stop)
        raise
    finally:  # the feeds polled so far, whether the run ended or stopped
        summarize(summary, [outcome for group in polled for outcome in group])
        repository.finish_run(engine, run_id, summary.totals, status=status)
    emit_article_events(engine, summary.totals)  # every feed's articles: one look-up, bulk posts
    publish_run_report(
        "poll",
        run_id,
        poll_source_counts(summary),
        summary.topics,
        summary.errors,
        details=_feeds_markdown(summary),
    )
    return summary


def poll_deployment(
    interval: int | None,
    sources_file: str | None = None,
    database_url: str | None = None,
    taxonomy: str | None = None,
    name: str = "newsflow-poll",
    cron: str | None = None,
    workers: int | None = None,
) -> Any:
    """The poll flow as a deployment run every ``interval`` seconds (or on ``cron``, UTC),
    one run at a time."""
    from flows.serving import schedule

    return poll_flow.to_deployment(
        name=name,
        schedule=schedule(interval, cron),
        parameters={
            "sources_file": sources_file,
            "database_url": database_url,
            "taxonomy": taxonomy,
            "workers": workers,
        },
        concurrency_limit=1,
        description="Poll the newsflow feeds that are due and store their articles.",
        tags=["newsflow", "feeds"],
    )
