"""A sent AS2 message moves only from the states each step expects, on SQLite and PostgreSQL: an
async MDN that settles it before its POST returns, a retried attempt, a late or stale timeout and
a second MDN leave the settled status as it is."""

import json

from gateway.as2.outbound import UNSETTLED, thd_awaiting
from gateway.outbound import thd_queue, thd_resend
from gateway.partners import Partner
from gateway.store import jobs, messages
from gateway.store.messages import thd_move

PARTNER = Partner.model_validate({"id": "p", "name": "P", "as2": {
    "as2_id": "P", "url": "http://127.0.0.1:9/as2",
    "certificates": {"signing": "partners/p.pem", "encryption": "partners/p.pem"}}})


def queued(db) -> str:
    return db.transaction(thd_queue, PARTNER, sha256="a" * 64, size=10, filename="x.edi",
                          content_type="application/edi-x12", actor="t", now=1.0,
                          domain="test")


def move(db, id, status, source, now, **kw) -> bool:
    return db.transaction(thd_move, id, status, source=source, actor="t", now=now, **kw)


def history(db, id) -> list[str]:
    return [e["status"] for e in db.transaction(messages.thd_get, id)["events"]]


def timeout_jobs(db, id) -> list[dict]:
    """The message's as2-mdn-timeout jobs, oldest first, with their payloads read."""
    return [dict(j, payload=json.loads(j["payload"]))
            for j in reversed(db.transaction(jobs.thd_list, message_id=id))
            if j["kind"] == "as2-mdn-timeout"]


def test_mdn_before_the_post_returns_leaves_the_message_delivered(db):
    id = queued(db)
    assert move(db, id, "sent", ("queued", "sent"), 2.0, mic="m, sha-256")
    assert move(db, id, "delivered", UNSETTLED, 3.0)            # the async MDN, mid-POST
    assert not db.transaction(thd_awaiting, id, send_job=1, timeout_s=60, actor="t", now=4.0)
    message = db.transaction(messages.thd_get, id)
    assert (message["status"], message["updated_at"]) == ("delivered", 3.0)
    assert history(db, id) == ["queued", "sent", "delivered"]
    assert timeout_jobs(db, id) == []


def test_awaiting_a_sent_message_queues_its_timeout(db):
    id = queued(db)
    move(db, id, "sent", ("queued", "sent"), 2.0)
    assert db.transaction(thd_awaiting, id, send_job=1, timeout_s=60, actor="t", now=4.0)
    (job,) = timeout_jobs(db, id)
    assert job["payload"] == {"message": id, "since": 4.0} and job["run_after"] == 64.0


def test_a_settled_message_is_not_sent_settled_or_timed_out_again(db):
    id = queued(db)
    move(db, id, "sent", ("queued", "sent"), 2.0)
    assert move(db, id, "failed", UNSETTLED, 3.0, error="partner answered error")
    assert not move(db, id, "delivered", UNSETTLED, 4.0)        # a second MDN
    assert not move(db, id, "sent", ("queued", "sent"), 5.0)    # a retried send attempt
    assert not move(db, id, "mdn-timeout", ("awaiting-mdn",), 6.0)
    message = db.transaction(messages.thd_get, id)
    assert (message["status"], message["error"]) == ("failed", "partner answered error")
    assert history(db, id) == ["queued", "sent", "failed"]


def test_a_late_mdn_still_settles_a_timed_out_message(db):
    id = queued(db)
    move(db, id, "sent", ("queued", "sent"), 2.0)
    db.transaction(thd_awaiting, id, send_job=1, timeout_s=60, actor="t", now=3.0)
    assert move(db, id, "mdn-timeout", ("awaiting-mdn",), 63.0, since=3.0, error="no MDN")
    assert move(db, id, "delivered", UNSETTLED, 70.0)
    assert history(db, id) == ["queued", "sent", "awaiting-mdn", "mdn-timeout", "delivered"]
    message = db.transaction(messages.thd_get, id)
    assert (message["status"], message["error"]) == ("delivered", None)


def test_a_resent_message_waits_again_and_the_old_timeout_leaves_the_new_wait_alone(db):
    id = queued(db)
    move(db, id, "sent", ("queued", "sent"), 2.0)
    db.transaction(thd_awaiting, id, send_job=1, timeout_s=60, actor="t", now=3.0)
    db.transaction(thd_resend, id, {"p": PARTNER}, actor="operator", now=10.0)
    move(db, id, "sent", ("queued", "sent"), 11.0)
    assert db.transaction(thd_awaiting, id, send_job=2, timeout_s=60, actor="t", now=12.0)
    assert [j["payload"]["since"] for j in timeout_jobs(db, id)] == [3.0, 12.0]
    # The first wait's timeout fires during the second wait: it is not this wait's.
    assert not move(db, id, "mdn-timeout", ("awaiting-mdn",), 63.0, since=3.0)
    assert db.transaction(messages.thd_get, id)["status"] == "awaiting-mdn"
    assert move(db, id, "mdn-timeout", ("awaiting-mdn",), 72.0, since=12.0)
