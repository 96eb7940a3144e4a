"""CEB213 export return applications, checked against the original CEB603 inventory list.

The original list is the CEB603 this gateway sent (from the archive), its ``invtNo`` comes
from the CEB604 receipt and the release date from customs; a return may not exceed the goods
and quantities of that list, counting earlier returns, and must come within a year of release.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from gateway.customs import ceb
from gateway.customs.filing import Filing, FilingRefused, filename
from gateway.customs.receipts import ReceiptError, local, parse_xml
from gateway.customs.rules import Hit, check, errors, run

HEAD_KEYS = ("customsCode", "ebpCode", "ebpName", "ebcCode", "ebcName", "logisticsNo",
             "logisticsCode", "logisticsName", "agentCode", "agentName", "trafMode",
             "portCode", "country")


@dataclass(frozen=True)
class ReturnItem:
    gnum: int  # item number on the original inventory list
    qty: Decimal


@dataclass(frozen=True)
class ReturnRequest:
    cop_no: str  # the seller's own id for this return (coElNo)
    invt_no: str  # the original inventory list number from the CEB604 receipt
    released_on: dt.date  # customs release of the original export
    requested_on: dt.date
    reason: str
    items: tuple[ReturnItem, ...]
    previously_returned: tuple[ReturnItem, ...] = ()
    logistics_no: str = ""  # the return parcel; default: the original waybill
    traf_mode: str = ""  # China Customs transport code; default: the original's
    traf_name: str = ""
    voyage_no: str = ""
    bill_no: str = ""  # default: the logistics number, as the spec asks


@dataclass(frozen=True)
class ReturnCase:
    original: dict  # InventoryHead fields by local name, plus "items": {gnum: fields}
    request: ReturnRequest


def read_inventory(content: bytes) -> dict:
    """The one Inventory of a CEB603 message: head fields and items keyed by gnum."""
    try:
        root = parse_xml(content)
    except ReceiptError as exc:
        raise ValueError(f"original inventory list: {exc}") from None
    lists = [n for n in root if local(n) == "Inventory"]
    if local(root) != "CEB603Message" or len(lists) != 1:
        raise ValueError("original inventory list: expected a CEB603 with one Inventory")
    head, items = {}, {}
    for node in lists[0]:
        fields = {local(child): (child.text or "").strip() for child in node}
        if local(node) == "InventoryHead":
            head = fields
        elif local(node) == "InventoryList":
            try:
                fields["qty"], fields["qty1"] = Decimal(fields["qty"]), Decimal(fields["qty1"])
                items[int(fields["gnum"])] = fields
            except (KeyError, ValueError, InvalidOperation):
                raise ValueError("original inventory list: unreadable item") from None
    missing = [key for key in HEAD_KEYS if not head.get(key)]
    if missing or not items:
        raise ValueError(f"original inventory list: missing {', '.join(missing) or 'items'}")
    return {**head, "items": items}


def _returned(items) -> dict[int, Decimal]:
    totals: dict[int, Decimal] = {}
    for item in items:
        totals[item.gnum] = totals.get(item.gnum, Decimal(0)) + item.qty
    return totals


@check("return_items")
def return_items(case, data, params):
    if not case.request.items:
        yield Hit("items", values={"gnum": "-"})
    for item in case.request.items:
        if item.gnum not in case.original["items"] or item.qty <= 0:
            yield Hit(f"items[gnum={item.gnum}]", item.gnum, {"gnum": item.gnum})


@check("return_quantity")
def return_quantity(case, data, params):
    earlier = _returned(case.request.previously_returned)
    for gnum, qty in _returned(case.request.items).items():
        original = case.original["items"].get(gnum)
        if original and qty + earlier.get(gnum, Decimal(0)) > original["qty"]:
            yield Hit(f"items[gnum={gnum}].qty", gnum, {
                "qty": qty, "earlier": earlier.get(gnum, Decimal(0)), "exported": original["qty"]})


@check("return_window")
def return_window(case, data, params):
    r = case.request
    try:
        deadline = r.released_on.replace(year=r.released_on.year + params["years"])
    except ValueError:  # released on 29 February
        deadline = r.released_on.replace(year=r.released_on.year + params["years"], day=28)
    if not r.released_on <= r.requested_on <= deadline:
        yield Hit("requested_on", values={
            "requested": r.requested_on.isoformat(), "released": r.released_on.isoformat(),
            "deadline": deadline.isoformat()})


@check("return_reason")
def return_reason(case, data, params):
    if not case.request.reason.strip() or len(case.request.reason) > params["max"]:
        yield Hit("reason", values={"max": params["max"]})


def check_return(original_603: bytes, request: ReturnRequest, data):
    case = ReturnCase(read_inventory(original_603), request)
    return case, run(data.rules["cn_return"], case, request.cop_no, data)


def build_return(original_603: bytes, request: ReturnRequest, profile: dict, data,
                 now=None) -> Filing:
    """The CEB213 for ``request``; FilingRefused when the return breaks a rule."""
    case, findings = check_return(original_603, request, data)
    if errors(findings):
        raise FilingRefused(errors(findings))
    o, r = case.original, request
    logistics_no = r.logistics_no or o["logisticsNo"]

    def body(root):
        node = ceb.append(root, "InvtRefund", [])
        ceb.append(node, "InvtRefundHead", ceb.head(profile, now) + [
            ("customsCode", o["customsCode"]),
            ("ebpCode", o["ebpCode"]), ("ebpName", o["ebpName"]),
            ("ebcCode", o["ebcCode"]), ("ebcName", o["ebcName"]),
            ("logisticsNo", logistics_no), ("logisticsCode", o["logisticsCode"]),
            ("logisticsName", o["logisticsName"]), ("coElNo", r.cop_no),
            ("invtNo", r.invt_no), ("tradeMode", o.get("tradeMode")),
            ("agentCode", o["agentCode"]), ("agentName", o["agentName"]),
            ("billNo", r.bill_no or logistics_no), ("ieFlag", "I"),
            ("trafMode", r.traf_mode or o["trafMode"]), ("trafName", r.traf_name),
            ("portCode", o["portCode"]), ("reason", r.reason), ("country", o["country"]),
            ("voyageNo", r.voyage_no)])
        for gnum, qty in _returned(r.items).items():
            item = o["items"][gnum]
            ceb.append(node, "InvtRefundList", [
                ("gnum", gnum), ("gcode", item["gcode"]), ("gname", item["gname"]),
                ("gmodel", item["gmodel"]), ("qty", qty),
                # The legal quantity returns in proportion, never above the original's.
                ("qty1", item["qty1"] * qty / item["qty"]),
                ("unit", item["unit"]), ("unit1", item["unit1"])])

    content = ceb.envelope("213", profile, [body])
    return Filing("xml", filename("CEB213", r.cop_no, "xml"), content)
