"""Drafts the vendor's answers to an order: acknowledgment (855), ship notice (856), invoice (810).

From a received order and the shipment facts the vendor gives (shipment id, ship date, carrier,
packages with SSCC labels and contents), every other value comes from the order, so the drafts
pass the ledger's own checks: prices are the order's, nothing ships that was not ordered.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from stdnum import ean

from gateway.documents import party
from gateway.reconcile.documents import InvalidDocument, amount, check, find_line

FACTS = "shipment facts"


def _number(value: Decimal) -> int | float:
    """A JSON number for a quantity: whole quantities stay integers."""
    return int(value) if value == value.to_integral_value() else float(value)


def _item(line: dict) -> dict:
    return {k: line[k] for k in ("product_ids", "description") if k in line}


def _order_line(lines: list[dict], item: dict, where: str, po: str) -> dict:
    if "line_number" in item:
        match = next((o for o in lines if o["line_number"] == item["line_number"]), None)
        named = item.get("product_ids", {})
        ids = list(named)
        if match is not None and any(match["product_ids"].get(k) != named[k] for k in ids):
            raise InvalidDocument(FACTS, where, f"line {item['line_number']} of PO {po} is "
                                  f"not the item named by {', '.join(ids)}")
    else:
        match = find_line(lines, item)
    if match is None:
        raise InvalidDocument(FACTS, where, f"names no line of PO {po}")
    return match


def _packages(order: dict, facts: dict) -> tuple[list[dict], dict[str, Decimal]]:
    """The ship notice's packages and the quantity shipped per order line."""
    po, lines = order["po_number"], order["lines"]
    shipped: dict[str, Decimal] = defaultdict(Decimal)
    packages, labels = [], set()
    for c, package in enumerate(facts["packages"]):
        sscc = package["sscc"]
        if ean.calc_check_digit(sscc[:-1]) != sscc[-1]:
            raise InvalidDocument(FACTS, f"packages[{c}].sscc",
                                  f"{sscc} has a wrong check digit")
        if sscc in labels:
            raise InvalidDocument(FACTS, f"packages[{c}].sscc", f"{sscc} labels two packages")
        labels.add(sscc)
        contents = []
        for i, item in enumerate(package["items"]):
            line = _order_line(lines, item, f"packages[{c}].items[{i}]", po)
            qty = amount(item["quantity_shipped"])
            shipped[line["line_number"]] += qty
            contents.append(dict(_item(line), line_number=line["line_number"],
                                 quantity_shipped=item["quantity_shipped"], unit=line["unit"]))
        packages.append({"sscc": sscc, "items": contents})
    for line in lines:
        ordered = amount(line["quantity"])
        if shipped[line["line_number"]] > ordered:
            raise InvalidDocument(FACTS, "packages", f"line {line['line_number']} of PO {po}: "
                                  f"{_number(shipped[line['line_number']])} would ship, "
                                  f"{_number(ordered)} ordered")
    return packages, shipped


def _parties(order: dict, *roles: str) -> list[dict]:
    return [found for found in (party(order, role) for role in roles) if found is not None]


def draft(order: dict, facts: dict, *, now: dt.datetime | None = None
          ) -> tuple[dict, dict, dict]:
    """(po_acknowledgment, ship_notice, invoice) for one shipment against ``order``; raises
    InvalidDocument naming the field when the order or the facts do not fit."""
    check("purchase_order", order, f"purchase order {str(order.get('po_number', '?'))[:64]}")
    check("shipment_facts", facts, FACTS)
    now = now or dt.datetime.now(dt.UTC)
    po, lines, currency = order["po_number"], order["lines"], order["currency"]
    packages, shipped = _packages(order, facts)

    # Per order line the quantity that ships (accepted) and, when short, the rest (rejected).
    ack_lines = []
    for line in lines:
        ordered, sent = amount(line["quantity"]), shipped[line["line_number"]]
        common = dict(_item(line), line_number=line["line_number"],
                      quantity_ordered=line["quantity"], unit=line["unit"],
                      unit_price=line["unit_price"])
        ack_lines.append(dict(common, status="accepted", quantity=_number(sent)))
        if ordered > sent:
            ack_lines.append(dict(common, status="rejected", quantity=_number(ordered - sent)))
    complete = all(a["status"] == "accepted" for a in ack_lines)
    po_acknowledgment = {"po_number": po, "ack_type": "AD" if complete else "AC",
                         "date": now.date().isoformat(), "currency": currency,
                         "parties": _parties(order, "buyer", "vendor", "ship_to"),
                         "lines": ack_lines}

    ship_to = party(order, "ship_to")
    ship_notice = {
        "shipment_id": facts["shipment_id"],
        "ship_date": facts["ship_date"],
        "issued_at": now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        **{k: facts[k] for k in ("estimated_delivery", "carrier") if k in facts},
        **({"ship_from": dict(facts["ship_from"], role="ship_from")}
           if "ship_from" in facts else {}),
        **({"ship_to": ship_to} if ship_to else {}),
        "parties": _parties(order, "buyer", "vendor"),
        "orders": [{"po_number": po, "packages": packages}],
    }

    invoice_lines, total = [], Decimal(0)
    for line in lines:
        qty = shipped[line["line_number"]]
        if qty:
            total += qty * amount(line["unit_price"])
            invoice_lines.append(dict(_item(line), line_number=line["line_number"],
                                      quantity=_number(qty), unit=line["unit"],
                                      unit_price=line["unit_price"]))
    net_days = facts.get("net_days", order.get("terms", {}).get("net_days"))
    invoice = {
        "invoice_number": facts.get("invoice_number", facts["shipment_id"]),
        "invoice_date": facts.get("invoice_date", facts["ship_date"][:10]),
        "po_number": po,
        "shipment_id": facts["shipment_id"],
        "currency": currency,
        **({"terms": {"net_days": net_days}} if net_days is not None else {}),
        "parties": _parties(order, "buyer", "vendor", "bill_to", "ship_to"),
        "lines": invoice_lines,
        "total_amount": f"{total.quantize(Decimal('0.01'))}",
    }
    for name, document in (("po_acknowledgment", po_acknowledgment),
                           ("ship_notice", ship_notice), ("invoice", invoice)):
        check(name, document, f"drafted {name} for PO {po}")
    return po_acknowledgment, ship_notice, invoice
