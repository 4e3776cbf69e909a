"""JSON files: one article object, or a list of them (the keys of :mod:`parsers.jsonl`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from newsflow.article import Article
from newsflow.errors import SourceError
from parsers.jsonl import parse_record

MAX_JSON_BYTES = 200 * 1024 * 1024


def iter_json(path: Path, *, source: str) -> Iterator[Article | SourceError]:
    """The articles of a JSON file; a bad element is an error naming its index, not a stop."""
    origin = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            yield SourceError(
                origin,
                f"file is {size} bytes, over the {MAX_JSON_BYTES} byte cap (use JSONL for dumps)",
            )
            return
        data = json.loads(path.read_bytes())
    except OSError as exc:
        yield SourceError(origin, f"cannot read file: {exc.strerror or exc}")
        return
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        yield SourceError(origin, f"invalid JSON: {exc}")
        return
    if isinstance(data, dict):
        records: list[object] = [data]
        where = [origin]
    elif isinstance(data, list):
        records = data
        where = [f"{origin}[{index}]" for index in range(len(data))]
    else:
        yield SourceError(origin, "expected an article object or a list of them")
        return
    for record, record_origin in zip(records, where, strict=True):
        try:
            yield parse_record(record, origin=record_origin, source=source)
        except SourceError as exc:
            yield exc
