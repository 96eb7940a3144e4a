"""Migrations produce exactly the schema the code declares, on both databases."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from gateway.store.database import Database, upgrade
from gateway.store.schema import metadata


def test_migrations_match_metadata(db_url):
    db = Database(db_url)
    upgrade(db.engine)
    upgrade(db.engine)   # idempotent
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    db.engine.dispose()
    assert diff == []
