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
from parsers.dates import date_problem
from parsers.jsonl import iter_jsonl
from parsers.manifest import Manifest, load_manifest
from parsers.text import read_text_file

TEXT_SUFFIXES = frozenset({".txt", ".text", ".md"})
JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson"})
SUPPORTED = TEXT_SUFFIXES | JSONL_SUFFIXES

Item = Article | SourceError


def _manifest_for(directory: Path, name: str) -> tuple[Manifest, SourceError | None]:
    path = directory / name
    if not path.is_file():
        return Manifest(), None
    try:
        return load_manifest(path), None
    except SourceError as exc:
        return Manifest(), exc


def _read_file(path: Path, manifest: Manifest) -> Iterator[Item]:
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        yield from iter_jsonl(path, source=manifest.defaults.get("source") or path.stem)
    elif suffix in TEXT_SUFFIXES:
        source = path.parent.name or "local"
        meta = manifest.for_file(path.name)
        try:
            yield read_text_file(path, source=source, meta=meta)
        except SourceError as exc:
            yield exc
            return
        note = date_problem(meta.get("published"))
        if note:
            yield SourceError(str(path), note)
    else:
        kinds = ", ".join(sorted(SUPPORTED))
        yield SourceError(
            str(path), f"unsupported file type {suffix or '(none)'}; expected {kinds}"
        )


def iter_path(path: Path, manifest_name: str = "manifest.yaml") -> Iterator[Item]:
    """Every article under ``path`` (a file or a directory tree), in a stable order."""
    if path.is_file():
        manifest, problem = _manifest_for(path.parent, manifest_name)
        if problem:
            yield problem
        yield from _read_file(path, manifest)
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
            if (
                file.is_file()
                and file.suffix.lower() in SUPPORTED
                and not file.name.startswith(".")
            ):
                yield from _read_file(file, manifest)


def iter_paths(paths: Iterable[Path], manifest_name: str = "manifest.yaml") -> Iterator[Item]:
    for path in paths:
        yield from iter_path(path, manifest_name)


def batched(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    """Lists of at most ``size`` items, read lazily."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


__all__ = ["Item", "batched", "iter_path", "iter_paths"]
