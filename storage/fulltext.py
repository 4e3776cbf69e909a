"""Full-text search: FTS5 on SQLite, tsvector + GIN on PostgreSQL, behind one function.

Users write web-search style queries on both backends: words (all must match), "quoted
phrases", ``OR`` between alternatives, ``-word`` to exclude, ``word*`` for a prefix (SQLite).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    cast,
    func,
    literal,
    literal_column,
    table,
    text,
)
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.orm import Session
from sqlalchemy.sql import column

from newsflow.errors import NewsflowError
from storage import models

_TOKEN = re.compile(r'(-?)"([^"]*)"|(\S+)')
_WORDS = re.compile(r"\w+", re.UNICODE)


def fts5_query(query: str) -> str:
    """Translate a web-search style query into FTS5 syntax, every term quoted (no injection)."""
    positive: list[str] = []
    negative: list[str] = []
    pending_or = False
    for match in _TOKEN.finditer(query):
        negate, phrase, bare = match.group(1), match.group(2), match.group(3)
        if bare is not None and bare == "OR":
            pending_or = bool(positive)
            continue
        if bare is not None and bare.startswith("-") and len(bare) > 1:
            negate, bare = "-", bare[1:]
        prefix = bare is not None and bare.endswith("*")
        words = _WORDS.findall(phrase if phrase is not None else bare or "")
        if not words:
            continue
        term = '"' + " ".join(words) + '"' + ("*" if prefix and len(words) == 1 else "")
        if negate:
            negative.append(term)
        elif pending_or:
            positive[-1] = f"({positive[-1]} OR {term})"
            pending_or = False
        else:
            positive.append(term)
    if not positive:
        raise NewsflowError(f"search {query!r} has no words to look for")
    return " AND ".join(positive) + "".join(f" NOT {term}" for term in negative)


def apply_search(
    stmt: Select[Any], dialect: str, query: str
) -> tuple[Select[Any], ColumnElement[float]]:
    """``stmt`` restricted to articles matching ``query``, and a rank (lower is better)."""
    query = query.replace("\x00", " ")  # PostgreSQL text cannot hold NUL; it is no word anyway
    match_expression = fts5_query(query)  # also rejects a query with no words, on every backend
    if dialect == "sqlite":
        fts = table("articles_fts", column("rowid"))
        stmt = stmt.join(fts, literal_column("articles_fts.rowid") == models.Article.id).where(
            text("articles_fts MATCH :fts_query").bindparams(fts_query=match_expression)
        )
        return stmt, literal_column("bm25(articles_fts)")
    if dialect == "postgresql":
        vector: ColumnElement[Any] = literal_column("articles.search")
        tsquery = func.websearch_to_tsquery("english", query)
        stmt = stmt.where(tsvector_matches(vector, query))
        return stmt, -func.ts_rank_cd(vector, tsquery, type_=Float)
    raise NewsflowError(f"full-text search is not supported on {dialect}")


def tsvector_matches(vector: ColumnElement[Any], query: str) -> ColumnElement[bool]:
    """PostgreSQL: the stored ``vector`` matches the web-search style ``query``."""
    matches: ColumnElement[bool] = vector.op("@@")(func.websearch_to_tsquery("english", query))
    return matches


def tsquery_matches(vector: ColumnElement[Any], tsquery: str) -> ColumnElement[bool]:
    """PostgreSQL: the stored ``vector`` matches ``tsquery`` (tsquery syntax, not a user's
    search)."""
    matches: ColumnElement[bool] = vector.op("@@")(cast(literal(tsquery), TSQUERY))
    return matches


def has_many_matches(session: Session, dialect: str, query: str, many: int) -> bool:
    """Whether ``query`` matches at least ``many`` stored articles (counting stops there).

    On PostgreSQL a phrase counts as its words anywhere in the article (an upper bound): the
    positions of a phrase are checked row by row in the stored vectors, the words alone are
    answered by the index."""
    if dialect == "sqlite":
        return count_matches(session, dialect, query, many) >= many
    # words adjacent or not: the GIN index answers alone, no stored vector is read
    probe = (
        "SELECT count(*) FROM (SELECT 1 FROM articles WHERE search @@ regexp_replace("
        "websearch_to_tsquery('english', :q)::text, '<[0-9-]+>', '&', 'g')::tsquery "
        "LIMIT :n) AS m"
    )
    found = session.scalar(text(probe), {"q": query.replace("\x00", " "), "n": many})
    return (found or 0) >= many


def count_matches(session: Session, dialect: str, query: str, up_to: int) -> int:
    """The number of stored articles ``query`` matches, counted up to ``up_to`` (SQLite: FTS5
    reads row ids only)."""
    if dialect != "sqlite":
        raise NewsflowError(f"counting matches is not supported on {dialect}")
    probe = (
        "SELECT count(*) FROM (SELECT rowid FROM articles_fts "
        "WHERE articles_fts MATCH :q LIMIT :n) AS m"
    )
    return session.scalar(text(probe), {"q": fts5_query(query), "n": up_to}) or 0


@dataclass(frozen=True)
class MatchEstimate:
    """What PostgreSQL's planner expects of a search, from the column statistics alone."""

    matches: float  # articles holding the words (a phrase counts as its words)
    articles: float  # articles stored
    phrase: bool  # whether the search has a phrase (its positions are not estimated)
    # with a phrase and no negation: the search's words as a tsquery without positions (its
    # phrases as words anywhere), which every match of the search matches and the GIN index
    # answers alone, without reading a stored vector
    words: str | None = None

    @property
    def share(self) -> float:
        return min(1.0, self.matches / max(1.0, self.articles))


_ADJACENT = re.compile(r"<[0-9-]+>")


def estimate_matches(session: Session, query: str) -> MatchEstimate:
    """The planner's estimate of how many articles hold ``query``'s words (PostgreSQL; no
    article is read)."""
    words = session.scalar(
        text("SELECT websearch_to_tsquery('english', :q)::text"), {"q": query.replace("\x00", " ")}
    )
    words = words or ""
    phrase = bool(_ADJACENT.search(words))
    anywhere = _ADJACENT.sub("&", words)
    return MatchEstimate(
        matches=planned_rows(
            session, "SELECT 1 FROM articles WHERE search @@ CAST(:q AS tsquery)", q=anywhere
        ),
        articles=planned_rows(session, "SELECT 1 FROM articles"),
        phrase=phrase,
        # under a NOT, words anywhere would exclude more than the phrase does
        words=anywhere if phrase and "!" not in words else None,
    )


def planned_rows(session: Session, sql: str, **params: object) -> float:
    """The rows PostgreSQL's planner expects ``sql`` to return (``EXPLAIN``; nothing is run)."""
    plan = session.scalar(text(f"EXPLAIN (FORMAT JSON) {sql}"), params)
    return float(plan[0]["Plan"]["Plan Rows"])
