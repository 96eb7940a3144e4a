"""Documents waiting to be booked, and booking them in batches.

The inbox is the queue itself: every document routed to the ledger has a ``reconcile`` job, and
while the job is pending its document waits. A job books its own document together with others
still waiting and ends their jobs in the same transaction, so under load one job books many, and
a crash before the commit leaves all of them pending, to be booked again. On PostgreSQL waiting
jobs are taken with ``FOR UPDATE SKIP LOCKED``, so two workers take disjoint batches; a job the
worker has already claimed is not taken, and finds its document booked or books it itself.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from gateway.reconcile import checks, documents, ledger
from gateway.store import jobs

log = logging.getLogger(__name__)
KIND = "reconcile"
# Subjects one batch may touch: a remittance touches one per invoice it pays, and every subject
# brings its documents into memory. Named documents are booked whatever their weight.
MAX_SUBJECTS = 5000


def thd_book(conn, document_ids: list[str], *, take: int, now: float,
             settings: Mapping[str, dict]) -> dict:
    """Book the stored documents ``document_ids`` and up to ``take`` more waiting in the inbox,
    in that order. A document that cannot be read becomes an ``invalid_document`` discrepancy
    naming the field. ``settings``: partner id -> overrides of the defaults.

    Returns ledger.thd_apply's outcome with "invalid" {document id: message}, "refused"
    {document id: why it cannot be booked: missing, or its partner's settings are wrong} and
    "jobs" [waiting jobs finished here]. A waiting job whose document is refused, or left out
    for the batch's size, stays pending for its own run."""
    waiting = []
    if take > 0:
        for job_id, payload in jobs.thd_take_pending(conn, KIND, limit=take, now=now):
            document = payload.get("document")
            waiting.append((job_id, document if isinstance(document, str) and document else None))
    order = list(dict.fromkeys([*document_ids, *(d for _, d in waiting if d)]))
    rows = ledger.thd_load_documents(conn, order)
    named = set(document_ids)
    docs, invalid, refused = [], {}, {}
    checked: dict[str, dict] = {}
    broken: dict[str, str] = {}
    handled: set[str] = set()
    weight = 0
    for doc_id in order:
        if doc_id not in named and weight >= MAX_SUBJECTS:
            break
        row = rows.get(doc_id)
        if row is None:
            refused[doc_id] = f"document {doc_id} does not exist"
            continue
        try:
            doc = documents.read(row)
        except documents.InvalidDocument as e:
            log.warning("reconcile: partner %s: %s", row["partner_id"], e)
            ledger.thd_record_invalid(conn, document_id=doc_id, partner_id=row["partner_id"],
                                      doc_type=str(row["doc_type"]), field=e.field,
                                      message=str(e), now=now)
            invalid[doc_id] = str(e)
            handled.add(doc_id)
            continue
        partner = doc.partner_id
        if partner not in checked and partner not in broken:
            try:
                checked[partner] = checks.settings_for(settings.get(partner))
            except ValueError as e:
                broken[partner] = f"partner {partner}: {e}"
        if partner in broken:
            refused[doc_id] = broken[partner]
            continue
        docs.append(doc)
        handled.add(doc_id)
        weight += len(checks.subjects(doc))
    outcome = ledger.thd_apply(conn, docs, now=now, settings=checked,
                               texts={d.id: rows[d.id]["body"] for d in docs})
    finished = [job for job, doc_id in waiting if doc_id in handled]
    jobs.thd_settle_taken(conn, finished, now=now)
    return dict(outcome, invalid=invalid, refused=refused, jobs=finished)
