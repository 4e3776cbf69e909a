"""Full-text search: FTS5 on SQLite, tsvector + GIN on PostgreSQL, behind one function.

Users write web-search style queries on both backends: words (all must match), "quoted
phrases", ``OR`` between alternatives, ``-word`` to exclude, ``word*`` for a prefix (SQLite).
"""

from __future__ import annotations

import re

from sqlalchemy import ColumnElement, Select, literal_column, table, text
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


def apply_search(stmt: Select[tuple[models.Article]], dialect: str, query: str
                 ) -> tuple[Select[tuple[models.Article]], ColumnElement[float]]:
    """``stmt`` restricted to articles matching ``query``, and a rank (lower is better)."""
    if dialect == "sqlite":
        fts = table("articles_fts", column("rowid"))
        stmt = stmt.join(fts, literal_column("articles_fts.rowid") == models.Article.id).where(
            text("articles_fts MATCH :fts_query").bindparams(fts_query=fts5_query(query))
        )
        return stmt, literal_column("bm25(articles_fts)")
    if dialect == "postgresql":
        tsquery = text("websearch_to_tsquery('english', :ts_query)").bindparams(ts_query=query)
        stmt = stmt.where(literal_column("articles.search").op("@@")(tsquery))
        rank = -literal_column("ts_rank_cd(articles.search, websearch_to_tsquery('english', "
                               ":ts_query))")
        return stmt, rank
    raise NewsflowError(f"full-text search is not supported on {dialect}")
