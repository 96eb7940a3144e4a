"""The few statements whose spelling differs between SQLite and PostgreSQL, built by SQLAlchemy."""

from sqlalchemy.dialects import postgresql, sqlite


def insert_ignore(conn, table, conflict_columns: list[str]):
    """INSERT ... ON CONFLICT (columns) DO NOTHING for the connection's dialect."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing(index_elements=conflict_columns)
