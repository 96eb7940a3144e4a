"""Sending to a partner over AS2 and tracking its MDN.

States: queued -> sent -> awaiting-mdn (async) -> delivered | failed | mdn-timeout. A failed POST
is retried by the job queue with the same Message-ID, so the partner can de-duplicate. Every
step moves a message only from the states it expects: an async MDN may settle a message before
the POST that sent it has returned, and a later step must not undo that.
"""

from __future__ import annotations

import dataclasses
import logging
import time

from twisted.internet.threads import deferToThread

from gateway import metrics
from gateway.as2 import As2Error, UnexpectedProcessingError, cms, mdn, mime, stats
from gateway.as2 import message as as2message
from gateway.as2.keys import Identity, encryption_certificate, partner_certificates, policy
from gateway.http import post
from gateway.partners import Partner
from gateway.runtime import Runtime
from gateway.store import jobs, messages
from gateway.store.jobs import Job
from gateway.worker import PermanentError

log = logging.getLogger(__name__)
SETTLED = ("delivered", "failed")
# What an MDN may still settle: a late MDN, after the timeout or an operator's resend, counts.
UNSETTLED = ("queued", "sent", "awaiting-mdn", "mdn-timeout")


def thd_awaiting(conn, id: str, *, send_job: int, timeout_s: float, actor: str,
                 now: float) -> bool:
    """``sent`` -> ``awaiting-mdn`` with its timeout job, unless the MDN has already come."""
    if not messages.thd_move(conn, id, "awaiting-mdn", source=("sent",), actor=actor, now=now):
        return False
    # One timeout per send (a resend waits again); it applies to this wait only.
    jobs.thd_enqueue(conn, "as2-mdn-timeout", {"message": id, "since": now}, now=now,
                     message_id=id, dedupe_key=f"as2-mdn-timeout:{id}:{send_job}",
                     run_after=now + timeout_s)
    return True


def recomputed_mic(rt: Runtime, partner: Partner, message: dict, alg: str) -> str:
    """The MIC of a sent message with digest ``alg``: its payload wrapped again from the archive
    with the partner's settings. What a MIC covers is the same each time; the signature and
    the encryption, which are not, do not enter it."""
    sec = dataclasses.replace(policy(partner), mdn_sign_alg=alg, mdn_mode="none")
    return _wrap(rt, Identity.load(rt.config), partner, message, sec).mic


async def mic_problem(rt: Runtime, partner: Partner, message: dict,
                      receipt: mdn.ReceivedMdn) -> str | None:
    """Why the MDN's Received-Content-MIC does not confirm what we sent; None when it does.

    RFC 4130 lets the receiver choose among the algorithms we asked for and the MIC names the
    one it chose; some products use the signature's digest instead. Any algorithm we support
    is checked: one other than we computed at sending is computed again."""
    sent = message["mic"]
    if not sent:
        return None
    if receipt.mic is None:
        return "MDN has no Received-Content-MIC: the partner did not confirm what it received"
    try:
        alg = cms.digest_name(receipt.mic_alg)
    except UnexpectedProcessingError as e:
        return f"MDN MIC {receipt.mic!r} cannot be checked: {e}"
    if alg == cms.digest_name(mdn.mic_parts(sent)[1]):
        expected, how = sent, "sent"
    else:
        expected = await deferToThread(recomputed_mic, rt, partner, message, alg)
        how = f"of what we sent, computed again by {alg} from the archived payload,"
    if not receipt.mic_matches(expected):
        return (f"MDN MIC {receipt.mic!r} does not match the MIC {how} {expected!r}: "
                "the partner did not receive what we sent")
    return None


def _count_mdn(message: dict, status: str, disposition: str) -> None:
    """A partner's MDN, sync or async, settled ``message`` (sent at its ``updated_at``)."""
    partner_id = message["partner_id"]
    metrics.MESSAGES.labels(partner_id, "outbound", status).inc()
    metrics.MDNS.labels(partner_id, "received", "ok" if status == "delivered" else "failed").inc()
    metrics.MDN_LATENCY.labels(partner_id).observe(max(0.0, time.time() - message["updated_at"]))
    stats.count(partner_id, "outbound", disposition, message["size"])


async def apply_mdn(rt: Runtime, partner: Partner, message: dict,
                    receipt: mdn.ReceivedMdn) -> str | None:
    """Settle a sent message by the partner's MDN: its new status, None if it was settled
    already (another MDN came first)."""
    if not receipt.ok:
        status, disposition = "failed", stats.disposition_label(receipt.disposition)
        error = f"partner answered {receipt.disposition}: {receipt.text.strip()[:500]}"
    else:
        error = await mic_problem(rt, partner, message, receipt)
        status = "failed" if error else "delivered"
        disposition = "mic-mismatch" if error else stats.disposition_label(receipt.disposition)
    moved = await rt.db.run(messages.thd_move, message["id"], status, source=UNSETTLED,
                            actor=rt.owner, now=time.time(), error=error,
                            disposition=receipt.disposition[:255], detail=receipt.disposition)
    if not moved:
        return None
    _count_mdn(message, status, disposition)
    return status


def parse_mdn(rt: Runtime, partner, headers: dict, body: bytes):
    """A partner's MDN, verified as its settings demand (on a worker thread: it is crypto)."""
    return deferToThread(mdn.parse, headers, body, partner_certificates(rt.config, partner),
                         require_signature=partner.as2.mdn.signed,
                         allow_expired=partner.as2.security.allow_expired_certs)


def _wrap(rt: Runtime, identity: Identity, partner: Partner, message: dict,
          sec: as2message.SecurityPolicy) -> as2message.Outgoing:
    """A stored outbound message's payload wrapped for the partner (on a worker thread)."""
    receipt_url = rt.config.as2.receipt_url or (
        f"http://{rt.config.as2.host}:{rt.config.as2.port}/mdn")
    return as2message.build(
        rt.archive.read(message["payload_sha256"]), message["content_type"], sec, identity.key,
        identity.cert, encryption_certificate(rt.config, partner), as2_from=identity.as2_id,
        as2_to=partner.as2.as2_id, filename=message["filename"], message_id=message["message_id"],
        async_mdn_url=receipt_url, domain=identity.domain)


async def send(rt: Runtime, identity: Identity, job: Job) -> None:
    """The ``as2-send`` job."""
    message = await rt.db.run(messages.thd_get, job.payload["message"])
    if message["status"] not in ("queued", "sent"):   # settled, or sent by an earlier attempt
        return
    partner = rt.partner(message["partner_id"])
    if partner.as2 is None or not partner.as2.url:
        raise PermanentError(f"partner {partner.id} has no AS2 URL to send to")
    out = await deferToThread(_wrap, rt, identity, partner, message, policy(partner))
    # A retried attempt sends again; a message an MDN settled meanwhile is not sent again.
    sent = await rt.db.run(messages.thd_move, message["id"], "sent", source=("queued", "sent"),
                           actor=rt.owner, now=time.time(), mic=out.mic,
                           detail=f"POST {partner.as2.url}")
    if not sent:
        return
    ca = partner.as2.certificates.tls_ca
    code, body, headers = await post(partner.as2.url, out.headers, out.body,
                                     timeout=partner.as2.retry.timeout_s,
                                     tls_ca=rt.config.cert_path(ca) if ca else None)
    metrics.MESSAGE_BYTES.labels(partner.id, "outbound", "as2").inc(len(out.body))
    if not 200 <= code < 300:
        raise RuntimeError(f"{partner.as2.url} answered HTTP {code}: {body[:200]!r}")
    mode = partner.as2.mdn.mode
    if mode == "none":
        delivered = await rt.db.run(messages.thd_move, message["id"], "delivered", source=("sent",),
                                    actor=rt.owner, now=time.time(),
                                    detail=f"HTTP {code}, no MDN requested")
        if delivered:
            metrics.MESSAGES.labels(partner.id, "outbound", "delivered").inc()
            stats.count(partner.id, "outbound", "no-mdn", message["size"])
    elif mode == "async":
        await rt.db.run(thd_awaiting, message["id"], send_job=job.id,
                        timeout_s=partner.as2.mdn.timeout_s, actor=rt.owner, now=time.time())
    else:
        message = await rt.db.run(messages.thd_get, message["id"])
        try:
            receipt = await parse_mdn(rt, partner, headers, body)
        except As2Error as e:
            failed = await rt.db.run(messages.thd_move, message["id"], "failed", source=UNSETTLED,
                                     actor=rt.owner, now=time.time(),
                                     error=f"the sync MDN could not be accepted: {e}")
            if failed:
                _count_mdn(message, "failed", "invalid-mdn")
            return
        await apply_mdn(rt, partner, message, receipt)


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
    if message["status"] in SETTLED or await apply_mdn(rt, partner, message, receipt) is None:
        return 200, "MDN for a message already settled; ignored"
    return 200, "MDN accepted"


async def mdn_timeout(rt: Runtime, job: Job) -> None:
    """The ``as2-mdn-timeout`` job: no async MDN arrived in time for the wait it was queued
    with (a message settled or sent again since is left as it is)."""
    message = await rt.db.run(messages.thd_get, job.payload["message"])
    timed_out = await rt.db.run(messages.thd_move, message["id"], "mdn-timeout",
                                source=("awaiting-mdn",), since=job.payload.get("since"),
                                actor=rt.owner, now=time.time(), error="no MDN arrived within the partner's mdn.timeout_s")
    if timed_out:
        metrics.MESSAGES.labels(message["partner_id"], "outbound", "mdn-timeout").inc()
        stats.count(message["partner_id"], "outbound", "mdn-timeout", message["size"])
