"""The few statements whose spelling differs between SQLite and PostgreSQL, built by SQLAlchemy;
statements built once for the hot paths (SQLAlchemy then skips building and caching them); and
bulk inserts and updates straight through the driver."""

from contextlib import closing
from functools import cache

from sqlalchemy import ARRAY, String, Text, any_, bindparam
from sqlalchemy.dialects import postgresql, sqlite


def insert_ignore(conn, table, conflict_columns: list[str]):
    """INSERT ... ON CONFLICT (columns) DO NOTHING for the connection's dialect."""
    return insert_ignore_for(conn.dialect.name, table, conflict_columns)


def insert_ignore_for(dialect_name: str, table, conflict_columns: list[str]):
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing(index_elements=conflict_columns)


def one_of(column, name: str, dialect_name: str):
    """``column`` equal to one of the values of the list bound to ``name``: on PostgreSQL
    ``= ANY`` of one array parameter, so the statement's text, and its plan, are the same for
    any length of list; on SQLite an IN list of as many parameters."""
    if dialect_name == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(_unbounded(column.type))))
    return column.in_(bindparam(name, expanding=True))


def prepared(build):
    """Decorates ``build(dialect_name)``, which makes a statement executed with parameters
    (``conn.execute(stmt, values)``): the decorated ``build(conn)`` makes it once per dialect."""
    once = cache(build)
    return lambda conn: once(conn.dialect.name)



# Bulk writes. SQLAlchemy's per-row parameter handling costs more than the database's own work
# for a batch of thousands of rows, and PostgreSQL executes an executemany row by row. So these
# go straight to the driver: on SQLite one prepared statement run per row (``executemany``); on
# PostgreSQL one statement for the whole batch, its rows passed as one array per column and
# unpacked by ``unnest``. Rows are dicts with the same keys, whose values the driver takes as
# they are (str, int, float, None); tables and columns come from the schema, never from input.


def insert_many(conn, table, rows: list[dict], *, ignore_conflicts_on: tuple[str, ...] = (),
                returning: str | None = None) -> list:
    """INSERT every row; with ``ignore_conflicts_on`` a row clashing with a stored one on those
    columns is skipped. With ``returning``, the values of that column of the rows inserted."""
    if not rows:
        return []
    columns = tuple(rows[0])
    sql = _insert(conn.dialect.name, table, columns, ignore_conflicts_on, returning)
    with closing(conn.connection.cursor()) as cursor:
        if conn.dialect.name == "postgresql":
            cursor.execute(sql, _arrays(rows, columns))
            return [r[0] for r in cursor.fetchall()] if returning else []
        if not returning:
            cursor.executemany(sql, rows)
            return []
        return [r[0] for row in rows for r in cursor.execute(sql, row).fetchall()]


def update_many(conn, table, rows: list[dict], *, keys: tuple[str, ...]) -> None:
    """UPDATE the row whose ``keys`` columns hold each row's values of them, setting the row's
    other columns."""
    if rows:
        columns = tuple(rows[0])
        with closing(conn.connection.cursor()) as cursor:
            if conn.dialect.name == "postgresql":
                cursor.execute(_pg_update(table, columns, keys), _arrays(rows, columns))
            else:
                cursor.executemany(_sqlite_update(table, columns, keys), rows)


def _arrays(rows: list[dict], columns: tuple[str, ...]) -> dict[str, list]:
    return {name: [row[name] for row in rows] for name in columns}


def _names(dialect, names) -> str:
    return ", ".join(dialect.identifier_preparer.quote(n) for n in names)


@cache
def _insert(dialect_name, table, columns, conflict, returning) -> str:
    """The INSERT of ``columns``: of one row's named parameters on SQLite, of the rows of one
    array parameter per column on PostgreSQL."""
    pg = dialect_name == "postgresql"
    d = postgresql.dialect() if pg else sqlite.dialect()
    rows = (f"SELECT * FROM {_unnest(table, columns)}" if pg
            else f"VALUES ({', '.join(':' + c for c in columns)})")
    sql = f"INSERT INTO {table.name} ({_names(d, columns)}) {rows}"
    if conflict:
        sql += f" ON CONFLICT ({_names(d, conflict)}) DO NOTHING"
    return sql + (f" RETURNING {_names(d, [returning])}" if returning else "")


@cache
def _sqlite_update(table, columns, keys) -> str:
    d = sqlite.dialect()
    q = d.identifier_preparer.quote
    sets = ", ".join(f"{q(c)} = :{c}" for c in columns if c not in keys)
    return f"UPDATE {table.name} SET {sets} WHERE " + " AND ".join(f"{q(k)} = :{k}" for k in keys)


def _unnest(table, columns) -> str:
    """unnest(%(a)b::TYPE[], ...): one array parameter per column, cast to the column's type
    without its length: a cast to VARCHAR(n) would cut a longer text silently, where the
    column refuses it. Sent in binary (``%b``): psycopg quotes every element of a text-format
    array through a regular expression, forty times slower for a batch of JSON bodies."""
    d = postgresql.dialect()
    return "unnest(" + ", ".join(f"%({c})b::{_unbounded(table.c[c].type).compile(dialect=d)}[]"
                                 for c in columns) + ")"


def _unbounded(column_type):
    return Text() if isinstance(column_type, String) else column_type


@cache
def _pg_update(table, columns, keys) -> str:
    d = postgresql.dialect()
    q = d.identifier_preparer.quote
    sets = ", ".join(f"{q(c)} = v.{q(c)}" for c in columns if c not in keys)
    where = " AND ".join(f"{table.name}.{q(k)} = v.{q(k)}" for k in keys)
    return (f"UPDATE {table.name} SET {sets} FROM {_unnest(table, columns)} "
            f"AS v({_names(d, columns)}) WHERE {where}")
