"""AS2 metrics: messages and bytes by disposition as they settle, and the async MDNs outstanding
(read from the store, so every node of a cluster reports the same)."""

from __future__ import annotations

from sqlalchemy import func, select

from gateway import metrics
from gateway.store.schema import jobs, messages

# RFC 4130 / RFC 3798 disposition modifiers; anything else a partner writes is counted as other.
KNOWN = frozenset({
    "processed", "duplicate-document", "authentication-failed", "decompression-failed",
    "decryption-failed", "insufficient-message-security", "integrity-check-failed",
    "unexpected-processing-error", "unknown-trading-partner", "failed", "other",
    # outcomes of messages we sent that are not a partner's disposition
    "no-mdn", "mic-mismatch", "invalid-mdn", "mdn-timeout",
})


def disposition_label(disposition: str | None) -> str:
    """'automatic-action/MDN-sent-automatically; processed/error: decryption-failed' (or the
    stored 'processed/error: decryption-failed') -> 'decryption-failed'; 'processed' ->
    'processed'; unknown words -> 'other'."""
    outcome = (disposition or "").rpartition(";")[2]
    kind, _, modifier = outcome.partition("/")
    label = (modifier.partition(":")[2] or kind).strip().lower()
    return label if label in KNOWN else "other"


def count(partner_id: str, direction: str, disposition: str, size: int | None) -> None:
    """One settled AS2 message; ``disposition`` is a label of KNOWN."""
    metrics.AS2_MESSAGES.labels(partner_id, direction, disposition).inc()
    metrics.AS2_BYTES.labels(partner_id, direction, disposition).inc(size or 0)


def thd_pending_mdns(conn, *, now: float) -> list[tuple[str, str, int, float]]:
    """(partner, direction, count, oldest age in s) of async MDNs outstanding: ``sent`` are the
    ``as2-mdn`` jobs not done (still retried, or dead-lettered), ``received`` the messages we
    sent that are ``awaiting-mdn``."""
    owed = conn.execute(
        select(messages.c.partner_id, func.count(), func.min(jobs.c.created_at))
        .select_from(jobs.join(messages, jobs.c.message_id == messages.c.id))
        .where(jobs.c.kind == "as2-mdn", jobs.c.status.in_(("pending", "running", "dead")))
        .group_by(messages.c.partner_id))
    awaited = conn.execute(
        select(messages.c.partner_id, func.count(), func.min(messages.c.updated_at))
        .where(messages.c.status == "awaiting-mdn", messages.c.direction == "outbound")
        .group_by(messages.c.partner_id))
    return ([(p, "sent", n, now - oldest) for p, n, oldest in owed]
            + [(p, "received", n, now - oldest) for p, n, oldest in awaited])


async def refresh_pending_mdns(db, now: float) -> None:
    pending = await db.run(thd_pending_mdns, now=now)
    metrics.AS2_PENDING_MDNS.clear()
    metrics.AS2_PENDING_MDN_AGE.clear()
    for partner_id, direction, n, age in pending:
        metrics.AS2_PENDING_MDNS.labels(partner_id, direction).set(n)
        metrics.AS2_PENDING_MDN_AGE.labels(partner_id, direction).set(max(0.0, age))
