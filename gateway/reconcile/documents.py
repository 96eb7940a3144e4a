"""Internal documents as the ledger reads them: JSON checked against mapping/schemas, then typed.

A document that does not fit its schema is refused with InvalidDocument, which names the document
and the JSON path of the field, so an operator can find it in the partner's X12.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from dataclasses import dataclass
from decimal import Decimal

import orjson

from gateway.documents import reference
from gateway.translate.schemas import is_valid, validator

DOC_TYPES = ("purchase_order", "po_acknowledgment", "ship_notice", "invoice", "remittance",
             "return", "credit_memo")
# The document's own date (its number is gateway.x12flow.reference): when it was issued.
DATE_FIELD = {"purchase_order": ("po_date",), "po_acknowledgment": ("date",),
              "ship_notice": ("issued_at",), "invoice": ("invoice_date",),
              "remittance": ("payment", "date"), "return": ("return_date",),
              "credit_memo": ("memo_date",)}
# The identifiers of a line's product_ids, and how people name them.
ITEM_IDS = {"buyer_part": "buyer part", "ean": "EAN", "upc": "UPC", "gtin": "GTIN",
            "case_code": "case code", "isbn": "ISBN", "vendor_part": "vendor part"}
# The kind of reference a document's own number is.
LINK_KIND = {"purchase_order": "po", "po_acknowledgment": "po", "ship_notice": "shipment",
             "invoice": "invoice", "remittance": "remittance", "return": "return",
             "credit_memo": "credit_memo"}
MAX_ERRORS_NAMED = 3


class InvalidDocument(ValueError):
    """A document the ledger cannot read; ``field`` is a JSON path such as ``lines[2].quantity``."""

    def __init__(self, document: str, field: str, message: str):
        self.document, self.field = document, field
        super().__init__(f"{document}: {field}: {message}")


@dataclass(frozen=True)
class Doc:
    id: str
    partner_id: str
    doc_type: str
    number: str            # its own reference: PO, shipment, invoice, payment, return, memo
    issued_at: float       # its own date as a Unix time (received_at when it has none)
    received_at: float
    body: dict


@functools.lru_cache(maxsize=4096)   # documents of a day share their dates
def timestamp(text: str, *, end_of_day: bool = False) -> float:
    """Unix time of an ISO date or date-time; a bare date is its start, or its last second."""
    if len(text) == 10:
        day = dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), dt.UTC)
        return (day + dt.timedelta(days=1, seconds=-1) if end_of_day else day).timestamp()
    moment = dt.datetime.fromisoformat(text)
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).timestamp()


def day(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).date().isoformat()


def amount(value) -> Decimal:
    # str() first: a JSON float such as 0.1 must become Decimal("0.1"), not its binary expansion.
    return Decimal(str(value))


def item_keys(line: dict) -> set[str]:
    return {f"{name}:{value}" for name, value in (line.get("product_ids") or {}).items()
            if value and name in ITEM_IDS}


class OrderLines:
    """An order's lines indexed by item identifier, to match the lines of other documents."""

    def __init__(self, lines: list[dict]):
        self.lines = lines
        self.positions: dict[str, list[int]] = {}
        for position, line in enumerate(lines):
            for key in item_keys(line):
                self.positions.setdefault(key, []).append(position)

    def find(self, line: dict) -> dict | None:
        """The order line an item refers to: one sharing an identifier, the same line number
        first, else the first in the order."""
        found = sorted({p for key in item_keys(line) for p in self.positions.get(key, ())})
        number = line.get("line_number")
        same = [p for p in found if self.lines[p]["line_number"] == number]
        return self.lines[(same or found)[0]] if found else None


def find_line(order_lines: list[dict], line: dict) -> dict | None:
    """The order line an item refers to (see :meth:`OrderLines.find`)."""
    return OrderLines(order_lines).find(line)


def item_label(line: dict) -> str:
    """How people name an item: its line number and first identifier."""
    ids = line.get("product_ids") or {}
    ident = next((f"{label} {ids[n]}" for n, label in ITEM_IDS.items() if ids.get(n)),
                 "no identifier")
    return f"line {line['line_number']} ({ident})" if line.get("line_number") else ident


def _path(parts) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out.lstrip(".") or "(document)"


def _explain(error) -> tuple[str, str]:
    """(field, message) in words an operator can act on."""
    path = list(error.absolute_path)
    if error.validator == "required":
        missing = next(n for n in error.validator_value if n not in error.instance)
        return _path(path + [missing]), "is missing"
    if error.validator in ("pattern", "anyOf", "format", "type") and "description" in error.schema:
        wanted = error.schema["description"]
        first = wanted.split(" ", 1)[0]
        if len(first) == 1 or first[1:].islower():   # "A date" reads "a date"; "ISO ..." stays
            wanted = wanted[0].lower() + wanted[1:]
        if error.validator == "anyOf":
            return _path(path), f"expected {wanted}"
        return _path(path), f"{json.dumps(error.instance)[:40]} is not valid: expected {wanted}"
    return _path(path), error.message[:200]


def check(name: str, body, document: str) -> None:
    """Raise InvalidDocument for the first faults of ``body`` against schema ``name``."""
    if is_valid(body, name):   # the fast check; the reference validator only explains faults
        return
    # Unevaluated properties are mostly the echo of another error (a subschema that failed
    # evaluates nothing): named after the others.
    errors = sorted(validator(name).iter_errors(body),
                    key=lambda e: (e.validator == "unevaluatedProperties",
                                   [str(p) for p in e.absolute_path]))
    if errors:
        field, message = _explain(errors[0])
        others = [f"{f}: {m}" for f, m in map(_explain, errors[1:MAX_ERRORS_NAMED])]
        rest = len(errors) - MAX_ERRORS_NAMED
        if others:
            message += f" (also {'; '.join(others)}{f' and {rest} more' if rest > 0 else ''})"
        raise InvalidDocument(document, field, message)


def parse_json(text: str, document: str) -> dict:
    try:
        body = orjson.loads(text)   # refuses NaN and Infinity, which JSON does not have
    except orjson.JSONDecodeError as e:
        raise InvalidDocument(document, "(document)", f"not valid JSON: {e}") from None
    if not isinstance(body, dict):
        raise InvalidDocument(document, "(document)", "must be a JSON object")
    return body


def read(row: dict) -> Doc:
    """A ``documents`` row (id, partner_id, doc_type, body, created_at) checked and typed."""
    doc_type, doc_id = row["doc_type"], row["id"]
    name = f"{doc_type} document {doc_id}"
    if doc_type not in DOC_TYPES:
        raise InvalidDocument(f"document {doc_id}", "doc_type",
                              f"{doc_type!r:.40} is not one the ledger keeps "
                              f"({', '.join(DOC_TYPES)})")
    body = parse_json(row["body"], name)
    check(doc_type, body, name)
    issued = body
    for key in DATE_FIELD[doc_type]:
        issued = issued.get(key) if isinstance(issued, dict) else None
    return Doc(id=doc_id, partner_id=row["partner_id"], doc_type=doc_type,
               number=reference(doc_type, body),
               issued_at=timestamp(issued) if issued else row["created_at"],
               received_at=row["created_at"], body=body)


def links(doc: Doc) -> set[tuple[str, str]]:
    """The references that tie a document to others: (kind, value) with kind po, shipment,
    invoice, remittance, return or credit_memo."""
    body = doc.body
    found = {(LINK_KIND[doc.doc_type], doc.number)}
    for kind, field in (("po", "po_number"), ("invoice", "invoice_number"),
                        ("shipment", "shipment_id"), ("return", "return_id")):
        if body.get(field):
            found.add((kind, body[field]))
    for order in body.get("orders", ()):
        found.add(("po", order["po_number"]))
    for paid in body.get("remittances", ()):
        found.add(("invoice", paid["invoice_number"]))
    return found
