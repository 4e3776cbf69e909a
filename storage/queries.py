"""The read side: filtered article listings, one article in full, topic counts, statistics."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Engine,
    Select,
    Subquery,
    exists,
    false,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.orm import Session

from storage import models
from storage.fulltext import (
    MatchEstimate,
    apply_search,
    count_matches,
    estimate_matches,
    has_many_matches,
    planned_rows,
    tsquery_matches,
    tsvector_matches,
)


@dataclass(frozen=True)
class ArticleQuery:
    topic: str | None = None
    text: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    source: str | None = None
    limit: int = 20
    include_duplicates: bool = False


@dataclass(frozen=True)
class ArticleRow:
    id: int
    title: str
    source: str
    published: datetime | None
    url: str | None
    language: str | None
    topics: list[str]
    duplicate_of: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "source": self.source,
            "published": self.published.isoformat() if self.published else None,
            "url": self.url,
            "language": self.language,
            "topics": self.topics,
            "duplicate_of": self.duplicate_of,
        }


@dataclass(frozen=True)
class TagDetail:
    topic: str
    label: str
    score: float
    tagger_version: str
    evidence: list[dict[str, Any]]


@dataclass(frozen=True)
class ArticleDetail:
    row: ArticleRow
    text: str
    authors: list[str]
    guid: str | None
    origin: str | None
    ingested_at: datetime
    word_count: int
    tags: list[TagDetail]
    copies: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.row.as_dict(),
            "text": self.text,
            "authors": self.authors,
            "guid": self.guid,
            "origin": self.origin,
            "word_count": self.word_count,
            "ingested_at": self.ingested_at.isoformat(),
            "copies": self.copies,
            "tags": [
                {
                    "topic": t.topic,
                    "label": t.label,
                    "score": t.score,
                    "tagger_version": t.tagger_version,
                    "evidence": t.evidence,
                }
                for t in self.tags
            ],
        }


def _topics_of(session: Session, ids: list[int]) -> dict[int, list[str]]:
    result: dict[int, list[str]] = {i: [] for i in ids}
    if not ids:
        return result
    stmt = (
        select(models.ArticleTopic.article_id, models.Topic.slug)
        .join(models.Topic, models.Topic.id == models.ArticleTopic.topic_id)
        .where(models.ArticleTopic.article_id.in_(ids))
        .order_by(
            models.ArticleTopic.article_id, models.ArticleTopic.score.desc(), models.Topic.slug
        )
    )
    for article_id, slug in session.execute(stmt):
        result[article_id].append(slug)
    return result


def _row(article: models.Article, topics: list[str]) -> ArticleRow:
    return ArticleRow(
        id=article.id,
        title=article.title,
        source=article.source.name,
        published=article.published_at,
        url=article.url,
        language=article.language,
        topics=topics,
        duplicate_of=article.duplicate_of,
    )


# A topic with at least this many tagged articles is "large": listing its newest articles walks
# ix_articles_newest and checks each article's tags (stops after ``limit`` hits); a smaller
# one is listed from its tags (at most this many ids, then sorted).
LARGE_TOPIC = 2_000

# A search whose words match at least FREQUENT_MATCHES articles ranks only the newest
# RANK_WINDOW matches that pass the other filters: ranking every match of a frequent word reads
# hundreds of thousands of stored vectors (PostgreSQL) or computes bm25 for each (SQLite FTS5)
# at a million articles, while the newest matches are found in milliseconds. A rarer search
# ranks every match.
FREQUENT_MATCHES = 2_000
RANK_WINDOW = 200

# On PostgreSQL, whether a search is frequent and how its newest matches are found depend on
# the share of articles expected to hold its words and topic (the planner's estimates from the
# column statistics, about a millisecond; matches are counted only when the estimate is
# not far above FREQUENT_MATCHES). At WALK_SHARE or more, walking ix_articles_newest and
# checking each article finds them within a few thousand rows; below, the GIN index is
# combined (BitmapAnd) with the btree of published_at over the newest articles, about twice
# as many as should hold RANK_WINDOW matches, a window widened when it holds too few.
# SQLite reads FTS5's matches most recently stored first instead.
WALK_SHARE = 0.05
# A window's start is found by counting that many articles back in ix_articles_newest: past
# WIDEST_WINDOW articles the whole search (every match, through the bitmaps) is cheaper.
WIDEST_WINDOW = 100_000
# A phrase is estimated as its words (the statistics know words only); its first window
# assumes it is in a tenth of the articles that hold them, then it widens by what it found.
PHRASE_SHARE = 0.1
# A phrase in windows is checked in the stored vectors of the newest articles holding its
# words only until RANK_WINDOW match (see _newest_phrase_matches).
# Memory for the bitmaps of a search (PostgreSQL, this transaction only): at 4 MB the bitmap
# of a frequent word is lossy and every article of its pages is checked again.
SEARCH_WORK_MEM = "64MB"
# On SQLite, a frequent search walks FTS5's matches newest stored first and checks each one's
# article against the filters, until RANK_WINDOW pass: about RANK_WINDOW / (share of articles
# passing the filters) row reads; a rare one reads every match's row. When the filters are
# rare (a small topic, a short date range), listing first the ids of the topic's articles, of
# the date range's, or of both (their intersection), from indexes alone, and looking each
# match up in that list within the FTS5 scan reads the rows of the listed matches only (the
# other filters are checked on those). Each way's cost is estimated in row reads (see
# _listing_costs) from the topic's size (counted up to TOPIC_COUNT_CAP), the share of the
# stored date range the dates cover and the number of matches; the cheapest is taken.
# A topic of fewer than SMALL_TOPIC articles is filtered as the list of its articles.
TOPIC_COUNT_CAP = 100_000
SMALL_TOPIC = 10_000
# Ids come from ix_article_topics_topic_article and ix_articles_newest alone, hundreds to a
# page read in order, while each match checked costs a random read of its article row and of
# its tags: an id listed counts as this share of a row read. At 1M articles (SQLite, 16 KB
# pages, bench_queries.py, 60 queries a set): full text + topic + dates p95 295-356 → 65-86
# ms from a cold page cache over three query sets, 653 → 143 ms with each query cold
# (--cold), against the walk-or-list rule before; 0.05 lists too rarely (bench/results-queries.md).
LIST_ENTRY_COST = 0.01

Listing = Literal["topic", "dates", "both"]
Listed = Select[Any] | CompoundSelect[Any]  # the ids a Listing reads


def _topic_id(session: Session, slug: str) -> int | None:
    return session.scalar(select(models.Topic.id).where(models.Topic.slug == slug))


def _topic_size(session: Session, topic_id: int, up_to: int) -> int:
    """The number of articles tagged with the topic, counted up to ``up_to`` (in its
    entries of ix_article_topics_topic_article)."""
    T = models.ArticleTopic
    probe = select(T.topic_id).where(T.topic_id == topic_id).limit(up_to).subquery()
    return session.scalar(select(func.count()).select_from(probe)) or 0


def _topic_filter(topic_id: int, small: bool) -> ColumnElement[bool]:
    """A small topic as the list of its articles, a large one as a check of each article."""
    T = models.ArticleTopic
    if small:
        return models.Article.id.in_(select(T.article_id).where(T.topic_id == topic_id))
    return exists().where(T.article_id == models.Article.id, T.topic_id == topic_id)


def _topic_ids_contain(topic_id: int) -> ColumnElement[bool]:
    """PostgreSQL: the article's ``topic_ids`` (kept in step with its tags by triggers, see
    migration 0006) hold the topic: its GIN index is combined with the words' and the dates'
    in one BitmapAnd, and a walk of the newest articles checks it in the row it reads."""
    return literal_column("articles.topic_ids").op("@>")(
        literal_column(f"ARRAY[{int(topic_id)}]::integer[]")
    )


_NEWEST = (models.Article.published_at.desc().nulls_last(), models.Article.id.desc())


def _window_start(session: Session, query: ArticleQuery, articles: int) -> datetime | None:
    """The publication date of the ``articles``-th newest article up to ``until`` (None: no
    window: more than WIDEST_WINDOW articles, fewer articles than that, or none of them newer
    than ``since``)."""
    if articles > WIDEST_WINDOW:  # finding the start would read more than the search saves
        return None
    A = models.Article
    stmt = select(A.published_at).where(A.published_at.is_not(None))
    if query.until is not None:
        stmt = stmt.where(A.published_at < query.until)
    if query.include_duplicates:  # ix_articles_published_at, read backwards
        stmt = stmt.order_by(A.published_at.desc())
    else:  # ix_articles_newest
        stmt = stmt.where(A.duplicate_of.is_(None)).order_by(*_NEWEST)
    start = session.scalar(stmt.offset(articles).limit(1))
    if start is None or (query.since is not None and start <= query.since):
        return None
    return start


def _newest_phrase_matches(
    window: Select[int, datetime | None], query: ArticleQuery, words: str
) -> Select[int]:
    """The newest RANK_WINDOW matches of a phrase search in ``window`` (PostgreSQL): the
    articles holding its words (``words``: no positions, so the GIN index answers without
    reading a stored vector) are sorted newest first, and the phrase is checked in their
    stored vectors in that order until RANK_WINDOW match, not in every one of them."""
    vector: ColumnElement[Any] = literal_column("articles.search")
    held = (
        window.add_columns(vector.label("search"))
        .where(tsquery_matches(vector, words))
        .order_by(*_NEWEST)
        .offset(0)  # a fence: the phrase is checked after the sort, not inside the scan
        .subquery("held")
    )
    return (
        select(held.c.id)
        .where(tsvector_matches(held.c.search, query.text or ""))
        .order_by(held.c.published_at.desc().nulls_last(), held.c.id.desc())
        .limit(RANK_WINDOW)
    )


def _newest_matches_in_windows(
    session: Session,
    filtered: Select[Any],
    query: ArticleQuery,
    share: float,
    words: str | None = None,
) -> list[int]:
    """Ids of the newest RANK_WINDOW articles of ``filtered`` (PostgreSQL) that match the
    search, looked for among the newest articles first (see WALK_SHARE); with ``words`` (a
    phrase's words without positions), see _newest_phrase_matches."""
    A = models.Article
    articles = math.ceil(2 * RANK_WINDOW / max(share, 1e-6))
    while True:
        start = _window_start(session, query, articles)
        window = filtered.with_only_columns(A.id, A.published_at)
        if start is not None:
            window = window.where(A.published_at >= start)
        if words is not None:
            found = list(session.scalars(_newest_phrase_matches(window, query, words)))
            if len(found) >= RANK_WINDOW or start is None:
                return found
            articles = max(2 * articles, math.ceil(articles * 2 * RANK_WINDOW / max(1, len(found))))
            continue
        # the words last: where the plan checks rows one by one (the topic's articles, say),
        # the cheap date check goes first and only the articles in the window are searched
        window = window.where(tsvector_matches(literal_column("articles.search"), query.text or ""))
        # MATERIALIZED: every match of the window is fetched (bitmaps), not walked in order
        matches = window.cte("window_matches").prefix_with("MATERIALIZED")
        newest = (matches.c.published_at.desc().nulls_last(), matches.c.id.desc())
        found = list(session.scalars(select(matches.c.id).order_by(*newest).limit(RANK_WINDOW)))
        if len(found) >= RANK_WINDOW or start is None:
            return found
        # wide enough for twice RANK_WINDOW at the share found, at least twice as wide
        articles = max(2 * articles, math.ceil(articles * 2 * RANK_WINDOW / max(1, len(found))))


def _share(session: Session, estimate: MatchEstimate, topic_id: int | None) -> float:
    """The share of articles expected to match a search's words and topic (PostgreSQL's
    planner: the words' and the topic's shares, as independent)."""
    if topic_id is None:
        return estimate.share
    T = "SELECT 1 FROM article_topics WHERE topic_id = :t"
    tagged = planned_rows(session, T, t=topic_id)
    return estimate.share * min(1.0, tagged / max(1.0, estimate.articles))


def _listing_costs(
    matches: int, stored: int, tagged: float, dated: float, window: float
) -> dict[Listing | None, float]:
    """Row reads (see LIST_ENTRY_COST) of each way to find a search's matches that pass its
    topic (``tagged`` articles) and dates (``dated``): walking its matches (``None``), or
    listing the topic's ids, the dates', or both, first. A walk or a list's matches are read
    until ``window`` pass the filters (``math.inf``: every one)."""
    stored = max(1, stored)
    topic, dates = min(1.0, tagged / stored), min(1.0, dated / stored)

    def reads(listed: float, passing: float) -> float:  # matches in a list, until ``window`` pass
        return min(matches * listed, window / max(passing, 1e-9))

    costs: dict[Listing | None, float] = {None: reads(1.0, topic * dates)}
    if topic < 1:
        costs["topic"] = LIST_ENTRY_COST * tagged + reads(topic, dates)
    if dates < 1:
        costs["dates"] = LIST_ENTRY_COST * dated + reads(dates, topic)
    if topic < 1 and dates < 1:
        costs["both"] = LIST_ENTRY_COST * (tagged + dated) + reads(topic * dates, 1.0)
    return costs


def _list_first(
    session: Session, query: ArticleQuery, topic_size: int | None, counted: int
) -> Listing | None:
    """SQLite: which ids to list before a search's FTS5 scan, the topic's, the dates', or
    both, or ``None`` to check each match's article (the cheapest by _listing_costs).
    ``counted``: the search's matches counted up to FREQUENT_MATCHES (all of a rare one's)."""
    window = RANK_WINDOW if counted >= FREQUENT_MATCHES else math.inf
    A = models.Article
    stored = session.scalar(select(func.max(A.id))) or 0
    dated = float(stored)
    if query.since is not None or query.until is not None:
        first = session.scalar(select(func.min(A.published_at)))
        last = session.scalar(select(func.max(A.published_at)))
        if first is not None and last is not None and last > first:
            since = max(first, query.since or first)
            until = min(last, query.until or last)
            dated = stored * max(0.0, (until - since) / (last - first))
    tagged = float(stored if topic_size is None else topic_size)
    if tagged >= stored and dated >= stored:
        return None
    passing = (tagged / max(1, stored)) * (dated / max(1, stored))
    # no cost grows with matches past those a walk reads to find ``window`` passing
    up_to = math.ceil(min(window / max(passing, 1e-9), stored))
    matches = counted  # exact for a rare search; enough when up_to is no more
    if FREQUENT_MATCHES <= counted < up_to:
        matches = count_matches(session, "sqlite", query.text or "", up_to)
    costs = _listing_costs(matches, stored, tagged, dated, window)
    return min(costs, key=lambda way: costs[way])


def _sqlite_newest_ranked(
    searched: Select[Any], rank: ColumnElement[float], listed: Listed | None
) -> Subquery:
    """The ids and bm25 ranks of the RANK_WINDOW most recently stored matches (SQLite): FTS5's
    matches newest stored first, each one's article checked against the filters; with
    ``listed`` (see _listed_ids), only the matches among them (see _fts_rowid_in), so that
    the article rows read are those of the listed matches."""
    walk = searched.with_only_columns(models.Article.id, rank.label("rank"))
    if listed is not None:
        walk = walk.where(_fts_rowid_in(listed))
    return walk.order_by(literal_column("articles_fts.rowid").desc()).limit(RANK_WINDOW).subquery()


def _fts_rowid_in(listed: Listed) -> ColumnElement[bool]:
    """FTS5's matches among ``listed`` ids: ``+rowid`` keeps the rowid from the FTS5 scan
    (each match is looked up in the list), where a bare ``rowid`` would look each listed id
    up in the full-text index instead."""
    return literal_column("+articles_fts.rowid").in_(listed)


def _listed_ids(query: ArticleQuery, topic_id: int | None, first: Listing) -> Listed:
    """SQLite: the ids of a topic's articles, of a date range's, or of both, from indexes
    alone (ix_article_topics_topic_article; ix_articles_newest, which holds originals only,
    or ix_articles_published_at with copies); the other filters are checked on the matches
    among them."""
    T = models.ArticleTopic
    tagged = select(T.article_id).where(T.topic_id == topic_id)
    if first == "topic":
        return tagged
    A = models.Article
    dated = select(A.id)
    if query.since is not None:
        dated = dated.where(A.published_at >= query.since)
    if query.until is not None:
        dated = dated.where(A.published_at < query.until)
    if not query.include_duplicates:
        dated = dated.where(A.duplicate_of.is_(None))
    if first == "both":
        return tagged.intersect(dated)
    return dated


def _postgres_newest(
    session: Session,
    query: ArticleQuery,
    filtered: Select[Any],
    searched: Select[Any],
    estimate: MatchEstimate,
    topic_id: int | None,
) -> Any:
    """The ids of the RANK_WINDOW newest matches (PostgreSQL): a subquery that walks
    ix_articles_newest, or a list found in windows of the newest articles (see WALK_SHARE)."""
    share = _share(session, estimate, topic_id)
    if share >= WALK_SHARE and not estimate.phrase:
        walk = searched.with_only_columns(models.Article.id).order_by(*_NEWEST)
        return walk.limit(RANK_WINDOW).scalar_subquery()
    guess = share * (PHRASE_SHARE if estimate.phrase else 1)
    return _newest_matches_in_windows(session, filtered, query, guess, estimate.words)


def find_articles(engine: Engine, query: ArticleQuery) -> list[ArticleRow]:
    """Articles matching every given filter; best match first with ``text``, else newest.

    A search matching at least ``FREQUENT_MATCHES`` articles ranks the newest ``RANK_WINDOW``
    of them that pass the other filters: by publication date on PostgreSQL, by storage order
    (the most recently stored) on SQLite.

    Without ``text``, a topic with many articles is listed by walking the newest originals
    (``ix_articles_newest``) and checking each one's tags; a small one from its tagged ids.
    """
    with Session(engine) as session:
        stmt: Select[Any] = select(models.Article).join(models.Source)
        dialect = engine.dialect.name
        topic_id = _topic_id(session, query.topic) if query.topic else None
        topic_size: int | None = None
        topic: ColumnElement[bool] | None = None
        if query.topic and topic_id is None:
            topic = false()
        elif topic_id is not None:
            if query.text and dialect == "postgresql":  # beside the words: one BitmapAnd
                topic = _topic_ids_contain(topic_id)
            elif query.text:  # SQLite
                topic_size = _topic_size(session, topic_id, TOPIC_COUNT_CAP)
                topic = _topic_filter(topic_id, small=topic_size < SMALL_TOPIC)
            else:
                small = _topic_size(session, topic_id, LARGE_TOPIC) < LARGE_TOPIC
                topic = _topic_filter(topic_id, small)
        if query.source:
            stmt = stmt.where(models.Source.name == query.source)
        if query.since:
            stmt = stmt.where(models.Article.published_at >= query.since)
        if query.until:
            stmt = stmt.where(models.Article.published_at < query.until)
        if not query.include_duplicates:
            stmt = stmt.where(models.Article.duplicate_of.is_(None))
        if topic is not None:
            stmt = stmt.where(topic)
        if query.text:
            filtered = stmt
            stmt, rank = apply_search(stmt, dialect, query.text)
            if dialect == "postgresql":
                session.execute(text(f"SET LOCAL work_mem = '{SEARCH_WORK_MEM}'"))
            estimate = (
                estimate_matches(session, query.text)
                if dialect == "postgresql"
                else MatchEstimate(0, 0, phrase=False)
            )
            listed: Listed | None = None
            if dialect == "sqlite":  # counted up to FREQUENT_MATCHES: a rare search's all
                counted = count_matches(session, dialect, query.text, FREQUENT_MATCHES)
                frequent = counted >= FREQUENT_MATCHES
                if topic_size is not None or query.since or query.until:
                    first = _list_first(session, query, topic_size, counted)
                    listed = None if first is None else _listed_ids(query, topic_id, first)
            else:  # far above FREQUENT_MATCHES by the estimate: frequent without counting
                frequent = estimate.matches >= 10 * FREQUENT_MATCHES or has_many_matches(
                    session, dialect, query.text, FREQUENT_MATCHES
                )
            if frequent:
                if dialect == "sqlite":  # bm25() only exists in the FTS5 scan: rank inside it
                    window = _sqlite_newest_ranked(stmt, rank, listed)
                    stmt = (
                        select(models.Article)
                        .join(models.Source)
                        .join(window, window.c.id == models.Article.id)
                    )
                    rank = window.c.rank
                else:  # rank those only
                    newest = _postgres_newest(session, query, filtered, stmt, estimate, topic_id)
                    stmt = (
                        select(models.Article)
                        .join(models.Source)
                        .where(models.Article.id.in_(newest))
                    )
            elif listed is not None:  # every match ranked: those in the list only
                stmt = stmt.where(_fts_rowid_in(listed))
            stmt = stmt.order_by(rank, *_NEWEST)
        else:
            stmt = stmt.order_by(*_NEWEST)
        articles = list(session.scalars(stmt.limit(query.limit)).unique())
        topics = _topics_of(session, [a.id for a in articles])
        return [_row(a, topics[a.id]) for a in articles]


def get_article(engine: Engine, article_id: int) -> ArticleDetail | None:
    with Session(engine) as session:
        article = session.get(models.Article, article_id)
        if article is None:
            return None
        tags = sorted(article.tags, key=lambda t: (-t.score, t.topic.slug))
        copies = list(
            session.scalars(
                select(models.Article.id)
                .where(models.Article.duplicate_of == article_id)
                .order_by(models.Article.id)
            )
        )
        return ArticleDetail(
            row=_row(article, [t.topic.slug for t in tags]),
            text=article.text,
            authors=list(article.authors or []),
            guid=article.guid,
            origin=article.origin,
            ingested_at=article.ingested_at,
            word_count=article.word_count,
            copies=copies,
            tags=[
                TagDetail(
                    t.topic.slug, t.topic.label, t.score, t.tagger_version, list(t.evidence or [])
                )
                for t in tags
            ],
        )


def topic_slugs(engine: Engine) -> set[str]:
    """The slugs of the topics in the database (a small table: no article is read)."""
    with Session(engine) as session:
        return set(session.scalars(select(models.Topic.slug)))


def topic_counts(engine: Engine, include_duplicates: bool = False) -> dict[str, int]:
    """Articles per topic slug, for every topic in the database."""
    count = func.count(models.Article.id)
    stmt = (
        select(models.Topic.slug, count)
        .select_from(models.Topic)
        .outerjoin(models.ArticleTopic, models.ArticleTopic.topic_id == models.Topic.id)
        .outerjoin(models.Article, models.Article.id == models.ArticleTopic.article_id)
    )
    if not include_duplicates:
        stmt = stmt.where(models.Article.duplicate_of.is_(None))
    stmt = stmt.group_by(models.Topic.slug)
    with Session(engine) as session:
        return dict(session.execute(stmt).all())


@dataclass(frozen=True)
class Stats:
    articles: int
    duplicates: int
    sources: dict[str, int]
    tagged: int
    earliest: datetime | None
    latest: datetime | None
    runs: int
    last_run: datetime | None
    errors: int
    source_copies: dict[str, int] = field(default_factory=dict)
    run_statuses: dict[str, int] = field(default_factory=dict)
    skipped_no_text: int = 0  # over all runs: pages with no article text
    skipped_by_date: int = 0  # over all runs: records outside a backfill's date window

    def as_dict(self) -> dict[str, Any]:
        return {
            "articles": self.articles,
            "duplicates": self.duplicates,
            "sources": self.sources,
            "source_copies": self.source_copies,
            "tagged_articles": self.tagged,
            "earliest": self.earliest.isoformat() if self.earliest else None,
            "latest": self.latest.isoformat() if self.latest else None,
            "runs": self.runs,
            "run_statuses": self.run_statuses,
            "last_run": self.last_run.isoformat() if self.last_run else None,
            "errors_recorded": self.errors,
            "skipped_no_text": self.skipped_no_text,
            "skipped_by_date": self.skipped_by_date,
        }


def database_stats(engine: Engine) -> Stats:
    A = models.Article
    with Session(engine) as session:
        originals = A.duplicate_of.is_(None)
        total = session.scalar(select(func.count()).select_from(A).where(originals)) or 0
        copies = session.scalar(select(func.count()).select_from(A).where(~originals)) or 0
        # every source with stored articles: one whose articles are all copies has 0 originals
        per_source: dict[str, int] = {}
        source_copies: dict[str, int] = {}
        for name, source_originals, source_duplicates in session.execute(
            select(
                models.Source.name,
                func.count(A.id).filter(originals),
                func.count(A.id).filter(~originals),
            )
            .join(A, A.source_id == models.Source.id)
            .group_by(models.Source.name)
            .order_by(models.Source.name)
        ):
            per_source[name] = source_originals
            if source_duplicates:
                source_copies[name] = source_duplicates
        tagged = (
            session.scalar(
                select(func.count(func.distinct(models.ArticleTopic.article_id)))
                .join(A, A.id == models.ArticleTopic.article_id)
                .where(originals)
            )
            or 0
        )
        earliest, latest = session.execute(
            select(func.min(A.published_at), func.max(A.published_at)).where(originals)
        ).one()
        R = models.IngestionRun
        runs, last_run, skipped_no_text, skipped_by_date = session.execute(
            select(
                func.count(R.id),
                func.max(R.started_at),
                func.coalesce(func.sum(R.skipped_no_text), 0),
                func.coalesce(func.sum(R.skipped_by_date), 0),
            )
        ).one()
        run_statuses: dict[str, int] = dict(
            session.execute(
                select(R.status, func.count(R.id)).group_by(R.status).order_by(R.status)
            ).all()
        )
        errors = session.scalar(select(func.count(models.IngestionError.id))) or 0
    to_dt = models.UTCDateTime().process_result_value
    return Stats(
        total,
        copies,
        per_source,
        tagged,
        to_dt(earliest, engine.dialect),
        to_dt(latest, engine.dialect),
        runs or 0,
        to_dt(last_run, engine.dialect),
        errors,
        source_copies,
        run_statuses,
        int(skipped_no_text),
        int(skipped_by_date),
    )
