"""The CPU work of ingestion, as plain picklable functions: what worker processes run.

Parsing a record or a fetched feed, extracting a page's main text, the dedup keys (content
hash, MinHash signature and LSH buckets) and the topic tags. Nothing here opens a database,
reads the settings or touches the network, so a worker process (:mod:`newsflow.parallel`)
imports this module and the parsers and processing it uses, not SQLAlchemy, Alembic,
pydantic-settings or httpx: a worker was ready after 0.5 s of CPU instead of 1.0-1.1 s.
:mod:`newsflow.pipeline` and :mod:`newsflow.polling` call these functions and store what they
return.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from newsflow.article import Article, ProcessedArticle, Tag
from newsflow.errors import SourceError
from parsers import Record, parse_record
from parsers.extract import PageContent, extract_page
from parsers.feed import ParsedFeed, parse_feed
from processing.dedup import dedup_basis, hash_of_basis
from processing.neardup import NearDupConfig, band_keys, signature_of_basis
from processing.tagger import Tagger
from processing.taxonomy import load_taxonomy

if TYPE_CHECKING:
    from newsflow.fetch import FetchResult


@lru_cache(maxsize=8)
def tagger_for(taxonomy_path: Path | None) -> Tagger:
    """A tagger for the taxonomy at ``taxonomy_path`` (the built-in one for ``None``), cached."""
    return Tagger(load_taxonomy(taxonomy_path))


def tag_document(tagger: Tagger, document: str) -> tuple[Tag, ...]:
    """The tags to store for a document (an article's title and body, see ``Article.document``)."""
    return tuple(
        Tag(result.topic, result.score, result.evidence_dicts()) for result in tagger.tag(document)
    )


def process(
    articles: Sequence[Article], tagger: Tagger, near: NearDupConfig | None = None
) -> list[ProcessedArticle]:
    """Dedup keys (hash, near-dup signature) and topic tags for each article (no I/O)."""
    if near is None:
        from newsflow.pipeline import neardup_config  # the settings: not a worker's import

        near = neardup_config()
    processed = []
    for article in articles:
        basis = dedup_basis(article)  # normalised once for both keys
        sig = signature_of_basis(basis, near) if near.enabled else None
        processed.append(
            ProcessedArticle(
                article,
                hash_of_basis(basis),
                tag_document(tagger, article.document),
                tagger.version,
                sig,
                tuple(band_keys(sig, near)) if sig is not None else None,
            )
        )
    return processed


def process_with(
    taxonomy: Path | None, articles: Sequence[Article], near: NearDupConfig
) -> list[ProcessedArticle]:
    """:func:`process` with the tagger of ``taxonomy`` (built once per process): for a worker
    process, which is sent the taxonomy's path rather than a tagger."""
    return process(articles, tagger_for(taxonomy), near)


@dataclass(frozen=True, slots=True)
class Skipped:
    """An article left out by the caller's filter (a backfill's date window); not stored."""

    article: Article


Prepared = ProcessedArticle | SourceError | Skipped


@dataclass(frozen=True)
class Preparer:
    """Parse a record and process its articles: the CPU work of ingestion, picklable.

    The tagger is built once per process (:func:`tagger_for` is cached). ``admit``, when
    given, is asked about each article first: those it refuses come back as :class:`Skipped`,
    unprocessed. Errors stay values: a record that cannot be read is its own error.
    """

    taxonomy: Path | None
    near: NearDupConfig
    admit: Callable[[Article], bool] | None = None

    def __call__(self, record: Record | SourceError) -> list[Prepared]:
        tagger = tagger_for(self.taxonomy)
        out: list[Prepared] = []
        for item in parse_record(record):
            if isinstance(item, SourceError):
                out.append(item)
            elif self.admit is not None and not self.admit(item):
                out.append(Skipped(item))
            else:
                out.extend(process([item], tagger, self.near))
        return out

    def warm_up(self) -> None:
        """Load the taxonomy and the page extractor now (a worker process's start)."""
        import trafilatura  # noqa: F401  (its import is most of a worker's start-up)

        tagger_for(self.taxonomy)


class ProcessingFailed(Exception):
    """A feed's entries were parsed but could not be processed (a bug on hostile input)."""

    @classmethod
    def because(cls, error: Exception) -> ProcessingFailed:
        return cls(f"cannot process the feed's entries: {error!r}")


def parse_and_process(
    content: bytes,
    *,
    source: str,
    origin: str,
    base_url: str | None,
    headers: dict[str, str],
    link_only: bool = False,
    taxonomy: Path | None = None,
    near: NearDupConfig | None = None,
) -> tuple[ParsedFeed, list[ProcessedArticle] | None]:
    """Parse a feed (:func:`parse_feed`) and, given ``near``, process its entries' articles
    (:func:`process_with`): all of a feed's CPU work in one call, so a worker is handed the
    feed once and returns the result once. Without ``near`` the articles come back
    unprocessed (``None``). Raises what :func:`parse_feed` raises, and
    :class:`ProcessingFailed`."""
    parsed = parse_feed(
        content,
        source=source,
        origin=origin,
        base_url=base_url,
        headers=headers,
        link_only=link_only,
    )
    if near is None:
        return parsed, None
    try:
        processed = process_with(taxonomy, [item.article for item in parsed.items], near)
    except Exception as exc:
        raise ProcessingFailed.because(exc) from exc
    return parsed, processed


def page_content(page: FetchResult) -> PageContent | None:
    """The main text of a fetched page (decoded, then extracted): a worker's job."""
    return extract_page(page.text(), page.final_url)
