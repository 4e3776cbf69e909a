"""The topic taxonomy: a YAML file of entity groups and topic rules.

The rule language is documented in ``processing/taxonomy.yaml`` (the built-in taxonomy) and
the README. Loading validates everything up front, so a typo fails with the file and the key
named instead of silently never matching.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from newsflow.errors import ConfigError

Window = Literal["sentence", "paragraph"]
_TOPIC_KEYS = frozenset(
    {"label", "description", "terms", "mentions", "cooccur", "exclude", "min_mentions", "threshold"}
)
_COOCCUR_KEYS = frozenset({"groups", "within", "weight", "min", "not_with"})


@dataclass(frozen=True)
class Cooccurrence:
    """Evidence for each window (sentence or paragraph) where all ``groups`` are mentioned."""

    groups: tuple[str, ...]
    within: Window = "sentence"
    weight: float = 0.3
    min: int = 1  # windows required for the topic to apply at all (0: optional evidence)
    not_with: tuple[str, ...] = ()  # a window that also mentions one of these groups is a list

    @property
    def name(self) -> str:
        return "+".join(self.groups)


@dataclass(frozen=True)
class Topic:
    slug: str
    label: str
    description: str = ""
    terms: dict[str, float] = field(default_factory=dict)
    mentions: dict[str, float] = field(default_factory=dict)
    cooccur: tuple[Cooccurrence, ...] = ()
    exclude: tuple[str, ...] = ()
    min_mentions: int = 1
    threshold: float = 0.5


@dataclass(frozen=True)
class Taxonomy:
    version: str
    groups: dict[str, tuple[str, ...]]
    topics: dict[str, Topic]
    path: str = "<built-in>"

    def evidence_phrases(self, topic: Topic) -> frozenset[str]:
        """The phrases whose matches can be ``topic``'s evidence: its terms and the phrases
        of the groups its mentions and co-occurrences name."""
        phrases = set(topic.terms)
        for name in [*topic.mentions, *(group for rule in topic.cooccur for group in rule.groups)]:
            phrases.update(self.groups[name])
        return frozenset(phrases)


def _fail(path: str, where: str, message: str) -> ConfigError:
    return ConfigError(f"taxonomy {path}: {where}: {message}")


def _weight(path: str, where: str, value: object, *, low: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low < value <= 1:
        raise _fail(path, where, f"must be a number in ({low}, 1], got {value!r}")
    return float(value)


def _phrases(path: str, where: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _fail(path, where, "must be a list of non-empty phrases")
    return tuple(v.strip() for v in value)


def _int(path: str, where: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise _fail(path, where, f"must be a whole number >= {low}, got {value!r}")
    return value


def _topic(path: str, slug: str, raw: object, groups: dict[str, tuple[str, ...]]) -> Topic:
    where = f"topics.{slug}"
    if not isinstance(raw, dict):
        raise _fail(path, where, "must be a mapping")
    unknown = set(raw) - _TOPIC_KEYS
    if unknown:
        raise _fail(path, where, f"unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    terms_raw = raw.get("terms") or {}
    if not isinstance(terms_raw, dict):
        raise _fail(path, f"{where}.terms", "must map phrases to weights")
    terms = {str(k).strip(): _weight(path, f"{where}.terms.{k}", v) for k, v in terms_raw.items()}
    mentions_raw = raw.get("mentions") or {}
    if not isinstance(mentions_raw, dict):
        raise _fail(path, f"{where}.mentions", "must map group names to weights")
    mentions: dict[str, float] = {}
    for group, weight in mentions_raw.items():
        if group not in groups:
            raise _fail(path, f"{where}.mentions", f"unknown group {group!r}")
        mentions[group] = _weight(path, f"{where}.mentions.{group}", weight)
    rules: list[Cooccurrence] = []
    for index, rule in enumerate(raw.get("cooccur") or []):
        rwhere = f"{where}.cooccur[{index}]"
        if not isinstance(rule, dict) or set(rule) - _COOCCUR_KEYS:
            raise _fail(path, rwhere, f"must be a mapping with keys {sorted(_COOCCUR_KEYS)}")
        names = rule.get("groups")
        if not isinstance(names, list) or len(names) < 2:
            raise _fail(path, rwhere, "'groups' must list at least two groups")
        for name in names:
            if name not in groups:
                raise _fail(path, rwhere, f"unknown group {name!r}")
        within = rule.get("within", "sentence")
        if within not in ("sentence", "paragraph"):
            raise _fail(path, rwhere, "'within' must be 'sentence' or 'paragraph'")
        not_with = rule.get("not_with") or []
        if not isinstance(not_with, list):
            raise _fail(path, f"{rwhere}.not_with", "must list group names")
        for name in not_with:
            if name not in groups:
                raise _fail(path, f"{rwhere}.not_with", f"unknown group {name!r}")
        rules.append(
            Cooccurrence(
                groups=tuple(names),
                not_with=tuple(not_with),
                within=within,
                weight=_weight(path, f"{rwhere}.weight", rule.get("weight", 0.3)),
                min=_int(path, f"{rwhere}.min", rule.get("min", 1), 0),
            )
        )
    if not (terms or mentions or rules):
        raise _fail(path, where, "needs at least one of 'terms', 'mentions' or 'cooccur'")
    threshold = raw.get("threshold", 0.5)
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not 0 <= threshold <= 1
    ):
        raise _fail(path, f"{where}.threshold", f"must be a number in [0, 1], got {threshold!r}")
    return Topic(
        slug=slug,
        label=str(raw.get("label") or slug),
        description=" ".join(str(raw.get("description") or "").split()),
        terms=terms,
        mentions=mentions,
        cooccur=tuple(rules),
        exclude=_phrases(path, f"{where}.exclude", raw.get("exclude") or []),
        min_mentions=_int(path, f"{where}.min_mentions", raw.get("min_mentions", 1), 1),
        threshold=float(threshold),
    )


def parse_taxonomy(data: Any, path: str = "<string>") -> Taxonomy:
    if not isinstance(data, dict):
        raise _fail(path, "top level", "must be a mapping with 'version', 'groups' and 'topics'")
    unknown = set(data) - {"version", "groups", "topics"}
    if unknown:
        raise _fail(path, "top level", f"unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    if not data.get("version"):
        raise _fail(path, "version", "is required (it is stored with every tag)")
    groups_raw = data.get("groups") or {}
    if not isinstance(groups_raw, dict):
        raise _fail(path, "groups", "must map group names to lists of phrases")
    groups = {str(k): _phrases(path, f"groups.{k}", v) for k, v in groups_raw.items()}
    topics_raw = data.get("topics")
    if not isinstance(topics_raw, dict) or not topics_raw:
        raise _fail(path, "topics", "must define at least one topic")
    topics = {str(slug): _topic(path, str(slug), raw, groups) for slug, raw in topics_raw.items()}
    return Taxonomy(version=str(data["version"]), groups=groups, topics=topics, path=path)


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """The taxonomy at ``path``, or the built-in one."""
    if path is None:
        text = resources.files("processing").joinpath("taxonomy.yaml").read_text(encoding="utf-8")
        name = "<built-in>"
    else:
        name = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"taxonomy {name}: cannot read: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"taxonomy {name}: invalid YAML: {exc}") from None
    return parse_taxonomy(data, name)
