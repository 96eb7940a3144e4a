"""The one door to the database: ``Database.run(thd_fn, ...)`` runs a transaction on a pool thread.

Functions named ``thd_*`` take a Connection inside a transaction and return plain values. Only
they touch SQLAlchemy. Transient OperationalErrors (SQLite busy, PostgreSQL serialization or a
dropped connection) are retried with the whole transaction.

SQLite has one writer, and each commit waits for an fsync: ``run`` calls that queue up while the
database thread is busy are committed together (group commit), each in a SAVEPOINT of its own so
one that fails is undone alone. Each caller still gets its answer only after the commit that
makes its work durable. PostgreSQL runs calls side by side on a pool of connections instead.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from twisted.internet import defer
from twisted.internet import reactor as default_reactor
from twisted.internet.threads import deferToThreadPool
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool

from gateway import metrics

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
MAX_GROUP = 64   # calls committed together at most: bounds how long the first one waits
SQLITE_CACHE_KB = 64 * 1024   # page cache per connection


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
            # SQLite's default page cache is 2 MB: with a ledger of a few hundred MB, booking a
            # batch re-read and spilled index pages and waited on the disk for half its time.
            cur.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KB}")
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
        self.grouped = self.engine.dialect.name == "sqlite"
        self._queue: list[tuple] = []   # (fn, args, kwargs, Deferred) for the database thread
        self._lock = threading.Lock()
        self._draining = False

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

    def transactions(self, calls: list[tuple]) -> list[tuple[bool, object]]:
        """Run ``(fn, args, kwargs)`` calls in one transaction, each in a SAVEPOINT, in the
        calling thread: ``(True, result)`` or ``(False, Failure)`` per call, once committed.
        A call that raises is rolled back alone (one whose error is transient then runs again
        in a transaction of its own); a failed BEGIN or COMMIT retries the whole group."""
        if len(calls) == 1:
            return [self._alone(*calls[0])]
        for attempt in range(self.retries + 1):
            outcomes, seconds = [], []
            try:
                with self.engine.begin() as conn:
                    for fn, args, kwargs in calls:
                        started = time.perf_counter()
                        outcomes.append(_in_savepoint(conn, fn, args, kwargs))
                        seconds.append(time.perf_counter() - started)
                    committing = time.perf_counter()
                commit = time.perf_counter() - committing
            except DBAPIError as e:
                if attempt < self.retries and is_transient(e):
                    log.warning("db group of %d: transient error, retrying (%s)", len(calls),
                                e.orig)
                    time.sleep(min(0.05 * 2 ** attempt, 2))
                    continue
                failure = Failure()
            except Exception:
                failure = Failure()
            else:
                metrics.DB_GROUP.observe(len(calls))
                for i, (fn, args, kwargs) in enumerate(calls):
                    if outcomes[i][0] is None:   # a transient error: on its own now
                        outcomes[i] = self._alone(fn, args, kwargs)
                        continue
                    metrics.DB_SECONDS.labels(fn.__name__).observe(seconds[i] + commit)
                    if not outcomes[i][0]:
                        metrics.DB_ERRORS.labels(fn.__name__).inc()
                return outcomes
            for fn, _, _ in calls:
                metrics.DB_ERRORS.labels(fn.__name__).inc()
            return [(False, failure)] * len(calls)
        raise AssertionError("unreachable")

    def _alone(self, fn, args, kwargs) -> tuple[bool, object]:
        try:
            return True, self.transaction(fn, *args, **kwargs)
        except Exception:
            return False, Failure()

    def run(self, fn, *args, **kwargs):
        """Deferred result of ``transaction(fn, ...)`` on the database thread pool; on SQLite,
        committed with whatever other calls are waiting."""
        if not self.grouped:
            return deferToThreadPool(self.reactor, self.pool, self.transaction, fn, *args,
                                     **kwargs)
        d = defer.Deferred()
        with self._lock:
            self._queue.append((fn, args, kwargs, d))
            start, self._draining = not self._draining, True
        if start:
            self.pool.callInThread(self._drain)
        return d

    def _drain(self) -> None:
        """In the database thread: commit the waiting calls, group by group, until none wait."""
        while True:
            with self._lock:
                group, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
                if not group:
                    self._draining = False
                    return
            outcomes = self.transactions([(fn, args, kwargs) for fn, args, kwargs, _ in group])
            for (*_, d), (ok, value) in zip(group, outcomes, strict=True):
                self.reactor.callFromThread(d.callback if ok else d.errback, value)


def _in_savepoint(conn, fn, args, kwargs) -> tuple[bool | None, object]:
    """One call of a group: (True, result), or its work rolled back and (False, Failure), or
    (None, Failure) when its error is transient and worth another try."""
    # Plain SQL: SQLAlchemy's begin_nested() compiles its SAVEPOINT statements every time.
    conn.exec_driver_sql("SAVEPOINT grouped")
    try:
        value = fn(conn, *args, **kwargs)
    except Exception as e:
        failure = Failure()
        conn.exec_driver_sql("ROLLBACK TO grouped")
        conn.exec_driver_sql("RELEASE grouped")
        return (None if isinstance(e, DBAPIError) and is_transient(e) else False), failure
    conn.exec_driver_sql("RELEASE grouped")
    return True, value
