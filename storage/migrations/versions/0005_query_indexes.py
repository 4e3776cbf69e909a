"""Indexes for the listing queries at scale (newest first, copies apart).

- ``ix_articles_newest``: originals (``duplicate_of IS NULL``) in the order ``newsflow query``
  lists them (newest first, then highest id), so "the newest 20 on topic X since D" walks the
  index and stops instead of sorting every match. On PostgreSQL it is declared ``DESC NULLS
  LAST`` like the query's ORDER BY (a plain index read backwards gives NULLS FIRST).
- ``ix_articles_duplicate_of`` covers copies only (``duplicate_of IS NOT NULL``): it serves
  "the copies of article N" and the foreign key, and SQLite no longer picks it for
  ``duplicate_of IS NULL`` (nearly every row), which made it scan and sort all originals.

Revision ID: 0005_query_indexes
Revises: 0004_backfill
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_query_indexes"
down_revision = "0004_backfill"
branch_labels = None
depends_on = None

_COPIES = sa.text("duplicate_of IS NOT NULL")
_ORIGINALS = sa.text("duplicate_of IS NULL")


def upgrade() -> None:
    op.drop_index("ix_articles_duplicate_of", table_name="articles")
    op.create_index(
        "ix_articles_duplicate_of",
        "articles",
        ["duplicate_of"],
        sqlite_where=_COPIES,
        postgresql_where=_COPIES,
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX ix_articles_newest ON articles "
            "(published_at DESC NULLS LAST, id DESC) WHERE duplicate_of IS NULL"
        )
    else:
        op.execute(
            "CREATE INDEX ix_articles_newest ON articles "
            "(published_at DESC, id DESC) WHERE duplicate_of IS NULL"
        )


def downgrade() -> None:
    op.drop_index("ix_articles_newest", table_name="articles")
    op.drop_index("ix_articles_duplicate_of", table_name="articles")
    op.create_index("ix_articles_duplicate_of", "articles", ["duplicate_of"])
