"""Receiving an AS2 message: record it, unwrap it, and answer with the MDN RFC 4130 prescribes.

The raw body is committed to the archive and the message to the store before anything is
answered. Unwrapping happens inline so a sync MDN can carry the result; a delayed ``as2-unwrap``
job, queued with the record, finishes the work if this process dies in between. Opening the
message and signing the MDN run in the helper processes (``rt.helpers``, gateway.as2.offload).
A payload that processing would only route as it is gets routed in the transaction that
accepts it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives.serialization import Encoding
from twisted.internet.threads import deferToThread

from gateway import metrics, process
from gateway.as2 import As2Error, mdn, mime, offload, stats
from gateway.as2 import message as as2message
from gateway.as2.keys import Identity, partner_certificates, policy
from gateway.http import post
from gateway.partners import Partner
from gateway.runtime import Runtime
from gateway.store import jobs, messages
from gateway.store.jobs import Job
from gateway.worker import PermanentError

log = logging.getLogger(__name__)
RECOVER_AFTER_S = 300
UNKNOWN = "unknown"   # partner_id under which messages from unknown AS2 ids are recorded


@dataclass(frozen=True)
class Answer:
    code: int
    mdn: mdn.OutgoingMdn | None = None
    text: str = ""


def thd_record(conn, *, partner_id: str, message_id: str, headers: dict, sha256: str, size: int,
               actor: str, now: float) -> tuple[str, bool, str]:
    """Record a received message and its recovery job; (id, created, current status)."""
    id, created = messages.thd_create(
        conn, direction="inbound", transport="as2", partner_id=partner_id, message_id=message_id,
        status="received", actor=actor, now=now, headers=headers, sha256=sha256, size=size,
        content_type=mime.field(headers, "Content-Type"))
    if not created:
        return id, False, messages.thd_get(conn, id)["status"]
    jobs.thd_enqueue(conn, "as2-unwrap", {"message": id}, now=now, message_id=id,
                     dedupe_key=f"as2-unwrap:{id}", run_after=now + RECOVER_AFTER_S)
    return id, True, "received"


def thd_settle(conn, id: str, *, status: str, disposition: str, actor: str, now: float,
               async_mdn: bool, error: str | None = None, route_as_is: Partner | None = None,
               **fields) -> bool:
    """The unwrap's outcome, with the jobs it causes, in one transaction; whether it queued any.
    The recovery job, no longer needed, is settled with it. An accepted payload is processed by
    a job, or routed here when `process.routed_as_is` says that is all processing would do
    (``route_as_is``: the partner)."""
    messages.thd_set_status(conn, id, status, actor=actor, now=now, error=error,
                            disposition=disposition, detail=disposition, **fields)
    jobs.thd_settle_pending(conn, "as2-unwrap", f"as2-unwrap:{id}", now=now)
    queued = False
    if status == "accepted" and route_as_is is not None:
        queued = bool(process.thd_record_raw(conn, {"id": id}, route_as_is, actor=actor, now=now))
    elif status == "accepted":
        jobs.thd_enqueue(conn, "process", {"message": id}, now=now, message_id=id,
                         dedupe_key=f"process:{id}")
        queued = True
    if async_mdn:
        jobs.thd_enqueue(conn, "as2-mdn", {"message": id}, now=now, message_id=id,
                         dedupe_key=f"as2-mdn:{id}")
        queued = True
    return queued


def _identify(rt: Runtime, identity: Identity, headers: dict) -> tuple[str, str | None]:
    """(partner id, problem): who sent this, or why we will not take it."""
    as2_from = mime.unquote(mime.field(headers, "AS2-From") or "")
    as2_to = mime.unquote(mime.field(headers, "AS2-To") or "")
    partner = rt.partners.by_as2_id(as2_from)
    if partner is None or not partner.enabled:
        return UNKNOWN, f"AS2-From {as2_from!r} is not a trading partner of this gateway"
    if as2_to != identity.as2_id:
        return partner.id, f"AS2-To {as2_to!r} is not this gateway ({identity.as2_id!r})"
    return partner.id, None


def _signers(rt: Runtime, partner: Partner) -> tuple[bytes, ...]:
    """The DER of the certificates that may sign the partner's messages."""
    return tuple(c.public_bytes(Encoding.DER) for c in partner_certificates(rt.config, partner))


async def unwrap_stored(rt: Runtime, identity: Identity, id: str,
                        message: dict | None = None) -> dict:
    """Unwrap a recorded message once; returns its row as settled (from ``message``, the row
    this process has just recorded, when the caller has it). Safe to call again (a no-op then)."""
    just_written = message is not None
    if message is None:
        message = await rt.db.run(messages.thd_get, id)
    if message["status"] != "received":
        return message
    headers = message["headers"]
    partner_id, problem = _identify(rt, identity, headers)
    request = as2message.mdn_request(headers)
    settle = dict(actor=rt.owner, async_mdn=bool(request and request.async_url))
    if problem:
        error, disposition = problem, "processed/error: unknown-trading-partner"
    else:
        partner = rt.partners.partners[partner_id]
        try:
            opened = await rt.helpers.run(offload.open_message, message["sha256"],
                                          message["headers"], _signers(rt, partner),
                                          policy(partner), just_written)
        except As2Error as e:
            error, disposition = str(e), f"processed/error: {e.disposition}"
        except Exception:
            log.exception("unwrapping AS2 message %s from %s failed", id, partner_id)
            error = "unexpected processing error; the gateway operator has the details"
            disposition = "processed/error: unexpected-processing-error"
        else:
            as_is = process.routed_as_is(partner, opened.payload_head)
            outcome = dict(status="accepted", disposition="processed", mic=opened.mic,
                           payload_sha256=opened.payload_sha256, filename=opened.filename,
                           content_type=opened.content_type)
            queued = await rt.db.run(thd_settle, id, now=time.time(), **outcome, **settle,
                                     route_as_is=partner if as_is else None)
            metrics.MESSAGES.labels(partner_id, "inbound", "accepted").inc()
            stats.count(partner_id, "inbound", "processed", message["size"])
            if queued:
                rt.wake_worker()
            settled = dict(message, **outcome)
            if as_is:
                settled["status"] = "routed"   # as thd_settle left it, after "accepted"
            return settled
    log.warning("AS2 message %s (%s) from %s rejected: %s", id, message["message_id"],
                partner_id, error)
    outcome = dict(status="rejected", disposition=disposition, error=error)
    if await rt.db.run(thd_settle, id, now=time.time(), **outcome, **settle):
        rt.wake_worker()
    metrics.MESSAGES.labels(partner_id, "inbound", "rejected").inc()
    stats.count(partner_id, "inbound", stats.disposition_label(disposition), message["size"])
    metrics.REJECTED.labels("as2", disposition.rpartition(" ")[2]).inc()
    return dict(message, **outcome)


async def build_mdn(rt: Runtime, message: dict, *, duplicate: bool = False):
    """The MDN for a stored message, or None when the sender asked for none."""
    headers = message["headers"]
    if as2message.mdn_request(headers) is None:
        return None
    kind, _, modifier = (message["disposition"] or "").partition("/")
    level, _, code = modifier.partition(":")
    error = code.strip() if level == "error" else None
    warning = "duplicate-document" if duplicate and not error else None
    explanation = message["error"] or ("This Message-ID was received before; it is not processed "
                                      "again." if warning else "")
    return await rt.helpers.run(offload.sign_receipt, headers, message["mic"], error, warning,
                                explanation)


async def receive(rt: Runtime, identity: Identity, headers: dict, spool) -> Answer:
    """Take in one POSTed message whose body is in ``spool``; the answer for the HTTP response."""
    sha256, size = await deferToThread(spool.commit)
    message_id = mime.field(headers, "Message-ID")
    if not message_id:
        metrics.REJECTED.labels("as2", "no-message-id").inc()
        return Answer(400, text="an AS2 message needs a Message-ID header (RFC 4130 section 5)")
    partner_id, _ = _identify(rt, identity, headers)
    message_id = message_id.strip()
    id, created, status = await rt.db.run(
        thd_record, partner_id=partner_id, message_id=message_id, headers=headers,
        sha256=sha256, size=size, actor=rt.owner, now=time.time())
    metrics.MESSAGE_BYTES.labels(partner_id, "inbound", "as2").inc(size)
    duplicate = not created and status != "received"
    if duplicate:
        metrics.MESSAGES.labels(partner_id, "inbound", "duplicate").inc()
        stats.count(partner_id, "inbound", "duplicate-document", size)
        message = await rt.db.run(messages.thd_get, id)
    else:
        metrics.MESSAGES.labels(partner_id, "inbound", "received").inc()
        # Just recorded: the row is what was written (a resend of one never unwrapped is read).
        recorded = dict(id=id, partner_id=partner_id, message_id=message_id, status=status,
                        headers=headers, sha256=sha256, size=size, disposition=None, mic=None,
                        error=None) if created else None
        message = await unwrap_stored(rt, identity, id, recorded)
    request = as2message.mdn_request(headers)
    if request is None:
        return Answer(200)
    if request.async_url:
        if duplicate:
            await rt.db.run(jobs.thd_enqueue, "as2-mdn", {"message": id, "duplicate": True},
                            now=time.time(), message_id=id)
            rt.wake_worker()
        return Answer(200)
    receipt = await build_mdn(rt, message, duplicate=duplicate)
    _count_mdn(message)
    return Answer(200, receipt)


def _count_mdn(message: dict) -> None:
    outcome = "failed" if "/error" in (message["disposition"] or "") else "ok"
    metrics.MDNS.labels(message["partner_id"], "sent", outcome).inc()


async def recover(rt: Runtime, identity: Identity, job: Job) -> None:
    """The ``as2-unwrap`` job: finish a message whose receiver died before unwrapping it."""
    await unwrap_stored(rt, identity, job.payload["message"])


async def send_async_mdn(rt: Runtime, job: Job) -> None:
    """The ``as2-mdn`` job: POST the MDN to the Receipt-Delivery-Option URL, retried on failure."""
    message = await rt.db.run(messages.thd_get, job.payload["message"])
    receipt = await build_mdn(rt, message, duplicate=job.payload.get("duplicate", False))
    url = as2message.mdn_request(message["headers"]).async_url
    if not url.startswith(("http://", "https://")):
        raise PermanentError(f"Receipt-Delivery-Option {url!r} is not an HTTP(S) URL")
    code, body, _ = await post(url, receipt.headers, receipt.body, timeout=120)
    if not 200 <= code < 300:
        raise RuntimeError(f"async MDN to {url} answered HTTP {code}: {body[:200]!r}")
    _count_mdn(message)
    await rt.db.run(messages.thd_event, message["id"], "mdn-sent", actor=rt.owner,
                    now=time.time(), kind="status", detail=f"async MDN to {url}")
