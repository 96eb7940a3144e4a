"""Reconciliation test support: internal documents of one order's life, and a ledger to put
them through (the real store, with ``run`` answering in the calling thread); the fixtures
``db`` and ``books`` are re-exported by the reconcile conftest files."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from twisted.internet import defer
from twisted.python.failure import Failure

from gateway.reconcile import handler, inbox, ledger
from gateway.store import messages
from gateway.store.database import Database, upgrade
from gateway.store.schema import documents
from gateway.translate.schemas import SCHEMAS as SCHEMA_DIR

PARTNER = "amazon-us"


def ts(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


def example(name: str) -> dict:
    """The example in ``mapping/schemas/<name>.schema.json``: together they are one order's
    life, PO1001 for two lines, shipped, invoiced, paid, partly returned and credited."""
    schema = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))
    return schema["examples"][0]


ORDER, SHIP_NOTICE, INVOICE, REMITTANCE, RETURN, CREDIT_MEMO, FACTS = map(example, (
    "purchase_order", "ship_notice", "invoice", "remittance", "return", "credit_memo",
    "shipment_facts"))
# The SSCC-18 labels of the example packages, and a third with a valid check digit.
SSCC = ["000123456000000005", "000123456000000012", "000123456000000029"]

def doc(doc_type: str, **changes) -> dict:
    """A copy of the example document of a type with top-level fields changed (None removes)."""
    body = example(doc_type)
    for key, value in changes.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


class InlineDatabase(Database):
    """The real store; ``run`` answers at once in this thread so async code runs without a
    reactor."""

    def run(self, fn, *args, **kwargs):
        return defer.maybeDeferred(self.transaction, fn, *args, **kwargs)


def result(coroutine):
    """Run a coroutine whose awaits all fire at once; return its value or raise its error."""
    out = []
    defer.ensureDeferred(coroutine).addBoth(out.append)
    assert out, "the coroutine waited on something that never fired"
    if isinstance(out[0], Failure):
        out[0].raiseException()
    return out[0]


def _thd_store(conn, *, doc_id, partner_id, doc_type, body, now):
    message_id, _ = messages.thd_create(conn, direction="inbound", transport="file",
                                        partner_id=partner_id, message_id=f"m-{doc_id}",
                                        status="translated", actor="test", now=now)
    conn.execute(documents.insert().values(id=doc_id, message_id=message_id, position=0,
                                           partner_id=partner_id, doc_type=doc_type,
                                           reference=None, body=body, created_at=now))


class Books:
    """Stores documents as the translator would and books them through the handler."""

    def __init__(self, db: InlineDatabase, partner: str = PARTNER, settings=None):
        self.db, self.partner, self.settings = db, partner, settings

    def store(self, doc_type: str, body, *, received: str = "2026-07-01T00:00:00") -> str:
        doc_id = str(uuid.uuid4())
        text = body if isinstance(body, str) else json.dumps(body)
        self.db.transaction(_thd_store, doc_id=doc_id, partner_id=self.partner,
                            doc_type=doc_type, body=text, now=ts(received))
        return doc_id

    def apply(self, doc_id: str, *, now: str) -> dict:
        return result(handler.apply(self.db, doc_id, settings=self.settings, now=ts(now)))

    def book(self, doc_ids: list[str], *, now: str, take: int = 0) -> dict:
        """Book documents in one batch, with up to ``take`` more waiting in the inbox."""
        return self.db.transaction(inbox.thd_book, doc_ids, take=take, now=ts(now),
                                   settings=self.settings or {})

    def add(self, doc_type: str, body, *, now: str, received: str | None = None) -> str:
        doc_id = self.store(doc_type, body, received=received or now)
        self.apply(doc_id, now=now)
        return doc_id

    def sweep(self, now: str) -> int:
        return result(handler.sweep(self.db, ts(now), self.settings))

    def open(self) -> list[dict]:
        return self.db.transaction(ledger.thd_discrepancies, partner_id=self.partner)

    def all(self) -> list[dict]:
        return self.db.transaction(ledger.thd_discrepancies, partner_id=self.partner,
                                   statuses=())

    def open_types(self) -> list[str]:
        return sorted(d["type"] for d in self.open())


@pytest.fixture
def db(db_url):
    database = InlineDatabase(db_url)
    upgrade(database.engine)
    yield database
    database.engine.dispose()


@pytest.fixture
def books(db):
    return Books(db)
