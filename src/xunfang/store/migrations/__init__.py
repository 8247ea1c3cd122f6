"""Alembic migration environment of the dispatch service (run via :mod:`xunfang.store.migrate`)."""
