"""Drafts the vendor's answers to an order: acknowledgment (855), ship notice (856), invoice (810).

From a received order and the shipment facts the vendor gives (shipment id, ship date, carrier,
cartons with SSCC labels and contents), every other value comes from the order, so the drafts
pass the ledger's own checks: prices are the order's, nothing ships that was not ordered.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from stdnum import ean

from gateway.reconcile.documents import ITEM_IDS, InvalidDocument, amount, check, find_line

FACTS = "shipment facts"


def _number(value: Decimal) -> int | float:
    """A JSON number for a quantity: whole quantities stay integers."""
    return int(value) if value == value.to_integral_value() else float(value)


def _item(line: dict) -> dict:
    return {k: line[k] for k in (*ITEM_IDS, "description") if k in line}


def _order_line(lines: list[dict], item: dict, where: str, po: str) -> dict:
    if "line_number" in item:
        match = next((o for o in lines if o["line_number"] == item["line_number"]), None)
        ids = [k for k in ITEM_IDS if k in item]
        if match is not None and any(match.get(k) != item[k] for k in ids):
            raise InvalidDocument(FACTS, where, f"line {item['line_number']} of PO {po} is "
                                  f"not the item named by {', '.join(ids)}")
    else:
        match = find_line(lines, item)
    if match is None:
        raise InvalidDocument(FACTS, where, f"names no line of PO {po}")
    return match


def _cartons(order: dict, facts: dict) -> tuple[list[dict], dict[str, Decimal]]:
    """The ship notice's cartons and the quantity shipped per order line."""
    po, lines = order["po_number"], order["lines"]
    shipped: dict[str, Decimal] = defaultdict(Decimal)
    cartons, labels = [], set()
    for c, carton in enumerate(facts["cartons"]):
        sscc = carton["sscc"]
        if ean.calc_check_digit(sscc[:-1]) != sscc[-1]:
            raise InvalidDocument(FACTS, f"cartons[{c}].sscc", f"{sscc} has a wrong check digit")
        if sscc in labels:
            raise InvalidDocument(FACTS, f"cartons[{c}].sscc", f"{sscc} labels two cartons")
        labels.add(sscc)
        contents = []
        for i, item in enumerate(carton["items"]):
            line = _order_line(lines, item, f"cartons[{c}].items[{i}]", po)
            qty = amount(item["quantity"])
            shipped[line["line_number"]] += qty
            contents.append(dict(_item(line), line_number=line["line_number"],
                                 quantity=item["quantity"],
                                 unit_of_measure=line["unit_of_measure"]))
        cartons.append({"sscc": sscc, "lines": contents})
    for line in lines:
        ordered = amount(line["quantity"])
        if shipped[line["line_number"]] > ordered:
            raise InvalidDocument(FACTS, "cartons", f"line {line['line_number']} of PO {po}: "
                                  f"{_number(shipped[line['line_number']])} would ship, "
                                  f"{_number(ordered)} ordered")
    return cartons, shipped


def _parties(order: dict, *roles: str) -> dict:
    parties = order.get("parties", {})
    return {role: parties[role] for role in roles if role in parties}


def draft(order: dict, facts: dict, *, now: dt.datetime | None = None
          ) -> tuple[dict, dict, dict]:
    """(order_ack, ship_notice, invoice) for one shipment against ``order``; raises
    InvalidDocument naming the field when the order or the facts do not fit."""
    check("order", order, f"order {str(order.get('po_number', '?'))[:64]}")
    check("shipment_facts", facts, FACTS)
    now = now or dt.datetime.now(dt.UTC)
    po, lines, currency = order["po_number"], order["lines"], order["currency"]
    cartons, shipped = _cartons(order, facts)

    ack_lines = []
    for line in lines:
        ordered, sent = amount(line["quantity"]), shipped[line["line_number"]]
        ack_lines.append(dict(_item(line), line_number=line["line_number"],
                              quantity_ordered=line["quantity"],
                              unit_of_measure=line["unit_of_measure"],
                              unit_price=line["unit_price"], quantity_accepted=_number(sent),
                              quantity_rejected=_number(ordered - sent)))
    complete = all(a["quantity_rejected"] == 0 for a in ack_lines)
    order_ack = {"po_number": po, "ack_date": now.date().isoformat(),
                 "status": "accepted" if complete else "accepted_with_changes",
                 "currency": currency, "parties": _parties(order, "buyer", "vendor", "ship_to"),
                 "lines": ack_lines}

    ship_from = {"ship_from": facts["ship_from"]} if "ship_from" in facts else {}
    ship_notice = {
        "shipment_id": facts["shipment_id"],
        "issued_at": now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "ship_date": facts["ship_date"],
        **{k: facts[k] for k in ("estimated_delivery", "carrier", "bill_of_lading",
                                 "tracking_number") if k in facts},
        "parties": dict(_parties(order, "buyer", "vendor", "ship_to"), **ship_from),
        "orders": [{"po_number": po, "cartons": cartons}],
    }

    invoice_lines, total = [], Decimal(0)
    for line in lines:
        qty = shipped[line["line_number"]]
        if qty:
            total += qty * amount(line["unit_price"])
            invoice_lines.append(dict(_item(line), line_number=line["line_number"],
                                      quantity=_number(qty),
                                      unit_of_measure=line["unit_of_measure"],
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
    for name, document in (("order_ack", order_ack), ("ship_notice", ship_notice),
                           ("invoice", invoice)):
        check(name, document, f"drafted {name} for PO {po}")
    return order_ack, ship_notice, invoice
