"""Evaluating a taxonomy against labelled articles: precision and recall per topic.

A labelled set is JSON Lines, one article per line, describing its own expectation::

    {"id": "dev-001", "title": "...", "text": "para 1\\n\\npara 2", "topics": ["russia-china"],
     "kind": "positive" | "hard-negative" | "unrelated", "note": "why these labels"}

``evaluate`` tags every article and compares the tags with the labels: a tag that is not a label
is a false positive, a label that is not a tag a false negative. Micro figures count every
(article, topic) decision of the whole set; per-topic figures show where the rules need work.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from newsflow.article import document_of
from newsflow.errors import ConfigError
from processing.tagger import Tagger, TopicResult

_REQUIRED = ("id", "title", "text", "topics")


@dataclass(frozen=True)
class Labelled:
    id: str
    title: str
    text: str
    topics: frozenset[str]
    kind: str = "positive"
    note: str = ""

    @property
    def document(self) -> str:
        return document_of(self.title, self.text)


def load_labelled(path: Path) -> list[Labelled]:
    """Read a labelled set; a malformed line fails with the file and line named."""
    records: list[Labelled] = []
    seen: set[str] = set()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the labelled set: {exc}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where}: not JSON: {exc.msg}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: expected an object")
        missing = [key for key in _REQUIRED if key not in data]
        if missing:
            raise ConfigError(f"{where}: missing {', '.join(missing)}")
        topics = data["topics"]
        if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
            raise ConfigError(f"{where}: topics must be a list of topic slugs")
        record_id = str(data["id"])
        if record_id in seen:
            raise ConfigError(f"{where}: id {record_id!r} appears twice")
        seen.add(record_id)
        records.append(
            Labelled(
                record_id,
                str(data["title"]),
                str(data["text"]),
                frozenset(topics),
                str(data.get("kind", "positive")),
                str(data.get("note", "")),
            )
        )
    return records


@dataclass
class TopicScore:
    topic: str
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0

    @property
    def support(self) -> int:
        """Articles labelled with the topic."""
        return self.true_positives + self.false_negatives

    @property
    def precision(self) -> float:
        tagged = self.true_positives + self.false_positives
        return self.true_positives / tagged if tagged else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.support if self.support else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "topic": self.topic,
            "support": self.support,
            "true_positives": self.true_positives,
            "false_positives": self.false_positives,
            "false_negatives": self.false_negatives,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
        }


@dataclass(frozen=True)
class Mistake:
    """One wrong decision, with what the tagger saw, for the rule author."""

    article: str
    title: str
    topic: str
    kind: str  # "false positive" | "false negative"
    score: float
    detail: str  # the evidence (false positive) or why it was not tagged (false negative)

    def as_dict(self) -> dict[str, object]:
        return {
            "article": self.article,
            "title": self.title,
            "topic": self.topic,
            "kind": self.kind,
            "score": self.score,
            "detail": self.detail,
        }


@dataclass
class Evaluation:
    articles: int
    topics: dict[str, TopicScore]
    mistakes: list[Mistake] = field(default_factory=list)

    @property
    def micro(self) -> TopicScore:
        total = TopicScore("micro")
        for score in self.topics.values():
            total.true_positives += score.true_positives
            total.false_positives += score.false_positives
            total.false_negatives += score.false_negatives
        return total

    def as_dict(self) -> dict[str, object]:
        return {
            "articles": self.articles,
            "micro": self.micro.as_dict(),
            "topics": [self.topics[t].as_dict() for t in sorted(self.topics)],
            "mistakes": [m.as_dict() for m in self.mistakes],
        }


def _evidence_text(result: TopicResult, limit: int = 4) -> str:
    phrases = [e.phrase for e in result.evidence[:limit]]
    more = len(result.evidence) - limit
    return "; ".join(phrases) + (f"; +{more} more" if more > 0 else "")


def evaluate(tagger: Tagger, records: Iterable[Labelled]) -> Evaluation:
    """Tag each labelled article and score the tags against the labels."""
    known = set(tagger.taxonomy.topics)
    scores = {slug: TopicScore(slug) for slug in tagger.taxonomy.topics}
    mistakes: list[Mistake] = []
    count = 0
    for record in records:
        unknown = record.topics - known
        if unknown:
            raise ConfigError(
                f"article {record.id}: topics {', '.join(sorted(unknown))} are not in the "
                f"taxonomy ({tagger.taxonomy.path})"
            )
        count += 1
        for result in tagger.score_all(record.document):
            score = scores[result.topic]
            labelled = result.topic in record.topics
            if result.tagged and labelled:
                score.true_positives += 1
            elif result.tagged:
                score.false_positives += 1
                mistakes.append(
                    Mistake(
                        record.id,
                        record.title,
                        result.topic,
                        "false positive",
                        result.score,
                        _evidence_text(result),
                    )
                )
            elif labelled:
                score.false_negatives += 1
                mistakes.append(
                    Mistake(
                        record.id,
                        record.title,
                        result.topic,
                        "false negative",
                        result.score,
                        result.reason,
                    )
                )
    return Evaluation(count, scores, mistakes)


def markdown_table(evaluation: Evaluation, topics: Sequence[str] | None = None) -> str:
    """Per-topic figures as a Markdown table (for the README and the bench results)."""
    rows = [
        "| topic | labelled | precision | recall | F1 |",
        "|---|---:|---:|---:|---:|",
    ]
    for slug in topics or sorted(evaluation.topics):
        s = evaluation.topics[slug]
        rows.append(f"| {slug} | {s.support} | {s.precision:.2f} | {s.recall:.2f} | {s.f1:.2f} |")
    m = evaluation.micro
    rows.append(
        f"| **micro** | {m.support} | **{m.precision:.2f}** | **{m.recall:.2f}** | {m.f1:.2f} |"
    )
    return "\n".join(rows)
