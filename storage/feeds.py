"""Feeds in the database: their configuration, their fetch state, which are due.

A feed is a ``sources`` row of kind ``feed`` plus a ``feeds`` row holding its settings (URL,
poll interval, full text, extra tags) and its state (ETag, Last-Modified, last HTTP status and
outcome, consecutive errors, last error, last and next poll times).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select, tuple_
from sqlalchemy.orm import Session

from newsflow.errors import NewsflowError
from newsflow.sources import FeedSource, is_due
from storage import models
from storage.db import write_session


@dataclass(frozen=True)
class FeedRecord:
    """A stored feed: configuration and state, detached from any session."""

    id: int
    source_id: int
    name: str
    url: str
    poll_interval: int | None
    fetch_full_text: bool
    tags: tuple[str, ...]
    etag: str | None
    last_modified: str | None
    last_status: int | None
    last_outcome: str | None
    error_count: int
    last_error: str | None
    last_polled_at: datetime | None
    last_success_at: datetime | None
    next_poll_at: datetime | None

    @property
    def config(self) -> FeedSource:
        return FeedSource(self.name, self.url, self.poll_interval, self.fetch_full_text, self.tags)

    def as_dict(self) -> dict[str, object]:
        data: dict[str, object] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            data[name] = value.isoformat() if isinstance(value, datetime) else value
        data["tags"] = list(self.tags)
        return data


@dataclass(frozen=True)
class FeedUpdate:
    """The state a poll leaves behind."""

    outcome: str  # ok, not-modified, error
    polled_at: datetime
    next_poll_at: datetime
    status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    error: str | None = None


def _record(row: models.Feed) -> FeedRecord:
    return FeedRecord(
        id=row.id,
        source_id=row.source_id,
        name=row.source.name,
        url=row.url,
        poll_interval=row.poll_interval,
        fetch_full_text=row.fetch_full_text,
        tags=tuple(row.tags or ()),
        etag=row.etag,
        last_modified=row.last_modified,
        last_status=row.last_status,
        last_outcome=row.last_outcome,
        error_count=row.error_count,
        last_error=row.last_error,
        last_polled_at=row.last_polled_at,
        last_success_at=row.last_success_at,
        next_poll_at=row.next_poll_at,
    )


def _apply(session: Session, source: FeedSource) -> models.Feed:
    """Create or update the feed ``source.name``; a new URL forgets the old validators."""
    src = session.scalars(select(models.Source).where(models.Source.name == source.name)).first()
    if src is None:
        src = models.Source(name=source.name, kind="feed", url=source.url)
        session.add(src)
        session.flush()
    elif (src.kind, src.url) != ("feed", source.url):
        src.kind, src.url = "feed", source.url
    feed = session.scalars(select(models.Feed).where(models.Feed.source_id == src.id)).first()
    if feed is None:
        feed = models.Feed(source_id=src.id, url=source.url, error_count=0)
        session.add(feed)
    elif feed.url != source.url:
        feed.url = source.url
        feed.etag = feed.last_modified = None
        feed.next_poll_at = None
    if feed.poll_interval != source.poll_interval:
        feed.poll_interval = source.poll_interval
        feed.next_poll_at = None  # re-plan with the new interval
    feed.fetch_full_text = source.fetch_full_text
    if list(feed.tags or []) != list(source.tags):
        feed.tags = list(source.tags)
    session.flush()
    session.refresh(feed)
    return feed


def sync_feeds(engine: Engine, sources: Sequence[FeedSource]) -> list[FeedRecord]:
    """Store the configuration of ``sources`` (state kept); their records, in the same order."""
    with write_session(engine, expire_on_commit=False) as session:
        return [_record(_apply(session, source)) for source in sources]


def add_feed(engine: Engine, source: FeedSource) -> FeedRecord:
    with write_session(engine, expire_on_commit=False) as session:
        existing = session.scalars(
            select(models.Feed).join(models.Source).where(models.Source.name == source.name)
        ).first()
        if existing is not None:
            raise NewsflowError(f"a feed named {source.name!r} exists already ({existing.url})")
        return _record(_apply(session, source))


def remove_feed(engine: Engine, name: str) -> FeedRecord:
    """Stop polling the feed ``name``; its stored articles are kept."""
    with write_session(engine, expire_on_commit=False) as session:
        row = session.scalars(
            select(models.Feed).join(models.Source).where(models.Source.name == name)
        ).first()
        if row is None:
            raise NewsflowError(f"no feed named {name!r} (`newsflow sources list` lists them)")
        record = _record(row)
        session.delete(row)
        return record


def list_feeds(engine: Engine, names: Iterable[str] | None = None) -> list[FeedRecord]:
    stmt = select(models.Feed).join(models.Source).order_by(models.Source.name)
    if names is not None:
        stmt = stmt.where(models.Source.name.in_(list(names)))
    with Session(engine) as session:
        return [_record(row) for row in session.scalars(stmt)]


def due_feeds(
    engine: Engine, now: datetime, names: Iterable[str] | None = None
) -> list[FeedRecord]:
    """Feeds never polled or whose next poll time has come, the most overdue first."""
    feeds = [f for f in list_feeds(engine, names) if is_due(f.next_poll_at, now)]
    return sorted(feeds, key=lambda f: (f.next_poll_at is not None, f.next_poll_at or now))


def save_poll(engine: Engine, feed_id: int, update: FeedUpdate) -> None:
    """Record a poll's outcome: validators and success time on success, errors counted."""
    with write_session(engine) as session:
        apply_poll(session, feed_id, update)


def apply_poll(session: Session, feed_id: int, update: FeedUpdate) -> None:
    """:func:`save_poll` in ``session``'s transaction."""
    row = session.get(models.Feed, feed_id)
    if row is None:  # removed while it was being polled
        return
    row.last_polled_at = update.polled_at
    row.next_poll_at = update.next_poll_at
    row.last_outcome = update.outcome
    if update.status is not None:
        row.last_status = update.status
    if update.outcome == "error":
        row.error_count = (row.error_count or 0) + 1
        row.last_error = update.error
        return
    row.error_count = 0
    row.last_error = None
    row.last_success_at = update.polled_at
    if update.outcome == "ok":
        row.etag, row.last_modified = update.etag, update.last_modified


def known_entries(
    engine: Engine, source_id: int, urls: Iterable[str], guids: Iterable[str]
) -> tuple[set[str], set[str]]:
    """Which of these canonical URLs (any source) and GUIDs (this source) are stored."""
    url_list, guid_list = sorted(set(urls)), sorted(set(guids))
    found_urls: set[str] = set()
    found_guids: set[str] = set()
    with Session(engine) as session:
        if url_list:
            found_urls = {
                u
                for u in session.scalars(
                    select(models.Article.url).where(models.Article.url.in_(url_list))
                )
                if u
            }
        if guid_list:
            keys = [(source_id, g) for g in guid_list]
            found_guids = {
                g
                for g in session.scalars(
                    select(models.Article.guid).where(
                        tuple_(models.Article.source_id, models.Article.guid).in_(keys)
                    )
                )
                if g
            }
    return found_urls, found_guids
