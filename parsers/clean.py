"""Text clean-up: Unicode normalisation and removal of the boilerplate news pages leave behind.

Pure functions over strings. What counts as boilerplate is what real scraped articles show
(see ``seeds/``): section labels repeated above the headline ("NEWS / NEWS"), status words
("Updated"), photo captions printed twice with the credit glued to the second copy
("…Vladimir PutinAP"), and a trailing "Related Posts" block.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Characters that are whitespace in all but name, and invisible ones that only get in the way.
_SPACE_LIKE = re.compile("[\u00a0\u2007\u202f\u2009\u200a\u3000\t\f\v]")
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r" {2,}")

# Words a date or time stamp is made of: "Updated: 4 Feb 2026, 10:15 GMT", "Posted 3 hours ago".
_STAMP_WORD = (
    r"(?:\d{1,4}(?:st|nd|rd|th)?|jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|"
    r"january|february|march|april|june|july|august|september|october|november|december|"
    r"mon|tue|wed|thu|fri|sat|sun|monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
    r"am|pm|a\.m\.|p\.m\.|gmt|utc|bst|cet|cest|est|edt|et|pt|ago|hours?|hrs?|h|minutes?|"
    r"mins?|m|days?|yesterday|today|on|at)"
)
_STATUS_LINE = re.compile(
    r"^(?:(?:last )?updated|published|posted|first published)"
    rf"(?:\s*[:\-–]?(?:[\s,:./+-]*{_STAMP_WORD}(?!\w))+[\s.]*)?$"
    r"|^(?:advertisement|share|share this article|listen to this article|print|"
    r"comments?(?: \(\d+\))?)$",
    re.IGNORECASE,
)
# A "Related Posts" heading: alone on its line, or glued to the next page's first word.
_RELATED = re.compile(
    r"^(?i:related (?:posts|articles|stories|news|content)|read more|more on this story|"
    r"you may also like|recommended(?: for you)?)\s*:?\s*(?:$|(?=[A-Z]))"
)
# A photo credit glued to the end of a caption: "AP", "Reuters", "AFP/Getty Images", "EPA-EFE".
_CREDIT = re.compile(
    r"^(?:(?:Photo|Image|Credit)s?:\s*)?[A-Z][\w.&'’/-]*(?: ?[/|-]? ?[A-Z][\w.&'’-]*){0,3}$"
)
_MAX_CREDIT = 40
_SECTION_LABEL_MAX_WORDS = 2  # three when the label is repeated ("WORLD NEWS / WORLD NEWS")


@dataclass(frozen=True, slots=True)
class CleanText:
    title: str
    paragraphs: list[str]

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


def normalize_unicode(text: str) -> str:
    """NFC-normalise, unify line ends and space-like characters, drop invisible/control ones."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _INVISIBLE.sub("", _SPACE_LIKE.sub(" ", text))
    return _CONTROL.sub("", text)


MAX_TITLE_CHARS = 1000


def clip_title(title: str, text: str) -> tuple[str, str]:
    """A title cut to :data:`MAX_TITLE_CHARS` (at a word, with "…"), and the text to keep.

    A longer "title" is usually a whole article on one line: the full line then opens the
    text, so nothing of it is lost.
    """
    if len(title) <= MAX_TITLE_CHARS:
        return title, text
    cut = title[: MAX_TITLE_CHARS - 1]
    space = cut.rfind(" ")
    if space > MAX_TITLE_CHARS // 2:
        cut = cut[:space]
    return cut.rstrip() + "…", f"{title}\n\n{text}" if text else title


# Column sizes in storage.models: longer values are cut to fit (PostgreSQL would refuse them).
MAX_SOURCE_CHARS = 200
MAX_GUID_CHARS = 500
MAX_LANGUAGE_CHARS = 16


def field_text(value: object, limit: int) -> str:
    """A one-line metadata value (source, GUID, language): normalised and cut to ``limit``."""
    return normalize_line(normalize_unicode(str(value)).replace("\n", " "))[:limit]


def normalize_line(line: str) -> str:
    return _SPACES.sub(" ", line).strip()


def _is_section_label(line: str, repeated: bool) -> bool:
    words = len(line.split())
    limit = _SECTION_LABEL_MAX_WORDS + repeated
    return 0 < words <= limit and line.isupper() and line[-1] not in ".!?"


def _drop_section_labels(lines: list[str]) -> list[str]:
    """Drop section labels ("NEWS", "WORLD") above the headline, never the headline itself."""
    start = 0
    while start < len(lines):
        line = lines[start]
        following = next((x for x in lines[start + 1 :] if x), None)
        if line and (following is None or not _is_section_label(line, line == following)):
            break
        start += 1
    return lines[start:]


def _caption_credit(caption: str, candidate: str) -> bool:
    """True when ``candidate`` is ``caption`` with a photo credit glued on."""
    if not candidate.startswith(caption) or len(candidate) == len(caption):
        return False
    credit = candidate[len(caption) :].strip(" -–|()")
    return 0 < len(credit) <= _MAX_CREDIT and bool(_CREDIT.match(credit))


def _drop_captions(lines: list[str]) -> list[str]:
    """Remove a caption line together with its copy that carries the credit."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        following = next((lines[j] for j in range(i + 1, len(lines)) if lines[j]), None)
        if line and following is not None and _caption_credit(line, following):
            # skip this line, any blank lines, and the credited copy
            i += 1
            while i < len(lines) and not lines[i]:
                i += 1
            i += 1
            continue
        out.append(line)
        i += 1
    return out


def _cut_related(lines: list[str]) -> list[str]:
    """Cut a "Related Posts"-style block when it starts in the last third of the text."""
    total = len(lines)
    for index, line in enumerate(lines):
        if _RELATED.match(line):
            if index >= total * 2 / 3:
                return lines[:index]
            lines = [*lines[:index], "", *lines[index + 1 :]]
    return lines


def clean_lines(raw: str) -> list[str]:
    """Normalised lines with boilerplate removed; blank lines ("") separate paragraphs."""
    lines = [normalize_line(line) for line in normalize_unicode(raw).split("\n")]
    lines = _cut_related(_drop_section_labels(lines))
    lines = [line for line in lines if not _STATUS_LINE.match(line)]
    lines = _drop_captions(lines)
    # A line repeated right after itself is a rendering artefact: keep one copy.
    deduped: list[str] = []
    for line in lines:
        if line and deduped and line == next((x for x in reversed(deduped) if x), None):
            continue
        deduped.append(line)
    return deduped


def paragraphs_of(lines: list[str]) -> list[str]:
    """Join consecutive non-blank lines into paragraphs."""
    paragraphs: list[str] = []
    current: list[str] = []
    for line in [*lines, ""]:
        if line:
            current.append(line)
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    return paragraphs


def clean_article_text(raw: str) -> CleanText:
    """Split a plain-text article into title (its first line) and clean body paragraphs."""
    lines = clean_lines(raw)
    first = next((i for i, line in enumerate(lines) if line), None)
    if first is None:
        return CleanText(title="", paragraphs=[])
    return CleanText(title=lines[first], paragraphs=paragraphs_of(lines[first + 1 :]))


def clean_body(raw: str, title: str = "") -> list[str]:
    """Clean a body whose title is known; a leading copy of the title is dropped."""
    paragraphs = paragraphs_of(clean_lines(raw))
    if paragraphs and title and paragraphs[0] == normalize_line(normalize_unicode(title)):
        paragraphs = paragraphs[1:]
    return paragraphs
