"""Translated documents (internal JSON) as stored: one row per accepted business transaction set."""

from __future__ import annotations

from sqlalchemy import select

from gateway.store.schema import documents


def thd_document(conn, id: str) -> dict | None:
    row = conn.execute(select(documents).where(documents.c.id == id)).first()
    return dict(row._mapping) if row else None


def thd_for_message(conn, message_id: str) -> list[dict]:
    return [dict(r._mapping) for r in conn.execute(
        select(documents).where(documents.c.message_id == message_id)
        .order_by(documents.c.position))]
