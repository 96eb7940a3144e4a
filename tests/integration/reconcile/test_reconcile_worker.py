"""The ``reconcile`` job run by the real Worker from the queue, on a fake clock: documents are
booked once however often their job runs; a bad document is recorded, a missing one dead-letters."""

import time
from functools import partial
from types import SimpleNamespace

from twisted.internet.task import Clock

from gateway.config import JobSettings
from gateway.reconcile import handler
from gateway.store import jobs
from gateway.worker import Worker
from tests.unit.reconcile.reconcile_support import ORDER, doc


def run_queue(db, payloads: list[dict]) -> dict[int, dict]:
    ids = [db.transaction(jobs.thd_enqueue, "reconcile", p, now=time.time()) for p in payloads]
    rt = SimpleNamespace(db=db)
    # Everything answers at once here, so claim the whole queue in one go.
    settings = JobSettings(concurrency=len(payloads))
    worker = Worker(db, {"reconcile": partial(handler.reconcile, rt)}, settings, "test",
                    reactor=Clock())
    worker.startService()
    worker.stopService()
    return {j["id"]: j for j in db.transaction(jobs.thd_list) if j["id"] in ids}


def test_the_worker_books_documents_from_the_queue(books, db):
    order = books.store("order", ORDER)
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
