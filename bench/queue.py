"""Benchmark of the job queue: enqueue rate, drain rate and claim latency of the real Worker.

Each scenario (SQLite in WAL with synchronous=FULL, PostgreSQL with one and with two gateway
processes) gets a fresh database and measures, with the gateway's own code:

- enqueue: ``thd_enqueue_many`` in batches, and ``thd_enqueue`` one job per transaction (for a
  tenth of the jobs);
- drain: worker processes (a real ``Worker`` on a real reactor each, distinct owners) start on
  the queued backlog; jobs/s until every job is settled as done;
- claim latency: each worker process enqueues jobs one per transaction at a steady ``--rate``
  and wakes its worker, as the gateway does after an enqueue; time from enqueue to handler start;
- a peer beside it: the same number of processes, each a plain loop that claims ONE job per
  transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) and completes it in another.

Handlers are no-ops. Prints figures; never passes or fails on time.

Usage: .venv/bin/python bench/queue.py [--jobs 20000] [--concurrency N] [--rate 50]
                                      [--only sqlite|pg1|pg2]
"""

import os
import sys

# Run as a script, this directory would come first on sys.path and this file would shadow the
# standard library's queue module for everything imported below.
if sys.path[0] == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

import argparse
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path

import psycopg
from prometheus_client import REGISTRY
from sqlalchemy import select, update
from twisted.internet import defer, task, threads

from gateway.config import JobSettings
from gateway.store import jobs as jobstore
from gateway.store.database import Database, upgrade
from gateway.store.schema import jobs
from gateway.worker import Worker

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
PG_DB = "bench_queue"
AIMS = {"sqlite": 2000, "pg2": 1000}
KIND = "bench"
BATCH = 1000
POLL_S = 0.05
PEER_BUDGET_S = 30


def fresh_database(backend: str, tmp: Path) -> str:
    """An empty, migrated database for one run; returns its URL."""
    if backend == "sqlite":
        path = tmp / f"queue-{time.monotonic_ns()}.db"
        url = f"sqlite:///{path}"
    else:
        recreate_pg()
        url = f"{PG_SERVER}/{PG_DB}"
    db = Database(url)
    upgrade(db.engine)
    db.engine.dispose()
    return url


def recreate_pg(drop_only: bool = False) -> None:
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=test", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        if not drop_only:
            conn.execute(f"CREATE DATABASE {PG_DB}")


def enqueue_batched(db: Database, count: int) -> float:
    started = time.perf_counter()
    for first in range(0, count, BATCH):
        payloads = [{"i": i} for i in range(first, min(first + BATCH, count))]
        db.transaction(jobstore.thd_enqueue_many, KIND, payloads, now=time.time())
    return count / (time.perf_counter() - started)


def enqueue_single(db: Database, count: int) -> float:
    started = time.perf_counter()
    for i in range(count):
        db.transaction(jobstore.thd_enqueue, KIND, {"i": i}, now=time.time())
    return count / (time.perf_counter() - started)


def wait_drained(db: Database) -> float:
    """Poll with the gateway's own queue stats until no job is pending or running."""
    while db.transaction(jobstore.thd_queue_stats, now=time.time()):
        time.sleep(POLL_S)
    return time.perf_counter()


async def noop(reactor, latencies: list[float], job) -> None:
    if "t" in job.payload:
        latencies.append(time.time() - job.payload["t"])
    # Yield to the reactor once, as every real handler does (they await the database).
    await task.deferLater(reactor, 0)


async def produce(reactor, db: Database, wake, rate: float, count: int) -> None:
    """Enqueue ``count`` jobs at ``rate`` per second, one transaction each on the database pool and
    a wake after each, as the gateway's intake does."""
    started = time.perf_counter()
    for i in range(count):
        await task.deferLater(reactor, max(0.0, started + i / rate - time.perf_counter()))
        await db.run(jobstore.thd_enqueue, KIND, {"t": time.time()}, now=time.time())
        wake()


def claim_stats() -> tuple[float, float]:
    """How many claim transactions this process ran, and their total seconds."""
    labels = {"op": "thd_settle_and_claim"}
    return (REGISTRY.get_sample_value("gateway_db_seconds_count", labels) or 0,
            REGISTRY.get_sample_value("gateway_db_seconds_sum", labels) or 0)


def gateway_process(url: str, owner: str, concurrency: int, pipe) -> None:
    """One gateway process: a real Worker on a real reactor, driven by commands on ``pipe``:
    "go" starts the worker, "stats" returns claim_stats(), (rate, count) runs a producer, and
    "stop" stops the worker and returns the claim latencies."""
    from twisted.internet import reactor

    db = Database(url)
    latencies: list[float] = []
    settings = JobSettings(concurrency=concurrency)
    worker = Worker(db, {KIND: lambda job: noop(reactor, latencies, job)}, settings, owner)

    async def serve():
        db.start()
        pipe.send("ready")
        while (command := await threads.deferToThread(pipe.recv)) != "stop":
            if command == "go":
                worker.startService()
            elif command != "stats":
                await produce(reactor, db, worker.wake, *command)
            pipe.send(claim_stats())
        await worker.stopService()
        db.stop()
        pipe.send(latencies)

    done = defer.ensureDeferred(serve())
    done.addErrback(lambda f: print(f.getTraceback(), file=sys.stderr))
    done.addBoth(lambda _: reactor.stop())
    reactor.run()


def thd_claim_one(conn, owner: str, *, now: float) -> int | None:
    """The peer's claim: one job per transaction."""
    job_id = conn.execute(select(jobs.c.id)
                          .where(jobs.c.kind == KIND, jobs.c.status == "pending",
                                 jobs.c.run_after <= now)
                          .order_by(jobs.c.run_after, jobs.c.id).limit(1)
                          .with_for_update(skip_locked=True)).scalar()
    if job_id is not None:
        conn.execute(update(jobs).where(jobs.c.id == job_id)
                     .values(status="running", lease_owner=owner, lease_expires=now + 60,
                             attempts=jobs.c.attempts + 1, updated_at=now))
    return job_id


def thd_complete_one(conn, job_id: int, *, now: float) -> None:
    conn.execute(update(jobs).where(jobs.c.id == job_id)
                 .values(status="done", lease_owner=None, lease_expires=None, updated_at=now))


def peer_process(url: str, owner: str, _concurrency: int, pipe) -> None:
    """The naive peer: on "go", claims and completes one job at a time until the queue is empty or
    PEER_BUDGET_S has passed (keeping the default run short); replies how many it completed."""
    db = Database(url)
    pipe.send("ready")
    pipe.recv()
    deadline = time.perf_counter() + PEER_BUDGET_S
    completed = 0
    while (time.perf_counter() < deadline
           and (job_id := db.transaction(thd_claim_one, owner, now=time.time())) is not None):
        db.transaction(thd_complete_one, job_id, now=time.time())
        completed += 1
    db.engine.dispose()
    pipe.send(completed)


def spawn(target, url: str, processes: int, concurrency: int) -> list:
    """Start ``processes`` copies of ``target``, each with its own owner; returns their pipes
    once each has said it is ready."""
    context = multiprocessing.get_context("spawn")
    pipes = []
    for n in range(processes):
        ours, theirs = context.Pipe()
        context.Process(target=target, args=(url, f"bench-{n}:{target.__name__}", concurrency,
                                              theirs), daemon=True).start()
        theirs.close()
        pipes.append(ours)
    for pipe in pipes:   # started: their imports no longer compete with what is measured
        pipe.recv()
    return pipes


def ask(pipes: list, command) -> list:
    for pipe in pipes:
        pipe.send(command)
    return [pipe.recv() for pipe in pipes]


def drain(db: Database, pipes: list, count: int) -> float:
    started = time.perf_counter()
    ask(pipes, "go")
    return count / (wait_drained(db) - started)


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49] * 1000, cuts[94] * 1000, cuts[98] * 1000


def run_gateway(url: str, processes: int, args) -> dict:
    db = Database(url)
    pipes = spawn(gateway_process, url, processes, args.concurrency)
    single = enqueue_single(db, args.jobs // 10)
    batched = enqueue_batched(db, args.jobs - args.jobs // 10)
    drained = drain(db, pipes, args.jobs)
    claims, seconds = map(sum, zip(*ask(pipes, "stats"), strict=True))
    samples = max(100, args.jobs // 40)
    ask(pipes, (args.rate / processes, samples // processes))
    wait_drained(db)
    latencies = [s for batch in ask(pipes, "stop") for s in batch]
    db.engine.dispose()
    return dict(batched=batched, single=single, drain=drained, per_claim=args.jobs / claims,
                claim_ms=seconds / claims * 1000, latency=percentiles(latencies))


def run_peer(url: str, processes: int, args) -> float:
    db = Database(url)
    enqueue_batched(db, args.jobs)
    pipes = spawn(peer_process, url, processes, args.concurrency)
    started = time.perf_counter()
    completed = sum(ask(pipes, "go"))
    db.engine.dispose()
    return completed / (time.perf_counter() - started)


def scenario(name: str, args, tmp: Path) -> dict:
    backend, processes = ("sqlite", 1) if name == "sqlite" else ("pg", int(name[-1]))
    print(f"{name}: {processes} process(es), {args.jobs} jobs ...", flush=True)
    figures = run_gateway(fresh_database(backend, tmp), processes, args)
    figures["peer"] = run_peer(fresh_database(backend, tmp), processes, args)
    return dict(figures, name=name, processes=processes)


def print_table(rows: list[dict], args) -> None:
    print(f"\njobs={args.jobs} concurrency={args.concurrency} latency at {args.rate:g} jobs/s; "
          "rates in jobs/s, latency in ms (enqueue -> handler start)")
    header = (f"{'backend':7} {'procs':>5} {'enq batch':>9} {'enq single':>10} {'drain':>6} "
              f"{'aim':>6} {'jobs/claim':>10} {'claim ms':>8} {'p50':>6} {'p95':>6} {'p99':>6} "
              f"{'peer drain':>10} {'x peer':>6}")
    print(header)
    print("-" * len(header))
    for r in rows:
        aim = f">={AIMS[r['name']]}" if r["name"] in AIMS else "-"
        p50, p95, p99 = r["latency"]
        print(f"{r['name']:7} {r['processes']:>5} {r['batched']:>9.0f} {r['single']:>10.0f} "
              f"{r['drain']:>6.0f} {aim:>6} {r['per_claim']:>10.1f} {r['claim_ms']:>8.1f} "
              f"{p50:>6.1f} {p95:>6.1f} {p99:>6.1f} {r['peer']:>10.0f} {r['drain'] / r['peer']:>6.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=JobSettings().concurrency)
    parser.add_argument("--rate", type=float, default=50.0,
                        help="jobs/s offered while measuring claim latency")
    parser.add_argument("--only", choices=["sqlite", "pg1", "pg2"])
    args = parser.parse_args()
    names = [args.only] if args.only else ["sqlite", "pg1", "pg2"]
    with tempfile.TemporaryDirectory() as tmp:
        try:
            rows = [scenario(name, args, Path(tmp)) for name in names]
        finally:
            if any(name.startswith("pg") for name in names):
                recreate_pg(drop_only=True)
    print_table(rows, args)


if __name__ == "__main__":
    main()
