"""The Python API behind the CLI: each command is one function here.

Everything takes an optional database URL; ``None`` means the configured one.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from newsflow.article import Article
from newsflow.errors import NewsflowError
from newsflow.settings import Settings, load_settings
from newsflow.sources import FeedSource, add_to_file, check_tags
from storage import feeds, queries
from storage.db import missing_sqlite_file, open_database
from storage.feeds import FeedRecord
from storage.queries import ArticleDetail, ArticleQuery, ArticleRow, Stats
from storage.retry import with_retry

if TYPE_CHECKING:
    from processing.evaluation import Evaluation
    from processing.tagger import Tagger, TopicResult
    from storage.maintenance import Optimized


def engine_for(
    database_url: str | None = None, settings: Settings | None = None, *, reading: bool = False
) -> Engine:
    """The database to use; a SQLite file that does not exist yet is an error, not created.

    ``reading``: for a read-only command, retried for ``db_read_retry_seconds`` (see
    :func:`storage.db.open_database`); its queries go through :func:`with_retry`.
    """
    settings = settings or load_settings(database_url=database_url)
    url = database_url or settings.database_url
    missing = missing_sqlite_file(url)
    if missing is not None:
        raise NewsflowError(
            f"no database at {missing}: run `newsflow ingest` first, or name one with --db "
            "or NEWSFLOW_DATABASE_URL"
        )
    if reading:
        return open_database(url, settings.db_read_retry_seconds, reading=True)
    return open_database(url)


def reader_for(database_url: str | None = None, settings: Settings | None = None) -> Engine:
    """The database for a read-only command (``db_read_retry_seconds``)."""
    return engine_for(database_url, settings, reading=True)


def find_articles(query: ArticleQuery, database_url: str | None = None) -> list[ArticleRow]:
    if query.limit < 1:
        raise NewsflowError("--limit must be at least 1")
    if query.since and query.until and query.since >= query.until:
        raise NewsflowError("--since must be earlier than --until")
    engine = reader_for(database_url)
    if query.topic and query.topic not in with_retry(engine, lambda: queries.topic_slugs(engine)):
        raise NewsflowError(f"unknown topic {query.topic!r}; `newsflow topics` lists them")
    return with_retry(engine, lambda: queries.find_articles(engine, query))


def copies_match(query: ArticleQuery, database_url: str | None = None) -> bool:
    """Whether stored copies, which ``query`` hides unless ``include_duplicates``, match it
    (a source whose articles are all copies of others', say)."""
    if query.include_duplicates:
        return False
    return bool(find_articles(replace(query, include_duplicates=True, limit=1), database_url))


def get_article(article_id: int, database_url: str | None = None) -> ArticleDetail:
    engine = reader_for(database_url)
    detail = with_retry(engine, lambda: queries.get_article(engine, article_id))
    if detail is None:
        raise NewsflowError(f"no article with id {article_id}")
    return detail


@dataclass(frozen=True)
class TopicInfo:
    slug: str
    label: str
    description: str
    articles: int


def list_topics(database_url: str | None = None, taxonomy: str | None = None) -> list[TopicInfo]:
    """The taxonomy's topics with the number of stored articles tagged with each."""
    from newsflow.pipeline import tagger_for  # the tagger is not needed by the other commands

    settings = load_settings(database_url=database_url, taxonomy=taxonomy)
    url = database_url or settings.database_url
    # Before the first ingest the taxonomy is still worth listing, with no articles yet.
    counts = {}
    if not missing_sqlite_file(url):
        engine = reader_for(url, settings)
        counts = with_retry(engine, lambda: queries.topic_counts(engine))
    return [
        TopicInfo(t.slug, t.label, t.description, counts.get(t.slug, 0))
        for t in tagger_for(settings.taxonomy).taxonomy.topics.values()
    ]


def database_stats(database_url: str | None = None) -> Stats:
    engine = reader_for(database_url)
    return with_retry(engine, lambda: queries.database_stats(engine))


def optimize_database(database_url: str | None = None, *, vacuum: bool = False) -> Optimized:
    """Merge the full-text index, refresh the planner's statistics and convert an older
    SQLite file to 16 KB pages (see :mod:`storage.maintenance`)."""
    from storage.maintenance import optimize

    return optimize(engine_for(database_url), vacuum=vacuum)


def _tagger(taxonomy: str | Path | None) -> Tagger:
    from newsflow.pipeline import tagger_for

    settings = load_settings(taxonomy=taxonomy)
    return tagger_for(settings.taxonomy)


@dataclass(frozen=True)
class TopicExplanation:
    """How a taxonomy scores one text: every topic with evidence, tagged or not."""

    article: Article
    results: list[TopicResult]
    thresholds: dict[str, float] = field(default_factory=dict)

    def as_dict(self, show_all: bool = False) -> dict[str, object]:
        """The article and its topics (those with evidence, or all with ``show_all``)."""
        return {
            "title": self.article.title,
            "origin": self.article.origin,
            "topics": [
                {
                    "topic": r.topic,
                    "tagged": r.tagged,
                    "score": r.score,
                    "threshold": self.thresholds[r.topic],
                    "reason": r.reason,
                    "evidence": [e.as_dict() for e in r.evidence],
                }
                for r in self.results
                if show_all or r.evidence or r.tagged
            ],
        }


def explain_topics(path: str, taxonomy: str | Path | None = None) -> list[TopicExplanation]:
    """Tag the articles in ``path`` (a text, JSONL or ``-`` for standard input) and say why.

    Nothing is stored: this is for writing and checking taxonomy rules.
    """
    import parsers
    from parsers.text import decode_text, parse_text

    tagger = _tagger(taxonomy)
    items: list[Article] = []
    if path == "-":
        raw = decode_text(sys.stdin.buffer.read(), "<stdin>")
        items.append(parse_text(raw, origin="<stdin>", source="stdin"))
    else:
        file = Path(path)
        if not file.exists():
            raise NewsflowError(f"no such file or directory: {path}")
        for item in parsers.iter_path(file):
            if not isinstance(item, Article):
                raise NewsflowError(str(item))
            items.append(item)
    thresholds = {slug: t.threshold for slug, t in tagger.taxonomy.topics.items()}
    return [
        TopicExplanation(article, tagger.score_all(article.document), thresholds)
        for article in items
    ]


def evaluate_taxonomy(labelled: str | Path, taxonomy: str | Path | None = None) -> Evaluation:
    """Precision and recall of the taxonomy over a labelled set (see processing.evaluation)."""
    from processing.evaluation import evaluate, load_labelled

    path = Path(labelled)
    if not path.is_file():
        raise NewsflowError(f"no such file: {labelled}")
    return evaluate(_tagger(taxonomy), load_labelled(path))


def add_feed(
    source: FeedSource, database_url: str | None = None, taxonomy: str | None = None
) -> FeedRecord:
    """Register a feed in the database (created if need be); its tags must be topics."""
    from newsflow.pipeline import prepare_database, tagger_for

    settings = load_settings(database_url=database_url, taxonomy=taxonomy)
    tagger = tagger_for(settings.taxonomy)
    check_tags([source], list(tagger.taxonomy.topics), "sources add")
    return feeds.add_feed(prepare_database(settings.database_url, tagger), source)


def add_feed_to_file(path: Path, source: FeedSource, taxonomy: str | None = None) -> None:
    """Add a feed to a sources file; its tags must be topics."""
    from newsflow.pipeline import tagger_for

    settings = load_settings(taxonomy=taxonomy)
    check_tags([source], list(tagger_for(settings.taxonomy).taxonomy.topics), str(path))
    add_to_file(path, source)


def list_feeds(database_url: str | None = None) -> list[FeedRecord]:
    engine = reader_for(database_url)
    return with_retry(engine, lambda: feeds.list_feeds(engine))


def remove_feed(name: str, database_url: str | None = None) -> FeedRecord:
    return feeds.remove_feed(engine_for(database_url), name)
