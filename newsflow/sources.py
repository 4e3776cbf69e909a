"""The sources file: which feeds to poll, how often, and what to do with their articles.

.. code-block:: yaml

    feeds:
      - name: example-world          # unique; the articles' source name
        url: https://example.org/world/rss.xml
        poll_interval: 30m           # optional: seconds, or 90s / 30m / 2h / 1d
        fetch_full_text: true        # optional (false): fetch each linked page for its text
        tags: [russia-china]         # optional: topics given to every article of the feed

Errors name the file and the entry (``sources.yaml: feeds[2].url: ...``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from newsflow.errors import ConfigError
from parsers.urls import canonicalize_url

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_NAME = re.compile(r"^[\w][\w .@:/+-]{0,199}$")
_KEYS = {"name", "url", "poll_interval", "fetch_full_text", "tags"}
MIN_INTERVAL = 60


@dataclass(frozen=True)
class FeedSource:
    """One feed as configured (in the sources file or with ``newsflow sources add``)."""

    name: str
    url: str
    poll_interval: int | None = None  # seconds; None: the poll_interval setting
    fetch_full_text: bool = False
    tags: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "url": self.url}
        if self.poll_interval is not None:
            data["poll_interval"] = self.poll_interval
        if self.fetch_full_text:
            data["fetch_full_text"] = True
        if self.tags:
            data["tags"] = list(self.tags)
        return data


def parse_interval(value: object) -> int:
    """Seconds from ``3600``, ``"90s"``, ``"30m"``, ``"2h"`` or ``"1d"``; at least a minute."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 3600, 30m, 2h or 1d")
    if isinstance(value, int):
        seconds = value
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a duration (use seconds, or 30m, 2h, 1d)")
        seconds = int(match.group(1)) * _UNITS[match.group(2).lower()]
    if seconds < MIN_INTERVAL:
        raise ValueError(f"must be at least {MIN_INTERVAL} seconds")
    return seconds


def make_source(
    name: object,
    url: object,
    poll_interval: object = None,
    fetch_full_text: object = False,
    tags: object = None,
) -> FeedSource:
    """A validated :class:`FeedSource`; raises ``ValueError`` naming the bad field."""
    if not isinstance(name, str) or not _NAME.match(name.strip()):
        raise ValueError("name: must be 1-200 characters: letters, digits, space and . _ - @ : / +")
    if not isinstance(url, str) or canonicalize_url(url) is None:
        raise ValueError(f"url: {url!r} is not an http(s) URL")
    interval = None
    if poll_interval is not None:
        try:
            interval = parse_interval(poll_interval)
        except ValueError as exc:
            raise ValueError(f"poll_interval: {exc}") from None
    if not isinstance(fetch_full_text, bool):
        raise ValueError("fetch_full_text: must be true or false")
    if tags is None:
        tags = []
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, list) or not all(isinstance(t, str) and t.strip() for t in tags):
        raise ValueError("tags: must be a list of topic slugs")
    return FeedSource(
        name=name.strip(),
        url=url.strip(),
        poll_interval=interval,
        fetch_full_text=fetch_full_text,
        tags=tuple(dict.fromkeys(t.strip() for t in tags)),
    )


def load_sources(path: Path) -> list[FeedSource]:
    """The feeds listed in a sources file; :class:`ConfigError` names file, entry and key."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read sources file: {exc.strerror or exc}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
    if data is None:
        return []
    if isinstance(data, dict) and set(data) <= {"feeds"}:
        entries = data.get("feeds") or []
    else:
        raise ConfigError(f"{path}: expected a mapping with a `feeds` list")
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: feeds: expected a list of feeds")
    sources: list[FeedSource] = []
    names: set[str] = set()
    for index, entry in enumerate(entries):
        where = f"{path}: feeds[{index}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: expected a mapping with name and url")
        unknown = sorted(set(map(str, entry)) - _KEYS)
        if unknown:
            raise ConfigError(
                f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})"
            )
        for key in ("name", "url"):
            if key not in entry:
                raise ConfigError(f"{where}: {key}: missing")
        try:
            source = make_source(**{k: entry[k] for k in entry})
        except ValueError as exc:
            raise ConfigError(f"{where}.{exc}") from None
        if source.name in names:
            raise ConfigError(f"{where}.name: {source.name!r} is listed twice")
        names.add(source.name)
        sources.append(source)
    return sources


def check_tags(sources: Iterable[FeedSource], topics: Sequence[str], where: str) -> None:
    """Every feed's extra tags must be topics of the taxonomy."""
    known = set(topics)
    for source in sources:
        for tag in source.tags:
            if tag not in known:
                raise ConfigError(
                    f"{where}: feed {source.name!r}: unknown topic {tag!r} in tags "
                    "(`newsflow topics` lists them)"
                )


def next_poll(
    now: datetime, interval: int, error_count: int = 0, max_backoff: int = 86_400
) -> datetime:
    """When to poll next: ``interval`` after now, doubled for each consecutive failure."""
    wait = interval * 2 ** min(error_count, 16) if error_count else interval
    return now + timedelta(seconds=min(wait, max(max_backoff, interval)))


def is_due(next_poll_at: datetime | None, now: datetime) -> bool:
    return next_poll_at is None or next_poll_at <= now


def save_sources(path: Path, sources: Sequence[FeedSource]) -> None:
    """Write ``sources`` as a sources file (comments in an existing file are not kept)."""
    text = yaml.safe_dump(
        {"feeds": [s.as_dict() for s in sources]}, sort_keys=False, allow_unicode=True
    )
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def add_to_file(path: Path, source: FeedSource) -> None:
    """Add a feed to a sources file (created if missing); its name must be new."""
    sources = load_sources(path) if path.exists() else []
    if any(s.name == source.name for s in sources):
        raise ConfigError(f"{path}: a feed named {source.name!r} is listed already")
    save_sources(path, [*sources, source])


def remove_from_file(path: Path, name: str) -> FeedSource:
    """Remove the feed ``name`` from a sources file."""
    sources = load_sources(path)
    kept = [s for s in sources if s.name != name]
    if len(kept) == len(sources):
        raise ConfigError(f"{path}: no feed named {name!r}")
    save_sources(path, kept)
    return next(s for s in sources if s.name == name)
