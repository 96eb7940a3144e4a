"""Messages: creation, duplicates, status history, lookups, counters."""


from gateway.intake import thd_record_inbound
from gateway.store import jobs, messages


def record(db, message_id="<m1@partner>"):
    return db.transaction(thd_record_inbound, partner_id="p", transport="as2",
                          message_id=message_id, sha256="a" * 64, size=10, actor="t", now=1.0,
                          headers={"AS2-From": "P"})


def test_inbound_is_recorded_with_its_job_in_one_go(db):
    id, created = record(db)
    assert created
    message = db.transaction(messages.thd_get, id)
    assert message["status"] == "received" and message["headers"] == {"AS2-From": "P"}
    assert [(j["kind"], j["message_id"]) for j in db.transaction(jobs.thd_list)] == [("process", id)]


def test_duplicate_is_answered_not_processed_again(db):
    id, _ = record(db)
    again, created = record(db)
    assert (again, created) == (id, False)
    assert len(db.transaction(jobs.thd_list)) == 1
    history = [e["status"] for e in db.transaction(messages.thd_get, id)["events"]]
    assert history == ["received", "duplicate"]


def test_lookup_by_prefix_or_message_id_and_status_history(db):
    id, _ = record(db)
    db.transaction(messages.thd_set_status, id, "failed", actor="t", now=2.0, error="bad ISA")
    assert db.transaction(messages.thd_get, id[:8])["id"] == id
    found = db.transaction(messages.thd_get, "<m1@partner>")
    assert found["status"] == "failed" and found["error"] == "bad ISA"
    assert [e["status"] for e in found["events"]] == ["received", "failed"]
    assert db.transaction(messages.thd_get, "nope") is None
    assert [m["id"] for m in db.transaction(messages.thd_list, status="failed")] == [id]
    assert db.transaction(messages.thd_list, partner_id="other") == []


def test_counters_are_persistent_and_wrap(db):
    assert [db.transaction(messages.thd_next_counter, "p", "isa") for _ in range(3)] == [1, 2, 3]
    assert db.transaction(messages.thd_next_counter, "q", "isa") == 1
    for _ in range(2):
        db.transaction(messages.thd_next_counter, "w", "gs", wrap=2)
    assert db.transaction(messages.thd_next_counter, "w", "gs", wrap=2) == 1
    assert db.transaction(messages.thd_next_counter, "b", "gs", count=5) == 1
    assert db.transaction(messages.thd_next_counter, "b", "gs", count=5) == 6
    assert db.transaction(messages.thd_next_counter, "b", "gs", count=5, wrap=12) == 1
