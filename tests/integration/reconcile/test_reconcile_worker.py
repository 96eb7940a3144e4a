"""The ``reconcile`` job run by the real Worker from the queue, on a fake clock: documents are
booked once however often their job runs; a bad document is recorded, a missing one dead-letters;
under load one job books the documents waiting behind it."""

import time
from functools import partial
from types import SimpleNamespace

from sqlalchemy import select
from twisted.internet.task import Clock

from gateway import metrics
from gateway.config import JobSettings
from gateway.reconcile import handler
from gateway.store import jobs
from gateway.store.schema import reconcile_documents
from gateway.worker import Worker
from tests.unit.reconcile.reconcile_support import ORDER, doc


def run_queue(db, payloads: list[dict], concurrency: int | None = None,
              batch: int = handler.BATCH) -> dict[int, dict]:
    ids = [db.transaction(jobs.thd_enqueue, "reconcile", p, now=time.time()) for p in payloads]
    rt = SimpleNamespace(db=db)
    # Everything answers at once here, so by default claim the whole queue in one go.
    settings = JobSettings(concurrency=concurrency or len(payloads))
    worker = Worker(db, {"reconcile": partial(handler.reconcile, rt, batch=batch)}, settings,
                    "test", reactor=Clock())
    worker.startService()
    worker.stopService()
    return {j["id"]: j for j in db.transaction(jobs.thd_list) if j["id"] in ids}


def test_the_worker_books_documents_from_the_queue(books, db):
    order = books.store("purchase_order", ORDER)
    invoice = books.store("invoice", doc("invoice", po_number=None))
    broken = books.store("ship_notice", doc("ship_notice", shipment_id=None))
    outcome = run_queue(db, [{"document": order}, {"document": invoice}, {"document": order},
                             {"document": broken}, {"document": "no-such-document"}])
    statuses = [j["status"] for j in sorted(outcome.values(), key=lambda j: j["id"])]
    assert statuses == ["done", "done", "done", "done", "dead"]
    dead = [j for j in outcome.values() if j["status"] == "dead"][0]
    assert dead["last_error"] == "PermanentError: document no-such-document does not exist"
    # Booked now, long after the example's ship window and payment terms.
    assert sorted(d["type"] for d in books.open()) == [
        "asn_overdue", "invalid_document", "invoice_overdue", "invoice_po_missing"]
    invalid = [d for d in books.open() if d["type"] == "invalid_document"][0]
    assert invalid["message"] == f"ship_notice document {broken}: shipment_id: is missing"


def bookings() -> float:
    """Booking transactions so far, from the gateway's own histogram."""
    return sum(s.value for s in metrics.DB_SECONDS.collect()[0].samples
               if s.labels.get("op") == "thd_book" and s.name.endswith("_count"))


def test_under_load_jobs_book_the_documents_waiting_behind_them(books, db):
    """Forty documents, each with its job (and ten with a second one, as a replay queues): the
    worker claims two jobs at a time, each books up to eight; every document is booked once."""
    ids = []
    for i in range(20):
        ids.append(books.store("purchase_order", doc("purchase_order", po_number=f"PO{i}")))
        ids.append(books.store("invoice", doc("invoice", po_number=f"PO{i}",
                                              invoice_number=f"INV{i}")))
    payloads = [{"document": d} for d in ids + ids[::4]]
    before = bookings()
    outcome = run_queue(db, payloads, concurrency=2, batch=8)
    assert {j["status"] for j in outcome.values()} == {"done"}
    booked = db.transaction(lambda conn: conn.execute(
        select(reconcile_documents.c.document_id)).scalars().all())
    assert sorted(booked) == sorted(ids)
    assert bookings() - before < len(payloads) / 2
    # Each order is billed without a ship notice: its lines are over-invoiced, once each.
    assert sorted(d["po_number"] for d in books.open()
                  if d["type"] == "invoice_qty_over_shipped") == sorted(
        [f"PO{i}" for i in range(20)] * 2)
