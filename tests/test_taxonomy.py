"""Taxonomy loading and validation (processing/taxonomy.py): errors name the file and key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from newsflow.errors import ConfigError
from processing.taxonomy import load_taxonomy, parse_taxonomy

VALID: dict[str, Any] = {
    "version": "1",
    "groups": {"g": ["x"]},
    "topics": {"t": {"terms": {"x": 0.5}}},
}


def test_builtin_loads() -> None:
    taxonomy = load_taxonomy()
    assert taxonomy.version and taxonomy.path == "<built-in>"
    assert all(t.label for t in taxonomy.topics.values())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": None}, "version: is required"),
        ({"extra": 1}, "unknown key(s) extra"),
        ({"topics": {}}, "at least one topic"),
        ({"topics": {"t": {"terms": {"x": 2}}}}, "topics.t.terms.x: must be a number in (0.0, 1]"),
        ({"topics": {"t": {"mentions": {"nope": 0.2}}}}, "unknown group 'nope'"),
        ({"topics": {"t": {"cooccur": [{"groups": ["g"]}]}}}, "at least two groups"),
        ({"topics": {"t": {"cooccur": [{"groups": ["g", "g"], "within": "page"}]}}}, "'within'"),
        ({"topics": {"t": {"label": "only a label"}}}, "needs at least one of"),
        ({"topics": {"t": {"terms": {"x": 0.5}, "threshold": 3}}}, "threshold: must be"),
        ({"groups": {"g": "x"}}, "groups.g: must be a list"),
        (
            {"topics": {"t": {"cooccur": [{"groups": ["g", "g"], "not_with": ["nope"]}]}}},
            "cooccur[0].not_with: unknown group 'nope'",
        ),
    ],
)
def test_invalid_taxonomies_explained(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match="taxonomy <string>") as info:
        parse_taxonomy({**VALID, **change})
    assert message in str(info.value)


def test_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("topics: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_taxonomy(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_taxonomy(tmp_path / "missing.yaml")
