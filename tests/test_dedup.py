"""Exact-duplicate keys (processing/dedup.py)."""

from __future__ import annotations

from newsflow.article import Article
from processing.dedup import content_hash, normalized_content


def art(text: str, title: str = "T", **kw: object) -> Article:
    return Article(source="s", title=title, text=text, origin="o", **kw)  # type: ignore[arg-type]


def test_hash_ignores_case_punctuation_spacing_accents() -> None:
    a = art("Putin met Xi — in Moscow.\n\nThey talked.")
    b = art("putin  met xi in moscow; they TALKED!")
    c = art("Putin met Xi in Beijing. They talked.")
    assert content_hash(a) == content_hash(b) != content_hash(c)
    assert normalized_content("Café") == normalized_content("cafe")


def test_headline_change_is_still_exact_copy_of_body() -> None:
    assert content_hash(art("Same body.", title="One")) == content_hash(
        art("Same body.", title="Two")
    )


def test_title_only_articles_hash_their_title() -> None:
    assert content_hash(art("", title="Brief")) != content_hash(art("", title="Other"))
