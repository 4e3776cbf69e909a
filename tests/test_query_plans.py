"""The listing query's plan choices (a large or a small topic) give the same results, on real
SQLite and PostgreSQL."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from newsflow.article import Article
from newsflow.pipeline import prepare_database, process, tagger_for
from storage import queries
from storage.db import open_database
from storage.fulltext import MatchEstimate, estimate_matches
from storage.queries import ArticleQuery
from storage.repository import store_batch

_TEXTS = [
    "Russia and China signed an energy deal in Moscow. Putin and Xi Jinping met for talks.",
    "The New START treaty on nuclear warheads expires. Arms control talks stalled again.",
    "Tariffs on Chinese steel rose. The trade deal with Beijing stalled over export controls.",
    "A local bakery opened a second shop. Customers queued for bread in the morning rain.",
]


def _store(engine: Engine) -> Engine:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    articles = [
        Article(
            source=f"desk-{i % 3}",
            title=f"Story {i}",
            # the number in every few words: stories of one text stay well apart as near
            # copies (estimated containment ~0.5, against the 0.8 that makes a copy)
            text=f"{_TEXTS[i % len(_TEXTS)]} Dispatch number {i} from the desk, filed {i} as "
            f"item {i} in log {i} at hour {i}.",
            origin=f"test-{i}",
            guid=f"g-{i}",
            published=start + timedelta(days=i % 17, hours=i),
        )
        for i in range(40)
    ]
    articles.append(replace(articles[0], guid="copy-0", source="wire"))  # an exact copy
    store_batch(engine, process(articles, tagger_for(None)))
    return engine


@pytest.fixture
def stored(engine: Engine) -> Engine:
    return _store(engine)


QUERIES = [
    ArticleQuery(topic="russia-china", limit=7),
    ArticleQuery(topic="arms-control", since=datetime(2026, 1, 5, tzinfo=UTC), limit=50),
    ArticleQuery(topic="trade", until=datetime(2026, 1, 9, tzinfo=UTC), include_duplicates=True),
    ArticleQuery(text="talks", topic="russia-china", limit=50),
    ArticleQuery(text="deal", limit=50),
    ArticleQuery(text="dispatch", since=datetime(2026, 1, 3, tzinfo=UTC), limit=50),
]


def _ids(engine: Engine, query: ArticleQuery) -> list[int]:
    return [row.id for row in queries.find_articles(engine, query)]


@pytest.mark.parametrize("query", QUERIES, ids=range(len(QUERIES)))
def test_large_and_small_topic_plans_agree(
    stored: Engine, query: ArticleQuery, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queries, "LARGE_TOPIC", 10_000)  # every topic small: IN (tagged ids)
    small = _ids(stored, query)
    monkeypatch.setattr(queries, "LARGE_TOPIC", 1)  # every topic large: EXISTS per article
    large = _ids(stored, query)
    assert small == large
    assert small  # each query finds something, so the comparison says something


def test_listing_is_newest_first_without_copies(stored: Engine) -> None:
    rows = queries.find_articles(stored, ArticleQuery(topic="russia-china", limit=100))
    assert rows and all(r.duplicate_of is None for r in rows)
    keys = [(r.published, r.id) for r in rows]
    assert keys == sorted(keys, reverse=True)


def test_unknown_topic_matches_nothing(stored: Engine) -> None:
    assert queries.find_articles(stored, ArticleQuery(topic="no-such-topic")) == []


def _talks(engine: Engine, count: int = 30, days: int = 1) -> datetime:
    """``count`` articles stored oldest first, one every ``days`` days: "talks" in every one,
    "arms" twice in the five oldest, so those rank best overall. Returns the first date."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    articles = [
        Article(
            source="desk",
            title=f"Story {i}",
            text=("Arms talks and arms. " if i < 5 else "Talks went on. ")
            + f"Dispatch number {i} from the desk about the talks.",
            origin=f"test-{i}",
            guid=f"g-{i}",
            published=start + timedelta(days=i * days),
        )
        for i in range(count)
    ]
    store_batch(engine, process(articles, tagger_for(None)))
    return start


def test_a_frequent_search_ranks_its_newest_matches(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A search matching at least FREQUENT_MATCHES articles ranks only the newest RANK_WINDOW
    of those that pass the other filters (here stored in date order, so newest either way);
    a rarer one ranks every match."""
    start = _talks(engine)
    query = ArticleQuery(text="talks OR arms", limit=3)
    monkeypatch.setattr(queries, "FREQUENT_MATCHES", 1_000)
    every = [row.title for row in queries.find_articles(engine, query)]
    assert every[0] in {f"Story {i}" for i in range(5)}  # ranked over all 30 matches

    monkeypatch.setattr(queries, "FREQUENT_MATCHES", 10)
    monkeypatch.setattr(queries, "RANK_WINDOW", 8)
    window = queries.find_articles(engine, query)
    newest = {f"Story {i}" for i in range(22, 30)}
    assert len(window) == 3 and {row.title for row in window} <= newest
    dated = queries.find_articles(engine, replace(query, until=start + timedelta(days=5), limit=10))
    assert {row.title for row in dated} == {f"Story {i}" for i in range(5)}  # filters first


def _day(day: int) -> datetime:
    return datetime(2026, 1, day, tzinfo=UTC)


# Searches with dates, a topic, or both: each has more than 6 matches passing its filters.
FILTERED = [
    ArticleQuery(text="dispatch", since=_day(10), limit=50),
    ArticleQuery(text="dispatch", until=_day(8), limit=50),
    ArticleQuery(text="dispatch", topic="russia-china", limit=50),
    ArticleQuery(text="talks OR deal", topic="arms-control", limit=50),
    ArticleQuery(text="dispatch", source="desk-1", since=_day(3), until=_day(15), limit=50),
    ArticleQuery(text="dispatch", topic="arms-control", since=_day(2), until=_day(17), limit=50),
    ArticleQuery(
        text="dispatch OR deal", topic="trade", until=_day(14), include_duplicates=True, limit=50
    ),
]


@pytest.mark.parametrize("query", FILTERED, ids=range(len(FILTERED)))
def test_plans_for_filtered_frequent_searches_agree(
    stored: Engine, monkeypatch: pytest.MonkeyPatch, query: ArticleQuery
) -> None:
    """A frequent search with dates or a topic ranks the same newest matches whichever way
    it finds them: on SQLite the filtered articles listed first (the topic's, the dates', or
    both) or each match's article checked."""
    monkeypatch.setattr(queries, "FREQUENT_MATCHES", 1)
    monkeypatch.setattr(queries, "RANK_WINDOW", 6)
    monkeypatch.setattr(queries, "_list_first", lambda *args: None)  # each match checked
    walked = [row.id for row in queries.find_articles(stored, query)]
    for start in _listings(query):
        monkeypatch.setattr(queries, "_list_first", lambda *args, start=start: start)
        assert [row.id for row in queries.find_articles(stored, query)] == walked
    assert len(walked) == 6  # more than RANK_WINDOW matches pass each query's filters


@pytest.mark.parametrize("query", FILTERED, ids=range(len(FILTERED)))
def test_plans_for_filtered_rare_searches_agree(
    stored: Engine, monkeypatch: pytest.MonkeyPatch, query: ArticleQuery
) -> None:
    """A rare search ranks every match passing its filters, the same whether it checks each
    match's article or lists the filtered ids first (SQLite)."""
    monkeypatch.setattr(queries, "_list_first", lambda *args: None)
    every = [row.id for row in queries.find_articles(stored, query)]
    assert every
    for start in _listings(query):
        monkeypatch.setattr(queries, "_list_first", lambda *args, start=start: start)
        assert [row.id for row in queries.find_articles(stored, query)] == every


def _listings(query: ArticleQuery) -> list[str]:
    """The ids a SQLite search with ``query``'s filters can list first."""
    topic, dates = query.topic is not None, query.since is not None or query.until is not None
    return [
        way for way, fits in [("topic", topic), ("dates", dates), ("both", topic and dates)] if fits
    ]


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("words", "share", "window", "since_day", "expected"),
    [
        ("talks", 0.9, 8, None, range(22, 30)),  # walk ix_articles_newest
        ("talks", 0.04, 8, None, range(22, 30)),  # one window: all 30 articles
        ("talks", 0.5, 8, None, range(22, 30)),  # one window of the 16 newest
        ("talks", 0.5, 8, 25, range(25, 30)),  # ``since`` inside the first window
        ("arms", 0.5, 3, None, range(2, 5)),  # widened: no match among the 12 newest
        ("arms", 0.3, 3, 1, range(2, 5)),  # widened, then ``since`` bounds it
        ('"arms talks"', 0.9, 3, None, range(2, 5)),  # a phrase: windows, never the walk
    ],
)
def test_plans_for_the_newest_matches_agree(
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    words: str,
    share: float,
    window: int,
    since_day: int | None,
    expected: range,
) -> None:
    """On PostgreSQL the newest matches of a frequent search are found by walking the newest
    articles or in windows of them (chosen by the planner's estimate of the words' share,
    pinned here); every way ranks the same newest ``window`` matches."""
    engine = open_database(postgres_url)
    start = _talks(engine)
    estimate = MatchEstimate(matches=share * 30, articles=30, phrase='"' in words)
    monkeypatch.setattr(queries, "estimate_matches", lambda session, text: estimate)
    monkeypatch.setattr(queries, "FREQUENT_MATCHES", 1)
    monkeypatch.setattr(queries, "RANK_WINDOW", window)
    since = None if since_day is None else start + timedelta(days=since_day)
    found = queries.find_articles(engine, ArticleQuery(text=words, since=since, limit=100))
    assert {row.title for row in found} == {f"Story {i}" for i in expected}


@pytest.mark.postgres
def test_the_match_estimate_reads_the_statistics(postgres_url: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    engine = open_database(postgres_url)
    _talks(engine)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE articles"))
    with Session(engine) as session:
        talks = estimate_matches(session, "talks")
        arms = estimate_matches(session, "arms")
        phrase = estimate_matches(session, '"arms talks"')
    assert talks.articles == 30 and talks.share > 0.9 and not talks.phrase
    assert arms.share < 0.5
    assert phrase.phrase and phrase.matches == arms.matches  # a phrase counts as its words


@pytest.mark.postgres
@pytest.mark.parametrize(
    "query",
    [
        ArticleQuery(text='"Xi Jinping"', limit=50),
        ArticleQuery(text='"arms control" OR tariffs', limit=50),
        ArticleQuery(text="dispatch", topic="russia-china", limit=50),
        ArticleQuery(text='"dispatch number"', topic="trade", limit=50),
        ArticleQuery(text="talks OR deal", topic="arms-control", limit=50),
        ArticleQuery(
            text="dispatch",
            topic="russia-china",
            source="desk-1",
            since=datetime(2026, 1, 3, tzinfo=UTC),
            until=datetime(2026, 1, 15, tzinfo=UTC),
            limit=50,
        ),
        ArticleQuery(text="dispatch -bakery", topic="trade", include_duplicates=True, limit=50),
        # every article holds "desk" and "dispatch", none as that phrase
        ArticleQuery(text='"desk dispatch" OR bakery', limit=50),
        ArticleQuery(text='"desk dispatch" OR "Xi Jinping"', topic="russia-china", limit=50),
    ],
    ids=range(9),
)
def test_phrase_windows_agree_with_the_whole_search(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, query: ArticleQuery
) -> None:
    """On PostgreSQL a phrase's windows check the phrase only in the newest articles holding
    its words, until RANK_WINDOW match: whatever the windows' size, that ranks the same newest
    matches as the whole search with the phrase checked in every article (and so do the
    windows and the walk of searches without a phrase)."""
    engine = _store(prepare_database(postgres_url, tagger_for(None)))
    monkeypatch.setattr(queries, "FREQUENT_MATCHES", 1)
    monkeypatch.setattr(queries, "RANK_WINDOW", 4)
    monkeypatch.setattr(queries, "PHRASE_SHARE", 1.0)
    with monkeypatch.context() as whole:  # no window, the phrase checked in every article
        whole.setattr(queries, "_share", lambda *args: 1e-9)
        whole.setattr(
            queries,
            "estimate_matches",
            lambda session, text: replace(estimate_matches(session, text), words=None),
        )
        expected = _ids(engine, query)
    assert expected  # each query finds something, so the comparison says something
    for share in (1e-9, 0.3, 0.5, 0.9):  # all articles; windows of 27, 16, 9, widened
        monkeypatch.setattr(queries, "_share", lambda *args, share=share: share)
        assert _ids(engine, query) == expected, share


@pytest.mark.postgres
def test_a_phrase_is_looked_for_among_the_articles_holding_its_words(postgres_url: str) -> None:
    from sqlalchemy.orm import Session

    engine = open_database(postgres_url)
    _talks(engine)
    with Session(engine) as session:
        assert estimate_matches(session, '"arms talks" dispatch').words == (
            "'arm' & 'talk' & 'dispatch'"
        )
        assert estimate_matches(session, "arms talks").words is None  # no phrase
        assert estimate_matches(session, 'dispatch -"arms talks"').words is None  # a NOT


def test_a_topics_articles_are_read_from_its_index(sqlite_url: str) -> None:
    """A topic's article ids (its size, a small topic's list) come from
    ix_article_topics_topic_article alone, not from each tag row (evidence and all)."""
    from sqlalchemy import text

    engine = prepare_database(sqlite_url, tagger_for(None))
    with engine.connect() as conn:
        plan = " ".join(
            row[-1]
            for row in conn.execute(
                text("EXPLAIN QUERY PLAN SELECT article_id FROM article_topics WHERE topic_id = 1")
            )
        )
    assert "COVERING INDEX ix_article_topics_topic_article" in plan


@pytest.mark.parametrize(
    ("matches", "tagged", "dated", "window", "cheapest"),
    [
        (400_000, 260_000, 900_000, 200, None),  # broad filters: the walk soon finds 200
        (400_000, 20_000, 1_000_000, 200, "topic"),  # a mid-sized topic, no dates
        (400_000, 1_000_000, 7_000, 200, "dates"),  # a week, no topic
        (400_000, 20_000, 30_000, 200, "both"),  # a topic and a month: 0.06 % pass both
        (400_000, 200, 90_000, 200, "topic"),  # a tiny topic: its ids alone, then the dates
        (3_000, 20_000, 30_000, 200, "topic"),  # 60 matches of the topic, their dates read
        (150, 20_000, 30_000, math.inf, None),  # rare: 150 rows before 20,000 listed ids
        (1_900, 20_000, 30_000, math.inf, "topic"),  # rare, but 1,900 rows cost more
    ],
)
def test_the_cheapest_listing_by_the_cost_model(
    matches: int, tagged: int, dated: int, window: float, cheapest: str | None
) -> None:
    """SQLite's choice for a search at 1M articles (LIST_ENTRY_COST 0.01): walk the matches,
    or list the ids of the topic, of the dates, or of both first."""
    costs = queries._listing_costs(matches, 1_000_000, tagged, dated, window)
    assert min(costs, key=lambda way: costs[way]) == cheapest
