"""Alembic migrations; applied automatically by :func:`storage.db.open_database`."""
