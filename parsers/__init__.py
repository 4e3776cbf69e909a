"""Parsers: bytes in, clean :class:`~newsflow.article.Article` records out.

:func:`iter_path` walks a file or directory and yields one item per article: the article,
or a :class:`~newsflow.errors.SourceError` for an input that could not be read. Errors are
values, not exceptions, so one bad file never stops the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path

from newsflow.article import Article
from newsflow.errors import SourceError
from parsers.jsonfile import iter_json
from parsers.jsonl import iter_jsonl
from parsers.manifest import Manifest, load_manifest
from parsers.page import read_html_file
from parsers.text import read_text_file
from parsers.warc import WARC_SUFFIXES, is_warc, iter_warc

TEXT_SUFFIXES = frozenset({".txt", ".text", ".md"})
JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
JSON_SUFFIXES = frozenset({".json"})
SUPPORTED = (
    TEXT_SUFFIXES | JSONL_SUFFIXES | HTML_SUFFIXES | JSON_SUFFIXES | frozenset(WARC_SUFFIXES)
)


def is_supported(path: Path) -> bool:
    """Whether ``path`` names a kind of file the parsers read."""
    return is_warc(path) or path.suffix.lower() in SUPPORTED


Item = Article | SourceError


def _manifest_for(directory: Path, name: str) -> tuple[Manifest, SourceError | None]:
    path = directory / name
    if not path.is_file():
        return Manifest(), None
    try:
        return load_manifest(path), None
    except SourceError as exc:
        return Manifest(), exc


def read_file(path: Path, manifest: Manifest) -> Iterator[Item]:
    """The articles of one file, read by its kind (its suffix)."""
    suffix = path.suffix.lower()
    if is_warc(path):
        yield from iter_warc(path)
    elif suffix in JSONL_SUFFIXES:
        yield from iter_jsonl(path, source=manifest.defaults.get("source") or path.stem)
    elif suffix in JSON_SUFFIXES:
        yield from iter_json(path, source=manifest.defaults.get("source") or path.stem)
    elif suffix in HTML_SUFFIXES:
        try:
            yield read_html_file(path, meta=manifest.for_file(path.name))
        except SourceError as exc:
            yield exc
    elif suffix in TEXT_SUFFIXES:
        source = path.parent.name or "local"
        try:
            yield read_text_file(path, source=source, meta=manifest.for_file(path.name))
        except SourceError as exc:
            yield exc
    else:
        kinds = ", ".join(sorted(SUPPORTED))
        yield SourceError(
            str(path), f"unsupported file type {suffix or '(none)'}; expected {kinds}"
        )


def iter_files(
    path: Path, manifest_name: str = "manifest.yaml"
) -> Iterator[tuple[Path, Manifest] | SourceError]:
    """The files under ``path`` (a file or a directory tree) with their manifests, in order.

    Unreadable manifests and a missing ``path`` come out as errors.
    """
    if path.is_file():
        manifest, problem = _manifest_for(path.parent, manifest_name)
        if problem:
            yield problem
        yield path, manifest
        return
    if not path.is_dir():
        yield SourceError(str(path), "no such file or directory")
        return
    directories = [path, *sorted(p for p in path.rglob("*") if p.is_dir())]
    for directory in directories:
        if any(part.startswith(".") for part in directory.relative_to(path).parts):
            continue
        manifest, problem = _manifest_for(directory, manifest_name)
        if problem:
            yield problem
        for file in sorted(directory.iterdir()):
            if file.is_file() and is_supported(file) and not file.name.startswith("."):
                yield file, manifest


def iter_path(path: Path, manifest_name: str = "manifest.yaml") -> Iterator[Item]:
    """Every article under ``path`` (a file or a directory tree), in a stable order."""
    for entry in iter_files(path, manifest_name):
        if isinstance(entry, SourceError):
            yield entry
        else:
            yield from read_file(*entry)


def iter_paths(paths: Iterable[Path], manifest_name: str = "manifest.yaml") -> Iterator[Item]:
    for path in paths:
        yield from iter_path(path, manifest_name)


def batched(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    """Lists of at most ``size`` items, read lazily."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


__all__ = ["Item", "batched", "is_supported", "iter_files", "iter_path", "iter_paths", "read_file"]
