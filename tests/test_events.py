"""One ``newsflow.article.tagged`` event per newly tagged article, none on a re-run; and the
per-run report (artifact) with its counts per source and topic and its escaped errors."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from flows.reporting import report_markdown, source_counts
from newsflow.escape import markdown_cell
from newsflow.events import EVENT, emit_tagged
from newsflow.pipeline import prepare_database, tagger_for
from tests.conftest import ingest_plain


class Captured:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, **event: Any) -> None:
        self.events.append(event)


def _topics(event: dict[str, Any]) -> list[str]:
    return [r["prefect.resource.id"].removeprefix("newsflow.topic.") for r in event["related"]]


def test_an_event_per_new_article_with_its_topics(engine: Engine, seeds_dir: Path) -> None:
    emitted = Captured()
    result = ingest_plain(engine, seeds_dir)
    articles = emit_tagged(engine, result, emitted)
    assert len(emitted.events) == len(articles) == 2
    by_title = {e["payload"]["title"]: e for e in emitted.events}
    for event in emitted.events:
        assert event["event"] == EVENT
        assert (
            event["resource"]["prefect.resource.id"] == f"newsflow.article.{event['payload']['id']}"
        )
        assert event["payload"]["topics"] == _topics(event)
        assert event["resource"]["newsflow.topics"] == ",".join(event["payload"]["topics"])
        assert event["payload"]["change"] == "new" and event["payload"]["source"]
    arms = [t for t, e in by_title.items() if "arms-control" in e["payload"]["topics"]]
    assert len(arms) == 1  # the seeds: both russia-china, one of them arms-control
    assert all("russia-china" in e["payload"]["topics"] for e in emitted.events)
    again = Captured()
    assert emit_tagged(engine, ingest_plain(engine, seeds_dir), again) == []
    assert again.events == []


def test_copies_and_untagged_articles_give_no_event(engine: Engine, tmp_path: Path) -> None:
    body = "Arms control talks on nuclear warheads and missile treaties resumed in Geneva."
    (tmp_path / "a.txt").write_text(f"Talks resume\n\n{body}", encoding="utf-8")
    (tmp_path / "b.txt").write_text(f"Talks resume\n\n{body}", encoding="utf-8")
    (tmp_path / "c.txt").write_text("Weather\n\nSunny with light winds.", encoding="utf-8")
    result = ingest_plain(engine, tmp_path)
    assert (result.new, result.duplicates) == (2, 1)
    emitted = Captured()
    emit_tagged(engine, result, emitted)
    assert len(emitted.events) == 1
    assert "arms-control" in emitted.events[0]["payload"]["topics"]


def test_an_update_emits_only_when_its_topics_change(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("Trade talks\n\nTariffs on steel imports rise again.", encoding="utf-8")
    ingest_plain(engine, tmp_path)
    path.write_text("Trade talks\n\nTariffs on steel imports rise once more.", encoding="utf-8")
    same_topics = ingest_plain(engine, tmp_path)
    assert same_topics.updated == 1 and same_topics.retagged_ids == []
    assert emit_tagged(engine, same_topics, Captured()) == []
    path.write_text(
        "Trade talks\n\nTariffs rise; nuclear arms control talks on missile warheads stall.",
        encoding="utf-8",
    )
    changed = ingest_plain(engine, tmp_path)
    emitted = Captured()
    emit_tagged(engine, changed, emitted)
    assert changed.updated == 1 and changed.retagged_ids == changed.updated_ids
    (event,) = emitted.events
    assert event["payload"]["change"] == "retagged"
    assert "arms-control" in event["payload"]["topics"]


def test_report_counts_per_source_and_escapes_errors(engine: Engine, seeds_dir: Path) -> None:
    first = ingest_plain(engine, seeds_dir)
    rows = source_counts(engine, Counter(_sources(engine)), first, parse_errors=1)
    assert sum(r.new for r in rows) == 2 and sum(r.errors for r in rows) == 1
    assert all(r.read == r.new + r.updated + r.duplicates + r.unchanged + r.errors for r in rows)
    second = ingest_plain(engine, seeds_dir)
    again = source_counts(engine, Counter(_sources(engine)), second)
    assert sum(r.unchanged for r in again) == 2 and sum(r.new for r in again) == 0
    markdown = report_markdown(
        "run", rows, [("arms-control", 1)], [("a|b.txt", "bad *bold* <script>\nline")]
    )
    assert "| a\\|b.txt | bad \\*bold\\* \\<script\\> line |" in markdown
    assert "| arms\\-control | 1 |" not in markdown and "| arms-control | 1 |" in markdown
    assert markdown_cell("x_y [z](u)") == "x\\_y \\[z\\]\\(u\\)"


def _sources(engine: Engine) -> dict[str, int]:
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from storage import models

    with Session(engine) as session:
        stmt = (
            select(models.Source.name, func.count(models.Article.id))
            .join(models.Article, models.Article.source_id == models.Source.id)
            .group_by(models.Source.name)
        )
        return {name: count for name, count in session.execute(stmt)}


def _read_events(since: datetime, expected: int, timeout: float = 60.0) -> list[dict[str, Any]]:
    """Our events since ``since`` as the server stored them (its persister writes in batches)."""
    from prefect.client.orchestration import get_client
    from prefect.events.worker import EventsWorker

    EventsWorker.drain_all(timeout=30)
    body = {
        "filter": {"event": {"name": [EVENT]}, "occurred": {"since": since.isoformat()}},
        "limit": 50,
    }
    deadline = time.monotonic() + timeout
    events: list[dict[str, Any]] = []
    with get_client(sync_client=True) as client:
        while True:
            events = list(client.request("POST", "/events/filter", json=body).json()["events"])
            if len(events) >= expected or time.monotonic() > deadline:
                return events
            time.sleep(0.5)


@pytest.mark.prefect
def test_flow_runs_emit_events_to_the_server_and_publish_a_report(
    prefect_server: None, sqlite_url: str, seeds_dir: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.ingest import ingest_flow

    started = datetime.now(UTC) - timedelta(seconds=1)
    first = ingest_flow([str(seeds_dir)], database_url=sqlite_url)
    events = _read_events(started, 2)
    assert len(events) == 2
    sent = {
        e["resource"]["prefect.resource.id"]: sorted(
            r["prefect.resource.id"] for r in e["related"] if r["prefect.resource.role"] == "topic"
        )
        for e in events
    }
    assert sent == {
        f"newsflow.article.{article_id}": [f"newsflow.topic.{t}" for t in topics]
        for article_id, topics in _stored_topics(sqlite_url).items()
    }
    assert any("newsflow.topic.arms-control" in topics for topics in sent.values())
    for event in events:  # the run's own resources, as Prefect's emit_event attaches them
        roles = {r["prefect.resource.role"]: r["prefect.resource.id"] for r in event["related"]}
        assert roles["flow-run"].startswith("prefect.flow-run.") and "flow" in roles
    rerun = datetime.now(UTC)
    ingest_flow([str(seeds_dir)], database_url=sqlite_url)  # a no-op re-run
    time.sleep(3)  # the persister's flush interval
    assert _read_events(rerun, 1, timeout=5) == []
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["ingest-summary"]))
        )
    reports = [a for a in artifacts if f"run #{first.run_id}" in str(a.description)]
    assert reports and "| source | read | new |" in str(reports[0].data)


@pytest.mark.prefect
def test_a_retag_emits_events_for_articles_whose_topics_changed(
    prefect_server: None, sqlite_url: str, seeds_dir: Path, tmp_path: Path
) -> None:
    from flows.retag import retag_flow
    from tests.test_retag import SUMMITS

    ingest_plain(prepare_database(sqlite_url, tagger_for(None)), seeds_dir)  # no events
    before = _stored_topics(sqlite_url)
    taxonomy = tmp_path / "taxonomy.yaml"
    taxonomy.write_text(SUMMITS, encoding="utf-8")
    started = datetime.now(UTC) - timedelta(seconds=1)
    retag_flow(database_url=sqlite_url, taxonomy=str(taxonomy))
    after = _stored_topics(sqlite_url)
    expected = {
        f"newsflow.article.{a}": [f"newsflow.topic.{t}" for t in topics]
        for a, topics in after.items()
        if topics != before.get(a)
    }
    assert expected  # the new taxonomy changed the seeds' topics
    events = _read_events(started, len(expected))
    assert {
        e["resource"]["prefect.resource.id"]: sorted(
            r["prefect.resource.id"] for r in e["related"] if r["prefect.resource.role"] == "topic"
        )
        for e in events
    } == expected
    assert all(e["payload"]["change"] == "retagged" for e in events)
    rerun = datetime.now(UTC)
    retag_flow(database_url=sqlite_url, taxonomy=str(taxonomy))  # nothing changes
    time.sleep(3)  # the persister's flush interval
    assert _read_events(rerun, 1, timeout=5) == []


def _stored_topics(database_url: str) -> dict[int, list[str]]:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from storage import models
    from storage.db import open_database

    stored: dict[int, list[str]] = {}
    stmt = (
        select(models.ArticleTopic.article_id, models.Topic.slug)
        .join(models.Topic, models.Topic.id == models.ArticleTopic.topic_id)
        .order_by(models.Topic.slug)
    )
    with Session(open_database(database_url)) as session:
        for article_id, slug in session.execute(stmt):
            stored.setdefault(article_id, []).append(slug)
    return stored


def test_the_readme_automation_matches_arms_control_articles_only() -> None:
    import uuid
    from datetime import UTC, datetime

    import yaml

    from flows.runtime import configure_prefect

    configure_prefect()
    from prefect.events.schemas.automations import AutomationCore
    from prefect.server.events.schemas.automations import EventTrigger
    from prefect.server.events.schemas.events import ReceivedEvent

    from newsflow.events import TaggedArticle
    from tests.conftest import ROOT

    definition = yaml.safe_load(
        (ROOT / "deploy" / "automations" / "arms-control-alert.yaml").read_text(encoding="utf-8")
    )
    AutomationCore.model_validate(definition)  # what `prefect automation create` accepts
    trigger = EventTrigger.model_validate(definition["trigger"])

    def received(topics: tuple[str, ...]) -> ReceivedEvent:
        article = TaggedArticle(7, "Talks", "https://e.example/a", "desk", topics, "new")
        fields = {"occurred": datetime.now(UTC), "id": uuid.uuid4(), **article.event()}
        return ReceivedEvent.model_validate(fields)

    assert trigger.covers(received(("arms-control", "russia-china")))
    assert not trigger.covers(received(("trade",)))


@pytest.mark.prefect
def test_events_are_posted_in_chunks_and_all_arrive(prefect_server: None) -> None:
    from flows.reporting import EVENTS_PER_REQUEST, send_events
    from newsflow.events import TaggedArticle

    count = EVENTS_PER_REQUEST + 50
    started = datetime.now(UTC) - timedelta(seconds=1)
    marker = f"chunks-{time.time_ns()}"
    send_events(
        [
            TaggedArticle(i, f"{marker} {i}", None, "bulk", ("arms-control",), "new").event()
            for i in range(1, count + 1)
        ]
    )
    body = {
        "filter": {"event": {"name": [EVENT]}, "occurred": {"since": started.isoformat()}},
        "limit": 50,
    }
    from prefect.client.orchestration import get_client

    seen: set[str] = set()
    deadline = time.monotonic() + 60
    with get_client(sync_client=True) as client:
        while len(seen) < count and time.monotonic() < deadline:
            page = client.request("POST", "/events/filter", json=body).json()
            while True:
                seen |= {
                    e["payload"]["title"]
                    for e in page["events"]
                    if e["payload"]["title"].startswith(marker)
                }
                if not page.get("next_page"):
                    break
                page = client.request("GET", page["next_page"]).json()
            time.sleep(0.5)
    assert seen == {f"{marker} {i}" for i in range(1, count + 1)}


@pytest.mark.prefect
def test_no_article_events_to_the_temporary_server(
    prefect_server: None, engine: Engine, seeds_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run with no server configured gets a temporary one that stops with the command
    (``server_for_runs``): nothing could react to its article events, so none are sent; with
    a server configured they are."""
    from prefect.settings import get_current_settings

    from flows import local_server
    from flows.reporting import emit_article_events

    result = ingest_plain(engine, seeds_dir)
    api_url = get_current_settings().api.url
    monkeypatch.setattr(local_server, "_for_runs", {api_url})  # as server_for_runs records it
    assert local_server.on_temporary_server()
    assert emit_article_events(engine, result) == 0
    monkeypatch.setattr(local_server, "_for_runs", set())
    assert emit_article_events(engine, result) == 2
