"""A topic's articles read from an index alone: ``ix_article_topics_topic_article``.

``ix_article_topics_topic_id`` (``topic_id`` only) found a topic's tag rows, but the article
ids were then read from each row, evidence and all. On SQLite at a million articles, listing
the 42k articles of a large topic (a search's filter listed first, a small topic's listing,
its size) read most pages of ``article_topics``: ~150 ms against ~6 ms from an index that
holds ``article_id`` beside ``topic_id``. That index replaces the old one (its prefix). On
PostgreSQL the same index lets the listings of a topic's articles scan the index only.

Revision ID: 0007_topic_article_index
Revises: 0006_topic_ids
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0007_topic_article_index"
down_revision = "0006_topic_ids"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_article_topics_topic_article", "article_topics", ["topic_id", "article_id"])
    op.drop_index("ix_article_topics_topic_id", table_name="article_topics")


def downgrade() -> None:
    op.create_index("ix_article_topics_topic_id", "article_topics", ["topic_id"])
    op.drop_index("ix_article_topics_topic_article", table_name="article_topics")
