"""The Article record: what every parser produces and every later stage consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from processing.neardup import Signature


@dataclass(frozen=True, slots=True)
class Article:
    """A cleaned news article, independent of where it came from.

    ``text`` holds the body as paragraphs separated by a blank line; the title is not repeated
    in it. ``published`` is timezone-aware UTC or ``None`` when the source does not say.
    ``origin`` names the file, line or URL the record was read from (for error reports).
    """

    source: str
    title: str
    text: str
    origin: str
    url: str | None = None
    guid: str | None = None
    published: datetime | None = None
    language: str | None = None
    authors: tuple[str, ...] = field(default_factory=tuple)

    @property
    def paragraphs(self) -> list[str]:
        return [p for p in self.text.split("\n\n") if p]

    @property
    def document(self) -> str:
        """Title and body as one string: the text that tagging offsets refer to."""
        return document_of(self.title, self.text)


def document_of(title: str, text: str) -> str:
    """The tagged text of an article: its title, a blank line, its body."""
    return f"{title}\n\n{text}" if text else title


@dataclass(frozen=True, slots=True)
class Tag:
    """A topic assigned to an article: its score and the evidence behind it."""

    topic: str
    score: float
    evidence: list[dict[str, object]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ProcessedArticle:
    """An article ready to store: its dedup keys (exact hash, near-dup signature), its tags."""

    article: Article
    content_hash: str
    tags: tuple[Tag, ...] = ()
    tagger_version: str = ""
    signature: Signature | None = None
    # The signature's LSH bucket per band (``processing.neardup.band_keys``), computed with
    # the signature, in the worker that made it; ``None``: computed when storing.
    bands: tuple[int, ...] | None = None
