"""Precision and recall of near-duplicate detection on the labelled pairs.

    python bench/eval_neardup.py [--pairs tests/data/neardup_pairs.jsonl]

A pair is judged a duplicate when the two texts share an LSH bucket (the candidate step the
database does) and the decision rule accepts them, exactly as ``store_batch`` decides. The
script prints the figures for the default settings, per kind of pair, and for alternatives
(plain Jaccard thresholds instead of containment, other shingle sizes) to justify the defaults.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsflow.article import Article  # noqa: E402
from processing.neardup import (  # noqa: E402
    NearDupConfig,
    Signature,
    band_keys,
    is_near_copy,
    shares_bucket,
    signature,
    similarity,
)

PAIRS = ROOT / "tests" / "data" / "neardup_pairs.jsonl"


@dataclass
class LabelledSet:
    about: dict[str, Any]
    texts: dict[str, Article]
    pairs: list[dict[str, Any]]


@dataclass
class Scores:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)  # correct judgements per kind
    kinds: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def load_pairs(path: Path = PAIRS) -> LabelledSet:
    about: dict[str, Any] = {}
    texts: dict[str, Article] = {}
    pairs: list[dict[str, Any]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["type"] == "about":
            about = record
        elif record["type"] == "text":
            texts[record["id"]] = Article(
                source="eval", title=record["title"], text=record["text"], origin=record["origin"]
            )
        else:
            pairs.append(record)
    return LabelledSet(about, texts, pairs)


Rule = Any  # (Signature, Signature, NearDupConfig) -> bool


def evaluate(data: LabelledSet, config: NearDupConfig, rule: Rule = is_near_copy) -> Scores:
    sigs: dict[str, Signature | None] = {k: signature(a, config) for k, a in data.texts.items()}
    keys = {k: band_keys(s, config) for k, s in sigs.items() if s is not None}
    scores = Scores()
    for pair in data.pairs:
        a, b = sigs[pair["a"]], sigs[pair["b"]]
        judged = (
            a is not None
            and b is not None
            and shares_bucket(keys[pair["a"]], keys[pair["b"]])
            and bool(rule(a, b, config))
        )
        actual = pair["label"] == "duplicate"
        scores.kinds[pair["kind"]] += 1
        if judged == actual:
            scores.by_kind[pair["kind"]] += 1
        else:
            scores.errors.append(f"{pair['id']} {pair['kind']} {pair['a']} / {pair['b']}")
        if judged and actual:
            scores.tp += 1
        elif judged:
            scores.fp += 1
        elif actual:
            scores.fn += 1
        else:
            scores.tn += 1
    return scores


def jaccard_rule(threshold: float) -> Rule:
    def rule(a: Signature, b: Signature, config: NearDupConfig) -> bool:
        return similarity(a, b).jaccard >= threshold

    return rule


def margins(data: LabelledSet, config: NearDupConfig) -> None:
    """How far apart the two labels are: the most similar distinct pair per kind."""
    sigs = {k: signature(a, config) for k, a in data.texts.items()}
    worst: dict[str, float] = {}
    for pair in data.pairs:
        a, b = sigs[pair["a"]], sigs[pair["b"]]
        if pair["label"] == "distinct" and a is not None and b is not None:
            c = similarity(a, b).containment
            worst[pair["kind"]] = max(worst.get(pair["kind"], 0.0), c)
    print("\nhighest estimated containment among distinct pairs, by kind:")
    for kind, value in sorted(worst.items(), key=lambda kv: -kv[1]):
        print(f"  {kind:<22} {value:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=Path, default=PAIRS)
    args = parser.parse_args()
    data = load_pairs(args.pairs)
    default = NearDupConfig()
    s = evaluate(data, default)
    print(
        f"{len(data.pairs)} pairs: precision {s.precision:.3f}, recall {s.recall:.3f} "
        f"(tp {s.tp}, fp {s.fp}, fn {s.fn}, tn {s.tn})"
    )
    for kind, total in sorted(s.kinds.items()):
        print(f"  {kind:<22} {s.by_kind[kind]:>3}/{total:<3} right")
    for error in s.errors:
        print(f"  wrong: {error}")
    margins(data, default)
    print("\nalternatives: precision / recall, and the share of 70 % prefixes joined")

    def line(label: str, alt: Scores) -> None:
        prefixes = alt.by_kind["prefix70"] / alt.kinds["prefix70"]
        print(f"  {label:<32} {alt.precision:.3f} / {alt.recall:.3f}   prefix70 {prefixes:.2f}")

    for t in (0.5, 0.6, 0.7, 0.8):
        line(f"plain Jaccard >= {t:.1f}", evaluate(data, default, jaccard_rule(t)))
    for t in (0.6, 0.7, 0.8, 0.9):
        line(f"containment >= {t:.1f}", evaluate(data, replace(default, threshold=t)))
    for w in (3, 4, 5, 7):
        line(f"{w}-word shingles, default rule", evaluate(data, replace(default, shingle_words=w)))


if __name__ == "__main__":
    main()
