"""Backfill checkpoints: per input file, how far its records have been committed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from storage import models
from storage.db import write_session
from storage.models import utcnow


@dataclass(frozen=True)
class Checkpoint:
    """Where a file's backfill stands (see :class:`storage.models.BackfillCheckpoint`)."""

    key: str
    fingerprint: str
    records: int = 0
    position: int | None = None
    completed: bool = False


def load_checkpoints(engine: Engine, prefix: str) -> dict[str, Checkpoint]:
    """The checkpoints of the files whose key is ``prefix`` or starts with ``prefix/``."""
    table = models.BackfillCheckpoint
    stmt = select(table).where(
        (table.input_key == prefix)
        | table.input_key.startswith(prefix.rstrip("/") + "/", autoescape=True)
    )
    with Session(engine) as session:
        return {
            row.input_key: Checkpoint(
                row.input_key, row.fingerprint, row.records, row.position, row.completed
            )
            for row in session.scalars(stmt)
        }


def save_checkpoints(engine: Engine, checkpoints: Iterable[Checkpoint], run_id: int | None) -> None:
    """Record (insert or replace) these checkpoints in one transaction."""
    items = {c.key: c for c in checkpoints}
    if not items:
        return
    table = models.BackfillCheckpoint
    now = utcnow()
    with write_session(engine) as session:
        rows = {
            row.input_key: row
            for row in session.scalars(select(table).where(table.input_key.in_(items)))
        }
        for key, c in items.items():
            row = rows.get(key)
            if row is None:
                row = table(input_key=key)
                session.add(row)
            row.fingerprint = c.fingerprint
            row.records = c.records
            row.position = c.position
            row.completed = c.completed
            row.run_id = run_id
            row.updated_at = now


def clear_checkpoints(engine: Engine, prefix: str) -> int:
    """Forget the checkpoints under ``prefix`` (a file or directory key); how many there were."""
    table = models.BackfillCheckpoint
    with write_session(engine) as session:
        result = session.execute(
            delete(table).where(
                (table.input_key == prefix)
                | table.input_key.startswith(prefix.rstrip("/") + "/", autoescape=True)
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
