"""Polling feeds end to end over a real loopback HTTP server, into SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session

from newsflow.article import Article, ProcessedArticle
from newsflow.fetch import Fetcher, FetchPolicy
from newsflow.pipeline import tagger_for
from newsflow.polling import FeedOutcome, feed_groups, group_label, poll_feeds, poll_group
from newsflow.settings import Settings, load_settings
from newsflow.sources import FeedSource
from processing.neardup import NearDupConfig
from processing.tagger import Tagger
from storage import feeds, models
from storage.feeds import FeedRecord
from tests.conftest import DATA
from tests.loopback import LoopbackServer, Reply, Request

LIVE = DATA / "live"


def settings_for(db_url: str, **changes: object) -> Settings:
    values: dict[str, object] = {
        "database_url": db_url,
        "allow_private_addresses": True,
        "host_delay": 0.0,
        "fetch_backoff": 0.0,
        "fetch_timeout": 2.0,
        "fetch_retries": 1,
        "poll_interval": 600,
    }
    values.update(changes)
    return load_settings(**values)


@pytest.fixture
def site(loopback: LoopbackServer) -> Iterator[LoopbackServer]:
    """A news site: a feed whose links are real article pages (one page is missing)."""
    feed = (LIVE / "feed.xml").read_text(encoding="utf-8").replace("{base}", loopback.base)

    def rss(request: Request) -> Reply:
        if request.headers.get("if-none-match") == '"v1"':
            return Reply(304)
        return Reply(200, feed.encode(), {"Content-Type": "application/rss+xml", "ETag": '"v1"'})

    loopback.routes["/feed.xml"] = rss
    loopback.routes["/world/arms-talks.html"] = Reply(
        200, (LIVE / "arms-talks.html").read_bytes(), {"Content-Type": "text/html; charset=utf-8"}
    )
    loopback.routes["/energy/siberia-gas.html"] = Reply(
        200,
        (LIVE / "energy-deal.html").read_text(encoding="utf-8").encode("cp1252"),
        {"Content-Type": "text/html"},  # charset only in the page's <meta>
        gzip=True,
    )
    loopback.routes["/broken.xml"] = Reply(500, b"internal error")
    loopback.routes["/html.xml"] = Reply(200, b"<html><body>Not a feed</body></html>")
    yield loopback


def poll(engine: Engine, settings: Settings, sources: list[FeedSource]) -> list[FeedOutcome]:
    records = feeds.sync_feeds(engine, sources)
    due = [
        r for r in feeds.due_feeds(engine, models.utcnow()) if r.name in {s.name for s in sources}
    ]
    assert len(due) <= len(records)
    return poll_feeds(due, engine=engine, tagger=tagger_for(None), settings=settings, run_id=None)


def test_full_text_feed_stores_page_text_and_keeps_summary_as_fallback(
    engine: Engine, db_url: str, site: LoopbackServer
) -> None:
    settings = settings_for(db_url)
    source = FeedSource("world-desk", site.url("/feed.xml"), fetch_full_text=True, tags=("trade",))
    (outcome,) = poll(engine, settings, [source])
    assert (outcome.outcome, outcome.status, outcome.result.new, outcome.entries) == (
        "ok",
        200,
        3,
        3,
    )
    assert [p.origin for p in outcome.problems] == [site.url("/world/missing.html")]
    with Session(engine) as session:
        rows = {a.title: a for a in session.scalars(select(models.Article))}
        arms = rows["Moscow and Beijing discuss strategic stability as New START expires"]
        assert arms.url == site.url("/world/arms-talks.html")  # tracking and fragment gone
        assert arms.guid == "worlddesk-2026-0205-arms"
        assert arms.text.count("\n\n") == 5 and "Related Posts" not in arms.text
        assert arms.authors == ["Anna Petrova"] and arms.language == "en"
        assert arms.published_at is not None and arms.published_at.isoformat().startswith(
            "2026-02-05T08:30"
        )
        topics = {t.topic.slug for t in arms.tags}
        assert {"russia-china", "arms-control", "trade"} <= topics  # trade: the feed's tag
        gas = rows["Power of Siberia 2 talks resume as gas prices fall"]
        assert "China’s hand" in gas.text
        missing = rows["Page that has gone missing"]
        assert missing.text.startswith("A summary that must be kept")
        errors = session.scalars(select(models.IngestionError)).all()
        assert [e.origin for e in errors] == [site.url("/world/missing.html")]
        (state,) = session.scalars(select(models.Feed)).all()
        assert (state.last_outcome, state.last_status, state.etag, state.error_count) == (
            "ok",
            200,
            '"v1"',
            0,
        )


def test_repoll_is_a_no_op(engine: Engine, db_url: str, site: LoopbackServer) -> None:
    source = FeedSource("world-desk", site.url("/feed.xml"), fetch_full_text=True)
    settings = settings_for(db_url)
    poll(engine, settings, [source])
    pages = site.hits("/world/arms-talks.html")
    # not due yet: nothing is fetched
    assert poll(engine, settings, [source]) == []
    # due again: a conditional GET gives 304
    (record,) = feeds.list_feeds(engine)
    with Session(engine) as session, session.begin():
        session.get_one(models.Feed, record.id).next_poll_at = None
    (outcome,) = poll(engine, settings, [source])
    assert outcome.outcome == "not-modified" and outcome.status == 304
    assert site.requests[-1].headers["if-none-match"] == '"v1"'
    # the server ignores validators: same entries, nothing new, no page fetched again
    site.routes["/feed.xml"] = Reply(
        200, (LIVE / "feed.xml").read_text().replace("{base}", site.base).encode()
    )
    with Session(engine) as session, session.begin():
        session.get_one(models.Feed, record.id).next_poll_at = None
    (outcome,) = poll(engine, settings, [source])
    assert (outcome.outcome, outcome.result.new, outcome.result.updated) == ("ok", 0, 0)
    assert outcome.result.unchanged == 3 and site.hits("/world/arms-talks.html") == pages
    with Session(engine) as session:
        assert len(session.scalars(select(models.Article)).all()) == 3


def test_failing_feed_recorded_while_the_others_succeed(
    engine: Engine, db_url: str, site: LoopbackServer
) -> None:
    settings = settings_for(db_url)
    outcomes = poll(
        engine,
        settings,
        [
            FeedSource("good", site.url("/feed.xml")),
            FeedSource("broken", site.url("/broken.xml")),
            FeedSource("html", site.url("/html.xml")),
            FeedSource("gone", site.url("/nothing-here.xml")),
        ],
    )
    by_name = {o.name: o for o in outcomes}
    assert by_name["good"].result.new == 3 and by_name["good"].outcome == "ok"
    assert (by_name["broken"].error, by_name["broken"].error_kind) == ("HTTP 500", "http")
    assert site.hits("/broken.xml") == 2  # retried once
    assert by_name["html"].error_kind == "parse" and "not an RSS" in (by_name["html"].error or "")
    assert by_name["gone"].error == "HTTP 404"
    with Session(engine) as session:
        errors = {e.origin: e.message for e in session.scalars(select(models.IngestionError))}
        assert errors[site.url("/broken.xml")] == "HTTP 500"
        assert len(errors) == 3
    states = {f.name: f for f in feeds.list_feeds(engine)}
    broken = states["broken"]
    assert (broken.error_count, broken.last_error, broken.last_status) == (1, "HTTP 500", 500)
    assert broken.next_poll_at and broken.last_polled_at
    assert (broken.next_poll_at - broken.last_polled_at).total_seconds() == 1200  # backed off
    good = states["good"]
    assert good.next_poll_at and good.last_polled_at
    assert (good.next_poll_at - good.last_polled_at).total_seconds() == 600


def test_article_links_to_private_addresses_are_not_fetched(
    engine: Engine, db_url: str, site: LoopbackServer
) -> None:
    settings = settings_for(db_url, allow_private_addresses=False)
    (outcome,) = poll(
        engine, settings, [FeedSource("desk", site.url("/feed.xml"), fetch_full_text=True)]
    )
    assert outcome.outcome == "ok" and outcome.result.new == 3  # the feed itself is configured
    assert site.hits("/world/arms-talks.html") == 0
    assert all("private, loopback or link-local" in p.message for p in outcome.problems)


def test_shared_fetcher_is_polite_per_host(
    engine: Engine, db_url: str, site: LoopbackServer
) -> None:
    settings = settings_for(db_url)
    with Fetcher(FetchPolicy.from_settings(settings)) as fetcher:
        sources = [FeedSource(f"copy-{n}", site.url(f"/feed.xml?copy={n}")) for n in range(3)]
        records = feeds.sync_feeds(engine, sources)
        outcomes = poll_feeds(
            records,
            engine=engine,
            tagger=tagger_for(None),
            settings=settings,
            run_id=None,
            fetcher=fetcher,
        )
    assert [o.outcome for o in outcomes] == ["ok", "ok", "ok"]
    assert sum(o.result.new for o in outcomes) == 3  # one story via three feeds is one article


@pytest.mark.parametrize(
    ("content_type", "declaration", "encoding"),
    [
        ("application/rss+xml; charset=utf-8", "iso-8859-1", "latin-1"),  # wrong header
        ("text/xml", "iso-8859-1", "latin-1"),  # missing header charset
        ("application/xml", None, "cp1252"),  # neither: detected
        ("application/rss+xml", "utf-8", "utf-8"),
    ],
)
def test_feed_charsets_over_http(
    sqlite_url: str,
    loopback: LoopbackServer,
    content_type: str,
    declaration: str | None,
    encoding: str,
) -> None:
    from newsflow.pipeline import prepare_database

    engine = prepare_database(sqlite_url, tagger_for(None))
    decl = f'<?xml version="1.0" encoding="{declaration}"?>' if declaration else ""
    body = (
        f'{decl}<rss version="2.0"><channel><title>t</title><item><title>Café crème à Zürich'
        "</title><link>http://e.example/1</link><description>Prix à la tonne.</description>"
        "</item></channel></rss>"
    ).encode(encoding)
    loopback.routes["/feed"] = Reply(200, body, {"Content-Type": content_type})
    (outcome,) = poll(engine, settings_for(sqlite_url), [FeedSource("f", loopback.url("/feed"))])
    assert outcome.result.new == 1
    with Session(engine) as session:
        article = session.scalars(select(models.Article)).one()
        assert (article.title, article.text) == ("Café crème à Zürich", "Prix à la tonne.")


def test_a_page_that_breaks_extraction_keeps_the_summary(
    sqlite_url: str, site: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from newsflow import prepare
    from newsflow.pipeline import prepare_database

    def boom(html: str, url: str | None = None) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(prepare, "extract_page", boom)
    engine = prepare_database(sqlite_url, tagger_for(None))
    source = FeedSource("desk", site.url("/feed.xml"), fetch_full_text=True)
    (outcome,) = poll(engine, settings_for(sqlite_url), [source])
    assert outcome.outcome == "ok" and outcome.result.new == 3
    assert sum("not extracted: RecursionError" in p.message for p in outcome.problems) == 2


@pytest.mark.parametrize("full_text", [False, True])
def test_a_feed_whose_entries_cannot_be_processed_is_that_feeds_error(
    sqlite_url: str, site: LoopbackServer, monkeypatch: pytest.MonkeyPatch, full_text: bool
) -> None:
    """A bug while signing or tagging one feed's entries (hostile input) is recorded against
    that feed, which backs off, and stores nothing of it; the other feeds are stored. Whether
    the entries are the articles (parsed and processed in one call) or their pages are
    fetched first (the articles then processed on their own)."""
    from newsflow import polling, prepare
    from newsflow.pipeline import prepare_database, process, process_with

    def failing(articles: Sequence[Article]) -> None:
        if articles and articles[0].source == "wire":
            raise RecursionError("maximum recursion depth exceeded")

    def process_with_failing(
        taxonomy: Path | None, articles: Sequence[Article], near: NearDupConfig
    ) -> list[ProcessedArticle]:
        failing(articles)
        return process_with(taxonomy, articles, near)

    def process_failing(
        articles: Sequence[Article], tagger: Tagger, near: NearDupConfig | None = None
    ) -> list[ProcessedArticle]:
        failing(articles)
        return process(articles, tagger, near)

    for module in (polling, prepare):  # the poll's own calls, and parse_and_process's
        monkeypatch.setattr(module, "process_with", process_with_failing)
        monkeypatch.setattr(module, "process", process_failing)
    wire = (LIVE / "feed.xml").read_text(encoding="utf-8").replace("{base}", f"{site.base}/wire")
    site.routes["/wire.xml"] = Reply(200, wire.encode())  # its pages are missing: summaries
    engine = prepare_database(sqlite_url, tagger_for(None))
    outcomes = poll(
        engine,
        settings_for(sqlite_url),
        [
            FeedSource("desk", site.url("/feed.xml")),
            FeedSource("wire", site.url("/wire.xml"), fetch_full_text=full_text),
        ],
    )
    by_name = {o.name: o for o in outcomes}
    assert by_name["desk"].outcome == "ok" and by_name["desk"].result.new == 3
    failed = by_name["wire"]
    assert (failed.outcome, failed.error_kind, failed.result.new) == ("error", "process", 0)
    assert failed.error == (
        "cannot process the feed's entries: RecursionError('maximum recursion depth exceeded')"
    )
    with Session(engine) as session:
        errors = {e.origin: e.message for e in session.scalars(select(models.IngestionError))}
        assert errors[site.url("/wire.xml")] == failed.error
        assert len(errors) == (4 if full_text else 1)  # and its three missing pages
        stored = session.scalars(select(models.Article.source_id)).all()
        assert len(stored) == 3
    state = {f.name: f for f in feeds.list_feeds(engine)}["wire"]
    assert (state.error_count, state.last_error, state.etag) == (1, failed.error, None)


def test_link_only_entries_take_title_and_text_from_their_page(
    sqlite_url: str, site: LoopbackServer
) -> None:
    from newsflow.pipeline import prepare_database

    site.routes["/links.xml"] = Reply(
        200,
        (
            '<rss version="2.0"><channel><title>Links</title>'
            f"<item><link>{site.url('/world/arms-talks.html')}</link></item>"
            f"<item><link>{site.url('/world/missing.html')}</link></item>"
            "</channel></rss>"
        ).encode(),
    )
    engine = prepare_database(sqlite_url, tagger_for(None))
    settings = settings_for(sqlite_url)
    outcomes = poll(
        engine,
        settings,
        [
            FeedSource("plain", site.url("/links.xml")),
            FeedSource("full", site.url("/links.xml?full"), fetch_full_text=True),
        ],
    )
    plain, full = sorted(outcomes, key=lambda o: o.name != "plain")
    assert plain.error_kind == "no-usable-entries" and plain.result.new == 0
    assert full.outcome == "ok" and full.result.new == 1
    assert any("entry and page have no title" in p.message for p in full.problems)
    with Session(engine) as session:
        article = session.scalars(select(models.Article)).one()
        assert article.title.startswith("Moscow and Beijing discuss strategic stability")
        assert article.text.startswith("Russian and Chinese officials")


def _one_story_feed(loopback: LoopbackServer, path: str, title: str, body: str) -> str:
    loopback.routes[path] = Reply(
        200,
        (
            '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
            f"<item><title>{title}</title><link>{loopback.base}{path}/1</link>"
            f"<description>{body}</description></item></channel></rss>"
        ).encode(),
        {"Content-Type": "application/rss+xml", "ETag": f'"{path}"'},
    )
    return loopback.url(path)


def test_a_syndicated_story_in_two_feeds_is_one_original_and_a_copy(
    engine: Engine, db_url: str, loopback: LoopbackServer
) -> None:
    """Two feeds carry the same wire story with their own boilerplate and headline."""
    story = (
        "Russia and China signed an agreement on Tuesday to expand deliveries of natural gas "
        "through a second pipeline, officials in Moscow and Beijing said after talks that "
        "lasted two days. The deal covers fifty billion cubic metres a year over thirty years "
        "and sets the price formula that had held up the project since it was first proposed. "
        "Analysts said the agreement would deepen the energy partnership between the two "
        "countries at a time when European demand for Russian gas has collapsed. Construction "
        "is expected to begin next year, with first deliveries planned before the end of the "
        "decade, according to the statement released by the two governments."
    )
    wire = _one_story_feed(
        loopback, "/a.xml", "Russia, China sign gas deal", f"{story} Subscribe to Wire Daily."
    )
    globe = _one_story_feed(
        loopback,
        "/b.xml",
        "Moscow and Beijing agree on pipeline",
        f"By Desk Staff. {story} (c) Globe",
    )
    settings = settings_for(db_url)
    first, second = poll(engine, settings, [FeedSource("wire-a", wire), FeedSource("globe", globe)])
    assert first.result.new + second.result.new == 1
    assert first.result.duplicates + second.result.duplicates == 1
    with Session(engine) as session:
        rows = session.scalars(select(models.Article).order_by(models.Article.id)).all()
    assert len(rows) == 2 and rows[1].duplicate_of == rows[0].id


@pytest.mark.parametrize(
    ("feeds", "concurrency", "sizes"),
    [
        (0, 4, []),
        (1, 4, [1]),
        (16, 4, [1] * 16),  # a small poll: one task per feed
        (17, 4, [2] + [1] * 15),
        (100, 4, [7] * 4 + [6] * 12),
        (100, 1, [20] * 5),
        (1000, 4, [20] * 50),
        (1001, 4, [20] * 32 + [19] * 19),  # none over 20
    ],
)
def test_feed_groups_are_even_and_keep_the_order(
    feeds: int, concurrency: int, sizes: list[int]
) -> None:
    due = list(range(feeds))
    groups = feed_groups(due, concurrency)
    assert [len(g) for g in groups] == sizes
    assert [feed for group in groups for feed in group] == due


def test_group_labels_name_the_first_feed() -> None:
    assert [group_label(["desk"]), group_label(["desk", "wire", "tass"])] == [
        "desk",
        "desk and 2 more",
    ]


def _commits(engine: Engine) -> list[int]:
    """A list that grows by one at each transaction committed on ``engine``."""
    seen: list[int] = []
    event.listen(engine, "commit", lambda _connection: seen.append(1))
    return seen


def _records(engine: Engine, sources: list[FeedSource]) -> list[FeedRecord]:
    feeds.sync_feeds(engine, sources)
    records = {r.name: r for r in feeds.list_feeds(engine)}
    return [records[s.name] for s in sources]


def _poll_group(engine: Engine, settings: Settings, group: list[FeedRecord]) -> list[FeedOutcome]:
    with Fetcher(FetchPolicy.from_settings(settings)) as fetcher:
        return poll_group(
            group,
            engine=engine,
            tagger=tagger_for(None),
            fetcher=fetcher,
            settings=settings,
            run_id=None,
        )


def test_a_group_of_feeds_is_stored_in_one_transaction(
    engine: Engine, db_url: str, site: LoopbackServer
) -> None:
    """Articles, errors and poll states of a group's feeds: one commit, each feed's counts its
    own. A transaction per feed cost as much as storing a small feed's articles."""
    wire = _one_story_feed(site, "/wire.xml", "Arms talks resume", "Negotiators met in Geneva.")
    sources = [
        FeedSource("desk", site.url("/feed.xml")),
        FeedSource("broken", site.url("/broken.xml")),
        FeedSource("wire", wire),
    ]
    settings = settings_for(db_url)
    records = _records(engine, sources)
    commits = _commits(engine)
    desk, broken, one = _poll_group(engine, settings, records)
    assert len(commits) == 1
    assert (desk.result.new, desk.result.read, desk.outcome) == (3, 3, "ok")
    assert (broken.outcome, broken.error, broken.result.errors) == ("error", "HTTP 500", 1)
    assert (one.result.new, one.result.read) == (1, 1)
    states = {f.name: f for f in feeds.list_feeds(engine)}
    assert (states["desk"].etag, states["wire"].etag) == ('"v1"', '"/wire.xml"')
    assert (states["broken"].error_count, states["broken"].last_error) == (1, "HTTP 500")
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(models.Article)) == 4
        errors = session.scalars(select(models.IngestionError.origin)).all()
    assert errors == [site.url("/broken.xml")]
    desk, broken, one = _poll_group(engine, settings, _records(engine, sources))  # again
    assert (desk.outcome, broken.outcome, one.result.unchanged, one.result.new) == (
        "not-modified",
        "error",
        1,
        0,
    )


def test_a_group_commits_once_batch_size_articles_wait(
    engine: Engine, db_url: str, site: LoopbackServer
) -> None:
    first = _one_story_feed(site, "/first.xml", "Gas deal signed", "Moscow and Beijing agreed.")
    sources = [
        FeedSource("desk", site.url("/feed.xml")),  # 3 articles: a commit
        FeedSource("first", first),  # 1 article: committed at the end
    ]
    records = _records(engine, sources)
    commits = _commits(engine)
    desk, one = _poll_group(engine, settings_for(db_url, batch_size=3), records)
    assert len(commits) == 2
    assert (desk.result.new, one.result.new) == (3, 1)


def test_a_copy_in_a_later_feed_of_the_group_is_that_feeds_duplicate(
    engine: Engine, db_url: str, loopback: LoopbackServer
) -> None:
    """Stored in one transaction, a group's feeds are still deduplicated in their order."""
    story = (
        "Russia and China signed an agreement on Tuesday to expand deliveries of natural gas "
        "through a second pipeline, officials in Moscow and Beijing said after two days of talks."
    )
    sources = [
        FeedSource("wire-a", _one_story_feed(loopback, "/a.xml", "Gas deal", story)),
        FeedSource("globe", _one_story_feed(loopback, "/b.xml", "Pipeline deal", story)),
    ]
    first, second = _poll_group(engine, settings_for(db_url), _records(engine, sources))
    assert (first.result.new, first.result.duplicates) == (1, 0)
    assert (second.result.new, second.result.duplicates) == (0, 1)
    with Session(engine) as session:
        rows = session.scalars(select(models.Article).order_by(models.Article.id)).all()
    assert [r.duplicate_of for r in rows] == [None, rows[0].id]


def test_a_full_text_feed_fetches_no_page_an_earlier_feed_of_its_group_brought(
    engine: Engine, db_url: str, site: LoopbackServer
) -> None:
    """Two full-text feeds of one group list the same pages: each page is fetched once, and
    the later feed counts them as known, as it would once the first feed's were stored."""
    site.routes["/mirror.xml"] = Reply(
        200,
        (LIVE / "feed.xml").read_text(encoding="utf-8").replace("{base}", site.base).encode(),
        {"Content-Type": "application/rss+xml"},
    )
    sources = [
        FeedSource("desk", site.url("/feed.xml"), fetch_full_text=True),
        FeedSource("mirror", site.url("/mirror.xml"), fetch_full_text=True),
    ]
    desk, mirror = _poll_group(engine, settings_for(db_url), _records(engine, sources))
    assert (desk.result.new, desk.skipped_known) == (3, 0)
    assert (mirror.result.new, mirror.skipped_known, mirror.result.unchanged) == (0, 3, 3)
    assert site.hits("/world/arms-talks.html") == 1
    assert site.hits("/energy/siberia-gas.html") == 1
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(models.Article)) == 3
