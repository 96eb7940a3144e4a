"""The ``reconcile`` job, the periodic sweep of deadlines, and the metrics refresh.

``settings`` everywhere is a mapping of partner id to that partner's overrides of
:data:`gateway.reconcile.checks.DEFAULT_SETTINGS` (claim window, ASN lateness, default terms).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from decimal import Decimal

from gateway import metrics
from gateway.reconcile import documents, ledger
from gateway.reconcile.checks import settings_for
from gateway.worker import PermanentError

log = logging.getLogger(__name__)


async def apply(db, document_id: str, *, settings: Mapping[str, dict] | None = None,
                now: float | None = None) -> dict:
    """Book one stored document. A document that cannot be read becomes an ``invalid_document``
    discrepancy naming the field; its outcome is {"booked": False, "invalid": message}."""
    now = time.time() if now is None else now
    row = await db.run(ledger.thd_load_document, document_id)
    if row is None:
        raise PermanentError(f"document {document_id} does not exist")
    try:
        doc = documents.read(row)
    except documents.InvalidDocument as e:
        log.warning("reconcile: partner %s: %s", row["partner_id"], e)
        await db.run(ledger.thd_record_invalid, document_id=document_id,
                     partner_id=row["partner_id"], doc_type=str(row["doc_type"]), field=e.field,
                     message=str(e), now=now)
        return {"booked": False, "invalid": str(e)}
    try:
        partner_settings = settings_for((settings or {}).get(doc.partner_id))
    except ValueError as e:
        raise PermanentError(f"partner {doc.partner_id}: {e}") from None
    return await db.run(ledger.thd_apply, doc, now=now, settings=partner_settings)


async def reconcile(rt, job, settings: Mapping[str, dict] | None = None) -> None:
    """Job handler: payload {"document": <documents.id>}; idempotent by document id."""
    document_id = job.payload.get("document")
    if not isinstance(document_id, str) or not document_id:
        raise PermanentError(f"reconcile job {job.id}: payload names no document")
    await apply(rt.db, document_id, settings=settings)


async def sweep(db, now: float, settings: Mapping[str, dict] | None = None,
                batch: int = 500) -> int:
    """Re-evaluate every subject whose deadline has come (ASN overdue, invoice unpaid past its
    terms, credit memo due); one transaction each. Returns how many were evaluated."""
    done = 0
    # A subject skipped for its partner's broken settings stays due: do not fetch it again.
    seen: set[tuple[str, str]] = set()
    while True:
        due = [s for s in await db.run(ledger.thd_due, now=now, limit=batch) if s not in seen]
        if not due:
            return done
        for partner_id, subject in due:
            seen.add((partner_id, subject))
            try:
                partner_settings = settings_for((settings or {}).get(partner_id))
            except ValueError as e:
                log.error("reconcile sweep: partner %s: %s", partner_id, e)
                continue
            await db.run(ledger.thd_evaluate, partner_id, subject, now=now,
                         settings=partner_settings)
            done += 1


async def refresh_metrics(db, since: float | None = None) -> None:
    """Set the reconciliation gauges from the store (call it periodically)."""
    counts = await db.run(ledger.thd_open_counts)
    rates = await db.run(ledger.thd_rates, since=since)
    metrics.RECONCILE_OPEN.clear()
    for partner, kind, count in counts:
        metrics.RECONCILE_OPEN.labels(partner, kind).set(count)
    for gauge in (metrics.RECONCILE_INVOICE_MATCH, metrics.RECONCILE_ASN_ON_TIME,
                  metrics.RECONCILE_OUTSTANDING):
        gauge.clear()
    for r in rates:
        if r["invoices"]:
            metrics.RECONCILE_INVOICE_MATCH.labels(r["partner_id"]).set(
                r["invoices_matched"] / r["invoices"])
        if r["ship_notices"]:
            metrics.RECONCILE_ASN_ON_TIME.labels(r["partner_id"]).set(
                r["ship_notices_on_time"] / r["ship_notices"])
        for currency, owed in r["outstanding"].items():
            metrics.RECONCILE_OUTSTANDING.labels(r["partner_id"], currency).set(
                float(Decimal(owed)))
