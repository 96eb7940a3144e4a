"""Sending to a partner over AS2 and tracking its MDN.

States: queued -> sent -> awaiting-mdn (async) -> delivered | failed | mdn-timeout. A failed POST
is retried by the job queue with the same Message-ID, so the partner can de-duplicate.
"""

from __future__ import annotations

import logging
import time

from twisted.internet.threads import deferToThread

from gateway import metrics
from gateway.as2 import As2Error, mdn, mime, stats
from gateway.as2 import message as as2message
from gateway.as2.keys import Identity, encryption_certificate, partner_certificates, policy
from gateway.http import post
from gateway.runtime import Runtime
from gateway.store import jobs, messages
from gateway.store.jobs import Job
from gateway.worker import PermanentError

log = logging.getLogger(__name__)
SETTLED = ("delivered", "failed")


def thd_awaiting(conn, id: str, *, timeout_s: float, actor: str, now: float) -> None:
    messages.thd_set_status(conn, id, "awaiting-mdn", actor=actor, now=now)
    jobs.thd_enqueue(conn, "as2-mdn-timeout", {"message": id}, now=now, message_id=id,
                     dedupe_key=f"as2-mdn-timeout:{id}", run_after=now + timeout_s)


def settle(message: dict, receipt: mdn.ReceivedMdn) -> tuple[str, str | None]:
    """(status, error) an MDN gives a sent message."""
    if not receipt.ok:
        return "failed", f"partner answered {receipt.disposition}: {receipt.text.strip()[:500]}"
    if message["mic"] and not receipt.mic_matches(message["mic"]):
        return "failed", (f"MDN MIC {receipt.mic!r} does not match the MIC sent "
                          f"{message['mic']!r}: the partner did not receive what we sent")
    return "delivered", None


def _count_mdn(message: dict, status: str, disposition: str) -> None:
    """A partner's MDN, sync or async, settled ``message`` (sent at its ``updated_at``)."""
    partner_id = message["partner_id"]
    metrics.MESSAGES.labels(partner_id, "outbound", status).inc()
    metrics.MDNS.labels(partner_id, "received", "ok" if status == "delivered" else "failed").inc()
    metrics.MDN_LATENCY.labels(partner_id).observe(max(0.0, time.time() - message["updated_at"]))
    stats.count(partner_id, "outbound", disposition, message["size"])


async def apply_mdn(rt: Runtime, message: dict, receipt: mdn.ReceivedMdn) -> str:
    status, error = settle(message, receipt)
    await rt.db.run(messages.thd_set_status, message["id"], status, actor=rt.owner,
                    now=time.time(), error=error, disposition=receipt.disposition[:255],
                    detail=receipt.disposition)
    mic_mismatch = receipt.ok and status == "failed"
    _count_mdn(message, status,
               "mic-mismatch" if mic_mismatch else stats.disposition_label(receipt.disposition))
    return status


def parse_mdn(rt: Runtime, partner, headers: dict, body: bytes):
    """A partner's MDN, verified as its settings demand (on a worker thread: it is crypto)."""
    return deferToThread(mdn.parse, headers, body, partner_certificates(rt.config, partner),
                         require_signature=partner.as2.mdn.signed,
                         allow_expired=partner.as2.security.allow_expired_certs)


async def send(rt: Runtime, identity: Identity, job: Job) -> None:
    """The ``as2-send`` job."""
    message = await rt.db.run(messages.thd_get, job.payload["message"])
    if message["status"] in SETTLED + ("awaiting-mdn",):
        return
    partner = rt.partner(message["partner_id"])
    if partner.as2 is None or not partner.as2.url:
        raise PermanentError(f"partner {partner.id} has no AS2 URL to send to")
    sec = policy(partner)
    receipt_url = rt.config.as2.receipt_url or (
        f"http://{rt.config.as2.host}:{rt.config.as2.port}/mdn")
    payload = await deferToThread(rt.archive.read, message["payload_sha256"])
    out = await deferToThread(
        as2message.build, payload, message["content_type"], sec, identity.key, identity.cert,
        encryption_certificate(rt.config, partner), as2_from=identity.as2_id,
        as2_to=partner.as2.as2_id, filename=message["filename"], message_id=message["message_id"],
        async_mdn_url=receipt_url, domain=identity.domain)
    await rt.db.run(messages.thd_set_status, message["id"], "sent", actor=rt.owner,
                    now=time.time(), mic=out.mic, detail=f"POST {partner.as2.url}")
    ca = partner.as2.certificates.tls_ca
    code, body, headers = await post(partner.as2.url, out.headers, out.body,
                                     timeout=partner.as2.retry.timeout_s,
                                     tls_ca=rt.config.cert_path(ca) if ca else None)
    metrics.MESSAGE_BYTES.labels(partner.id, "outbound", "as2").inc(len(out.body))
    if not 200 <= code < 300:
        raise RuntimeError(f"{partner.as2.url} answered HTTP {code}: {body[:200]!r}")
    mode = partner.as2.mdn.mode
    if mode == "none":
        await rt.db.run(messages.thd_set_status, message["id"], "delivered", actor=rt.owner,
                        now=time.time(), detail=f"HTTP {code}, no MDN requested")
        metrics.MESSAGES.labels(partner.id, "outbound", "delivered").inc()
        stats.count(partner.id, "outbound", "no-mdn", message["size"])
    elif mode == "async":
        await rt.db.run(thd_awaiting, message["id"], timeout_s=partner.as2.mdn.timeout_s,
                        actor=rt.owner, now=time.time())
    else:
        message = await rt.db.run(messages.thd_get, message["id"])
        try:
            receipt = await parse_mdn(rt, partner, headers, body)
        except As2Error as e:
            await rt.db.run(messages.thd_set_status, message["id"], "failed", actor=rt.owner,
                            now=time.time(), error=f"the sync MDN could not be accepted: {e}")
            _count_mdn(message, "failed", "invalid-mdn")
            return
        await apply_mdn(rt, message, receipt)


async def receive_mdn(rt: Runtime, headers: dict, body: bytes) -> tuple[int, str]:
    """An async MDN POSTed to our receipt URL: (HTTP status, text)."""
    as2_from = mime.unquote(mime.field(headers, "AS2-From") or "")
    partner = rt.partners.by_as2_id(as2_from)
    if partner is None:
        metrics.REJECTED.labels("as2", "mdn-unknown-partner").inc()
        return 403, f"AS2-From {as2_from!r} is not a trading partner of this gateway"
    try:
        receipt = await parse_mdn(rt, partner, headers, body)
    except As2Error as e:
        metrics.REJECTED.labels("as2", "mdn-invalid").inc()
        log.warning("async MDN from %s refused: %s", partner.id, e)
        return 400, f"MDN refused: {e}"
    found = await rt.db.run(messages.thd_list, partner_id=partner.id, direction="outbound",
                            message_id=receipt.original_message_id, limit=1)
    if not found:
        metrics.REJECTED.labels("as2", "mdn-unknown-message").inc()
        return 404, f"no message {receipt.original_message_id!r} was sent to {partner.id}"
    message = found[0]
    if message["status"] in SETTLED:
        return 200, "MDN for a message already settled; ignored"
    await apply_mdn(rt, message, receipt)
    return 200, "MDN accepted"


async def mdn_timeout(rt: Runtime, job: Job) -> None:
    """The ``as2-mdn-timeout`` job: no async MDN arrived in time."""
    message = await rt.db.run(messages.thd_get, job.payload["message"])
    if message["status"] == "awaiting-mdn":
        await rt.db.run(messages.thd_set_status, message["id"], "mdn-timeout", actor=rt.owner,
                        now=time.time(), error="no MDN arrived within the partner's mdn.timeout_s")
        metrics.MESSAGES.labels(message["partner_id"], "outbound", "mdn-timeout").inc()
        stats.count(message["partner_id"], "outbound", "mdn-timeout", message["size"])
