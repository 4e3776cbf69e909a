"""One-pass phrase matching (Aho-Corasick) with word boundaries, case, hyphen and plural rules.

Phrase syntax, as written in the taxonomy:
- matching ignores case, except for phrases written ``=Like This`` and for acronyms of up to
  three capitals ("US", "UN", "SCO"), which must match exactly;
- a hyphen or space in a phrase matches a hyphen, dash or space in the text, and a hyphenated
  phrase also matches its closed form ("non-proliferation" ~ "nonproliferation");
- a phrase written in lower case also matches its plural ("warhead" ~ "warheads");
- matches respect word boundaries ("Iran" does not match inside "Tirana").
All phrases are found in a single pass over the text, overlapping ones included.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass

import ahocorasick

_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2212"
# One character for one, so that offsets in the folded text are offsets in the original.
_FOLDED = {**dict.fromkeys(_DASHES, " "), "\u2019": "'", "\u2018": "'", "\n": " ", "\t": " "}
_FOLD = re.compile("[" + re.escape("".join(_FOLDED)) + "]")
_ACRONYM = re.compile(r"^[A-Z]{1,3}$")
_SPACES = re.compile(r"\s+")


def fold(text: str, *, case: bool = True) -> str:
    """A same-length form of ``text`` for matching: dashes as spaces, (optionally) lower case."""
    folded = _FOLD.sub(lambda m: _FOLDED[m.group()], text)
    if not case:
        return folded
    lowered = folded.lower()
    if len(lowered) == len(folded):
        return lowered
    return "".join(ch if len(ch.lower()) != 1 else ch.lower() for ch in folded)


@dataclass(frozen=True, slots=True)
class PhraseMatch:
    phrase: str  # the phrase as written in the taxonomy
    start: int
    end: int

    def overlaps(self, other: PhraseMatch) -> bool:
        return self.start < other.end and other.start < self.end


def _variants(phrase: str) -> tuple[bool, set[str]]:
    exact = phrase.startswith("=")
    body = _SPACES.sub(" ", phrase[1:] if exact else phrase).strip()
    exact = exact or bool(_ACRONYM.match(body))
    forms = {fold(body, case=not exact)}
    if any(d in body for d in _DASHES):
        forms.add(fold(re.sub(f"[{_DASHES}]", "", body), case=not exact))
    if body.islower() and body[-1].isalpha():
        for form in list(forms):
            forms.update({form + "s", form + "es"})
            if form.endswith("y") and form[-2:-1] not in "aeiou":
                forms.add(form[:-1] + "ies")
    return exact, {" ".join(f.split()) for f in forms}


class PhraseMatcher:
    """Finds every occurrence of a fixed set of phrases in one pass."""

    def __init__(self, phrases: Iterable[str]) -> None:
        # key (lower-cased form) -> [(phrase, the exact form it must equal, or None)]
        table: dict[str, list[tuple[str, str | None]]] = {}
        for phrase in sorted(set(phrases)):
            exact, forms = _variants(phrase)
            for form in forms:
                key = fold(form) if exact else form
                table.setdefault(key, []).append((phrase, form if exact else None))
        self._automaton = ahocorasick.Automaton()
        for key, entries in table.items():
            self._automaton.add_word(key, (key, entries))
        self._empty = not table
        if not self._empty:
            self._automaton.make_automaton()

    def find(self, text: str) -> list[PhraseMatch]:
        """All matches in ``text``, ordered by start offset (offsets index ``text``)."""
        if self._empty or not text:
            return []
        lowered = fold(text)
        exact_text: str | None = None
        found: list[PhraseMatch] = []
        size = len(lowered)
        for last, (key, entries) in self._automaton.iter(lowered):
            end = last + 1
            start = end - len(key)
            if (start > 0 and lowered[start - 1].isalnum()) or (
                end < size and lowered[end].isalnum()
            ):
                continue
            for phrase, exact_form in entries:
                if exact_form is not None:
                    exact_text = exact_text if exact_text is not None else fold(text, case=False)
                    if exact_text[start:end] != exact_form:
                        continue
                found.append(PhraseMatch(phrase, start, end))
        found.sort(key=lambda m: (m.start, -m.end))
        return found


def longest_first(matches: Iterable[PhraseMatch]) -> list[PhraseMatch]:
    """Drop matches contained in or overlapping a longer one ("Vladimir Putin" over "Putin")."""
    starts: list[int] = []  # kept matches, sorted by start; they never overlap each other
    kept: list[PhraseMatch] = []
    for match in sorted(matches, key=lambda m: (m.start - m.end, m.start)):
        at = bisect.bisect_left(starts, match.start)
        if (at < len(kept) and kept[at].overlaps(match)) or (at and kept[at - 1].overlaps(match)):
            continue
        starts.insert(at, match.start)
        kept.insert(at, match)
    return kept
