"""Exact-duplicate keys: canonical URL, source GUID and a normalised content hash.

Two articles are the *same record* when they share a canonical URL or the same GUID from the
same source; a later read of it is an update or a no-op. Two records are *exact copies* when
their normalised body text is the same: the later one is stored as a duplicate of the first.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from newsflow.article import Article

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
# Combining marks (accents) left by NFKD decomposition.
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def normalized_content(text: str) -> str:
    """Case-, accent-, punctuation- and whitespace-insensitive form of a text."""
    folded = text.casefold()
    if not folded.isascii():
        folded = _COMBINING.sub("", unicodedata.normalize("NFKD", folded))
    return _NON_WORD.sub(" ", folded).strip()


def dedup_basis(article: Article) -> str:
    """What an article's dedup keys are computed from: its normalised body, else its title."""
    return normalized_content(article.text) or normalized_content(article.title)


def hash_of_basis(basis: str) -> str:
    return hashlib.sha256(basis.encode("utf-8")).hexdigest()


def content_hash(article: Article) -> str:
    """SHA-256 of the normalised body (the title when there is no body)."""
    return hash_of_basis(dedup_basis(article))
