"""Queueing a payload for a partner: the transport is chosen from the partner's config (or the
one a reply must go back by), and the sending job is queued with the message."""

from __future__ import annotations

import uuid

from gateway.partners import Partner
from gateway.store import jobs, messages

SEND_JOB = {"as2": "as2-send", "sftp-push": "sftp-push", "sftp": "sftp-put"}


def transport_for(partner: Partner, via: str | None = None) -> str | None:
    """``as2``, ``sftp-push`` (to the partner's server), ``sftp`` (into its outbound/ folder on
    ours) or None. ``via`` prefers the transport a message came in by, for its acknowledgment."""
    options = []
    if partner.as2 and partner.as2.url:
        options.append("as2")
    if partner.sftp and partner.sftp.push:
        options.append("sftp-push")
    if partner.sftp:
        options.append("sftp")
    preferred = [t for t in options if t.startswith(via)] if via else []
    return (preferred or options or [None])[0]


def thd_queue(conn, partner: Partner, *, sha256: str, size: int, filename: str | None,
              content_type: str, actor: str, now: float, domain: str,
              via: str | None = None) -> str:
    """Record an outbound message and queue its sending; returns the message id."""
    transport = transport_for(partner, via)
    if transport is None:
        raise ValueError(f"partner {partner.id} has no AS2 URL and no SFTP account to send by")
    id, _ = messages.thd_create(
        conn, direction="outbound", transport=transport.split("-")[0], partner_id=partner.id,
        message_id=f"<{uuid.uuid4().hex}@{domain}>", status="queued", actor=actor, now=now,
        sha256=sha256, payload_sha256=sha256, size=size, filename=filename,
        content_type=content_type)
    jobs.thd_enqueue(conn, SEND_JOB[transport], {"message": id}, now=now, message_id=id,
                     dedupe_key=f"send:{id}")
    return id


def thd_resend(conn, id: str, partners: dict[str, Partner], *, actor: str, now: float) -> int:
    """Operator action: send an outbound message again, with the same Message-ID."""
    message = messages.thd_get(conn, id)
    if message is None or message["direction"] != "outbound":
        raise ValueError(f"{id} is not a message we sent")
    partner = partners.get(message["partner_id"])
    if partner is None:
        raise ValueError(f"partner {message['partner_id']} is no longer configured")
    transport = transport_for(partner, message["transport"])
    attempt = 1 + sum(1 for e in message["events"] if e["status"] == "resend")
    messages.thd_set_status(conn, message["id"], "resend", actor=actor, now=now,
                            detail=f"resend #{attempt} by {actor} via {transport}")
    messages.thd_set_status(conn, message["id"], "queued", actor=actor, now=now)
    jobs.thd_enqueue(conn, SEND_JOB[transport], {"message": message["id"]}, now=now,
                     message_id=message["id"], dedupe_key=f"send:{message['id']}:{attempt}")
    return attempt
