"""Fixtures of the reconciliation tests: a migrated store on SQLite and PostgreSQL, and books."""

from tests.unit.reconcile.reconcile_support import books, db  # noqa: F401
