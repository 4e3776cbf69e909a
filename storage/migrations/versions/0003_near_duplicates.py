"""Near-duplicate index: MinHash signatures per article and LSH buckets per original.

Revision ID: 0003_near_duplicates
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_near_duplicates"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "article_signatures",
        sa.Column(
            "article_id",
            sa.Integer(),
            sa.ForeignKey("articles.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("scheme", sa.String(100), nullable=False),
        sa.Column("minhash", sa.LargeBinary(), nullable=False),
        sa.Column("shingles", sa.Integer(), nullable=False),
    )
    op.create_table(
        "article_bands",
        sa.Column(
            "article_id",
            sa.Integer(),
            sa.ForeignKey("articles.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("band", sa.SmallInteger(), primary_key=True),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_article_bands_band_bucket", "article_bands", ["band", "bucket"])


def downgrade() -> None:
    op.drop_index("ix_article_bands_band_bucket", table_name="article_bands")
    op.drop_table("article_bands")
    op.drop_table("article_signatures")
