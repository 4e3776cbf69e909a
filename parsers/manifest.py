"""Per-directory manifests: metadata that plain-text articles do not carry themselves.

``manifest.yaml`` beside the files::

    defaults:            # applied to every file in the directory
      source: seeds
      language: en
    articles:
      000_134b5bdc4cbcbe50.txt:
        published: 2025-01-21
        url: https://example.org/story     # optional
        expect: {...}                      # ignored by ingestion; fixtures use it in tests
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from newsflow.errors import SourceError

FIELDS = frozenset({"source", "title", "published", "language", "url", "guid", "authors", "expect"})


@dataclass(frozen=True)
class Manifest:
    defaults: dict[str, Any] = field(default_factory=dict)
    articles: dict[str, dict[str, Any]] = field(default_factory=dict)

    def for_file(self, name: str) -> dict[str, Any]:
        return {**self.defaults, **self.articles.get(name, {})}

    def only(self, name: str) -> Manifest:
        """This manifest cut down to what file ``name`` needs (small to pass to a worker)."""
        entry = self.articles.get(name)
        return Manifest(self.defaults, {name: entry} if entry is not None else {})


def _check_fields(origin: str, where: str, entry: object) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise SourceError(origin, f"{where} must be a mapping")
    unknown = set(entry) - FIELDS
    if unknown:
        raise SourceError(
            origin, f"{where}: unknown field(s) {', '.join(sorted(map(str, unknown)))}"
        )
    return {str(k): v for k, v in entry.items()}


def load_manifest(path: Path) -> Manifest:
    """Read a manifest; raises :class:`SourceError` naming the file when it is malformed."""
    origin = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SourceError(origin, f"cannot read manifest: {exc}") from None
    if not isinstance(data, dict) or set(data) - {"defaults", "articles"}:
        raise SourceError(origin, "a manifest has the keys 'defaults' and 'articles' only")
    defaults = _check_fields(origin, "defaults", data.get("defaults") or {})
    articles_raw = data.get("articles") or {}
    if not isinstance(articles_raw, dict):
        raise SourceError(origin, "'articles' must map file names to metadata")
    articles = {
        str(name): _check_fields(origin, f"articles.{name}", entry or {})
        for name, entry in articles_raw.items()
    }
    return Manifest(defaults=defaults, articles=articles)
