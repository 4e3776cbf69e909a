"""Topic tagging: taxonomy rules applied to an article, with a score and the evidence.

Scoring is a noisy-or over the evidence: each matched term, group mention or co-occurrence
window contributes its weight ``w`` and the score is ``1 - Π(1 - w)``, a number in [0, 1)
that grows with independent evidence and never double counts a phrase inside a longer one.
A topic applies when its required co-occurrences are present, it has at least
``min_mentions`` pieces of evidence and the score reaches its ``threshold``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from processing.matcher import PhraseMatch, PhraseMatcher, longest_first
from processing.taxonomy import Cooccurrence, Taxonomy, Topic

TAGGER_VERSION = "rules-1"
MAX_EVIDENCE = 25  # evidence items kept per tag; the score uses all of them

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")
_ABBREVIATIONS = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|Gen|Sen|Rep|Gov|Lt|Col|Capt|Sgt|St|Jr|Sr|Prof|No|vs|Inc|Corp|Co)"
    r"|\b[A-Z](?:\.[A-Z])*)\.$"
)
_ABBREVIATION_TAIL = 8


@dataclass(frozen=True, slots=True)
class Evidence:
    kind: str  # "term" | "mention" | "cooccur"
    rule: str  # the taxonomy phrase, group name or "group+group"
    phrase: str  # the text matched (for co-occurrence: the mentions joined by " … ")
    start: int
    end: int
    weight: float

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "rule": self.rule,
            "phrase": self.phrase,
            "start": self.start,
            "end": self.end,
            "weight": self.weight,
        }


@dataclass(frozen=True, slots=True)
class TopicResult:
    topic: str
    score: float
    tagged: bool
    evidence: list[Evidence] = field(default_factory=list)
    reason: str = ""  # why it was not tagged, for rule authors

    def evidence_dicts(self) -> list[dict[str, object]]:
        return [e.as_dict() for e in self.evidence[:MAX_EVIDENCE]]


class _Windows:
    """Sentence and paragraph spans, with a look-up from an offset to its window."""

    def __init__(self, sentences: list[tuple[int, int]], paragraphs: list[tuple[int, int]]):
        self.sentences = sentences
        self.paragraphs = paragraphs
        self._starts = {
            "sentence": [s for s, _ in sentences],
            "paragraph": [s for s, _ in paragraphs],
        }

    def indexes(self, kind: str, offsets: Iterable[int]) -> dict[int, int]:
        """The index of the window each offset is in (the first window for an offset before
        it), in one walk over the windows."""
        starts = self._starts[kind]
        found: dict[int, int] = {}
        at, last = 0, len(starts) - 1
        for offset in sorted(offsets):
            while at < last and starts[at + 1] <= offset:
                at += 1
            found[offset] = at
        return found


@dataclass(frozen=True, slots=True)
class _Scan:
    """One document's matches, looked up once and shared by every topic's rules."""

    document: str
    matches: list[PhraseMatch]
    groups: dict[str, list[PhraseMatch]]
    windows: _Windows
    # "sentence"/"paragraph" -> a match's start offset -> the index of its window
    window_of: dict[str, dict[int, int]]


def split_windows(document: str) -> _Windows:
    """Sentence and paragraph spans (start, end) of a document."""
    paragraphs: list[tuple[int, int]] = []
    sentences: list[tuple[int, int]] = []
    for para in re.finditer(r"[^\n]+(?:\n(?!\n)[^\n]*)*", document):
        paragraphs.append((para.start(), para.end()))
        start = para.start()
        text = para.group()
        for cut in _SENTENCE_END.finditer(text):
            # whether the text before the cut ends in an abbreviation depends on its last few
            # characters only (the longest word is 4 letters and a dot, plus the one before)
            if _ABBREVIATIONS.search(text[max(0, cut.start() - _ABBREVIATION_TAIL) : cut.start()]):
                continue
            sentences.append((start, para.start() + cut.start()))
            start = para.start() + cut.end()
        sentences.append((start, para.end()))
    return _Windows(sentences or [(0, len(document))], paragraphs or [(0, len(document))])


def noisy_or(weights: Iterable[float]) -> float:
    return round(1.0 - math.prod(1.0 - w for w in weights), 4)


class Tagger:
    """Applies a :class:`Taxonomy`; build once, call :meth:`tag` for many documents."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self.version = f"{TAGGER_VERSION}+taxonomy-{taxonomy.version}"
        phrases: set[str] = set()
        for group in taxonomy.groups.values():
            phrases.update(group)
        for topic in taxonomy.topics.values():
            phrases.update(topic.terms)
            phrases.update(topic.exclude)
        self._group_of: dict[str, set[str]] = {}
        for name, group in taxonomy.groups.items():
            for phrase in group:
                self._group_of.setdefault(phrase, set()).add(name)
        self._matcher = PhraseMatcher(phrases)
        self._exclude = {slug: frozenset(t.exclude) for slug, t in taxonomy.topics.items()}
        # A topic with no evidence is tagged only if nothing requires any: no co-occurrence
        # required, no minimum of mentions, a threshold of 0. Any other topic needs a match
        # of one of these phrases to apply, so :meth:`tag` passes over it when none occurs.
        self._needs: dict[str, frozenset[str] | None] = {}
        for slug, topic in taxonomy.topics.items():
            required = any(rule.min > 0 for rule in topic.cooccur)
            bare = not required and topic.min_mentions <= 0 and topic.threshold <= 0
            self._needs[slug] = None if bare else taxonomy.evidence_phrases(topic)

    def score_all(self, document: str) -> list[TopicResult]:
        """Every topic's score and evidence, tagged or not (for explaining rules)."""
        return self._score_topics(document, only_possible=False)

    def tag(self, document: str) -> list[TopicResult]:
        """The topics that apply to ``document``."""
        return [r for r in self._score_topics(document, only_possible=True) if r.tagged]

    def _score_topics(self, document: str, *, only_possible: bool) -> list[TopicResult]:
        """Scores of every topic, or (``only_possible``) of those the document's matches
        could make apply: the others are left out."""
        matches = self._matcher.find(document)
        topics = list(self.taxonomy.topics.values())
        if only_possible:
            present = {m.phrase for m in matches}
            topics = [
                topic
                for topic in topics
                if (needed := self._needs[topic.slug]) is None or not needed.isdisjoint(present)
            ]
            if not topics:
                return []
        windows = split_windows(document)
        # Group mentions never overlap, across groups too: "South China Sea" (a place) hides
        # the "China" inside it, "Vladimir Putin" is one mention of Putin.
        owned: dict[str, list[PhraseMatch]] = {name: [] for name in self.taxonomy.groups}
        for match in longest_first(m for m in matches if m.phrase in self._group_of):
            for name in self._group_of[match.phrase]:
                owned[name].append(match)
        scan = _Scan(
            document=document,
            matches=matches,
            groups=owned,
            windows=windows,
            window_of={
                kind: windows.indexes(kind, {m.start for m in matches})
                for kind in ("sentence", "paragraph")
            },
        )
        return [self._score(topic, scan) for topic in topics]

    def _score(self, topic: Topic, scan: _Scan) -> TopicResult:
        document, matches, sentence_of = scan.document, scan.matches, scan.window_of["sentence"]
        exclude = self._exclude[topic.slug]
        excluded = {sentence_of[m.start] for m in matches if m.phrase in exclude}

        def allowed(match: PhraseMatch) -> bool:
            return sentence_of[match.start] not in excluded

        evidence: list[Evidence] = []
        for match in longest_first(m for m in matches if m.phrase in topic.terms and allowed(m)):
            evidence.append(
                Evidence(
                    "term",
                    match.phrase,
                    document[match.start : match.end],
                    match.start,
                    match.end,
                    topic.terms[match.phrase],
                )
            )
        for group, weight in topic.mentions.items():
            for match in filter(allowed, scan.groups[group]):
                evidence.append(
                    Evidence(
                        "mention",
                        group,
                        document[match.start : match.end],
                        match.start,
                        match.end,
                        weight,
                    )
                )
        missing: list[str] = []
        for rule in topic.cooccur:
            found = self._cooccurrences(rule, scan, allowed)
            evidence.extend(found)
            if len(found) < rule.min:
                missing.append(
                    f"{rule.name} together in {rule.min}+ {rule.within}s (found {len(found)})"
                )
        evidence.sort(key=lambda e: (e.start, e.end))
        score = noisy_or(e.weight for e in evidence)
        reason = ""
        if missing:
            reason = "needs " + "; ".join(missing)
        elif len(evidence) < topic.min_mentions:
            reason = f"needs {topic.min_mentions}+ pieces of evidence (found {len(evidence)})"
        elif score < topic.threshold:
            reason = f"score {score:.2f} is below the threshold {topic.threshold:.2f}"
        return TopicResult(topic.slug, score, not reason, evidence, reason)

    @staticmethod
    def _cooccurrences(
        rule: Cooccurrence, scan: _Scan, allowed: Callable[[PhraseMatch], bool]
    ) -> list[Evidence]:
        document, window_of = scan.document, scan.window_of[rule.within]
        spans = scan.windows.sentences if rule.within == "sentence" else scan.windows.paragraphs
        per_window: dict[int, dict[str, PhraseMatch]] = {}
        for group in rule.groups:
            for match in scan.groups[group]:
                if allowed(match):
                    per_window.setdefault(window_of[match.start], {}).setdefault(group, match)
        crowded = {window_of[m.start] for group in rule.not_with for m in scan.groups[group]}
        found: list[Evidence] = []
        for index in sorted(per_window):
            firsts = per_window[index]
            if len(firsts) == len(rule.groups) and index not in crowded:
                start, end = spans[index]
                phrase = " … ".join(
                    document[m.start : m.end]
                    for m in sorted(firsts.values(), key=lambda m: m.start)
                )
                found.append(Evidence("cooccur", rule.name, phrase, start, end, rule.weight))
        return found
