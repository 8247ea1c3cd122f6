"""Persistence of the live dispatch service: SQLAlchemy 2 models, repositories and
Alembic migrations (SQLite in WAL mode by default, PostgreSQL when configured).

This stage knows nothing of the dispatch rules: statuses are stored as the plain strings
of the dispatch core's enums, and every state change is a *conditional* update
(``... WHERE status = :expected``) so that the service, which checks transitions with the
core, can detect a concurrent change by the row count.
"""
