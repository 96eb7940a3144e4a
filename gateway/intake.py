"""Recording a received payload: one transaction stores the message and queues its processing.

Every transport (AS2, SFTP, an operator's file drop) ends here once the payload is archived, and
acknowledges the partner only after this commit.
"""

from __future__ import annotations

from gateway.store import jobs, messages


def thd_record_inbound(conn, *, partner_id: str, transport: str, message_id: str, sha256: str,
                       size: int, actor: str, now: float, content_type: str | None = None,
                       filename: str | None = None, headers: dict | None = None,
                       mic: str | None = None) -> tuple[str, bool]:
    """Returns (message id, created). A duplicate (same partner and Message-ID) is not queued."""
    id, created = messages.thd_create(
        conn, direction="inbound", transport=transport, partner_id=partner_id,
        message_id=message_id, status="received", actor=actor, now=now, headers=headers,
        content_type=content_type, filename=filename, size=size, sha256=sha256,
        payload_sha256=sha256, mic=mic)
    if created:
        jobs.thd_enqueue(conn, "process", {"message": id}, now=now, message_id=id,
                         dedupe_key=f"process:{id}")
    return id, created
