"""Errors newsflow raises on purpose, each with a message meant for the person at the terminal."""

from __future__ import annotations


class NewsflowError(Exception):
    """Base class: anything the CLI reports as a one-line error."""


class ConfigError(NewsflowError):
    """Settings, the config file or the taxonomy file are invalid."""


class SourceError(NewsflowError):
    """One input (a file, a JSONL line, a feed) cannot be read or parsed.

    It is recorded against that input; it never aborts the rest of a batch.
    """

    def __init__(self, origin: str, message: str) -> None:
        super().__init__(f"{origin}: {message}")
        self.origin = origin
        self.message = message

    def __reduce__(self) -> tuple[type[SourceError], tuple[str, str]]:
        # Picklable (errors come back from worker processes): rebuilt from both arguments.
        return type(self), (self.origin, self.message)


class NoArticleText(SourceError):
    """A page with no article text (an index page, an empty or script-only page).

    Normal in a crawl archive, so not an error: such a page is counted as skipped, not
    recorded in ``ingestion_errors`` and not stored. Code that only knows :class:`SourceError`
    still sees it as an input that gave no article.
    """


class DatabaseError(NewsflowError):
    """The database cannot be reached, migrated or written."""
