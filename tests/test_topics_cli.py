"""Authoring taxonomy rules: `topics test` explains a text's tags, `topics evaluate` measures.

Also the checks `retag` makes before it starts Prefect (the flow itself is in test_flow.py).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from newsflow.article import Article
from parsers import iter_path
from tests.conftest import SEEDS
from tests.test_cli import run

ARMS_SEED = SEEDS / "004_9152477c205a2e8e.txt"


def test_explains_a_seed(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "topics", "test", str(ARMS_SEED))
    assert code == 0
    assert out.startswith("Putin and Xi Jinping strengthen")
    assert "topics: russia-china" in out and "arms-control" in out
    assert "arms-control  score" in out and "TAGGED" in out
    assert "[disarmament]" in out  # the matched phrase in its context
    code, out, _ = run(capsys, "topics", "test", str(ARMS_SEED), "--format", "json")
    [article] = json.loads(out)
    by_topic = {t["topic"]: t for t in article["topics"]}
    assert by_topic["arms-control"]["tagged"] is True
    assert by_topic["arms-control"]["threshold"] == 0.6
    assert all(e["start"] < e["end"] for e in by_topic["arms-control"]["evidence"])


def test_near_miss_says_what_is_missing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (
        "Grain prices rise\n\nRussia and China both reported higher wheat harvests this year. "
        "Prices in Europe rose on the news."
    )
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
    code, out, _ = run(capsys, "topics", "test", "-", "--all")
    assert code == 0 and "topics: none" in out
    assert "russia-china  score 0.30" in out
    assert "not tagged: needs russia+china together in 2+ sentences (found 1)" in out
    assert "no evidence:" in out and "arms-control" in out.split("no evidence:")[1]


def test_civil_nuclear_is_not_arms_control(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    article = tmp_path / "plant.txt"
    article.write_text(
        "Rosatom starts fuel loading at new reactor\n\n"
        "Rosatom began loading nuclear fuel into the second reactor of the nuclear power plant, "
        "the company said. The plant will supply electricity to two million homes.\n\n"
        "Engineers said the reactor would reach full power in the spring.",
        encoding="utf-8",
    )
    _, out, _ = run(capsys, "topics", "test", str(article), "--format", "json")
    [result] = json.loads(out)
    tagged = {t["topic"] for t in result["topics"] if t["tagged"]}
    assert "nuclear-energy" in tagged and "arms-control" not in tagged


def test_evaluate_a_labelled_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    labelled = tmp_path / "set.jsonl"
    [seed] = iter_path(ARMS_SEED)
    assert isinstance(seed, Article)
    records = [
        {
            "id": "a",
            "title": seed.title,
            "text": seed.text,
            "topics": ["russia-china", "arms-control", "energy", "us-russia", "us-china"],
        },
        {
            "id": "b",
            "title": "Weather",
            "text": "Rain is expected in Oslo on Sunday.",
            "topics": [],
        },
        {"id": "c", "title": "Tariffs", "text": "Nothing here.", "topics": ["trade"]},
    ]
    labelled.write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    code, out, _ = run(capsys, "topics", "evaluate", str(labelled), "--format", "json")
    result = json.loads(out)
    assert code == 0 and result["articles"] == 3
    topics = {t["topic"]: t for t in result["topics"]}
    assert topics["trade"]["false_negatives"] == 1 and topics["trade"]["recall"] == 0.0
    assert topics["arms-control"]["true_positives"] == 1
    assert {(m["article"], m["kind"]) for m in result["mistakes"]} == {
        ("a", "false positive"),  # us-foreign-policy and multilateral: not labelled here
        ("c", "false negative"),
    }
    code, out, _ = run(capsys, "topics", "evaluate", str(labelled), "--mistakes")
    assert "micro" in out and "false negative: trade on c (Tariffs)" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"id": 1, "title": "x"}', "set.jsonl:1: missing text, topics"),
        ("not json", "set.jsonl:1: not JSON"),
        ('{"id": 1, "title": "x", "text": "y", "topics": ["cooking"]}', "cooking are not in"),
    ],
)
def test_evaluate_bad_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str, message: str
) -> None:
    (tmp_path / "set.jsonl").write_text(content, encoding="utf-8")
    code, _, err = run(capsys, "topics", "evaluate", str(tmp_path / "set.jsonl"))
    assert code == 1 and message in err and len(err.strip().splitlines()) == 1


def test_retag_checks_before_starting_prefect(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, sqlite_url: str
) -> None:
    code, _, err = run(capsys, "retag", "--db", f"sqlite:///{tmp_path}/none.db")
    assert code == 1 and "no database at" in err
    assert not (tmp_path / "none.db").exists()
    from newsflow.pipeline import prepare_database, tagger_for

    prepare_database(sqlite_url, tagger_for(None))
    code, _, err = run(capsys, "retag", "--db", sqlite_url, "--topic", "cooking")
    assert code == 1 and "unknown topic 'cooking'" in err
    code, _, err = run(capsys, "retag", "--db", sqlite_url, "--since", "someday")
    assert code == 2 and "not a date" in err
