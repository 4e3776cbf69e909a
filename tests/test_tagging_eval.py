"""The quality gate for topic tagging: the built-in taxonomy over labelled news texts.

The labelled sets under tests/data/tagging/ (see GUIDE.md there) were written for the purpose by
authors who did not see the rules: ``dev`` was used to tune them, ``holdout`` was measured before
it was used, ``fresh`` was written after all tuning and only measured. Every record states its
own expectation (its topics, and for hard negatives a note on the topic it must not get).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from newsflow.pipeline import tagger_for
from processing.evaluation import Evaluation, Labelled, evaluate, load_labelled, markdown_table
from tests.conftest import DATA, ROOT

SETS = sorted((DATA / "tagging").glob("*.jsonl"))
TOPICS = sorted(tagger_for(None).taxonomy.topics)


@pytest.fixture(scope="module")
def records() -> list[Labelled]:
    return [record for path in SETS for record in load_labelled(path)]


@pytest.fixture(scope="module")
def evaluation(records: list[Labelled]) -> Evaluation:
    return evaluate(tagger_for(None), records)


def test_the_labelled_set_covers_every_topic_and_the_hard_cases(records: list[Labelled]) -> None:
    assert len(records) >= 120
    labels = Counter(topic for record in records for topic in record.topics)
    assert set(labels) == set(TOPICS)
    assert min(labels.values()) >= 15, labels
    kinds = Counter(record.kind for record in records)
    assert set(kinds) == {"positive", "hard-negative", "unrelated"}
    assert kinds["hard-negative"] >= 40 and kinds["unrelated"] >= 10
    notes = " ".join(r.note.lower() for r in records if r.kind == "hard-negative")
    assert "civil" in notes and "arms-control" in notes  # civil nuclear vs arms control
    assert notes.count("russia-china") >= 8  # Russia and China each mentioned, no relation


def test_micro_precision_and_recall(evaluation: Evaluation) -> None:
    micro = evaluation.micro
    assert micro.precision >= 0.90, markdown_table(evaluation)
    assert micro.recall >= 0.85, markdown_table(evaluation)


def test_every_topic_is_usable(evaluation: Evaluation) -> None:
    for score in evaluation.topics.values():
        assert score.precision >= 0.75 and score.recall >= 0.75, score.as_dict()


def test_readme_states_the_measured_figures(evaluation: Evaluation) -> None:
    """The README's table is the one this evaluation prints (regenerate it when rules change)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = markdown_table(evaluation, TOPICS)
    assert table in readme, f"update the tagging table in README.md to:\n{table}"
    stated = re.search(r"(\d+) labelled articles", readme)
    assert stated and int(stated.group(1)) == evaluation.articles


def test_labelled_sets_are_readable_by_the_cli() -> None:
    for path in SETS:
        assert isinstance(path, Path) and load_labelled(path)
