"""Acknowledgment tracking: each functional group we send awaits the partner's 997/999."""

from __future__ import annotations

from sqlalchemy import func, select, update

from gateway.store import messages
from gateway.store.schema import acks_expected

# AK901/IK901 (group status) -> what it means for the group we sent.
OUTCOMES = {"A": "accepted", "E": "accepted", "P": "partial", "R": "rejected", "M": "rejected",
            "W": "rejected", "X": "rejected"}


def thd_expect(conn, partner_id: str, groups: list[tuple[str, int]], message_id: str, *,
               now: float) -> None:
    """Remember the (functional id, GS06) of each group in an outbound message."""
    conn.execute(acks_expected.insert(), [
        dict(partner_id=partner_id, group_control=str(control), functional_id=fid,
             message_id=message_id, status="awaiting", created_at=now, updated_at=now)
        for fid, control in groups])


def thd_received(conn, partner_id: str, group_control: str, group_status: str, *, actor: str,
                 now: float) -> tuple[str, str] | None:
    """Apply a 997/999's verdict (AK102, AK901) to the group it answers; (message id,
    outcome), or None when we sent no such group to this partner."""
    key = (acks_expected.c.partner_id == partner_id,
           acks_expected.c.group_control == str(int(group_control)))
    row = conn.execute(select(acks_expected).where(*key)).first()
    if row is None:
        return None
    outcome = OUTCOMES.get(group_status, "rejected")
    conn.execute(update(acks_expected).where(*key).values(status=outcome, updated_at=now))
    messages.thd_event(conn, row.message_id, f"ack-{outcome}", actor=actor, now=now,
                       kind="status", detail=f"functional acknowledgment of group "
                                             f"{row.functional_id} {group_control}: {group_status}")
    return row.message_id, outcome


def thd_awaiting(conn) -> list[tuple[str, float]]:
    """(partner, sent at) of every group still awaiting its acknowledgment."""
    return [tuple(r) for r in conn.execute(
        select(acks_expected.c.partner_id, acks_expected.c.created_at)
        .where(acks_expected.c.status == "awaiting"))]


def thd_pending_counts(conn) -> dict[str, int]:
    return dict(conn.execute(select(acks_expected.c.partner_id, func.count())
                             .where(acks_expected.c.status == "awaiting")
                             .group_by(acks_expected.c.partner_id)).all())
