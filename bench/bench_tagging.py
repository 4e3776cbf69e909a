"""Tagging benchmark: the tagger against two baselines, measured in one run.

    python bench/bench_tagging.py [--documents 2000] [--out bench/results-tagging.md]

Documents are the labelled news texts in tests/data/tagging/, cycled to ``--documents``.
Times, per document:

1. read: ``str.casefold`` and ``str.split`` over the text: the floor of any one-pass scan;
2. one regex per phrase: every taxonomy phrase as its own case-insensitive, word-bounded
   regex run over the text (the approach the one-pass matcher replaces);
3. tagger: newsflow's ``Tagger.tag`` (one Aho-Corasick pass, windows, every topic's rules).

Figures are ratios against the read baseline measured in the same run (noisy machines).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsflow.pipeline import tagger_for  # noqa: E402
from processing.evaluation import load_labelled  # noqa: E402


def timed(label: str, documents: list[str], work: Callable[[str], object]) -> tuple[str, float]:
    started = time.perf_counter()
    for document in documents:
        work(document)
    return label, (time.perf_counter() - started) / len(documents)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results-tagging.md")
    args = parser.parse_args()

    records = [
        r for p in sorted((ROOT / "tests/data/tagging").glob("*.jsonl")) for r in load_labelled(p)
    ]
    documents = [records[i % len(records)].document for i in range(args.documents)]
    tagger = tagger_for(None)
    taxonomy = tagger.taxonomy
    phrases = {p.lstrip("=") for g in taxonomy.groups.values() for p in g}
    for topic in taxonomy.topics.values():
        phrases.update(p.lstrip("=") for p in topic.terms)
        phrases.update(topic.exclude)
    patterns = [re.compile(rf"\b{re.escape(p)}\b", re.IGNORECASE) for p in sorted(phrases)]

    def per_phrase(document: str) -> int:
        return sum(1 for pattern in patterns for _ in pattern.finditer(document))

    tagger.tag(documents[0])  # warm up
    results = [
        timed("read (casefold + split)", documents, lambda d: d.casefold().split()),
        timed(f"one regex per phrase ({len(patterns)} phrases)", documents, per_phrase),
        timed("newsflow tagger (one pass + rules)", documents, tagger.tag),
    ]
    base = results[0][1]
    words = sum(len(d.split()) for d in documents) / len(documents)
    lines = [
        f"# Tagging benchmark\n\n{args.documents} documents (labelled news texts, {words:.0f} "
        f"words on average), taxonomy {taxonomy.version}, {len(taxonomy.topics)} topics, "
        f"{len(phrases)} phrases.\n",
        "| method | ms per document | documents/s | × read baseline |",
        "|---|---:|---:|---:|",
    ]
    for label, seconds in results:
        lines.append(
            f"| {label} | {seconds * 1000:.3f} | {1 / seconds:,.0f} | {seconds / base:.1f} |"
        )
    text = "\n".join(lines) + "\n"
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
