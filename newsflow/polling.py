"""Polling feeds as plain functions; ``flows/poll.py`` wraps them in a Prefect flow and tasks.

One poll of one feed: conditional GET → parse the feed → (optionally) fetch each new entry's
page for its full text → process the articles (exact and near dedup keys, tags, the feed's
extra tags) → store them with the feed's state. Feeds polled one after another
(:func:`poll_group`) are stored together, a transaction for up to ``batch_size`` articles.
Every failure is recorded against that feed (in ``ingestion_errors`` and the feed's state,
which backs off its next poll) and returned as a value: one failing feed never stops the
others.

The CPU work of a poll (parsing the feed, extracting the pages' text, signing and tagging the
articles) goes through a :class:`~newsflow.parallel.CallPool`: in worker processes once a run
has done enough of it (:func:`feed_workers`), in the polling thread otherwise. Fetching, the
database look-ups and storing stay in the polling process; where the work ran changes nothing
in what is stored.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from newsflow.article import Article, ProcessedArticle, Tag
from newsflow.errors import NewsflowError, SourceError
from newsflow.fetch import Fetcher, FetchPolicy
from newsflow.parallel import CallPool, start_spare
from newsflow.pipeline import IngestSummary, neardup_config
from newsflow.prepare import (
    Preparer,
    ProcessingFailed,
    page_content,
    parse_and_process,
    process,
    process_with,
    tagger_for,
)
from newsflow.settings import Settings
from newsflow.sources import check_tags, load_sources, next_poll
from parsers.extract import with_full_text
from parsers.feed import FeedItem, ParsedFeed
from processing.neardup import NearDupConfig
from processing.tagger import Tagger
from storage import feeds, repository
from storage.feeds import FeedRecord, FeedUpdate
from storage.models import utcnow
from storage.repository import BatchResult
from storage.retry import with_retry

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, "
    "text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
# CPU seconds of parsing, extracting and tagging a poll does in its own process before it
# starts the worker processes (each takes about a second of CPU to start: imports, taxonomy).
WORKERS_START_AFTER = 2.0
# Due feeds from which a poll started from the command line starts its worker processes while
# Prefect's server starts (:func:`start_workers_for_poll`): 50 feeds of a typical 20 entries
# are about the CPU time that WORKERS_START_AFTER waits for.
WORKERS_EARLY_FEEDS = 50
INLINE = CallPool(1)  # every call in the calling thread
T = TypeVar("T")
# The most feeds the poll flow polls in one Prefect task. A task run cost the Prefect server
# and the flow's process about 80 ms of CPU between them (1,000 feeds of 10 entries: 76 s of
# the run's 178 s), as much as polling a small feed; see :func:`feed_groups`.
FEEDS_PER_TASK = 20
# Groups per concurrent poll at least, so that the threads stay busy to the end of a run.
GROUPS_PER_THREAD = 4


def feed_workers(settings: Settings, *, start_after: float = WORKERS_START_AFTER) -> CallPool:
    """The worker processes of one poll: ``settings.worker_count``, started lazily, each
    warmed up as ingest's are (the page extractor imported, the taxonomy loaded)."""
    return CallPool(
        settings.worker_count,
        start_after=start_after,
        initializer=Preparer(settings.taxonomy, neardup_config(settings)).warm_up,
    )


def start_workers_for_poll(due: Sequence[FeedRecord], settings: Settings) -> bool:
    """Start the worker processes of a poll of ``due`` now, if it is likely to use them:
    with more than one worker and at least ``WORKERS_EARLY_FEEDS`` feeds. The poll's
    :func:`feed_workers` takes them at its first call; a caller starts them while it waits
    for something else (Prefect's server). Without this, a poll starts its workers only
    after ``WORKERS_START_AFTER`` seconds of CPU work, and does that work in its own process
    while they start."""
    if settings.worker_count < 2 or len(due) < WORKERS_EARLY_FEEDS:
        return False
    start_spare(
        settings.worker_count, Preparer(settings.taxonomy, neardup_config(settings)).warm_up
    )
    return True


@dataclass
class FeedOutcome:
    """What polling one feed did."""

    name: str
    url: str
    outcome: str  # ok, not-modified, error
    status: int | None = None
    result: BatchResult = field(default_factory=BatchResult)
    error: str | None = None
    # a fetch error kind (see FetchResult), or "parse", "process", "empty", "no-usable-entries"
    error_kind: str | None = None
    entries: int = 0
    skipped_known: int = 0  # full-text feeds: entries already stored, not fetched again
    problems: list[SourceError] = field(default_factory=list)  # entries and pages that failed

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "url": self.url,
            "outcome": self.outcome,
            "status": self.status,
            "entries": self.entries,
            "new": self.result.new,
            "updated": self.result.updated,
            "unchanged": self.result.unchanged,
            "duplicates": self.result.duplicates,
            "error": self.error,
            "error_kind": self.error_kind,
        }


@dataclass
class PollSummary(IngestSummary):
    """An ingestion run over feeds: the usual totals plus each feed's outcome."""

    feeds: list[FeedOutcome] = field(default_factory=list)

    @property
    def read(self) -> int:
        """Feed entries read (a page that failed is an error, but its entry was still read)."""
        return sum(f.entries for f in self.feeds)

    def as_dict(self) -> dict[str, object]:
        return {**super().as_dict(), "feeds": [f.as_dict() for f in self.feeds]}


def source_tags(article: Article, tags: Sequence[str]) -> tuple[Tag, ...]:
    """The feed's extra tags as topic tags, with the feed named as their evidence."""
    return tuple(
        Tag(
            slug,
            1.0,
            [{"kind": "source", "phrase": article.source, "start": 0, "end": 0, "weight": 1.0}],
        )
        for slug in tags
    )


def _with_extra_tags(items: list[ProcessedArticle], tags: Sequence[str]) -> list[ProcessedArticle]:
    if not tags:
        return items
    out = []
    for item in items:
        own = {tag.topic for tag in item.tags}
        extra = tuple(t for t in source_tags(item.article, tags) if t.topic not in own)
        out.append(dataclasses.replace(item, tags=item.tags + extra))
    return out


def _process(
    articles: list[Article],
    tagger: Tagger,
    near: NearDupConfig,
    settings: Settings,
    workers: CallPool,
) -> list[ProcessedArticle]:
    """:func:`process`, through ``workers`` when ``tagger`` is the settings' taxonomy's (a
    worker builds that one; a tagger of the caller's own is used here). What it raises comes
    back as :class:`ProcessingFailed`."""
    try:
        if workers.workers > 1 and tagger is tagger_for(settings.taxonomy):
            return workers.run(process_with, settings.taxonomy, articles, near)
        return process(articles, tagger, near)
    except Exception as exc:
        raise ProcessingFailed.because(exc) from exc


def _full_text(
    items: list[FeedItem], fetcher: Fetcher, problems: list[SourceError], workers: CallPool
) -> list[Article]:
    """Each item's article with its page's main text; the feed summary when that fails."""
    articles = []
    for item in items:
        if item.link is None:
            articles.append(item.article)
            continue
        try:
            page = fetcher.fetch(item.link, check_address=True, accept=PAGE_ACCEPT)
            if not page.ok:
                problems.append(
                    SourceError(
                        item.link, f"full text not fetched ({page.error}); kept the summary"
                    )
                )
                articles.append(item.article)
                continue
            content = workers.run(page_content, page)
        except Exception as exc:  # a bug on hostile input costs this page only: keep the summary
            problems.append(SourceError(item.link, f"full text not extracted: {exc!r}"))
            content = None
        articles.append(with_full_text(item.article, content))
    return articles


def _new_items(
    engine: Engine, feed: FeedRecord, items: list[FeedItem], waiting: Collection[str]
) -> list[FeedItem]:
    """Entries not stored yet (by canonical URL or by this feed's GUID) and not ``waiting``
    to be stored (the canonical URLs of the articles an earlier feed of the group brought)."""
    urls, guids = feeds.known_entries(
        engine,
        feed.source_id,
        (i.article.url for i in items if i.article.url),
        (i.article.guid for i in items if i.article.guid),
    )
    return [
        i
        for i in items
        if not (i.article.url and (i.article.url in urls or i.article.url in waiting))
        and not (i.article.guid and i.article.guid in guids)
    ]


@dataclass
class _Polled:
    """A feed fetched, parsed and processed: what storing it writes, in one transaction."""

    feed_id: int
    outcome: FeedOutcome
    articles: list[ProcessedArticle]
    errors: list[SourceError]
    update: FeedUpdate


def poll_feed(
    feed: FeedRecord,
    *,
    engine: Engine,
    tagger: Tagger,
    fetcher: Fetcher,
    settings: Settings,
    run_id: int | None,
    now: Callable[[], datetime] = utcnow,
    workers: CallPool = INLINE,
) -> FeedOutcome:
    """Poll one feed and store what it brings; never raises for the feed's own failures.

    ``workers`` runs the parsing, extraction and processing (in this thread by default).
    """
    (outcome,) = poll_group(
        [feed],
        engine=engine,
        tagger=tagger,
        fetcher=fetcher,
        settings=settings,
        run_id=run_id,
        now=now,
        workers=workers,
    )
    return outcome


def poll_group(
    group: Sequence[FeedRecord],
    *,
    engine: Engine,
    tagger: Tagger,
    fetcher: Fetcher,
    settings: Settings,
    run_id: int | None,
    now: Callable[[], datetime] = utcnow,
    workers: CallPool = INLINE,
) -> list[FeedOutcome]:
    """Poll feeds one after another (as :func:`poll_feed` polls one) and store what they
    bring a few feeds at a time: their articles, errors and poll states in one transaction
    once ``settings.batch_size`` articles are waiting, and at the end.

    A transaction per feed cost more than storing its articles when feeds are small (1,000
    feeds of 10 entries: 31-35 s of storing, against 12-13 s twenty feeds at a time; see
    :func:`storage.repository.store_batches`). A store that fails (after
    ``db_retry_seconds``) raises, and the feeds waiting with it keep their state: their
    ETag/Last-Modified stay as they were and the next poll fetches them again.
    """
    near = neardup_config(settings)
    outcomes: list[FeedOutcome] = []
    waiting: list[_Polled] = []
    waiting_urls: set[str] = set()  # a full-text feed fetches none of these pages again
    for feed in group:
        polled = _poll(
            feed,
            engine=engine,
            tagger=tagger,
            fetcher=fetcher,
            settings=settings,
            near=near,
            now=now,
            workers=workers,
            waiting=waiting_urls,
        )
        outcomes.append(polled.outcome)
        waiting.append(polled)
        waiting_urls.update(p.article.url for p in polled.articles if p.article.url)
        if sum(len(p.articles) for p in waiting) >= settings.batch_size:
            _store_polled(engine, waiting, near, run_id)
            waiting, waiting_urls = [], set()
    if waiting:
        _store_polled(engine, waiting, near, run_id)
    return outcomes


def _store_polled(
    engine: Engine, polled: Sequence[_Polled], near: NearDupConfig, run_id: int | None
) -> None:
    """Store the feeds' articles, then their errors and poll states, in one transaction; put
    each feed's counts in its outcome."""

    def errors_and_states(session: Session) -> None:
        repository.add_errors(session, run_id, [e for p in polled for e in p.errors])
        for p in polled:
            feeds.apply_poll(session, p.feed_id, p.update)

    results = with_retry(
        engine,
        lambda: repository.store_batches(
            engine, [p.articles for p in polled], near, also=errors_and_states
        ),
    )
    for p, result in zip(polled, results, strict=True):
        outcome = p.outcome
        result.unchanged += outcome.skipped_known
        result.read += outcome.skipped_known
        result.errors += len(p.errors)
        outcome.result = result


def _poll(
    feed: FeedRecord,
    *,
    engine: Engine,
    tagger: Tagger,
    fetcher: Fetcher,
    settings: Settings,
    near: NearDupConfig,
    now: Callable[[], datetime],
    workers: CallPool,
    waiting: Collection[str] = frozenset(),
) -> _Polled:
    """Fetch, parse and process one feed; what is to be stored for it. A full-text feed
    fetches the pages of its entries that are neither stored nor ``waiting`` (see
    :func:`_new_items`)."""
    outcome = FeedOutcome(name=feed.name, url=feed.url, outcome="ok")
    interval = feed.poll_interval or settings.poll_interval
    started = now()
    response = fetcher.fetch(
        feed.url, etag=feed.etag, last_modified=feed.last_modified, accept=FEED_ACCEPT
    )
    outcome.status = response.status
    parsed: ParsedFeed | None = None
    # A feed whose entries are the articles is parsed and processed in one call (one
    # hand-over to a worker); a full-text feed's pages are fetched between the two.
    prepared: list[ProcessedArticle] | None = None
    processed: list[ProcessedArticle] = []
    if response.error is not None:
        outcome.error, outcome.error_kind = response.error, response.error_kind
    elif response.not_modified:
        outcome.outcome = "not-modified"
    else:
        at_once = not feed.fetch_full_text and tagger is tagger_for(settings.taxonomy)
        try:
            parsed, prepared = workers.run(
                parse_and_process,
                response.content,
                source=feed.name,
                origin=feed.url,
                base_url=response.final_url,
                headers=response.headers,
                link_only=feed.fetch_full_text,
                taxonomy=settings.taxonomy,
                near=near if at_once else None,
            )
        except SourceError as exc:
            outcome.error, outcome.error_kind = exc.message, "parse"
        except ProcessingFailed as exc:
            outcome.error, outcome.error_kind = str(exc), "process"
        except Exception as exc:  # a parser bug on hostile input is this feed's error only
            outcome.error, outcome.error_kind = f"cannot parse feed: {exc!r}", "parse"
    if parsed is not None:
        outcome.entries = parsed.entries
        outcome.problems.extend(parsed.problems)
        items = parsed.items
        if not items:
            if parsed.entries:
                outcome.error_kind = "no-usable-entries"
                outcome.error = f"none of the feed's {parsed.entries} entries has a title or text"
            else:
                outcome.error_kind, outcome.error = "empty", "feed has no entries"
            outcome.problems.clear()  # the feed's one error says it all
        else:
            if feed.fetch_full_text:
                fresh = _new_items(engine, feed, items, waiting)
                outcome.skipped_known = len(items) - len(fresh)
                articles = []
                for article in _full_text(fresh, fetcher, outcome.problems, workers):
                    if article.title:
                        articles.append(article)
                    else:  # a link-only entry whose page gave no title either
                        outcome.problems.append(
                            SourceError(article.origin, "entry and page have no title and no text")
                        )
            else:
                articles = [i.article for i in items]
            if prepared is None:
                try:
                    prepared = _process(articles, tagger, near, settings, workers)
                except ProcessingFailed as exc:  # this feed's error only
                    outcome.error, outcome.error_kind = str(exc), "process"
            if prepared is not None:
                processed = _with_extra_tags(prepared, feed.tags)
    errors = list(outcome.problems)
    if outcome.error is not None:
        outcome.outcome = "error"
        errors.insert(0, SourceError(feed.url, outcome.error))
    update = FeedUpdate(
        outcome=outcome.outcome,
        polled_at=started,
        next_poll_at=next_poll(
            started,
            interval,
            feed.error_count + 1 if outcome.outcome == "error" else 0,
            settings.max_poll_backoff,
        ),
        status=response.status,
        etag=response.etag,
        last_modified=response.last_modified,
        error=outcome.error,
    )
    return _Polled(feed.id, outcome, processed, errors, update)


def feed_groups(due: Sequence[T], concurrency: int, most: int = FEEDS_PER_TASK) -> list[list[T]]:
    """``due`` cut into consecutive groups, each polled by one Prefect task, feed after feed.

    A group per feed while there are at most ``GROUPS_PER_THREAD`` per concurrent poll (a
    small scheduled poll shows one task per feed); more feeds are spread evenly over that many
    groups until one would hold more than ``most``, then over as many groups of ``most`` or
    fewer as it takes."""
    if not due:
        return []
    count = max(min(len(due), GROUPS_PER_THREAD * concurrency), -(-len(due) // most))
    size, larger = divmod(len(due), count)
    groups, start = [], 0
    for index in range(count):
        end = start + size + (index < larger)
        groups.append(list(due[start:end]))
        start = end
    return groups


def group_label(names: Sequence[str]) -> str:
    """The name of a group of feeds (their ``names``) in task run names: its first feed's,
    and how many more it holds."""
    first = names[0] if names else "nothing"
    return first if len(names) <= 1 else f"{first} and {len(names) - 1} more"


def make_fetcher(settings: Settings) -> Fetcher:
    return Fetcher(FetchPolicy.from_settings(settings))


def poll_feeds(
    due: Sequence[FeedRecord],
    *,
    engine: Engine,
    tagger: Tagger,
    settings: Settings,
    run_id: int | None,
    fetcher: Fetcher | None = None,
    workers: CallPool | None = None,
) -> list[FeedOutcome]:
    """Poll ``due`` feeds, ``poll_concurrency`` groups (:func:`feed_groups`) at a time,
    without Prefect.

    ``workers`` (by default :func:`feed_workers`, closed at the end) does their CPU work.
    """
    own_fetcher, own_workers = fetcher is None, workers is None
    client = fetcher or make_fetcher(settings)
    calls = workers or feed_workers(settings)
    try:

        def one(group: list[FeedRecord]) -> list[FeedOutcome]:
            return poll_group(
                group,
                engine=engine,
                tagger=tagger,
                fetcher=client,
                settings=settings,
                run_id=run_id,
                workers=calls,
            )

        groups = feed_groups(due, settings.poll_concurrency)
        with ThreadPoolExecutor(max_workers=settings.poll_concurrency) as pool:
            return [outcome for outcomes in pool.map(one, groups) for outcome in outcomes]
    finally:
        if own_workers:
            calls.close()
        if own_fetcher:
            client.close()


def summarize(summary: PollSummary, outcomes: Sequence[FeedOutcome]) -> PollSummary:
    for outcome in outcomes:
        summary.feeds.append(outcome)
        errors = list(outcome.problems)
        if outcome.error is not None:
            errors.insert(0, SourceError(outcome.url, outcome.error))
        summary.add(outcome.result, errors)
    return summary


def check_feed_tags(records: Sequence[FeedRecord], tagger: Tagger) -> None:
    topics = set(tagger.taxonomy.topics)
    for record in records:
        unknown = [t for t in record.tags if t not in topics]
        if unknown:
            raise NewsflowError(
                f"feed {record.name!r}: unknown topic {unknown[0]!r} in tags "
                "(`newsflow topics` lists them)"
            )


def feeds_to_poll(
    engine: Engine,
    tagger: Tagger,
    sources_file: Path | None = None,
    *,
    now: datetime | None = None,
    due_only: bool = True,
) -> list[FeedRecord]:
    """The feeds to poll now: the file's (its entries stored first) or, without one, every
    feed in the database; only those that are due unless ``due_only`` is false."""
    names: list[str] | None = None
    if sources_file is not None:
        configured = load_sources(sources_file)
        check_tags(configured, list(tagger.taxonomy.topics), str(sources_file))
        names = [s.name for s in feeds.sync_feeds(engine, configured)]
    records = (
        feeds.due_feeds(engine, now or utcnow(), names)
        if due_only
        else feeds.list_feeds(engine, names)
    )
    check_feed_tags(records, tagger)
    return records
