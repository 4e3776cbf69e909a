"""Backfill checkpoints: how far each input file has been committed.

Revision ID: 0004_backfill
Revises: 0003_near_duplicates
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision = "0004_backfill"
down_revision = "0003_near_duplicates"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backfill_checkpoints",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("input_key", sa.Text(), nullable=False, unique=True),
        sa.Column("fingerprint", sa.String(100), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=True),
        sa.Column("completed", sa.Boolean(), nullable=False),
        sa.Column(
            "run_id",
            sa.Integer(),
            sa.ForeignKey("ingestion_runs.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("backfill_checkpoints")
