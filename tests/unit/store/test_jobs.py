"""The work queue on SQLite and PostgreSQL: claims, leases, retries, dead letters, dedupe."""

import pytest

from gateway.store import jobs

NOW = 1_000_000.0



def claim(db, owner="a", limit=10, now=NOW, done=(), kinds=("k",), max_attempts=3, lease_s=30):
    return db.transaction(jobs.thd_settle_and_claim, owner, done=list(done), kinds=list(kinds),
                          limit=limit, lease_s=lease_s, max_attempts=max_attempts, now=now)


def enqueue(db, n=1, kind="k", **kw):
    return [db.transaction(jobs.thd_enqueue, kind, {"n": i}, now=NOW, **kw) for i in range(n)]


def statuses(db):
    return sorted((j["id"], j["status"]) for j in db.transaction(jobs.thd_list, limit=1000))


def test_claim_is_exclusive_and_in_order(db):
    ids = enqueue(db, 5)
    first = claim(db, "a", limit=3)
    second = claim(db, "b", limit=10)
    assert [j.id for j in first] == ids[:3]
    assert [j.id for j in second] == ids[3:]
    assert claim(db, "c") == []
    assert first[0].payload == {"n": 0} and first[0].attempts == 1


def test_only_handled_kinds_are_claimed(db):
    enqueue(db, 1, kind="other")
    assert claim(db, kinds=["k"]) == []
    assert len(claim(db, kinds=["other"])) == 1


def test_settle_marks_done_only_for_the_lease_owner(db):
    (job_id,) = enqueue(db)
    claim(db, "a")
    claim(db, "b", done=[job_id])   # b never held it: no effect
    assert statuses(db) == [(job_id, "running")]
    claim(db, "a", done=[job_id])
    assert statuses(db) == [(job_id, "done")]


def test_expired_lease_is_claimed_again(db):
    (job_id,) = enqueue(db)
    claim(db, "a", now=NOW, lease_s=30)
    assert claim(db, "b", now=NOW + 29) == []
    again = claim(db, "b", now=NOW + 31)
    assert [(j.id, j.attempts) for j in again] == [(job_id, 2)]
    claim(db, "a", done=[job_id], now=NOW + 32)   # the old owner lost the lease: ignored
    assert statuses(db) == [(job_id, "running")]


def test_worker_dying_every_time_ends_in_dead_letter(db):
    (job_id,) = enqueue(db)
    for attempt in range(3):
        assert len(claim(db, f"w{attempt}", now=NOW + attempt * 100, max_attempts=3)) == 1
    assert claim(db, "w9", now=NOW + 1000, max_attempts=3) == []
    (row,) = db.transaction(jobs.thd_list)
    assert row["status"] == "dead" and "worker died" in row["last_error"]


def test_fail_retries_later_then_dead_letters(db):
    (job_id,) = enqueue(db)
    claim(db, "a")
    assert db.transaction(jobs.thd_fail, job_id, "a", "boom", retry_at=NOW + 60, now=NOW) == "pending"
    assert claim(db, "a", now=NOW + 59) == []
    assert len(claim(db, "a", now=NOW + 61)) == 1
    assert db.transaction(jobs.thd_fail, job_id, "a", "boom again", retry_at=None, now=NOW) == "dead"
    (row,) = db.transaction(jobs.thd_list, status="dead")
    assert row["last_error"] == "boom again" and row["attempts"] == 2
    assert db.transaction(jobs.thd_retry_dead, job_id, now=NOW)
    assert [j.attempts for j in claim(db, "a", now=NOW + 1)] == [1]


def test_release_gives_jobs_back_without_counting_an_attempt(db):
    enqueue(db, 2)
    claim(db, "a")
    assert db.transaction(jobs.thd_release, "a", now=NOW) == 2
    assert [j.attempts for j in claim(db, "b")] == [1, 1]


def test_extend_keeps_a_long_job(db):
    (job_id,) = enqueue(db)
    claim(db, "a", lease_s=30)
    assert db.transaction(jobs.thd_extend, "a", [job_id], lease_s=30, now=NOW + 25) == 1
    assert claim(db, "b", now=NOW + 40) == []


def test_dedupe_key_queues_once(db):
    first = db.transaction(jobs.thd_enqueue, "k", {}, now=NOW, dedupe_key="x")
    second = db.transaction(jobs.thd_enqueue, "k", {}, now=NOW, dedupe_key="x")
    assert first is not None and second is None
    assert len(statuses(db)) == 1


def test_queue_stats_and_prune(db):
    ids = enqueue(db, 3)
    claim(db, "a", limit=1)
    claim(db, "a", limit=0, done=[ids[0]], now=NOW + 1)
    stats = {(s["kind"], s["status"]): s for s in db.transaction(jobs.thd_queue_stats, now=NOW + 10)}
    assert stats[("k", "pending")]["count"] == 2
    assert stats[("k", "pending")]["oldest_age"] == pytest.approx(10)
    assert ("k", "done") not in stats
    assert db.transaction(jobs.thd_prune, before=NOW + 2) == 1
    assert len(statuses(db)) == 2
