"""PostgreSQL: each article's topic ids beside its search vector (``articles.topic_ids``).

A search with a topic used to meet two indexes that nothing combined: the GIN index of the
words on ``articles`` and the tag rows in ``article_topics``, so one side was read row by
row (the matches of the words each checked for the topic, or the topic's tens of thousands
of articles looked up one by one). ``topic_ids`` (``integer[]``, sorted) with a GIN index of
its own lets one BitmapAnd answer the words, the topic and ``published_at`` together.

The column is kept in step with ``article_topics`` by statement-level triggers on that table
(insert, update, delete: every writer of tags, including cascades, without code of its own);
each statement recomputes the arrays of the articles it touched, from their tag rows.
Existing articles are filled by one set-based UPDATE here.

SQLite is left as it is (FTS5 searches; the topic filter stays on ``article_topics``).

Revision ID: 0006_topic_ids
Revises: 0005_query_indexes
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0006_topic_ids"
down_revision = "0005_query_indexes"
branch_labels = None
depends_on = None

# The articles whose tags a statement changed get their topic ids again from their tag rows
# (new_tags / old_tags: the statement's transition tables; an UPDATE has both, and a
# trigger can only name those of its own event).
_FUNCTION = """
CREATE FUNCTION articles_refresh_topic_ids() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE articles AS a
        SET topic_ids = COALESCE(
            (SELECT array_agg(t.topic_id ORDER BY t.topic_id)
             FROM article_topics AS t WHERE t.article_id = a.id),
            '{}')
        WHERE a.id IN (SELECT article_id FROM new_tags);
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE articles AS a
        SET topic_ids = COALESCE(
            (SELECT array_agg(t.topic_id ORDER BY t.topic_id)
             FROM article_topics AS t WHERE t.article_id = a.id),
            '{}')
        WHERE a.id IN (SELECT article_id FROM old_tags);
    ELSE
        UPDATE articles AS a
        SET topic_ids = COALESCE(
            (SELECT array_agg(t.topic_id ORDER BY t.topic_id)
             FROM article_topics AS t WHERE t.article_id = a.id),
            '{}')
        WHERE a.id IN (SELECT article_id FROM new_tags
                       UNION SELECT article_id FROM old_tags);
    END IF;
    RETURN NULL;
END $$
"""

_TRIGGERS = {
    "article_topics_insert_topic_ids": "AFTER INSERT ON article_topics "
    "REFERENCING NEW TABLE AS new_tags",
    "article_topics_update_topic_ids": "AFTER UPDATE ON article_topics "
    "REFERENCING OLD TABLE AS old_tags NEW TABLE AS new_tags",
    "article_topics_delete_topic_ids": "AFTER DELETE ON article_topics "
    "REFERENCING OLD TABLE AS old_tags",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # a constant default: no table rewrite; untagged articles keep the empty array
    op.execute("ALTER TABLE articles ADD COLUMN topic_ids integer[] NOT NULL DEFAULT '{}'")
    op.execute(
        "UPDATE articles AS a SET topic_ids = t.ids "
        "FROM (SELECT article_id, array_agg(topic_id ORDER BY topic_id) AS ids "
        "FROM article_topics GROUP BY article_id) AS t "
        "WHERE a.id = t.article_id"
    )
    op.execute("CREATE INDEX ix_articles_topic_ids ON articles USING gin (topic_ids)")
    op.execute(_FUNCTION)
    for name, when in _TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER {name} {when} "
            "FOR EACH STATEMENT EXECUTE FUNCTION articles_refresh_topic_ids()"
        )
    op.execute("ANALYZE articles")  # the planner's estimates of topic_ids @> ARRAY[...]


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in _TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON article_topics")
    op.execute("DROP FUNCTION articles_refresh_topic_ids()")
    op.execute("DROP INDEX ix_articles_topic_ids")
    op.execute("ALTER TABLE articles DROP COLUMN topic_ids")
