"""Near-duplicate index: MinHash signatures per article and LSH buckets per original.

Articles stored before this revision are signed here, once, with the configured near-dup
settings, so that later copies of them are found too.

Revision ID: 0003_near_duplicates
Revises: 0002_feeds
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_near_duplicates"
down_revision = "0002_feeds"
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
    op.create_index("ix_article_bands_bucket", "article_bands", ["bucket", "band"])
    _sign_stored_articles(op.get_bind())


def _sign_stored_articles(conn: sa.Connection, chunk: int = 1000) -> None:
    from newsflow.pipeline import neardup_config
    from storage.signatures import sign_stored

    config = neardup_config()
    if not config.enabled:
        return
    select = sa.text(
        "SELECT id, title, text, duplicate_of FROM articles WHERE id > :last ORDER BY id LIMIT :n"
    )
    last = 0
    while rows := conn.execute(select, {"last": last, "n": chunk}).all():
        last = rows[-1][0]
        sign_stored(conn, [tuple(row) for row in rows], config)


def downgrade() -> None:
    op.drop_index("ix_article_bands_bucket", table_name="article_bands")
    op.drop_table("article_bands")
    op.drop_table("article_signatures")
