"""The few statements whose spelling differs between SQLite and PostgreSQL, built by SQLAlchemy,
and statements built once for the hot paths (SQLAlchemy then skips building and caching them)."""

from functools import cache

from sqlalchemy.dialects import postgresql, sqlite


def insert_ignore(conn, table, conflict_columns: list[str]):
    """INSERT ... ON CONFLICT (columns) DO NOTHING for the connection's dialect."""
    return insert_ignore_for(conn.dialect.name, table, conflict_columns)


def insert_ignore_for(dialect_name: str, table, conflict_columns: list[str]):
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing(index_elements=conflict_columns)


def prepared(build):
    """Decorates ``build(dialect_name)``, which makes a statement executed with parameters
    (``conn.execute(stmt, values)``): the decorated ``build(conn)`` makes it once per dialect."""
    once = cache(build)
    return lambda conn: once(conn.dialect.name)
