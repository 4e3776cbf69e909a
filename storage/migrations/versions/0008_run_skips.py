"""Each run's skipped records: pages with no article text, and records outside the date window.

A WARC page with no article text (an index or empty page) and a record left out by a backfill's
``--since``/``--until`` were counted in the command's summary only. Both are kept with the run
now (``ingestion_runs.skipped_no_text``, ``ingestion_runs.skipped_by_date``); runs recorded
before this migration get 0, as nothing about them was kept.

Revision ID: 0008_run_skips
Revises: 0007_topic_article_index
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_run_skips"
down_revision = "0007_topic_article_index"
branch_labels = None
depends_on = None

COLUMNS = ("skipped_no_text", "skipped_by_date")


def upgrade() -> None:
    for name in COLUMNS:
        op.add_column(
            "ingestion_runs",
            sa.Column(name, sa.Integer(), nullable=False, server_default=sa.text("0")),
        )


def downgrade() -> None:
    for name in reversed(COLUMNS):
        op.drop_column("ingestion_runs", name)
