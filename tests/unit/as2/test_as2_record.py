"""The receive path's two transactions: the record with its recovery job, then the settlement."""

import pytest

from gateway import process
from gateway.as2 import inbound
from gateway.partners import Partner
from gateway.store import jobs, messages

HEADERS = {"AS2-From": "P", "AS2-To": "G", "Content-Type": "application/pkcs7-mime"}
NO_ROUTES = Partner.model_validate({"id": "p", "name": "P"})
ONE_ROUTE = Partner.model_validate({"id": "p", "name": "P", "routes": [
    {"match": {"direction": "inbound"}, "to": [{"directory": "/srv/in"}]}]})
X12 = Partner.model_validate({"id": "p", "name": "P", "x12": {
    "isa_qualifier": "ZZ", "isa_id": "P", "gs_id": "PP", "ack": "none"}})


def record(db, message_id="<m1@p>"):
    return db.transaction(inbound.thd_record, partner_id="p", message_id=message_id,
                          headers=HEADERS, sha256="a" * 64, size=10, actor="t", now=1.0)


def queue(db):
    return sorted((j["kind"], j["status"]) for j in db.transaction(jobs.thd_list))


def test_settling_queues_processing_and_retires_the_recovery_job(db):
    id, created, status = record(db)
    assert (created, status) == (True, "received")
    assert queue(db) == [("as2-unwrap", "pending")]
    db.transaction(inbound.thd_settle, id, status="accepted", disposition="processed",
                   actor="t", now=2.0, async_mdn=False, mic="x, sha-256")
    assert queue(db) == [("as2-unwrap", "done"), ("process", "pending")]
    stored = db.transaction(messages.thd_get, id)
    assert (stored["status"], stored["disposition"], stored["mic"]) == (
        "accepted", "processed", "x, sha-256")
    assert [e["status"] for e in stored["events"]] == ["received", "accepted"]


@pytest.mark.parametrize("partner, routes", [(NO_ROUTES, []), (ONE_ROUTE, [("deliver", "pending")])])
def test_a_payload_only_to_be_routed_is_routed_in_the_settlement(db, partner, routes):
    id, _, _ = record(db)
    queued = db.transaction(inbound.thd_settle, id, status="accepted", disposition="processed",
                            actor="t", now=2.0, async_mdn=False, route_as_is=partner)
    assert queued == bool(routes)
    assert queue(db) == sorted([("as2-unwrap", "done"), *routes])
    stored = db.transaction(messages.thd_get, id)
    assert [(e["status"], e["detail"]) for e in stored["events"]] == [
        ("received", None), ("accepted", "processed"),
        ("routed", "deliver" if routes else "no route matched")]


def test_only_payloads_processing_would_route_untouched_are_routed_inline():
    edi, json_doc = b"PO1*1*10*EA~\r\n", b'  \n {"document_type": "order", "document": {}}'
    assert process.routed_as_is(NO_ROUTES, edi)
    assert not process.routed_as_is(NO_ROUTES, json_doc)   # may be an internal JSON document
    assert not process.routed_as_is(X12, edi)   # X12 settings: examined by the process job


def test_a_resend_reports_the_stored_status_and_queues_nothing(db):
    id, _, _ = record(db)
    db.transaction(inbound.thd_settle, id, status="rejected", disposition="processed/error: "
                   "decryption-failed", error="bad key", actor="t", now=2.0, async_mdn=True)
    assert record(db) == (id, False, "rejected")
    assert queue(db) == [("as2-mdn", "pending"), ("as2-unwrap", "done")]


def test_a_recovery_job_already_running_is_left_to_its_worker(db):
    id, _, _ = record(db)
    claimed = db.transaction(jobs.thd_settle_and_claim, "w", done=[], kinds=["as2-unwrap"],
                             limit=1, lease_s=60, max_attempts=3, now=400.0)
    assert [j.payload for j in claimed] == [{"message": id}]
    assert not db.transaction(jobs.thd_settle_pending, "as2-unwrap", f"as2-unwrap:{id}",
                              now=401.0)
    assert queue(db) == [("as2-unwrap", "running")]
