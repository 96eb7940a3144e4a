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
from gateway.reconcile import inbox, ledger
from gateway.reconcile.checks import settings_for
from gateway.worker import PermanentError

log = logging.getLogger(__name__)


BATCH = 1000   # documents one ``reconcile`` job books at most: its own and others waiting


async def apply(db, document_id: str, *, settings: Mapping[str, dict] | None = None,
                now: float | None = None, take: int = 0) -> dict:
    """Book one stored document, with up to ``take`` others waiting in the inbox. A document
    that cannot be read becomes an ``invalid_document`` discrepancy naming the field; one that
    does not exist, or whose partner's settings are wrong, fails for good. Returns
    :func:`gateway.reconcile.inbox.thd_book`'s outcome."""
    now = time.time() if now is None else now
    outcome = await db.run(inbox.thd_book, [document_id], take=take, now=now,
                           settings=settings or {})
    if outcome["jobs"]:
        metrics.JOBS.labels(inbox.KIND, "done").inc(len(outcome["jobs"]))
    if document_id in outcome["refused"]:
        raise PermanentError(outcome["refused"][document_id])
    return outcome


async def reconcile(rt, job, settings: Mapping[str, dict] | None = None,
                    batch: int = BATCH) -> None:
    """Job handler: payload {"document": <documents.id>}; books that document and others
    waiting, up to ``batch``; idempotent by document id."""
    document_id = job.payload.get("document")
    if not isinstance(document_id, str) or not document_id:
        raise PermanentError(f"reconcile job {job.id}: payload names no document")
    await apply(rt.db, document_id, settings=settings, take=batch - 1)


async def sweep(db, now: float, settings: Mapping[str, dict] | None = None,
                batch: int = 500) -> int:
    """Re-evaluate every subject whose deadline has come (ASN overdue, invoice unpaid past its
    terms, credit memo due), ``batch`` subjects per transaction. Returns how many were
    evaluated."""
    done = 0
    # A subject skipped for its partner's broken settings stays due: do not fetch it again.
    seen: set[tuple[str, str]] = set()
    checked: dict[str, dict | None] = {}
    while True:
        due = [s for s in await db.run(ledger.thd_due, now=now, limit=batch) if s not in seen]
        if not due:
            return done
        seen.update(due)
        for partner_id in {p for p, _ in due} - checked.keys():
            try:
                checked[partner_id] = settings_for((settings or {}).get(partner_id))
            except ValueError as e:
                log.error("reconcile sweep: partner %s: %s", partner_id, e)
                checked[partner_id] = None
        due = [(p, s) for p, s in due if checked[p] is not None]
        if due:
            await db.run(ledger.thd_evaluate, due, now=now, settings=checked)
            done += len(due)


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
