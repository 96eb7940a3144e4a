"""Booking in batches on SQLite and PostgreSQL: a batch ends as booking its documents one by one
would, duplicates change nothing, concurrent batches of one order see each other, and the
inbox (pending ``reconcile`` jobs) is booked once and survives a failed transaction."""

import random
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from gateway.reconcile import handler, inbox
from gateway.store import jobs
from gateway.store.jobs import Job
from gateway.store.schema import reconcile_documents, reconcile_subjects
from tests.unit.reconcile.reconcile_support import (
    ORDER,
    REMITTANCE,
    Books,
    doc,
    result,
    ts,
)
from tests.unit.reconcile.test_reconcile_ledger import SCENARIO

NOW = "2026-08-20T10:00:00"
RECEIVED = "2026-07-06T12:00:00"


def two_orders() -> list[tuple[str, dict]]:
    """The ledger scenario, and a second order of the same partner that is paid short and
    never shipped: documents of one subject and of several, in arrival order."""
    other = [("purchase_order", doc("purchase_order", po_number="PO2002")),
             ("invoice", doc("invoice", invoice_number="INV-6002", po_number="PO2002")),
             ("remittance", doc("remittance",
                                            payment=dict(REMITTANCE["payment"],
                                                         trace_number="ACH-9002"),
                                            remittances=[
                 {"invoice_number": "INV-6002", "amount_paid": "100.00"},
                 {"invoice_number": "INV-404", "amount_paid": "5.00"}]))]
    return [*SCENARIO[:3], *other, *SCENARIO[3:]]


def books_state(books: Books) -> tuple[list, list]:
    """Every discrepancy ever recorded and every subject's state, without ids and partner."""
    found = sorted((d["subject"], d["key"], d["type"], d["severity"], d["status"],
                    d["message"], d["amount"], d["currency"], d["resolved_by"], d["comment"],
                    tuple(d["details"].items()), len(d["documents"])) for d in books.all())
    s = reconcile_subjects
    with books.db.engine.connect() as conn:
        subjects = sorted(tuple(r) for r in conn.execute(
            select(s.c.subject, s.c.next_check_at, s.c.open_amount, s.c.currency)
            .where(s.c.partner_id == books.partner)))
    return found, subjects


def test_a_batch_ends_as_booking_one_by_one(db):
    alone = {p: Books(db, partner=p) for p in ("alone-a", "alone-b")}
    batch = {p: Books(db, partner=p) for p in ("batch-a", "batch-b")}
    ids = []
    for doc_type, body in two_orders():
        for p in ("a", "b"):     # two partners with the same numbers: kept apart
            alone[f"alone-{p}"].add(doc_type, body, now=NOW, received=RECEIVED)
            ids.append(batch[f"batch-{p}"].store(doc_type, body, received=RECEIVED))
    outcome = batch["batch-a"].book(ids, now=NOW)
    assert outcome["booked"] == ids and outcome["invalid"] == outcome["refused"] == {}
    for p in ("a", "b"):
        assert books_state(batch[f"batch-{p}"]) == books_state(alone[f"alone-{p}"])
    found, _ = books_state(batch["batch-a"])
    # Transient findings are kept as booking one by one keeps them: opened, then settled.
    assert ("return_no_credit_memo", "resolved", "settled by credit_memo CM-42") in \
        {(f[2], f[4], f[9]) for f in found}
    assert {f[2] for f in found if f[4] == "open"} == {
        "asn_late", "asn_over_shipped", "asn_overdue", "deduction", "invoice_price_mismatch",
        "invoice_qty_over_shipped", "payment_unknown_invoice", "short_paid"}


def test_duplicates_within_and_across_batches_change_nothing(db):
    alone, batch = Books(db, partner="alone"), Books(db, partner="batch")
    ids = []
    for doc_type, body in SCENARIO:
        alone.add(doc_type, body, now=NOW, received=RECEIVED)
        ids.append(batch.store(doc_type, body, received=RECEIVED))
    first = batch.book([ids[0], ids[1], ids[0], ids[2], ids[1]], now=NOW)
    assert first["booked"] == ids[:3]
    second = batch.book([ids[2], *ids[3:], ids[1]], now=NOW)
    assert second["booked"] == ids[3:]
    again = batch.book(ids, now=NOW)
    assert (again["booked"], again["subjects"], again["opened"], again["resolved"]) == \
        ([], [], 0, 0)
    assert books_state(batch) == books_state(alone)


def test_concurrent_batches_of_one_order_see_each_other(db):
    """Four workers book overlapping batches of the ship notices of one order at once: the
    order's subject is locked in turn, so the last evaluation counts every notice once."""
    books = Books(db)
    books.add("purchase_order", ORDER, now="2026-07-01T00:00:00")
    ids = []
    for i in range(24):
        notice = doc("ship_notice", shipment_id=f"S{i}")
        notice["orders"][0]["packages"] = notice["orders"][0]["packages"][:1]
        notice["orders"][0]["packages"][0]["items"][0]["quantity_shipped"] = 1
        # Half the notices also ship against an order nobody sent: a second shared subject.
        if i % 2:
            notice["orders"].append(dict(notice["orders"][0], po_number="PO-GHOST"))
        ids.append(books.store("ship_notice", notice, received="2026-07-03T12:00:00"))
    rng = random.Random(7)
    batches = []
    for _ in range(8):       # every notice in about two batches, in random order
        batches.append(rng.sample(ids, 6))
    batches += [ids[i:i + 6] for i in range(0, 24, 6)]
    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(lambda b: books.book(b, now="2026-07-03T12:00:00"), batches))
    assert sorted(i for o in outcomes for i in o["booked"]) == sorted(ids)
    over = {d["po_number"]: d for d in books.open() if d["type"] == "asn_over_shipped"}
    assert list(over) == ["PO1001"]
    assert over["PO1001"]["details"]["shipped"] == "24"
    assert len(over["PO1001"]["documents"]) == 25
    ghost = [d for d in books.open() if d["type"] == "asn_unknown_po"]
    assert sorted(d["shipment_id"] for d in ghost) == sorted(f"S{i}" for i in range(1, 24, 2))


def enqueue(books: Books, doc_ids: list[str]) -> list[int]:
    return [books.db.transaction(jobs.thd_enqueue, "reconcile", {"document": d},
                                 now=ts("2026-07-01T00:00:00")) for d in doc_ids]


def job_statuses(db) -> dict[int, str]:
    return {j["id"]: j["status"] for j in db.transaction(jobs.thd_list, limit=1000)}


def test_one_job_books_the_inbox_and_the_others_find_nothing_to_do(db):
    books = Books(db)
    ids = [books.store(t, b, received=RECEIVED) for t, b in SCENARIO]
    job_ids = enqueue(books, ids)
    rt = type("Rt", (), {"db": db})
    # The worker claimed the first two jobs; the first one books every waiting document.
    db.transaction(jobs.thd_settle_and_claim, "w", done=[], kinds=["reconcile"], limit=2,
                   lease_s=60, max_attempts=3, now=ts("2026-07-01T00:00:00"))
    result(handler.reconcile(rt, Job(job_ids[0], "reconcile", {"document": ids[0]}, 1, None)))
    assert job_statuses(db) == {job_ids[0]: "running", job_ids[1]: "running",
                                **{j: "done" for j in job_ids[2:]}}
    booked = select(reconcile_documents.c.document_id)
    with db.engine.connect() as conn:   # the second job's document was not waiting: claimed
        assert sorted(conn.execute(booked).scalars()) == sorted([ids[0], *ids[2:]])
    second = result(handler.reconcile(rt, Job(job_ids[1], "reconcile", {"document": ids[1]}, 1,
                                              None)))
    assert second is None
    with db.engine.connect() as conn:
        assert sorted(conn.execute(booked).scalars()) == sorted(ids)
    before = books.all()
    again = result(handler.apply(db, ids[0], take=10))    # its document was booked before
    assert (again["booked"], again["jobs"], again["opened"]) == ([], [], 0)
    assert books.all() == before


def test_a_failed_batch_leaves_every_document_waiting(db):
    books = Books(db)
    ids = [books.store(t, b, received=RECEIVED) for t, b in SCENARIO]
    job_ids = enqueue(books, ids)

    class Crash(Exception):
        pass

    def thd_book_then_crash(conn):
        assert len(inbox.thd_book(conn, [], take=10, now=ts(NOW), settings={})["jobs"]) == 6
        raise Crash     # the process dies before the commit

    with pytest.raises(Crash):
        db.transaction(thd_book_then_crash)
    assert set(job_statuses(db).values()) == {"pending"}
    assert books.all() == []
    outcome = books.book([], now=NOW, take=10)
    assert sorted(outcome["jobs"]) == job_ids and outcome["booked"] == ids


def test_waiting_documents_that_cannot_be_booked_stay_for_their_own_job(db):
    books = Books(db, settings={"broken": {"claim_window": 1}})
    good = books.store("purchase_order", ORDER)
    invalid = books.store("invoice", doc("invoice", total_amount="12,50"))
    elsewhere = Books(db, partner="broken").store("purchase_order", ORDER)
    job_ids = enqueue(books, [good, invalid, "no-such-document", elsewhere])
    job_ids.append(db.transaction(jobs.thd_enqueue, "reconcile", {"message": "m"},
                                  now=ts("2026-07-01T00:00:00")))
    outcome = books.book([], now=NOW, take=10)
    assert outcome["booked"] == [good] and list(outcome["invalid"]) == [invalid]
    assert outcome["refused"] == {
        "no-such-document": "document no-such-document does not exist",
        elsewhere: "partner broken: unknown reconciliation setting 'claim_window'; known: "
                   "claim_window_days, asn_late_hours, payment_terms_days, price_tolerance"}
    assert job_statuses(db) == dict(zip(job_ids, ["done", "done", "pending", "pending",
                                                  "pending"], strict=True))
