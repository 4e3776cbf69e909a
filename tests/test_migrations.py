"""The Alembic migrations and the SQLAlchemy models describe the same schema."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from storage.models import Base

# Full-text objects live in the migrations only (FTS5 tables, the tsvector column), and so
# do the DESC-ordered listing index, which Alembic cannot compare, and PostgreSQL's topic ids
# beside the search vector (kept by triggers, never written through the models).
_FTS = ("articles_fts",)
_MIGRATION_ONLY = ("ix_articles_search", "ix_articles_newest", "ix_articles_topic_ids")


def _include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    if type_ == "table" and name and name.startswith(_FTS):
        return False
    return not ((type_ == "column" and name in ("search", "topic_ids")) or name in _MIGRATION_ONLY)


def test_models_match_migrations(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": _include, "compare_type": True}
        )
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
