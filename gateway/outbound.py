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
