"""Faults: a run killed mid-batch, a locked or unreachable database, a full disk, a file that
cannot be opened. Nothing is lost or doubled, and the user gets one clear line."""

from __future__ import annotations

import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, delete, event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from flows.cli import main
from newsflow.errors import DatabaseError, SourceError
from newsflow.pipeline import ingest_batch, prepare_database, tagger_for
from newsflow.polling import make_fetcher, poll_feed, poll_group
from newsflow.retag import retag_batch
from newsflow.sources import FeedSource
from parsers import batched, iter_path
from storage import feeds, models
from storage.db import begin_writing, close_all, open_database, write_turn
from storage.errors import DatabaseBusy
from storage.retry import lock_wait_listener, with_retry
from tests.commands import start_newsflow
from tests.conftest import ROOT, _libpq
from tests.loopback import LoopbackServer, Reply, Request
from tests.test_polling import settings_for

WORDS = [
    "minister",
    "parliament",
    "harbour",
    "festival",
    "drought",
    "vaccine",
    "satellite",
    "railway",
    "election",
    "budget",
    "orchestra",
    "glacier",
    "factory",
    "refinery",
    "tariff",
    "embassy",
    "summit",
    "wildfire",
    "museum",
    "stadium",
    "reactor",
    "pipeline",
    "vineyard",
    "bridge",
    "tunnel",
    "airline",
    "startup",
    "court",
    "verdict",
    "protest",
    "strike",
    "treaty",
    "province",
    "island",
    "coastline",
    "village",
    "senate",
    "cabinet",
    "ceasefire",
    "reservoir",
    "telescope",
]


def make_corpus(directory: Path, count: int, seed: int = 7) -> Path:
    """``count`` distinct plain-text articles (no two near copies of each other)."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    for number in range(count):
        sentences = [
            " ".join(rng.choice(WORDS) for _ in range(12)).capitalize() + "." for _ in range(12)
        ]
        body = "\n\n".join(" ".join(sentences[i : i + 3]) for i in range(0, 12, 3))
        title = f"Report {number}: {' '.join(rng.choice(WORDS) for _ in range(5))}"
        (directory / f"story-{number:03d}.txt").write_text(f"{title}\n\n{body}\n", "utf-8")
    return directory


def table_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        counts = {
            name: conn.execute(text(f"SELECT count(*) FROM {name}")).scalar_one()  # noqa: S608
            for name in ("articles", "article_topics", "article_signatures", "article_bands")
        }
        counts["distinct guids"] = conn.execute(
            select(func.count(func.distinct(models.Article.guid)))
        ).scalar_one()
        counts["distinct hashes"] = conn.execute(
            select(func.count(func.distinct(models.Article.content_hash)))
        ).scalar_one()
        if engine.dialect.name == "sqlite":
            counts["fts"] = conn.execute(text("SELECT count(*) FROM articles_fts")).scalar_one()
        else:
            counts["fts"] = conn.execute(
                text("SELECT count(*) FROM articles WHERE search IS NOT NULL")
            ).scalar_one()
    return counts


CHILD = """
import sys
from pathlib import Path
from newsflow.pipeline import ingest_batch, prepare_database, tagger_for
from parsers import batched, iter_path

url, corpus, size = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
tagger = tagger_for(None)
engine = prepare_database(url, tagger)
for batch in batched(iter_path(corpus), size):
    ingest_batch(batch, engine, tagger, None)
    print("committed", flush=True)
"""


def test_killed_mid_batch_then_rerun_stores_every_article_once(db_url: str, tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "corpus", 60)
    size = 10
    prepare_database(db_url, tagger_for(None))  # migrated before the child starts
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, db_url, str(corpus), str(size)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as child:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "committed"  # the first batch is stored
        child.send_signal(signal.SIGKILL)  # while the second batch is processed or stored
        child.wait(30)
    assert child.returncode == -signal.SIGKILL
    engine = open_database(db_url)
    stored = table_counts(engine)["articles"]
    assert 0 < stored < 60 and stored % size == 0  # whole batches only, never half of one

    tagger = tagger_for(None)
    for batch in batched(iter_path(corpus), size):  # the same run again
        ingest_batch(batch, engine, tagger, None)
    counts = table_counts(engine)
    bands = 32  # the default neardup_bands: one row per band of each original
    assert counts == {
        "articles": 60,
        "article_topics": counts["article_topics"],
        "article_signatures": 60,
        "article_bands": 60 * bands,
        "distinct guids": 60,
        "distinct hashes": 60,
        "fts": 60,
    }
    with Session(engine) as session:
        pairs = session.execute(
            select(models.ArticleTopic.article_id, models.ArticleTopic.topic_id)
        ).all()
    assert len(pairs) == len(set(pairs))
    again = [ingest_batch(b, engine, tagger, None) for b in batched(iter_path(corpus), size)]
    assert sum(r.new for r in again) == 0 and sum(r.unchanged for r in again) == 60
    assert table_counts(engine) == counts


@contextmanager
def sqlite_locked(url: str, seconds: float | None = None) -> Iterator[threading.Event]:
    """Another connection holds ``BEGIN EXCLUSIVE`` on the SQLite file (until released)."""
    path = make_url(url).database
    assert path is not None
    release = threading.Event()
    held = threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(path, timeout=5, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("UPDATE sources SET id = id WHERE id = -1")
        held.set()
        release.wait(seconds)
        conn.execute("COMMIT")
        conn.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    held.wait(10)
    try:
        yield release
    finally:
        release.set()
        thread.join(10)


@pytest.fixture
def retry_seconds(monkeypatch: pytest.MonkeyPatch) -> float:
    seconds = 1.5
    monkeypatch.setenv("NEWSFLOW_DB_RETRY_SECONDS", str(seconds))
    monkeypatch.setenv("NEWSFLOW_DB_READ_RETRY_SECONDS", str(seconds))
    return seconds


@contextmanager
def sqlite_locked_for_readers(url: str, seconds: float | None = None) -> Iterator[None]:
    """Another program holds ``BEGIN EXCLUSIVE`` on the SQLite file in rollback-journal mode,
    so that even a reader must wait (in WAL mode readers never do)."""
    close_all()
    path = make_url(url).database
    assert path is not None
    conn = sqlite3.connect(path, timeout=5, isolation_level=None, check_same_thread=False)
    assert conn.execute("PRAGMA journal_mode=DELETE").fetchone() == ("delete",)
    conn.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(seconds, conn.rollback) if seconds is not None else None
    if release:
        release.start()
    try:
        yield
    finally:
        if release:
            release.cancel()
            release.join()
        if conn.in_transaction:
            conn.rollback()
        conn.close()


def test_a_read_command_says_at_once_that_it_waits_for_a_locked_database(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NEWSFLOW_DB_READ_RETRY_SECONDS", "20")
    prepare_database(sqlite_url, tagger_for(None))
    with sqlite_locked_for_readers(sqlite_url, seconds=2.0):
        code = main(["stats", "--db", sqlite_url])
    captured = capsys.readouterr()
    assert code == 0 and "articles" in captured.out
    (line,) = captured.err.splitlines()  # the notice, and no error: the lock went in time
    assert line.startswith("newsflow: sqlite:///") and "is locked by another writer" in line
    assert line.endswith("; retrying for up to 20 s")


def test_a_read_command_gives_up_after_the_read_budget(
    sqlite_url: str, retry_seconds: float, capsys: pytest.CaptureFixture[str]
) -> None:
    prepare_database(sqlite_url, tagger_for(None))
    with sqlite_locked_for_readers(sqlite_url):
        started = time.monotonic()
        code = main(["query", "--db", sqlite_url])
        waited = time.monotonic() - started
    notice, error = capsys.readouterr().err.splitlines()
    assert code == 1 and retry_seconds <= waited < retry_seconds + 5
    assert notice.endswith(f"retrying for up to {retry_seconds:g} s")
    assert error.startswith("newsflow: error: sqlite:///") and "is locked" in error
    assert f"(db_read_retry_seconds = {retry_seconds:g})" in error


@contextmanager
def sqlite_write_locked(url: str, seconds: float | None = None) -> Iterator[Callable[[], None]]:
    """Another connection holds ``BEGIN IMMEDIATE`` (the file's write lock; in WAL mode readers
    still read) until the function yielded is called, or a thread calls it after ``seconds``."""
    path = make_url(url).database
    assert path is not None
    conn = sqlite3.connect(path, timeout=5, isolation_level=None, check_same_thread=False)
    conn.execute("BEGIN IMMEDIATE")
    guard = threading.Lock()

    def release() -> None:
        with guard:
            if conn.in_transaction:
                conn.rollback()

    timer = threading.Timer(seconds, release) if seconds is not None else None
    if timer:
        timer.start()
    try:
        yield release
    finally:
        if timer:
            timer.cancel()
            timer.join()
        release()
        conn.close()


def test_a_writer_says_at_once_that_it_waits_for_another_writers_lock(
    sqlite_url: str, tmp_path: Path
) -> None:
    """Opening a SQLite file for writing while another process writes: the listeners hear
    of the wait within a second, once; the wait goes on until the lock is released."""
    prepare_database(sqlite_url, tagger_for(None))
    close_all()
    heard: list[tuple[float, str, float]] = []
    started = time.monotonic()

    def listener(error: DatabaseBusy, seconds: float) -> None:
        heard.append((time.monotonic() - started, str(error), seconds))

    with sqlite_write_locked(sqlite_url, 3.0), lock_wait_listener(listener):
        started = time.monotonic()
        engine = open_database(sqlite_url, retry_seconds=20)
        waited = time.monotonic() - started
    ((when, message, budget),) = heard
    assert when < 1.2 and budget == 20
    assert message.startswith(sqlite_url) and "is locked by another writer" in message
    assert waited >= 2.0  # it went on waiting for the lock
    items = list(iter_path(make_corpus(tmp_path / "c", 3)))
    assert ingest_batch(items, engine, tagger_for(None), None).new == 3
    close_all()
    with lock_wait_listener(listener):  # a free file: nothing to say
        open_database(sqlite_url, retry_seconds=20)
    assert len(heard) == 1


Heard = list[tuple[float, str, float]]


@contextmanager
def hearing_lock_waits() -> Iterator[Heard]:
    """What the lock-wait listeners are told in the block: (seconds since it began, message,
    budget) each time. The listener is registered in the calling thread, as the CLI's is."""
    heard: Heard = []
    started = time.monotonic()

    def listener(error: DatabaseBusy, seconds: float) -> None:
        heard.append((time.monotonic() - started, str(error), seconds))

    with lock_wait_listener(listener):
        yield heard


@pytest.mark.parametrize("unreadable", [0, 1], ids=["articles", "with-an-unreadable-input"])
def test_a_batch_says_at_once_that_it_waits_for_a_lock_taken_after_the_file_was_opened(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unreadable: int
) -> None:
    """Another writer takes the lock between two batches: the batch, stored in a worker thread
    as a flow's task is, tells the main thread's listener once within a second, waits, and is
    stored whole once the lock is released (its errors, recorded first, too)."""
    monkeypatch.setenv("NEWSFLOW_DB_RETRY_SECONDS", "20")
    tagger = tagger_for(None)
    engine = prepare_database(sqlite_url, tagger)  # opened while the file is free
    items: list[Any] = list(iter_path(make_corpus(tmp_path / "c", 5)))
    items += [SourceError("broken.txt", "cannot be read")] * unreadable
    assert ingest_batch(items[:2], engine, tagger, None).new == 2
    with (
        ThreadPoolExecutor(1) as pool,
        sqlite_write_locked(sqlite_url, 2.5),
        hearing_lock_waits() as heard,
    ):
        begun = time.monotonic()
        result = pool.submit(ingest_batch, items[2:], engine, tagger, None).result(30)
        waited = time.monotonic() - begun
    ((when, message, budget),) = heard
    assert when < 1.2 and budget == 20
    assert message.startswith(sqlite_url) and "is locked by another writer" in message
    assert waited >= 2.0  # it went on waiting, then stored the batch
    assert result.new == 3 and table_counts(engine)["articles"] == 5  # nothing lost
    assert result.errors == unreadable
    with Session(engine) as session:
        assert session.scalar(select(func.count(models.IngestionError.id))) == unreadable


def test_batches_on_a_free_file_tell_nothing(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No other writer: storing batches tells nothing, and the connections wait for a lock for
    the whole budget again afterwards (the short first wait does not stay)."""
    monkeypatch.setenv("NEWSFLOW_DB_RETRY_SECONDS", "20")
    tagger = tagger_for(None)
    engine = prepare_database(sqlite_url, tagger)
    corpus = make_corpus(tmp_path / "c", 9)
    with hearing_lock_waits() as heard:
        results = [ingest_batch(b, engine, tagger, None) for b in batched(iter_path(corpus), 3)]
    assert heard == [] and [r.new for r in results] == [3, 3, 3]
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 20_000


def test_a_batch_that_never_gets_the_lock_says_so_then_fails_clearly_and_stores_nothing(
    sqlite_url: str, tmp_path: Path, retry_seconds: float
) -> None:
    """The lock held longer than db_retry_seconds: told once, then one clear error after the
    budget (one wait, not a second one by the retries), and nothing of the batch stored."""
    tagger = tagger_for(None)
    engine = prepare_database(sqlite_url, tagger)
    items = list(iter_path(make_corpus(tmp_path / "c", 5)))
    with sqlite_write_locked(sqlite_url), hearing_lock_waits() as heard:
        begun = time.monotonic()
        with pytest.raises(DatabaseBusy) as info:
            ingest_batch(items, engine, tagger, None)
        waited = time.monotonic() - begun
    ((when, _, budget),) = heard
    assert when < 1.2 and budget == retry_seconds
    assert retry_seconds <= waited < retry_seconds + 1.0
    message = str(info.value)
    assert message.startswith(f"{sqlite_url} is locked by another writer")
    assert f"and 1 attempt (db_retry_seconds = {retry_seconds:g})" in message
    assert table_counts(engine)["articles"] == 0  # not partly stored
    assert ingest_batch(items, engine, tagger, None).new == 5  # a re-run stores it


def test_a_batch_waiting_for_another_batch_of_its_process_says_nothing(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches of one process (a backfill stores two at once) take turns without a word: only
    a lock held by someone else is told. Here this thread holds its turn and the file's lock
    for a second, as a long batch does, while another thread stores a batch."""
    monkeypatch.setenv("NEWSFLOW_DB_RETRY_SECONDS", "20")
    tagger = tagger_for(None)
    engine = prepare_database(sqlite_url, tagger)
    items = list(iter_path(make_corpus(tmp_path / "c", 3)))
    with ThreadPoolExecutor(1) as pool, hearing_lock_waits() as heard:
        with write_turn(engine) as started, engine.begin() as conn:
            begin_writing(conn, started)
            stored = pool.submit(ingest_batch, items, engine, tagger, None)
            time.sleep(1.0)
            assert not stored.done()  # it waits for its turn
        result = stored.result(30)
    assert heard == [] and result.new == 3


def test_a_retag_batch_says_at_once_that_it_waits_for_another_writers_lock(
    sqlite_url: str, seeds_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`retag` stores each batch of new tags as ingest stores articles: another writer holding
    the file's lock is told within a second, once, and the batch is stored when it is free."""
    monkeypatch.setenv("NEWSFLOW_DB_RETRY_SECONDS", "20")
    tagger = tagger_for(None)
    engine = prepare_database(sqlite_url, tagger)
    ingest_batch(list(iter_path(seeds_dir)), engine, tagger, None)
    with Session(engine) as session:
        ids = list(session.scalars(select(models.Article.id)))
        session.execute(delete(models.ArticleTopic))  # tags to put back
        session.commit()
    with sqlite_write_locked(sqlite_url, 2.0), hearing_lock_waits() as heard:
        counts = retag_batch(engine, tagger, ids)
    ((when, message, budget),) = heard
    assert when < 1.2 and budget == 20 and "is locked by another writer" in message
    assert counts.articles == 2
    assert table_counts(engine)["article_topics"] > 0  # stored once the lock was free


def test_a_write_command_says_once_that_it_waits_then_succeeds(
    sqlite_url: str, tmp_path: Path
) -> None:
    """`newsflow sources add` on a file another process is writing: one line on stderr while
    it waits (db_retry_seconds, 30 s), then, the lock released, the feed is added."""
    prepare_database(sqlite_url, tagger_for(None))
    close_all()
    feed = "https://wire.example.org/feed.json"
    with sqlite_write_locked(sqlite_url) as release:
        child = start_newsflow(
            tmp_path,
            *("sources", "add", "wire", feed, "--db", sqlite_url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        releaser = threading.Timer(0.5, release)
        try:
            assert child.stderr is not None
            notice = child.stderr.readline()  # while the lock is held
            releaser.start()
            out, rest = child.communicate(timeout=60)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
            releaser.cancel()
    assert notice.startswith(f"newsflow: {sqlite_url} is locked by another writer"), notice
    assert notice.endswith("; waiting for its lock for up to 30 s\n")
    assert child.returncode == 0 and out == f"Added feed wire ({feed}).\n"
    assert rest == ""  # said once, and no error


def test_a_write_command_that_never_gets_the_lock_fails_clearly(
    sqlite_url: str, retry_seconds: float, capsys: pytest.CaptureFixture[str]
) -> None:
    prepare_database(sqlite_url, tagger_for(None))
    close_all()
    with sqlite_write_locked(sqlite_url):
        started = time.monotonic()
        code = main(["sources", "add", "wire", "https://wire.example.org/f", "--db", sqlite_url])
        waited = time.monotonic() - started
    notice, error = capsys.readouterr().err.splitlines()
    assert code == 1 and retry_seconds <= waited < retry_seconds + 5
    assert notice.endswith(f"; waiting for its lock for up to {retry_seconds:g} s")
    assert error.startswith(f"newsflow: error: {sqlite_url} is locked by another writer")
    assert "gave up after" in error and f"(db_retry_seconds = {retry_seconds:g})" in error


def test_sqlite_lock_released_in_time_the_batch_is_stored(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSFLOW_DB_RETRY_SECONDS", "20")
    tagger = tagger_for(None)
    engine = prepare_database(sqlite_url, tagger)
    items = list(iter_path(make_corpus(tmp_path / "c", 5)))
    with sqlite_locked(sqlite_url, seconds=1.0):
        started = time.monotonic()
        result = ingest_batch(items, engine, tagger, None)
    assert time.monotonic() - started >= 0.8  # it waited for the lock
    assert result.new == 5


def test_sqlite_lock_held_too_long_fails_clearly_and_a_rerun_stores_the_batch(
    sqlite_url: str, tmp_path: Path, retry_seconds: float
) -> None:
    tagger = tagger_for(None)
    engine = prepare_database(sqlite_url, tagger)
    items = list(iter_path(make_corpus(tmp_path / "c", 5)))
    with sqlite_locked(sqlite_url), pytest.raises(DatabaseBusy) as info:
        started = time.monotonic()
        ingest_batch(items, engine, tagger, None)
    waited = time.monotonic() - started
    assert retry_seconds <= waited < retry_seconds * 4 + 5  # bounded
    message = str(info.value)
    assert str(make_url(sqlite_url).database) in message and "locked" in message
    assert "gave up after" in message and "\n" not in message
    assert table_counts(engine)["articles"] == 0  # the batch is not half-stored
    assert ingest_batch(items, engine, tagger, None).new == 5  # the re-run stores it


def test_retry_gives_up_after_its_budget_and_passes_other_errors_through() -> None:
    engine = open_database("sqlite://", retry_seconds=0.5)
    calls: list[float] = []

    def busy() -> None:
        calls.append(time.monotonic())
        raise DatabaseBusy("sqlite:// is locked by another writer")

    with pytest.raises(DatabaseBusy, match=r"gave up after .* attempts"):
        with_retry(engine, busy)
    assert 3 <= len(calls) <= 6 and calls[-1] - calls[0] <= 1.0
    failures = iter([DatabaseBusy("busy"), DatabaseBusy("busy")])

    def flaky() -> str:
        error = next(failures, None)
        if error:
            raise error
        return "stored"

    assert with_retry(engine, flaky) == "stored"

    def full() -> None:
        calls.append(time.monotonic())
        raise DatabaseError("disk full")

    calls.clear()
    with pytest.raises(DatabaseError, match="full"):
        with_retry(engine, full)
    assert len(calls) == 1  # not a wait-and-see error: raised at once
    close_all()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_postgres_is_retried_then_fails_in_one_line(
    capsys: pytest.CaptureFixture[str], retry_seconds: float
) -> None:
    url = f"postgresql://postgres:secret@127.0.0.1:{_closed_port()}/news"
    started = time.monotonic()
    with pytest.raises(DatabaseError, match="cannot open postgresql") as info:
        open_database(url)
    assert time.monotonic() - started >= retry_seconds * 0.9
    assert "secret" not in str(info.value) and "gave up after" in str(info.value)
    code = main(["stats", "--db", url])
    notice, error = capsys.readouterr().err.splitlines()  # the wait, then the one-line error
    assert notice.startswith("newsflow: cannot open postgresql") and "does not answer" in notice
    assert notice.endswith(f"; retrying for up to {retry_seconds:g} s")
    assert code == 1 and error.startswith("newsflow: error: cannot open")
    assert "Traceback" not in notice + error and "secret" not in notice + error


@pytest.mark.postgres
def test_a_postgres_database_that_appears_later_is_waited_for(postgres_admin: str) -> None:
    name = f"newsflow_test_{uuid.uuid4().hex[:12]}"
    url = make_url(postgres_admin).set(database=name).render_as_string(hide_password=False)

    def create_later() -> None:
        time.sleep(1.0)
        with psycopg.connect(_libpq(postgres_admin), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

    creator = threading.Thread(target=create_later)
    creator.start()
    try:
        engine = open_database(url, retry_seconds=30)
        creator.join()
        assert table_counts(engine)["articles"] == 0  # migrated once it appeared
    finally:
        creator.join()
        close_all()
        with psycopg.connect(_libpq(postgres_admin), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
@pytest.mark.prefect
def test_postgres_lock_fails_the_batch_the_run_is_failed_and_a_rerun_ingests_it(
    prefect_server: None,
    postgres_url: str,
    tmp_path: Path,
    retry_seconds: float,
    capsys: pytest.CaptureFixture[str],
) -> None:
    corpus = make_corpus(tmp_path / "corpus", 12)
    prepare_database(postgres_url, tagger_for(None))
    with psycopg.connect(_libpq(postgres_url)) as locker:
        locker.execute("LOCK TABLE articles IN EXCLUSIVE MODE")
        code = main(["ingest", str(corpus), "--db", postgres_url, "--batch-size", "5"])
        locker.rollback()
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert "busy" in err and "run the same command again" in err
    engine = open_database(postgres_url)
    with Session(engine) as session:
        runs = session.scalars(select(models.IngestionRun)).all()
    assert [r.status for r in runs] == ["failed"]
    assert table_counts(engine)["articles"] == 0
    assert main(["ingest", str(corpus), "--db", postgres_url, "--batch-size", "5"]) == 0
    assert table_counts(engine)["articles"] == 12


def test_a_poll_whose_store_fails_fetches_again_next_time(
    sqlite_url: str, loopback: LoopbackServer, retry_seconds: float
) -> None:
    feed = (ROOT / "tests/data/live/feed.xml").read_text("utf-8").replace("{base}", loopback.base)
    validators: list[str | None] = []

    def rss(request: Request) -> Reply:
        validators.append(request.headers.get("if-none-match"))
        if request.headers.get("if-none-match") == '"v1"':
            return Reply(304)
        return Reply(200, feed.encode(), {"Content-Type": "application/rss+xml", "ETag": '"v1"'})

    loopback.routes["/feed.xml"] = rss
    settings = settings_for(sqlite_url)
    tagger = tagger_for(None)
    engine = prepare_database(sqlite_url, tagger)
    (record,) = feeds.sync_feeds(engine, [FeedSource("wire", loopback.url("/feed.xml"))])
    with make_fetcher(settings) as fetcher:
        with sqlite_locked(sqlite_url), pytest.raises(DatabaseBusy):
            poll_feed(
                record,
                engine=engine,
                tagger=tagger,
                fetcher=fetcher,
                settings=settings,
                run_id=None,
            )
        (after,) = feeds.list_feeds(engine)
        assert after.etag is None and after.last_polled_at is None  # state not advanced
        outcome = poll_feed(
            after, engine=engine, tagger=tagger, fetcher=fetcher, settings=settings, run_id=None
        )
    assert validators == [None, None]  # fetched in full again, not "not modified"
    assert outcome.outcome == "ok" and outcome.result.new > 0
    assert feeds.list_feeds(engine)[0].etag == '"v1"'


def test_a_group_whose_store_fails_leaves_every_feed_to_be_fetched_again(
    sqlite_url: str, loopback: LoopbackServer, retry_seconds: float
) -> None:
    """A group's feeds are stored together: when that fails, none of them is marked polled,
    neither the first (whose articles were ready long before) nor a failing one."""
    feed = (ROOT / "tests/data/live/feed.xml").read_text("utf-8").replace("{base}", loopback.base)
    loopback.routes["/feed.xml"] = Reply(
        200, feed.encode(), {"Content-Type": "application/rss+xml", "ETag": '"v1"'}
    )
    loopback.routes["/broken.xml"] = Reply(500, b"down")
    settings = settings_for(sqlite_url)
    tagger = tagger_for(None)
    engine = prepare_database(sqlite_url, tagger)
    sources = [
        FeedSource("wire", loopback.url("/feed.xml")),
        FeedSource("broken", loopback.url("/broken.xml")),
    ]
    group = feeds.sync_feeds(engine, sources)
    with make_fetcher(settings) as fetcher:
        with sqlite_locked(sqlite_url), pytest.raises(DatabaseBusy):
            poll_group(
                group, engine=engine, tagger=tagger, fetcher=fetcher, settings=settings, run_id=None
            )
        assert [(f.last_polled_at, f.error_count) for f in feeds.list_feeds(engine)] == [
            (None, 0),
            (None, 0),
        ]
        broken, wire = poll_group(
            feeds.list_feeds(engine),  # by name
            engine=engine,
            tagger=tagger,
            fetcher=fetcher,
            settings=settings,
            run_id=None,
        )
    assert (wire.result.new, broken.error) == (3, "HTTP 500")
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(models.IngestionError)) == 1


def _limit_pages(engine: Engine, spare_pages: int) -> None:
    """Every new connection may grow the file by ``spare_pages`` pages only (SQLITE_FULL)."""
    with engine.connect() as conn:
        pages = conn.execute(text("PRAGMA page_count")).scalar_one()

    @event.listens_for(engine, "connect")
    def _cap(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count={int(pages) + spare_pages}")

    engine.dispose()  # the pooled connections were opened without the cap


def _big_corpus(directory: Path) -> Path:
    directory.mkdir()
    for number in range(3):
        body = "\n\n".join(f"Paragraph {i} of story {number} " + "word " * 400 for i in range(60))
        (directory / f"big-{number}.txt").write_text(f"Big story {number}\n\n{body}", "utf-8")
    return directory


def test_disk_full_gives_a_clear_error_naming_the_file(sqlite_url: str, tmp_path: Path) -> None:
    tagger = tagger_for(None)
    engine = prepare_database(sqlite_url, tagger)
    _limit_pages(engine, 4)
    with pytest.raises(DatabaseError) as info:
        ingest_batch(list(iter_path(_big_corpus(tmp_path / "big"))), engine, tagger, None)
    message = str(info.value)
    assert not isinstance(info.value, DatabaseBusy)  # not retried: waiting does not free space
    assert str(make_url(sqlite_url).database) in message and "disk is full" in message


@pytest.mark.prefect
def test_disk_full_through_the_cli(
    prefect_server: None, sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = prepare_database(sqlite_url, tagger_for(None))
    _limit_pages(engine, 4)  # the CLI in this process uses the same engine
    code = main(["ingest", str(_big_corpus(tmp_path / "big")), "--db", sqlite_url])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert str(make_url(sqlite_url).database) in err and "disk is full" in err


def test_a_directory_in_place_of_the_database_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "news.db"
    folder.mkdir()
    with pytest.raises(DatabaseError, match=r"news\.db is a directory, not a database file"):
        open_database(str(folder))
    code = main(["stats", "--db", str(folder)])
    err = capsys.readouterr().err
    assert code == 1 and "is a directory, not a database file" in err and err.count("\n") == 1


def test_a_read_only_database_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mount = tmp_path / "ro"
    mount.mkdir()
    engine = prepare_database(str(mount / "news.db"), tagger_for(None))
    ingest_batch(list(iter_path(make_corpus(tmp_path / "c", 2))), engine, tagger_for(None), None)
    close_all()
    remount = subprocess.run(
        ["mount", "--bind", "-o", "ro", str(mount), str(mount)], capture_output=True, check=False
    )
    if remount.returncode != 0:  # without mount rights, open the file read-only instead
        url = f"sqlite:///file:{mount / 'news.db'}?mode=ro&uri=true"
    else:
        url = f"sqlite:///{mount / 'news.db'}"
    try:
        code = main(["sources", "add", "wire", "https://example.org/feed.xml", "--db", url])
        err = capsys.readouterr().err
        assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
        assert "news.db" in err and ("read-only" in err or "cannot open" in err)
    finally:
        close_all()
        if remount.returncode == 0:
            subprocess.run(["umount", str(mount)], check=False)


def test_retry_settings_are_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    from newsflow.errors import ConfigError
    from newsflow.settings import load_settings

    monkeypatch.setenv("NEWSFLOW_DB_RETRY_SECONDS", "-1")
    with pytest.raises(ConfigError, match="db_retry_seconds"):
        load_settings()
    monkeypatch.setenv("NEWSFLOW_DB_RETRY_SECONDS", "2.5")
    assert load_settings().db_retry_seconds == 2.5
    assert os.environ["NEWSFLOW_DB_RETRY_SECONDS"] == "2.5"
