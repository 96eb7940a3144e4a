"""The one door to the database: ``Database.run(thd_fn, ...)`` runs a transaction on a pool thread.

Functions named ``thd_*`` take a Connection inside a transaction and return plain values. Only
they touch SQLAlchemy. Transient OperationalErrors (SQLite busy, PostgreSQL serialization or a
dropped connection) are retried with the whole transaction.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from twisted.internet import reactor as default_reactor
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

from gateway import metrics

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):
            # WAL lets readers (the CLI) run beside the daemon; FULL makes each commit durable
            # before anything is acknowledged to a partner.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
            # pysqlite's own transaction handling defers BEGIN; take the write lock up front so
            # two processes never deadlock upgrading a read lock.
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=8, max_overflow=8)


def thd_ping(conn) -> bool:
    return conn.execute(text("SELECT 1")).scalar() == 1


def is_transient(err: DBAPIError) -> bool:
    if isinstance(err, OperationalError):
        return True
    code = getattr(err.orig, "sqlstate", None)
    return code in ("40001", "40P01")   # serialization failure, deadlock


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent)."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


class Database:
    def __init__(self, url: str, *, pool_size: int = 4, retries: int = 5, reactor=None):
        self.url = url
        self.engine = make_engine(url)
        self.retries = retries
        self.reactor = reactor or default_reactor
        # SQLite has one writer: more threads would only queue on its lock.
        size = 1 if self.engine.dialect.name == "sqlite" else pool_size
        self.pool = ThreadPool(minthreads=1, maxthreads=size, name="db")

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def start(self) -> None:
        self.pool.start()

    def stop(self) -> None:
        self.pool.stop()
        self.engine.dispose()

    def transaction(self, fn, *args, **kwargs):
        """Run ``fn(conn, ...)`` in one transaction in the calling thread, retrying transient errors."""
        name = fn.__name__
        for attempt in range(self.retries + 1):
            started = time.perf_counter()
            try:
                with self.engine.begin() as conn:
                    result = fn(conn, *args, **kwargs)
                metrics.DB_SECONDS.labels(name).observe(time.perf_counter() - started)
                return result
            except DBAPIError as e:
                if attempt == self.retries or not is_transient(e):
                    metrics.DB_ERRORS.labels(name).inc()
                    raise
                log.warning("db %s: transient error, retrying (%s)", name, e.orig)
                time.sleep(min(0.05 * 2 ** attempt, 2))
        raise AssertionError("unreachable")

    def run(self, fn, *args, **kwargs):
        """Deferred result of ``transaction(fn, ...)`` on the database thread pool."""
        return deferToThreadPool(self.reactor, self.pool, self.transaction, fn, *args, **kwargs)
