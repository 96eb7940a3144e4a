"""Messages in and out, their status history and the audit trail, and counters."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence

from sqlalchemy import bindparam, select, update

from gateway.store.schema import counters, events, messages
from gateway.store.sql import insert_ignore, insert_ignore_for, prepared

# Built once: every message passes here several times.
INSERT_EVENT = events.insert()
UPDATE_MESSAGE = update(messages).where(messages.c.id == bindparam("message_key"))


@prepared
def insert_message(dialect_name: str):
    return (insert_ignore_for(dialect_name, messages, ["partner_id", "direction", "message_id"])
            .returning(messages.c.id))


def thd_create(conn, *, direction: str, transport: str, partner_id: str, message_id: str,
               status: str, actor: str, now: float, headers: dict | None = None,
               **fields) -> tuple[str, bool]:
    """Insert a message with its first event. Returns (id, created); a duplicate returns the
    existing id and False so the caller can answer as before without processing again."""
    new_id = str(uuid.uuid4())
    row = dict(id=new_id, direction=direction, transport=transport, partner_id=partner_id,
               message_id=message_id, status=status, created_at=now, updated_at=now,
               headers=json.dumps(headers) if headers is not None else None, **fields)
    inserted = conn.execute(insert_message(conn), row).scalar()
    if inserted is None:
        existing = conn.execute(select(messages.c.id).where(
            messages.c.partner_id == partner_id, messages.c.direction == direction,
            messages.c.message_id == message_id)).scalar_one()
        thd_event(conn, existing, "duplicate", actor=actor, now=now, kind="status")
        return existing, False
    thd_event(conn, new_id, status, actor=actor, now=now, kind="status")
    return new_id, True


def thd_set_status(conn, id: str, status: str, *, actor: str, now: float,
                   detail: str | None = None, error: str | None = None, **fields) -> None:
    values = dict(status=status, updated_at=now, **fields)
    if error is not None:
        values["error"] = error
    conn.execute(UPDATE_MESSAGE, dict(values, message_key=id))
    thd_event(conn, id, status, actor=actor, now=now, kind="status", detail=detail or error)


def thd_move(conn, id: str, status: str, *, source: Sequence[str], actor: str, now: float,
             since: float | None = None, detail: str | None = None, error: str | None = None,
             **fields) -> bool:
    """Set a message's status and its ``error`` (None clears the last one) if it is one of
    ``source`` (and, with ``since``, has not changed since that time), with its event; whether
    it moved. A step that finds the message moved on by another (an MDN, a timeout, a resend)
    changes nothing."""
    query = update(messages).where(messages.c.id == id,
                                         messages.c.status.in_(source))
    if since is not None:
        query = query.where(messages.c.updated_at == since)
    values = dict(status=status, updated_at=now, error=error, **fields)
    if conn.execute(query.values(**values)).rowcount != 1:
        return False
    thd_event(conn, id, status, actor=actor, now=now, kind="status", detail=detail or error)
    return True


def thd_event(conn, message_id: str | None, status: str | None, *, actor: str, now: float,
              kind: str = "operator", detail: str | None = None) -> None:
    conn.execute(INSERT_EVENT, dict(at=now, message_id=message_id, kind=kind, status=status,
                                    actor=actor, detail=detail))


def thd_get(conn, id: str) -> dict | None:
    """A message with its status history, by our id, a unique id prefix or its Message-ID."""
    row = conn.execute(select(messages).where(messages.c.id == id)).first()
    if row is None:
        found = conn.execute(select(messages).where(
            (messages.c.id.startswith(id)) | (messages.c.message_id == id)).limit(2)).all()
        row = found[0] if len(found) == 1 else None
    if row is None:
        return None
    out = dict(row._mapping)
    out["headers"] = json.loads(out["headers"]) if out["headers"] else {}
    out["events"] = [dict(e._mapping) for e in conn.execute(
        select(events).where(events.c.message_id == out["id"]).order_by(events.c.id))]
    return out


def thd_list(conn, *, partner_id: str | None = None, status: str | None = None,
             direction: str | None = None, message_id: str | None = None,
             limit: int = 50) -> list[dict]:
    query = select(messages).order_by(messages.c.created_at.desc()).limit(limit)
    for column, value in ((messages.c.partner_id, partner_id), (messages.c.status, status),
                          (messages.c.direction, direction), (messages.c.message_id, message_id)):
        if value:
            query = query.where(column == value)
    return [dict(r._mapping) for r in conn.execute(query)]


def thd_next_counter(conn, scope: str, name: str, *, count: int = 1, start: int = 1,
                     wrap: int = 999_999_999) -> int:
    """First of ``count`` consecutive values of a persistent counter (X12 control numbers),
    starting again at ``start`` rather than passing ``wrap``."""
    conn.execute(insert_ignore(conn, counters, ["scope", "name"])
                 .values(scope=scope, name=name, value=start - 1))
    current = conn.execute(select(counters.c.value).where(
        counters.c.scope == scope, counters.c.name == name).with_for_update()).scalar_one()
    first = start if current + count > wrap else current + 1
    conn.execute(update(counters).where(counters.c.scope == scope, counters.c.name == name)
                 .values(value=first + count - 1))
    return first
