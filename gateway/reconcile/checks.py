"""The matching rules: from the documents of one subject, the discrepancies that stand now.

A subject is what findings hang on: a purchase order (``po:…``, the order with its ship notices
and invoices), an invoice (``invoice:…``, its payments), a return (``return:…``, its credit
memos) or a payment (``remittance:…``, its deductions). Rules are pure functions of the subject's
documents and the time, so processing a document twice or in another order gives the same
findings; the ledger stores whatever :func:`evaluate` returns and settles the rest.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from gateway.reconcile.documents import Doc, OrderLines, amount, day, item_label, timestamp

DAY = 86400
# Acknowledgment types (BAK02) that reject the whole order: it counts as cancelled.
ACK_REJECTED = ("RJ", "RD", "RF")
DEFAULT_SETTINGS = {
    "claim_window_days": 30,     # a return must be credited within this many days
    "asn_late_hours": 24,        # a ship notice later than this after shipping is late
    "payment_terms_days": 60,    # net days when an invoice states no terms
    "price_tolerance": "0.00",   # per unit, in the order's currency
}
# type -> default severity. Errors cost money unless someone acts; warnings need a look.
TYPES = {
    "invalid_document": "error",
    "asn_unknown_po": "error",
    "asn_cancelled_po": "error",
    "asn_unknown_item": "error",
    "asn_over_shipped": "error",
    "asn_late": "warning",
    "asn_overdue": "warning",
    "invoice_po_missing": "error",
    "invoice_unknown_po": "error",
    "invoice_unknown_item": "error",
    "invoice_price_mismatch": "error",
    "invoice_qty_over_shipped": "error",
    "invoice_duplicate": "error",
    "invoice_overdue": "error",
    "short_paid": "error",
    "over_paid": "warning",
    "payment_unknown_invoice": "warning",
    "deduction": "warning",
    "return_no_credit_memo": "warning",
    "credit_memo_overdue": "error",
    "credit_memo_short": "warning",
    "credit_memo_unknown_return": "warning",
}
# What an invoice must pass to count as matched in the invoice match rate.
THREE_WAY = ("invoice_po_missing", "invoice_unknown_po", "invoice_unknown_item",
             "invoice_price_mismatch", "invoice_qty_over_shipped", "invoice_duplicate")


@dataclass(frozen=True)
class Finding:
    key: str                       # stable within the subject: the same problem keeps its row
    type: str
    message: str
    documents: tuple[str, ...]
    details: dict = field(default_factory=dict)
    severity: str = ""
    po_number: str | None = None
    invoice_number: str | None = None
    shipment_id: str | None = None
    amount: Decimal | None = None  # the money at stake, in ``currency``
    currency: str | None = None

    def __post_init__(self):
        if not self.severity:
            object.__setattr__(self, "severity", TYPES[self.type])


@dataclass
class Evaluation:
    findings: list[Finding] = field(default_factory=list)
    next_check_at: float | None = None   # when time alone could change the findings
    open_amount: Decimal | None = None   # invoiced and not paid (invoice subjects)
    currency: str | None = None


def settings_for(overrides: dict | None) -> dict:
    """The defaults with a partner's overrides, refused when a key or value is wrong."""
    merged = dict(DEFAULT_SETTINGS)
    for key, value in (overrides or {}).items():
        if key not in DEFAULT_SETTINGS:
            raise ValueError(f"unknown reconciliation setting {key!r}; known: "
                             f"{', '.join(DEFAULT_SETTINGS)}")
        if key == "price_tolerance":
            value = str(amount(value))
        elif not isinstance(value, int | float) or value < 0:
            raise ValueError(f"reconciliation setting {key} must be a number >= 0")
        merged[key] = value
    return merged


def subjects(doc: Doc) -> list[str]:
    """The subjects whose findings a document can change."""
    body = doc.body
    if doc.doc_type in ("purchase_order", "po_acknowledgment"):
        return [f"po:{doc.number}"]
    if doc.doc_type == "ship_notice":
        return sorted({f"po:{o['po_number']}" for o in body["orders"]})
    if doc.doc_type == "invoice":
        po = [f"po:{body['po_number']}"] if body.get("po_number") else []
        return [f"invoice:{doc.number}", *po]
    if doc.doc_type == "remittance":
        paid = {f"invoice:{i['invoice_number']}" for i in body["remittances"]}
        return [f"remittance:{doc.number}", *sorted(paid)]
    if doc.doc_type == "return":
        return [f"return:{doc.number}"]
    # A credit or debit memo settles a return, an invoice, or both.
    return [f"{kind}:{body[field]}" for kind, field in (("return", "return_id"),
                                                        ("invoice", "invoice_number"))
            if body.get(field)]


def ship_by(order: dict) -> str | None:
    """The last day an order may ship (DTM 038, else the last day of delivery, 063)."""
    dates = order.get("dates") or {}
    return dates.get("ship_no_later") or dates.get("deliver_no_later")


def _latest(docs: list[Doc], doc_type: str) -> dict[str, Doc]:
    """The newest document of a type per number: a resent or replacing document wins."""
    found: dict[str, Doc] = {}
    for doc in sorted(docs, key=lambda d: (d.issued_at, d.received_at, d.id)):
        if doc.doc_type == doc_type:
            found[doc.number] = doc
    return found


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _qty(value: Decimal) -> str:
    return f"{value.normalize():f}"


def evaluate(subject: str, docs: list[Doc], now: float, settings: dict) -> Evaluation:
    kind, _, value = subject.partition(":")
    return {"po": _po, "invoice": _invoice, "return": _return,
            "remittance": _remittance}[kind](value, docs, now, settings)


def _shipped_lines(notice: Doc, po: str):
    for order in notice.body["orders"]:
        if order["po_number"] == po:
            for package in order["packages"]:
                yield from package["items"]


def _po(po: str, docs: list[Doc], now: float, settings: dict) -> Evaluation:
    result = Evaluation()
    orders = sorted((d for d in docs if d.doc_type == "purchase_order"),
                    key=lambda d: (d.issued_at, d.received_at, d.id))
    placed = [o for o in orders if o.body.get("purpose", "original") != "cancellation"]
    cancelled = [d for d in docs if (d.doc_type == "purchase_order" and d.body.get("purpose") ==
                                     "cancellation") or (d.doc_type == "po_acknowledgment" and
                                                         d.body["ack_type"] in ACK_REJECTED)]
    notices = list(_latest(docs, "ship_notice").values())
    invoices = list(_latest(docs, "invoice").values())
    late_after = settings["asn_late_hours"] * 3600
    add = result.findings.append

    for notice in notices:
        if "ship_date" not in notice.body:
            continue   # no ship date given: its lateness cannot be judged
        shipped = timestamp(notice.body["ship_date"], end_of_day=True)
        if notice.issued_at - shipped > late_after:
            add(Finding(
                f"asn_late:{notice.number}", "asn_late",
                f"ship notice {notice.number} for PO {po} was sent "
                f"{(notice.issued_at - shipped) / 3600:.0f} hours after the goods shipped on "
                f"{notice.body['ship_date']} (allowed: {settings['asn_late_hours']} hours)",
                (notice.id,), {"ship_date": notice.body["ship_date"],
                               "sent_at": day(notice.issued_at),
                               "hours_late": round((notice.issued_at - shipped) / 3600, 1)},
                po_number=po, shipment_id=notice.number))

    if not placed:
        for notice in notices:
            add(Finding(f"asn_unknown_po:{notice.number}", "asn_unknown_po",
                        f"ship notice {notice.number} ships against PO {po}, which is unknown",
                        (notice.id,), po_number=po, shipment_id=notice.number))
        for invoice in invoices:
            add(Finding(f"invoice_unknown_po:{invoice.number}", "invoice_unknown_po",
                        f"invoice {invoice.number} bills PO {po}, which is unknown",
                        (invoice.id,), po_number=po, invoice_number=invoice.number,
                        amount=amount(invoice.body["total_amount"]),
                        currency=invoice.body["currency"]))
        return result

    order = placed[-1]
    lines = order.body["lines"]
    index = OrderLines(lines)
    currency = order.body["currency"]
    if cancelled:
        for notice in notices:
            add(Finding(f"asn_cancelled_po:{notice.number}", "asn_cancelled_po",
                        f"ship notice {notice.number} ships against PO {po}, which was "
                        f"cancelled", (notice.id, *(d.id for d in cancelled)), po_number=po,
                        shipment_id=notice.number))

    shipped_qty: dict[str, Decimal] = defaultdict(Decimal)
    shipped_by: dict[str, list[str]] = defaultdict(list)
    for notice in notices:
        unknown: dict[str, Decimal] = defaultdict(Decimal)
        for line in _shipped_lines(notice, po):
            match = index.find(line)
            if match is None:
                unknown[item_label(line)] += amount(line["quantity_shipped"])
            else:
                shipped_qty[match["line_number"]] += amount(line["quantity_shipped"])
                if notice.id not in shipped_by[match["line_number"]]:
                    shipped_by[match["line_number"]].append(notice.id)
        for label, qty in sorted(unknown.items()):
            add(Finding(f"asn_unknown_item:{notice.number}:{label}", "asn_unknown_item",
                        f"ship notice {notice.number} ships {_qty(qty)} of {label}, which is not "
                        f"on PO {po}", (notice.id, order.id), {"item": label,
                                                                "shipped": _qty(qty)},
                        po_number=po, shipment_id=notice.number))
    for line in lines:
        ordered, shipped = amount(line["quantity"]), shipped_qty[line["line_number"]]
        if shipped > ordered:
            add(Finding(f"asn_over_shipped:{line['line_number']}", "asn_over_shipped",
                        f"PO {po} {item_label(line)}: {_qty(shipped)} shipped, "
                        f"{_qty(ordered)} ordered", (order.id, *shipped_by[line["line_number"]]),
                        {"line": line["line_number"], "ordered": _qty(ordered),
                         "shipped": _qty(shipped), "excess": _qty(shipped - ordered)},
                        po_number=po, amount=(shipped - ordered) * amount(line["unit_price"]),
                        currency=currency))

    window_end = ship_by(order.body)
    if window_end and not notices and not cancelled:
        deadline = timestamp(window_end, end_of_day=True) + late_after
        if now > deadline:
            add(Finding("asn_overdue", "asn_overdue",
                        f"PO {po} had to ship by {window_end}; no ship notice has come "
                        f"{settings['asn_late_hours']} hours later", (order.id,),
                        {"ship_by": window_end}, po_number=po))
        else:
            result.next_check_at = deadline

    _three_way(po, order, index, invoices, shipped_qty, settings, add)
    return result


def _three_way(po, order, ordered: OrderLines, invoices, shipped_qty, settings, add) -> None:
    """Invoice lines against the order's prices and the shipped quantities."""
    lines = ordered.lines
    tolerance = amount(settings["price_tolerance"])
    invoiced: dict[str, Decimal] = defaultdict(Decimal)
    invoiced_by: dict[str, list[Doc]] = defaultdict(list)
    for invoice in invoices:
        currency = invoice.body["currency"]
        # Keys use the invoice line's position: one invoice may bill an item on several lines.
        for index, line in enumerate(invoice.body["lines"]):
            match = ordered.find(line)
            qty, price = amount(line["quantity"]), amount(line["unit_price"])
            if match is None:
                add(Finding(f"invoice_unknown_item:{invoice.number}:{index}",
                            "invoice_unknown_item",
                            f"invoice {invoice.number} bills {_qty(qty)} of {item_label(line)}, "
                            f"which is not on PO {po}", (invoice.id, order.id),
                            {"item": item_label(line), "invoiced": _qty(qty)}, po_number=po,
                            invoice_number=invoice.number, amount=qty * price,
                            currency=currency))
                continue
            number = match["line_number"]
            invoiced[number] += qty
            invoiced_by[number].append(invoice)
            ordered_price = amount(match["unit_price"])
            if abs(price - ordered_price) > tolerance:
                add(Finding(f"invoice_price_mismatch:{invoice.number}:{index}",
                            "invoice_price_mismatch",
                            f"invoice {invoice.number} {item_label(match)}: unit price "
                            f"{_money(price)} {currency}, PO {po} says {_money(ordered_price)}",
                            (invoice.id, order.id),
                            {"line": number, "po_price": _money(ordered_price),
                             "invoiced_price": _money(price), "quantity": _qty(qty)},
                            po_number=po, invoice_number=invoice.number,
                            amount=(price - ordered_price) * qty, currency=currency))
    for line in lines:
        number = line["line_number"]
        billed, shipped = invoiced[number], shipped_qty[number]
        if billed > shipped:
            by = invoiced_by[number]
            add(Finding(f"invoice_qty_over_shipped:{number}", "invoice_qty_over_shipped",
                        f"PO {po} {item_label(line)}: {_qty(billed)} invoiced "
                        f"({', '.join(sorted({i.number for i in by}))}), {_qty(shipped)} shipped",
                        tuple(dict.fromkeys(i.id for i in by)),
                        {"line": number, "invoiced": _qty(billed), "shipped": _qty(shipped)},
                        po_number=po, invoice_number=by[-1].number,
                        amount=(billed - shipped) * amount(line["unit_price"]),
                        currency=by[-1].body["currency"]))


def _adjustments(entries) -> list[dict]:
    return [{"reason_code": a["reason_code"], "amount": _money(amount(a["amount"])),
             **({"reference": a["reference"]} if a.get("reference") else {}),
             **({"description": a["description"]} if a.get("description") else {})}
            for a in entries]


def _invoice(number: str, docs: list[Doc], now: float, settings: dict) -> Evaluation:
    result = Evaluation()
    add = result.findings.append
    invoices = sorted((d for d in docs if d.doc_type == "invoice" and d.number == number),
                      key=lambda d: (d.issued_at, d.received_at, d.id))
    payments = [(remit, entry) for remit in _latest(docs, "remittance").values()
                for entry in remit.body["remittances"] if entry["invoice_number"] == number]
    paid = sum((amount(e["amount_paid"]) + amount(e.get("discount", 0))
                for _, e in payments), Decimal(0))
    adjustments = _adjustments(a for _, e in payments for a in e.get("adjustments", ()))
    paid_by = tuple(r.id for r, _ in payments)
    refs = ", ".join(r.number for r, _ in payments)

    if not invoices:
        if payments:
            add(Finding("payment_unknown_invoice", "payment_unknown_invoice",
                        f"payment {refs} pays {_money(paid)} on invoice {number}, which is "
                        f"unknown", paid_by, {"paid": _money(paid), "adjustments": adjustments},
                        invoice_number=number, amount=paid,
                        currency=payments[0][0].body["payment"]["currency"]))
        return result

    invoice = invoices[-1]
    body, currency = invoice.body, invoice.body["currency"]
    po = body.get("po_number")
    if len(invoices) > 1:
        # Identical copies are a retransmission the buyer will reject; differing ones are two
        # invoices under one number, and one of them will not be paid.
        same = all(d.body == body for d in invoices)
        add(Finding("invoice_duplicate", "invoice_duplicate",
                    f"invoice number {number} was sent {len(invoices)} times "
                    f"{'as identical copies' if same else 'with different contents'}",
                    tuple(d.id for d in invoices), {"copies": len(invoices)},
                    severity="warning" if same else "error", po_number=po,
                    invoice_number=number))
    if not po:
        add(Finding("invoice_po_missing", "invoice_po_missing",
                    f"invoice {number} names no PO number; the buyer will reject it",
                    (invoice.id,), invoice_number=number))

    total = amount(body["total_amount"])
    # A vendor accepts a deduction by crediting it: credit memos lower what is owed, debits raise.
    # A memo for a return settles the return, not the invoice it names.
    memos = [m for m in _latest(docs, "credit_memo").values()
             if m.body.get("invoice_number") == number and not m.body.get("return_id")]
    credited = sum((amount(m.body["amount"]) * (1 if m.body["kind"] == "credit" else -1)
                    for m in memos), Decimal(0))
    outstanding = total - paid - credited
    result.open_amount, result.currency = max(outstanding, Decimal(0)), currency
    common = dict(po_number=po, invoice_number=number, currency=currency)
    if payments and outstanding > 0:
        deducted = sum((amount(a["amount"]) for a in adjustments), Decimal(0))
        codes = ", ".join(f"{a['reason_code']} {a['amount']}" for a in adjustments)
        explained = f"; adjustments: {codes}" if adjustments else "; no adjustment reason given"
        add(Finding("short_paid", "short_paid",
                    f"invoice {number} short-paid: {_money(paid)} of {_money(total)} {currency} "
                    f"paid by {refs}, {_money(outstanding)} short{explained}",
                    (invoice.id, *paid_by),
                    {"invoiced": _money(total), "paid": _money(paid),
                     "short": _money(outstanding), "adjustments": adjustments},
                    severity="warning" if deducted == outstanding else "error",
                    amount=outstanding, **common))
    elif payments and outstanding < 0:
        add(Finding("over_paid", "over_paid",
                    f"invoice {number} over-paid: {_money(paid)} of {_money(total)} {currency} "
                    f"paid by {refs}", (invoice.id, *paid_by),
                    {"invoiced": _money(total), "paid": _money(paid),
                     "over": _money(-outstanding), "adjustments": adjustments},
                    amount=-outstanding, **common))
    elif not payments:
        net_days = body.get("terms", {}).get("net_days", settings["payment_terms_days"])
        due = timestamp(body["invoice_date"], end_of_day=True) + net_days * DAY
        if now > due:
            add(Finding("invoice_overdue", "invoice_overdue",
                        f"invoice {number} of {_money(total)} {currency} is unpaid; it was due "
                        f"on {day(due)} (net {net_days} days)", (invoice.id,),
                        {"invoiced": _money(total), "due": day(due), "net_days": net_days},
                        amount=total, **common))
        else:
            result.next_check_at = due
    return result


def _remittance(reference: str, docs: list[Doc], now: float, settings: dict) -> Evaluation:
    remit = _latest(docs, "remittance").get(reference)
    if remit is None:
        return Evaluation()
    currency = remit.body["payment"]["currency"]
    return Evaluation([
        Finding(f"deduction:{i}", "deduction",
                f"payment {reference} deducts {a['amount']} {currency} "
                f"(reason {a['reason_code']}{', ' + a['reference'] if 'reference' in a else ''})"
                f"{': ' + a['description'] if 'description' in a else ''}",
                (remit.id,), a, amount=amount(a["amount"]), currency=currency)
        for i, a in enumerate(_adjustments(remit.body.get("adjustments", ())))])


def _return(return_id: str, docs: list[Doc], now: float, settings: dict) -> Evaluation:
    result = Evaluation()
    add = result.findings.append
    ret = _latest(docs, "return").get(return_id)
    memos = [m for m in _latest(docs, "credit_memo").values()
             if m.body.get("return_id") == return_id and m.body["kind"] == "credit"]
    if ret is None:
        for memo in memos:
            add(Finding(f"credit_memo_unknown_return:{memo.number}", "credit_memo_unknown_return",
                        f"credit memo {memo.number} credits return {return_id}, which is unknown",
                        (memo.id,), amount=amount(memo.body["amount"]),
                        currency=memo.body["currency"]))
        return result
    body = ret.body
    priced = [line for line in body["lines"] if "unit_price" in line]
    value = (amount(body["total_amount"]) if "total_amount" in body else
             sum((amount(x["quantity"]) * amount(x["unit_price"]) for x in priced), Decimal(0))
             if priced else None)
    common = dict(po_number=body.get("po_number"), invoice_number=body.get("invoice_number"),
                  amount=value, currency=body.get("currency"))
    if not memos:
        deadline = timestamp(body["return_date"], end_of_day=True) + \
            settings["claim_window_days"] * DAY
        if now > deadline:
            add(Finding("credit_memo", "credit_memo_overdue",
                        f"return {return_id} of {body['return_date']} has no credit memo and "
                        f"its claim window closed on {day(deadline)}", (ret.id,),
                        {"due": day(deadline)}, **common))
        else:
            add(Finding("credit_memo", "return_no_credit_memo",
                        f"return {return_id} of {body['return_date']} has no credit memo yet; "
                        f"due by {day(deadline)}", (ret.id,), {"due": day(deadline)}, **common))
            result.next_check_at = deadline
        return result
    credited = sum((amount(m.body["amount"]) for m in memos), Decimal(0))
    if value is not None and credited < value:
        add(Finding("credit_memo", "credit_memo_short",
                    f"return {return_id} is worth {_money(value)}, credit memos "
                    f"{', '.join(m.number for m in memos)} credit {_money(credited)}",
                    (ret.id, *(m.id for m in memos)),
                    {"value": _money(value), "credited": _money(credited)},
                    **dict(common, amount=value - credited)))
    return result
