"""Reports from the ledger: open items with their aging and match rates, and one order's chain;
rendered as a table, CSV or JSON."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections import defaultdict
from decimal import Decimal

from gateway.reconcile.checks import ship_by
from gateway.reconcile.documents import amount, day

FORMATS = ("table", "csv", "json")
# (label, first day, last day) of an open item's age.
AGING = (("0-7", 0, 7), ("8-30", 8, 30), ("31-60", 31, 60), ("61-90", 61, 90),
         ("90+", 91, None))
ITEM_COLUMNS = ("id", "partner_id", "type", "severity", "status", "age_days", "po_number",
                "invoice_number", "shipment_id", "amount", "currency", "message")


def _bucket(age_days: int) -> str:
    return next(label for label, low, high in AGING
                if age_days >= low and (high is None or age_days <= high))


def _ratio(good: int, total: int) -> float | None:
    return round(good / total, 4) if total else None


def build(items: list[dict], rates: list[dict], *, now: float, filters: dict) -> dict:
    """The report as plain data: open items, aging buckets (count and amount per currency) and
    per-partner rates."""
    open_items, aging = [], {label: {"count": 0, "amounts": defaultdict(Decimal)}
                             for label, _, _ in AGING}
    for item in items:
        age = max(0, int((now - item["created_at"]) // 86400))
        open_items.append(dict({k: item[k] for k in ITEM_COLUMNS if k in item}, age_days=age,
                               details=item["details"], documents=item["documents"]))
        bucket = aging[_bucket(age)]
        bucket["count"] += 1
        if item["amount"] is not None:
            bucket["amounts"][item["currency"] or "?"] += Decimal(item["amount"])
    return {
        "generated_at": dt.datetime.fromtimestamp(now, dt.UTC).isoformat(timespec="seconds"),
        "filters": filters,
        "open_items": open_items,
        "aging": [{"bucket": label, "count": aging[label]["count"],
                   "amounts": {c: f"{a:.2f}" for c, a in sorted(aging[label]["amounts"].items())}}
                  for label, _, _ in AGING],
        "rates": [dict(r, invoice_match_rate=_ratio(r["invoices_matched"], r["invoices"]),
                       asn_on_time_rate=_ratio(r["ship_notices_on_time"], r["ship_notices"]))
                  for r in rates],
    }


def table(rows: list[tuple]) -> str:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
                     for row in rows)


def _amounts(amounts: dict) -> str:
    return ", ".join(f"{a} {c}" for c, a in sorted(amounts.items())) or "-"


def _percent(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.1%}"


def render(report: dict, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report, indent=2, default=str)
    if fmt == "csv":   # one row per open item: the sheet an accounts team works through
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(ITEM_COLUMNS)
        writer.writerows(["" if item.get(k) is None else item[k] for k in ITEM_COLUMNS]
                         for item in report["open_items"])
        return out.getvalue().rstrip("\n")
    parts = [f"Open items ({len(report['open_items'])})"]
    if report["open_items"]:
        parts.append(table([("ID", "PARTNER", "TYPE", "SEV", "STATUS", "AGE", "PO", "INVOICE",
                             "AMOUNT", "MESSAGE")] + [
            (i["id"], i["partner_id"], i["type"], i["severity"], i["status"], f"{i['age_days']}d",
             i["po_number"] or "-", i["invoice_number"] or "-",
             f"{i['amount']} {i['currency'] or ''}".rstrip() if i["amount"] else "-",
             i["message"][:100])
            for i in report["open_items"]]))
    parts += ["", "Aging", table([("AGE (DAYS)", "ITEMS", "AMOUNT")] + [
        (a["bucket"], a["count"], _amounts(a["amounts"])) for a in report["aging"]])]
    parts += ["", "Match rates", table([("PARTNER", "INVOICES", "MATCHED", "ASNS", "ON TIME",
                                         "OUTSTANDING")] + [
        (r["partner_id"], r["invoices"], _percent(r["invoice_match_rate"]), r["ship_notices"],
         _percent(r["asn_on_time_rate"]), _amounts(r["outstanding"])) for r in report["rates"]])]
    return "\n".join(parts)


def _summary(doc: dict, chain: dict) -> str:
    """One line about a document, in the terms of its type."""
    body, kind = doc["body"], doc["doc_type"]
    if kind == "purchase_order":
        purpose = body.get("purpose", "original")
        last = ship_by(body)
        return f"{len(body['lines'])} lines, {purpose}" + (f", ship by {last}" if last else "")
    if kind == "po_acknowledgment":
        return f"{body['ack_type']}"
    if kind == "ship_notice":
        packages = sum(len(o["packages"]) for o in body["orders"]
                       if o["po_number"] in chain["po_numbers"])
        return f"shipped {body.get('ship_date', 'on an unstated date')}, {packages} packages"
    if kind == "invoice":
        text = f"{body['total_amount']} {body['currency']}, PO {body.get('po_number') or '-'}"
        unpaid = chain["unpaid"].get(doc["number"])
        if unpaid is not None:
            text += (", paid in full" if Decimal(unpaid["amount"]) == 0 else
                     f", unpaid {unpaid['amount']} {unpaid['currency']}")
        return text
    if kind == "remittance":
        paid = [f"{e['invoice_number']} {e['amount_paid']}" for e in body["remittances"]
                if e["invoice_number"] in chain["invoice_numbers"]]
        return f"pays {', '.join(paid) or 'none of these invoices'} {body['payment']['currency']}"
    if kind == "return":
        return f"{sum(amount(x['quantity']) for x in body['lines'])} units returned"
    return f"{body['kind']} {body['amount']} {body['currency']}" + (
        f" for return {body['return_id']}" if body.get("return_id") else "")


def render_chain(chains: list[dict], fmt: str) -> str:
    """``gateway reconcile show``: the documents of an order in date order, then its findings."""
    if fmt == "json":
        return json.dumps(chains, indent=2, default=str)
    parts = []
    for chain in chains:
        parts.append(f"Partner {chain['partner_id']}: PO {', '.join(chain['po_numbers']) or '-'}"
                     f"; invoices {', '.join(chain['invoice_numbers']) or '-'}")
        parts.append(table([("DATE", "DOCUMENT", "NUMBER", "SUMMARY", "ID")] + [
            (day(d["issued_at"]), d["doc_type"], d["number"], _summary(d, chain), d["id"][:8])
            for d in chain["documents"]]) if chain["documents"] else "(no documents)")
        if chain["discrepancies"]:
            parts += ["Discrepancies:", table([("ID", "STATUS", "SEV", "TYPE", "MESSAGE")] + [
                (d["id"], d["status"], d["severity"], d["type"], d["message"])
                for d in chain["discrepancies"]])]
        parts.append("")
    return "\n".join(parts).rstrip()
