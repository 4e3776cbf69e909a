"""Storage: SQLAlchemy models, Alembic migrations, upserts, queries and the full-text index."""
