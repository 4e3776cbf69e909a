"""Boilerplate removal and Unicode normalisation (parsers/clean.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from parsers.clean import clean_article_text, clean_body, normalize_unicode


def test_seed_boilerplate_removed(seeds_dir: Path, seed_expectations: dict[str, Any]) -> None:
    for name, expect in seed_expectations.items():
        raw = (seeds_dir / name).read_text(encoding="utf-8")
        cleaned = clean_article_text(raw)
        assert cleaned.title == expect["title"]
        for phrase in expect["not_in_text"]:
            assert phrase not in cleaned.text, f"{name}: {phrase!r} left in text"
        assert len(cleaned.paragraphs) > 10  # paragraphs are kept, not flattened


def test_repeated_section_labels_dropped() -> None:
    cleaned = clean_article_text("NEWS\nNEWS\n\nHeadline here\n\nBody.")
    assert cleaned.title == "Headline here"
    assert cleaned.paragraphs == ["Body."]


def test_caption_with_glued_credit_dropped() -> None:
    raw = (
        "Title\n\nOfficials meet in Geneva\nOfficials meet in GenevaReuters\n\n"
        "First paragraph.\n\nA photo caption\nA photo captionAFP/Getty Images\n\nLast."
    )
    assert clean_article_text(raw).paragraphs == ["First paragraph.", "Last."]


def test_caption_like_lines_without_credit_kept() -> None:
    raw = "Title\n\nA line\nA line that merely starts the same way and goes on.\n"
    assert clean_article_text(raw).paragraphs == [
        "A line A line that merely starts the same way and goes on."
    ]


@pytest.mark.parametrize("status", ["Updated", "Updated: 4 Feb 2026, 10:15", "ADVERTISEMENT"])
def test_status_lines_dropped(status: str) -> None:
    assert clean_article_text(f"Title\n\n{status}\n\nBody.").paragraphs == ["Body."]


def test_trailing_related_posts_cut_but_early_mention_only_dropped() -> None:
    body = "\n\n".join(f"Paragraph {i}." for i in range(9))
    cleaned = clean_article_text(f"Title\n\n{body}\n\nRelated Posts\n\nOther story one")
    assert cleaned.paragraphs[-1] == "Paragraph 8."
    early = clean_article_text(f"Title\n\nRelated Posts\n\n{body}")
    assert early.paragraphs[0] == "Paragraph 0." and len(early.paragraphs) == 9


def test_unicode_normalised() -> None:
    text = normalize_unicode("Cafe\u0301\u00a0con\u200b leche\r\nnext\x07 line")
    assert text == "Café con leche\nnext line"


def test_body_drops_leading_title_copy() -> None:
    assert clean_body("The Title\n\nBody text.", "The Title") == ["Body text."]


def test_empty_input() -> None:
    cleaned = clean_article_text("\n\n  \n")
    assert cleaned.title == "" and cleaned.paragraphs == []


@pytest.mark.parametrize(
    "line",
    [
        "Comments by the minister were brief",
        "Published in 1990, the treaty still holds",
        "Share prices fell on Monday",
        "Print media were also affected",
        "Updated figures show a rise",
    ],
)
def test_content_that_starts_like_a_status_word_is_kept(line: str) -> None:
    assert clean_article_text(f"Title\n\n{line}\n\nBody.").paragraphs == [line, "Body."]


@pytest.mark.parametrize(
    "status",
    ["Updated 4 hours ago", "Posted on January 21, 2025 at 10:30 a.m. ET", "Comments (12)"],
)
def test_more_status_lines_dropped(status: str) -> None:
    assert clean_article_text(f"Title\n\n{status}\n\nBody.").paragraphs == ["Body."]


def test_all_caps_headline_is_not_a_section_label() -> None:
    assert clean_article_text("PUTIN MEETS XI\n\nBody.").title == "PUTIN MEETS XI"
    assert clean_article_text("WORLD\n\nPUTIN MEETS XI\n\nBody.").title == "PUTIN MEETS XI"
    assert clean_article_text("WORLD NEWS\nWORLD NEWS\n\nHeadline\n\nBody.").title == "Headline"
    assert clean_article_text("BREAKING\n\nBody text.").title == "Body text."


def test_read_more_inside_a_paragraph_does_not_cut_the_article() -> None:
    body = "\n\n".join(f"Paragraph {i}." for i in range(6))
    raw = f"Title\n\n{body}\n\nRead more about the treaty in our explainer, then the rest.\n\nEnd."
    assert clean_article_text(raw).paragraphs[-1] == "End."
    glued = clean_article_text(f"Title\n\n{body}\n\nRelated PostsNEWS\n\nOther story")
    assert glued.paragraphs[-1] == "Paragraph 5."
