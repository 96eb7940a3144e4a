"""The customs view of a shipment: frozen dataclasses built from internal JSON.

Internal JSON accepted by :func:`load_consignment` (an order or ship notice; unknown keys are
ignored, ``?`` marks optional keys)::

    {
      "id": "SO-1001",                      # order or shipment id, names every finding
      "date": "2026-07-15",                 # shipment (export) date, picks exchange rates
      "incoterm": "DDP",                    # DDP | DAP | DDU | ...
      "destination": "DE",                  # ISO 3166 alpha-2 country of destination
      "currency": "USD",                    # ISO 4217 currency of unit prices
      "consignor": {"name": "", "street": "", "city": "", "postcode": "",
                    "country": "CN", "phone": ""},
      "consignee": {... same keys ...},
      "lines": [{"sku": "MUG-01", "qty": 2, "unit_price": "9.90",
                 "description?": "overrides the product master's description"}],
      "ioss?": "IM2760000742",              # or a list; absent: the seller's; null: none
      "procedure_codes?": ["C07", "F48"],   # EU additional procedure codes (H7)
      "entry_type?": "11",                  # US entry type; default chosen from the value
      "waybill?": "LP00123456789CN",        # carrier's parcel number
      "packages?": 1,
      "gross_weight_kg?": "0.8",            # default: sum of the product net weights
      "freight?": "0",                      # in "currency"
      "transport?": "air"                   # air | sea | rail | road | post
    }

Prices and quantities may be JSON numbers or decimal strings. Structural faults (not an object,
a malformed number, an unknown SKU, control characters, lone surrogates and other text no filing
can carry, absurd sizes) raise InputError naming the consignment and the JSON path; missing party fields are left empty for the rules to report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from types import MappingProxyType

from gateway.customs.products import Product
from gateway.customs.text import text_problem

MAX_TEXT = 4096
MAX_LINES = 999
# Beyond this a value is a typo or an attack, and the CEB decimals (19 digits) would overflow.
MAX_AMOUNT = Decimal(10) ** 12
PARTY_FIELDS = ("name", "street", "city", "postcode", "country", "phone")


class InputError(ValueError):
    """Input that cannot be read as a consignment; ``where`` is a JSON path."""

    def __init__(self, consignment: str, where: str, message: str):
        self.consignment, self.where = consignment, where
        super().__init__(f"consignment {consignment}: {where}: {message}")


@dataclass(frozen=True)
class Party:
    name: str = ""
    street: str = ""
    city: str = ""
    postcode: str = ""
    country: str = ""
    phone: str = ""


@dataclass(frozen=True)
class Identities:
    """The seller's registrations; ``cn`` holds the China declaration profile (see ceb.py)."""

    eori: str = ""
    ioss: str = ""
    us_importer: str = ""
    cn: Mapping = field(default_factory=dict)


@dataclass(frozen=True)
class Line:
    number: int
    sku: str
    qty: Decimal
    unit_price: Decimal
    description: str
    product: Product

    @property
    def value(self) -> Decimal:
        return self.qty * self.unit_price


@dataclass(frozen=True)
class Consignment:
    id: str
    date: dt.date
    incoterm: str
    destination: str
    currency: str
    consignor: Party
    consignee: Party
    lines: tuple[Line, ...]
    identities: Identities
    ioss: tuple[str, ...] = ()
    procedure_codes: tuple[str, ...] = ()
    entry_type: str = ""
    waybill: str = ""
    packages: int = 1
    gross_weight_kg: Decimal | None = None
    freight: Decimal = Decimal(0)
    transport: str = "air"

    @property
    def value(self) -> Decimal:
        return sum((line.value for line in self.lines), Decimal(0))

    @property
    def net_weight_kg(self) -> Decimal:
        return sum((line.qty * line.product.weight_kg for line in self.lines), Decimal(0))


def _check_texts(node, where: str) -> None:
    """Every text in a nested mapping (the China profile) can be filed."""
    if isinstance(node, dict):
        for key, value in node.items():
            _check_texts(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _check_texts(value, f"{where}[{i}]")
    elif isinstance(node, str) and (problem := text_problem(node)):
        raise InputError("-", where, problem)


def load_identities(doc) -> Identities:
    """The seller's identities from a dict (YAML/JSON): eori, ioss, us_importer, cn."""
    if not isinstance(doc, dict):
        raise InputError("-", "identities", "expected an object")
    cn = doc.get("cn") or {}
    if not isinstance(cn, dict):
        raise InputError("-", "identities.cn", "expected an object")
    _check_texts({k: doc.get(k) for k in ("eori", "ioss", "us_importer", "cn")}, "identities")
    fields = {k: str(doc.get(k) or "").strip().upper() for k in ("eori", "ioss", "us_importer")}
    return Identities(cn=MappingProxyType(dict(cn)), **fields)


class _Reader:
    """Reads one document, naming the consignment and path in every error."""

    def __init__(self, doc_id: str):
        self.id = doc_id

    def fail(self, where: str, message: str):
        raise InputError(self.id, where, message)

    def text(self, value, where: str, required: bool = False) -> str:
        if value is None:
            value = ""
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.fail(where, f"expected text, got {type(value).__name__}")
        value = str(value).strip()
        if len(value) > MAX_TEXT:
            self.fail(where, f"text of {len(value)} characters exceeds {MAX_TEXT}")
        problem = text_problem(value)
        if problem:
            self.fail(where, problem)
        if required and not value:
            self.fail(where, "missing")
        return value

    def amount(self, value, where: str, default: Decimal | None = None) -> Decimal:
        if value is None and default is not None:
            return default
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.fail(where, f"expected a number, got {value!r:.40}")
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            self.fail(where, f"not a number: {str(value)!r:.40}")
        if not number.is_finite() or number < 0 or number >= MAX_AMOUNT:
            self.fail(where, f"out of range: {str(value)!r:.40}")
        return number

    def party(self, value, where: str) -> Party:
        if value is None:
            value = {}
        if not isinstance(value, dict):
            self.fail(where, "expected an object")
        fields = {k: self.text(value.get(k), f"{where}.{k}") for k in PARTY_FIELDS}
        fields["country"] = fields["country"].upper()
        return Party(**fields)

    def codes(self, value, where: str) -> tuple[str, ...]:
        items = value if isinstance(value, list) else [] if value is None else [value]
        return tuple(self.text(v, f"{where}[{i}]").upper() for i, v in enumerate(items))


def load_consignment(doc, products: dict[str, Product], identities: Identities) -> Consignment:
    """Build a Consignment from internal JSON (a dict) and the seller's product master."""
    if not isinstance(doc, dict):
        raise InputError("?", "$", "expected a JSON object")
    r = _Reader("?")
    r.id = r.text(doc.get("id"), "id", required=True)
    raw_date = r.text(doc.get("date"), "date", required=True)
    try:
        date = dt.date.fromisoformat(raw_date)
    except ValueError:
        r.fail("date", f"not an ISO date: {raw_date!r:.40}")
    raw_lines = doc.get("lines")
    if not isinstance(raw_lines, list) or not raw_lines:
        r.fail("lines", "expected a non-empty list")
    if len(raw_lines) > MAX_LINES:
        r.fail("lines", f"{len(raw_lines)} lines exceed {MAX_LINES}")
    lines = []
    for n, raw in enumerate(raw_lines, 1):
        where = f"lines[{n - 1}]"
        if not isinstance(raw, dict):
            r.fail(where, "expected an object")
        sku = r.text(raw.get("sku"), f"{where}.sku", required=True)
        product = products.get(sku)
        if product is None:
            r.fail(f"{where}.sku", f"SKU {sku!r:.40} is not in the product master")
        qty = r.amount(raw.get("qty"), f"{where}.qty")
        if raw.get("unit_price") is None and product.currency != doc.get("currency"):
            # The master's value would silently change currency; make the sender say it.
            r.fail(f"{where}.unit_price", f"missing, and the product master's value is in "
                   f"{product.currency}, not {str(doc.get('currency'))[:10]}")
        price = r.amount(raw.get("unit_price"), f"{where}.unit_price", product.customs_value)
        text = r.text(raw.get("description"), f"{where}.description") or product.description
        lines.append(Line(n, sku, qty, price, text, product))
    # Absent means the seller's IOSS number; an explicit null or [] declares none (DAP sales).
    default = (identities.ioss,) if identities.ioss else ()
    ioss = r.codes(doc["ioss"], "ioss") if "ioss" in doc else default
    packages = r.amount(doc.get("packages"), "packages", Decimal(1))
    if packages != packages.to_integral_value() or packages < 1:
        r.fail("packages", "expected a whole number of at least 1")
    weight = doc.get("gross_weight_kg")
    return Consignment(
        id=r.id,
        date=date,
        incoterm=r.text(doc.get("incoterm"), "incoterm").upper(),
        destination=r.text(doc.get("destination"), "destination").upper(),
        currency=r.text(doc.get("currency"), "currency", required=True).upper(),
        consignor=r.party(doc.get("consignor"), "consignor"),
        consignee=r.party(doc.get("consignee"), "consignee"),
        lines=tuple(lines),
        identities=identities,
        ioss=tuple(dict.fromkeys(ioss)),
        procedure_codes=r.codes(doc.get("procedure_codes"), "procedure_codes"),
        entry_type=r.text(doc.get("entry_type"), "entry_type"),
        waybill=r.text(doc.get("waybill"), "waybill"),
        packages=int(packages),
        gross_weight_kg=None if weight is None else r.amount(weight, "gross_weight_kg"),
        freight=r.amount(doc.get("freight"), "freight", Decimal(0)),
        transport=r.text(doc.get("transport"), "transport").lower() or "air",
    )
