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


@cache
def _driver_sql(statement, dialect_name: str, columns: tuple[str, ...]) -> str:
    """``statement`` as the driver's SQL text with named parameters, setting ``columns``."""
    dialect = (postgresql.psycopg.dialect() if dialect_name == "postgresql"
               else sqlite.pysqlite.dialect(paramstyle="named"))
    return str(statement.compile(dialect=dialect, column_keys=list(columns)))


def execute_many(conn, statement, rows: list[dict]) -> None:
    """Runs an INSERT or UPDATE once per row, straight through the driver's ``executemany``, in
    the connection's transaction. For large batches: SQLAlchemy's per-row parameter handling
    costs more than the database's work. ``statement`` must be built once (a module constant
    or :func:`prepared`): its SQL text is cached by identity. Every row has the same keys: the
    columns set and the statement's bind names; values are what the driver takes as they are
    (str, int, float, None)."""
    if rows:
        sql = _driver_sql(statement, conn.dialect.name, tuple(rows[0]))
        conn.connection.cursor().executemany(sql, rows)
