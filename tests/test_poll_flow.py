"""The poll flow on a real (temporary) Prefect server, the serve deployment, and the CLI."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from flows.cli import main
from storage import models
from storage.db import open_database
from tests.conftest import DATA
from tests.loopback import LoopbackServer, Reply, Request
from tests.test_events import _read_events, _stored_topics
from tests.warcbuild import story

LIVE = DATA / "live"


@pytest.fixture
def polite_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSFLOW_ALLOW_PRIVATE_ADDRESSES", "1")
    monkeypatch.setenv("NEWSFLOW_HOST_DELAY", "0")
    monkeypatch.setenv("NEWSFLOW_FETCH_BACKOFF", "0")
    monkeypatch.setenv("NEWSFLOW_FETCH_RETRIES", "0")


@pytest.fixture
def sources_file(tmp_path: Path, loopback: LoopbackServer) -> Path:
    return write_sources(loopback, tmp_path)


def write_sources(loopback: LoopbackServer, directory: Path) -> Path:
    """A sources file of two feeds served by ``loopback``: ``desk`` (three articles, one of
    them fetched in full) and ``down`` (HTTP 503)."""
    feed = (LIVE / "feed.xml").read_text(encoding="utf-8").replace("{base}", loopback.base)
    loopback.routes["/feed.xml"] = Reply(200, feed.encode(), {"ETag": '"v1"'})
    loopback.routes["/world/arms-talks.html"] = Reply(200, (LIVE / "arms-talks.html").read_bytes())
    loopback.routes["/down.xml"] = Reply(503, b"maintenance")
    path = directory / "sources.yaml"
    path.write_text(
        "feeds:\n"
        f"  - {{name: desk, url: '{loopback.url('/feed.xml')}', fetch_full_text: true,"
        " tags: [trade]}\n"
        f"  - {{name: down, url: '{loopback.url('/down.xml')}', poll_interval: 2h}}\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.prefect
def test_poll_flow_polls_due_feeds_then_nothing(
    prefect_server: None, polite_env: None, db_url: str, sources_file: Path
) -> None:
    from flows.poll import poll_flow

    first = poll_flow(str(sources_file), database_url=db_url)
    outcomes = {f.name: f.outcome for f in first.feeds}
    assert outcomes == {"desk": "ok", "down": "error"}
    assert first.totals.new == 3
    assert [m for o, m in first.errors if o.endswith("/down.xml")] == ["HTTP 503"]
    second = poll_flow(str(sources_file), database_url=db_url)
    assert second.feeds == [] and second.totals.new == 0
    with Session(open_database(db_url)) as session:
        runs = session.scalars(select(models.IngestionRun).order_by(models.IngestionRun.id)).all()
        assert [(r.status, r.new) for r in runs] == [("completed", 3), ("completed", 0)]
        assert all(r.flow_run_id for r in runs)


def small_feeds(loopback: LoopbackServer, directory: Path, delays: list[float]) -> Path:
    """A sources file of feeds ``f0``, ``f1``... served by ``loopback``, each with a tagged
    story and an untagged one; feed ``n`` answers after ``delays[n]`` seconds."""
    lines = ["feeds:"]
    topics = ["arms control", "trade"]
    for n, delay in enumerate(delays):
        items = "".join(
            f"<item><title>Feed {n} story {k}</title><link>{loopback.base}/f{n}/{k}</link>"
            f"<description>{' '.join(story(10 * n + k, topics[k]))}</description></item>"
            for k in range(2)
        )
        feed = f'<rss version="2.0"><channel><title>f{n}</title>{items}</channel></rss>'
        loopback.routes[f"/f{n}.xml"] = Reply(200, feed.encode(), delay=delay)
        lines.append(f"  - {{name: f{n}, url: '{loopback.url(f'/f{n}.xml')}'}}")
    path = directory / "sources.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.prefect
def test_poll_flow_polls_groups_of_feeds_one_task_each(
    prefect_server: None,
    polite_env: None,
    monkeypatch: pytest.MonkeyPatch,
    loopback: LoopbackServer,
    tmp_path: Path,
    sqlite_url: str,
) -> None:
    """Nine feeds polled one at a time make four groups (four tasks of 3, 2, 2 and 2 feeds,
    named for their first feed); every feed's outcome comes back in order, and every feed's
    tagged articles have their event."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from flows.poll import poll_flow

    monkeypatch.setenv("NEWSFLOW_POLL_CONCURRENCY", "1")
    sources = small_feeds(loopback, tmp_path, [0.0] * 9)

    started = datetime.now(UTC) - timedelta(seconds=1)
    summary = poll_flow(str(sources), database_url=sqlite_url)
    assert [(f.name, f.outcome, f.result.new) for f in summary.feeds] == [
        (f"f{n}", "ok", 2) for n in range(9)
    ]
    tagged = _stored_topics(sqlite_url)  # an event per tagged article, every feed's
    assert len(tagged) == 9
    events = _read_events(started, len(tagged))
    assert sorted(e["resource"]["prefect.resource.id"] for e in events) == sorted(
        f"newsflow.article.{article_id}" for article_id in tagged
    )
    with Session(open_database(sqlite_url)) as session:
        flow_run_id = session.scalars(select(models.IngestionRun.flow_run_id)).one()
    assert flow_run_id
    runs = FlowRunFilter(id=FlowRunFilterId(any_=[UUID(flow_run_id)]))
    with get_client(sync_client=True) as client:
        deadline = time.monotonic() + 30  # the server records task runs from their events
        while True:
            names = sorted(t.name for t in client.read_task_runs(flow_run_filter=runs))
            if len(names) >= 4 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert names == [
        "poll-f0 and 2 more",
        "poll-f3 and 1 more",
        "poll-f5 and 1 more",
        "poll-f7 and 1 more",
    ]


@pytest.mark.prefect
def test_a_slow_feed_does_not_hold_up_the_next_tasks(
    prefect_server: None,
    polite_env: None,
    monkeypatch: pytest.MonkeyPatch,
    loopback: LoopbackServer,
    tmp_path: Path,
    sqlite_url: str,
) -> None:
    """Two tasks at a time, six feeds (a task each), the first answering after 4 s: the other
    five are fetched meanwhile, each as soon as a task ends, not after the slow one. (The
    host's requests are limited in this process, to 8 at once, not by the server's limit.)"""
    from flows import poll
    from flows.poll import poll_flow
    from newsflow.fetch import HostLimiter

    monkeypatch.setenv("NEWSFLOW_POLL_CONCURRENCY", "2")
    monkeypatch.setenv("NEWSFLOW_HOST_CONCURRENCY", "8")
    monkeypatch.setattr(poll, "limiter_for", lambda policy: HostLimiter(8, 0.0))
    sources = small_feeds(loopback, tmp_path, [4.0] + [0.0] * 5)
    arrived: dict[str, float] = {}
    replies = {path: reply for path, reply in loopback.routes.items() if isinstance(reply, Reply)}

    def timed(request: Request) -> Reply:
        arrived[request.path] = time.monotonic()
        return replies[request.path]

    loopback.routes.update({path: timed for path in replies})
    summary = poll_flow(str(sources), database_url=sqlite_url)
    assert [(f.name, f.outcome) for f in summary.feeds] == [(f"f{n}", "ok") for n in range(6)]
    slow = arrived.pop("/f0.xml")
    assert len(arrived) == 5 and max(arrived.values()) - slow < 3.0, arrived


def test_serve_deployment_schedule(sources_file: Path, sqlite_url: str) -> None:
    from flows.runtime import configure_prefect

    configure_prefect()
    from flows.poll import poll_deployment

    deployment = poll_deployment(900, str(sources_file), sqlite_url)
    assert deployment.name == "newsflow-poll"
    (schedule,) = deployment.schedules
    assert schedule.schedule.interval == timedelta(seconds=900)
    assert deployment.parameters == {
        "sources_file": str(sources_file),
        "database_url": sqlite_url,
        "taxonomy": None,
        "workers": None,
    }
    assert deployment.concurrency_limit == 1


@pytest.mark.prefect
def test_cli_ingest_sources_and_sources_commands(
    prefect_server: None,
    polite_env: None,
    sqlite_url: str,
    sources_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["ingest", "--sources", str(sources_file), "--db", sqlite_url])
    captured = capsys.readouterr()
    assert code == 1  # one feed failed; the other's articles are stored
    assert "Polled 2 feeds" in captured.out and "1 ok · 0 not modified · 1 failed" in captured.out
    assert "feed down failed: HTTP 503" in captured.err
    code = main(["ingest", "--sources", str(sources_file), "--db", sqlite_url])
    assert code == 0 and "No feeds are due (2 configured" in capsys.readouterr().out
    assert main(["sources", "list", "--db", sqlite_url]) == 0
    assert "desk" in capsys.readouterr().out
    assert main(["sources", "list", "--format", "json", "--db", sqlite_url]) == 0
    listing = {f["name"]: f for f in json.loads(capsys.readouterr().out)}
    assert (listing["down"]["last_error"], listing["down"]["error_count"]) == ("HTTP 503", 1)
    assert listing["desk"]["etag"] == '"v1"'
    code = main(["sources", "add", "extra", "http://127.0.0.1:9/feed", "--db", sqlite_url])
    assert code == 0 and "Added feed extra" in capsys.readouterr().out
    assert main(["sources", "remove", "down", "--db", sqlite_url]) == 0
    assert "its articles are kept" in capsys.readouterr().out
    assert main(["sources", "list", "--format", "json", "--db", sqlite_url]) == 0
    assert '"extra"' in capsys.readouterr().out


def test_cli_nothing_due_starts_no_flow(
    capsys: pytest.CaptureFixture[str], sqlite_url: str
) -> None:
    assert main(["ingest", "--feeds", "--db", sqlite_url]) == 0
    assert "No feeds are due (0 configured)." in capsys.readouterr().out
    assert main(["ingest", "--feeds", "--format", "json", "--db", sqlite_url]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["due"], data["configured"]) == (0, 0)


def test_cli_sources_file_commands(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    args = ["sources", "add", "desk", "https://a.example/rss", "--interval", "2h", "--full-text"]
    assert main([*args, "--tag", "trade", "--tag", "energy", "--file", str(path)]) == 0
    assert "to " + str(path) in capsys.readouterr().out
    assert main(["sources", "add", "wire", "https://w.example/f", "--file", str(path)]) == 0
    capsys.readouterr()
    assert main(["sources", "list", "--file", str(path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0] == {
        "name": "desk",
        "url": "https://a.example/rss",
        "poll_interval": 7200,
        "fetch_full_text": True,
        "tags": ["trade", "energy"],
    }
    # as a table like `sources list`, not Python values
    assert main(["sources", "list", "--file", str(path)]) == 0
    table = capsys.readouterr().out
    header = [cell.strip() for cell in table.splitlines()[1].split("┃")[1:-1]]
    assert header == ["name", "url", "every", "full text", "tags"]
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in table.splitlines()[3:5]]
    assert rows == [
        ["desk", "https://a.example/rss", "7200s", "yes", "trade, energy"],
        ["wire", "https://w.example/f", "default", "no", ""],
    ]
    assert "[" not in table and "True" not in table, table
    assert main(["sources", "remove", "desk", "--file", str(path)]) == 0
    assert main(["sources", "remove", "desk", "--file", str(path)]) == 1
    assert "no feed named 'desk'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["sources", "add", "x", "ftp://example.org/f"], 2, "is not an http(s) URL"),
        (["sources", "add", "x", "http://e.example/f", "--interval", "1s"], 2, "poll_interval"),
        (["sources", "add", "x", "http://e.example/f", "--tag", "gossip"], 1, "unknown topic"),
        (["sources", "remove", "nope"], 1, "no feed named 'nope'"),
        (["ingest", "--sources", "missing.yaml"], 1, "cannot read sources file"),
        (["serve", "--interval", "1"], 2, "--interval"),
    ],
)
def test_sources_cli_errors(
    capsys: pytest.CaptureFixture[str], sqlite_url: str, args: list[str], code: int, message: str
) -> None:
    if args[:2] == ["sources", "remove"]:
        assert main(["sources", "add", "y", "http://e.example/f", "--db", sqlite_url]) == 0
        capsys.readouterr()
    assert main([*args, "--db", sqlite_url]) == code
    err = capsys.readouterr().err
    assert err.startswith("newsflow: error:") and message in err
    assert len(err.strip().splitlines()) == 1
