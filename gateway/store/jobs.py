"""The work queue: enqueue inside the caller's transaction, claim with leases, settle, dead-letter.

A claim is one UPDATE over a sub-select; on PostgreSQL the sub-select takes ``FOR UPDATE SKIP
LOCKED`` so several gateway processes claim disjoint jobs. A job whose lease expired (its worker
died) is claimable again; one that keeps dying is dead-lettered instead of looping forever.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, func, select, update

from gateway.store.schema import jobs
from gateway.store.sql import insert_ignore_for, prepared

# Built once: every message queues jobs, and workers claim and settle them all the time.
SETTLE_PENDING = update(jobs).where(jobs.c.kind == bindparam("job_kind"),
                                    jobs.c.dedupe_key == bindparam("job_key"),
                                    jobs.c.status == "pending")
SETTLE_DONE = (update(jobs).where(jobs.c.id.in_(bindparam("done_ids", expanding=True)),
                                  jobs.c.lease_owner == bindparam("owner"))
               .values(status="done", lease_owner=None, lease_expires=None,
                       updated_at=bindparam("done_at")))
# Pending only, in run_after order: the (status, run_after) index serves it as it is.
CLAIMABLE = (select(jobs.c.id)
             .where(jobs.c.status == "pending", jobs.c.run_after <= bindparam("claim_at"),
                    jobs.c.kind.in_(bindparam("kinds", expanding=True)))
             .order_by(jobs.c.run_after, jobs.c.id).limit(bindparam("claim_limit"))
             .with_for_update(skip_locked=True))
CLAIM = (update(jobs).where(jobs.c.id.in_(CLAIMABLE.scalar_subquery()))
         .values(status="running", lease_owner=bindparam("owner"),
                 lease_expires=bindparam("expires"), attempts=jobs.c.attempts + 1,
                 updated_at=bindparam("claimed_at"))
         .returning(jobs.c.id, jobs.c.kind, jobs.c.payload, jobs.c.attempts, jobs.c.message_id))


@prepared
def insert_job(dialect_name: str):
    return insert_ignore_for(dialect_name, jobs, ["kind", "dedupe_key"]).returning(jobs.c.id)


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    payload: dict
    attempts: int
    message_id: str | None


def thd_enqueue(conn, kind: str, payload: dict, *, now: float, dedupe_key: str | None = None,
                message_id: str | None = None, run_after: float | None = None) -> int | None:
    """Queue a job; with a dedupe_key an already-queued twin is kept and None returned."""
    row = dict(kind=kind, payload=json.dumps(payload, sort_keys=True), dedupe_key=dedupe_key,
               status="pending", attempts=0, run_after=now if run_after is None else run_after,
               message_id=message_id, created_at=now, updated_at=now)
    return conn.execute(insert_job(conn), row).scalar()


def thd_settle_pending(conn, kind: str, dedupe_key: str, *, now: float) -> bool:
    """Mark a queued job done without running it: its work was done another way."""
    return conn.execute(SETTLE_PENDING, dict(job_kind=kind, job_key=dedupe_key, status="done",
                                             updated_at=now)).rowcount == 1


def thd_take_pending(conn, kind: str, *, limit: int, now: float) -> list[tuple[int, dict]]:
    """Due pending jobs of ``kind``, oldest first, locked until the commit (skipping those another
    transaction holds on PostgreSQL), for a caller that does their work inline: (id, payload).
    They stay pending unless the same transaction settles them with thd_settle_taken."""
    rows = conn.execute(select(jobs.c.id, jobs.c.payload)
                        .where(jobs.c.status == "pending", jobs.c.run_after <= now,
                               jobs.c.kind == kind)
                        .order_by(jobs.c.run_after, jobs.c.id).limit(limit)
                        .with_for_update(skip_locked=True))
    return [(r.id, json.loads(r.payload)) for r in rows]


def thd_settle_taken(conn, job_ids: list[int], *, now: float, chunk: int = 500) -> None:
    """Mark jobs taken with thd_take_pending done: their work was done in this transaction."""
    for start in range(0, len(job_ids), chunk):
        conn.execute(update(jobs).where(jobs.c.id.in_(job_ids[start:start + chunk]),
                                        jobs.c.status == "pending")
                     .values(status="done", updated_at=now))


def thd_enqueue_many(conn, kind: str, payloads: list[dict], *, now: float) -> int:
    rows = [dict(kind=kind, payload=json.dumps(p, sort_keys=True), status="pending", attempts=0,
                 run_after=now, created_at=now, updated_at=now) for p in payloads]
    if rows:
        conn.execute(jobs.insert(), rows)
    return len(rows)


def thd_settle_and_claim(conn, owner: str, *, done: list[int], kinds: list[str], limit: int,
                         lease_s: float, max_attempts: int, now: float,
                         reclaim: bool = True) -> list[Job]:
    """Mark ``done`` jobs finished and claim up to ``limit`` more, in one transaction; with
    ``reclaim``, first take back the jobs of workers whose leases expired."""
    if done:
        conn.execute(SETTLE_DONE, dict(done_ids=done, owner=owner, done_at=now))
    if limit <= 0:
        return []
    if reclaim:
        _reclaim(conn, kinds, max_attempts, now)
    rows = conn.execute(CLAIM, dict(claim_at=now, kinds=kinds, claim_limit=limit, owner=owner,
                                    expires=now + lease_s, claimed_at=now))
    claimed = [Job(r.id, r.kind, json.loads(r.payload), r.attempts, r.message_id) for r in rows]
    return sorted(claimed, key=lambda j: j.id)


def _reclaim(conn, kinds: list[str], max_attempts: int, now: float) -> None:
    """Jobs of dead workers: pending again (their attempt counts), or dead after too many."""
    expired = and_(jobs.c.status == "running", jobs.c.lease_expires < now, jobs.c.kind.in_(kinds))
    conn.execute(update(jobs).where(expired, jobs.c.attempts >= max_attempts).values(
        status="dead", lease_owner=None, lease_expires=None, updated_at=now,
        last_error=func.coalesce(jobs.c.last_error, "") + " [its worker died on every attempt]"))
    conn.execute(update(jobs).where(expired).values(
        status="pending", lease_owner=None, lease_expires=None, run_after=now, updated_at=now))


def thd_extend(conn, owner: str, ids: list[int], *, lease_s: float, now: float) -> int:
    """Renew the leases of jobs still running here, so long jobs are not taken over."""
    if not ids:
        return 0
    return conn.execute(update(jobs).where(jobs.c.id.in_(ids), jobs.c.lease_owner == owner,
                                           jobs.c.status == "running")
                        .values(lease_expires=now + lease_s, updated_at=now)).rowcount


def thd_fail(conn, job_id: int, owner: str, error: str, *, retry_at: float | None,
             now: float) -> str:
    """Record a failed attempt: back to pending at ``retry_at``, or dead when it is None."""
    status = "dead" if retry_at is None else "pending"
    conn.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.lease_owner == owner)
                 .values(status=status, last_error=error[:4000], lease_owner=None,
                         lease_expires=None, run_after=retry_at or now, updated_at=now))
    return status


def thd_release(conn, owner: str, *, now: float) -> int:
    """Give back every job this owner still holds (graceful stop): not counted as an attempt."""
    return conn.execute(update(jobs).where(jobs.c.lease_owner == owner, jobs.c.status == "running")
                        .values(status="pending", lease_owner=None, lease_expires=None,
                                attempts=jobs.c.attempts - 1, run_after=now,
                                updated_at=now)).rowcount


def thd_retry_dead(conn, job_id: int, *, now: float) -> bool:
    """Operator action: put a dead-lettered job back in the queue with fresh attempts."""
    return conn.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.status == "dead")
                        .values(status="pending", attempts=0, run_after=now,
                                updated_at=now)).rowcount == 1


def thd_queue_stats(conn, *, now: float) -> list[dict]:
    """Per kind and status (done excluded): how many, and the age of the oldest."""
    rows = conn.execute(select(jobs.c.kind, jobs.c.status, func.count(), func.min(jobs.c.created_at))
                        .where(jobs.c.status != "done").group_by(jobs.c.kind, jobs.c.status))
    return [dict(kind=r[0], status=r[1], count=r[2], oldest_age=now - r[3]) for r in rows]


def thd_prune(conn, *, before: float) -> int:
    return conn.execute(jobs.delete().where(jobs.c.status == "done",
                                            jobs.c.updated_at < before)).rowcount


def thd_list(conn, *, status: str | None = None, message_id: str | None = None,
             limit: int = 100) -> list[dict]:
    query = select(jobs).order_by(jobs.c.id.desc()).limit(limit)
    if status:
        query = query.where(jobs.c.status == status)
    if message_id:
        query = query.where(jobs.c.message_id == message_id)
    return [dict(r._mapping) for r in conn.execute(query)]
