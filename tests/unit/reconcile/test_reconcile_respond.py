"""Drafting the 855, 856 and 810 from an order and shipment facts."""

import copy
import datetime as dt

import pytest

from gateway.documents import party
from gateway.reconcile.documents import InvalidDocument, check
from gateway.reconcile.respond import draft
from tests.unit.reconcile.reconcile_support import FACTS, ORDER, Books

NOW = dt.datetime(2026, 7, 3, 15, 30, tzinfo=dt.UTC)


def test_full_shipment_drafts_valid_documents():
    ack, notice, invoice = draft(ORDER, FACTS, now=NOW)
    for name, document in (("po_acknowledgment", ack), ("ship_notice", notice),
                           ("invoice", invoice)):
        check(name, document, name)
    assert ack["ack_type"] == "AD" and ack["date"] == "2026-07-03"
    assert [(a["line_number"], a["status"], a["quantity"]) for a in ack["lines"]] == [
        ("1", "accepted", 10), ("2", "accepted", 4)]
    assert notice["issued_at"] == "2026-07-03T15:30:00Z"
    assert party(notice, "ship_to")["id"] == "TPA1"
    (order,) = notice["orders"]
    assert [c["sscc"] for c in order["packages"]] == [c["sscc"] for c in FACTS["packages"]]
    assert order["packages"][1]["items"] == [
        {"product_ids": {"buyer_part": "B00PAN0002", "vendor_part": "PAN-02"},
         "line_number": "2", "quantity_shipped": 4, "unit": "EA"}]
    assert (invoice["invoice_number"], invoice["invoice_date"], invoice["total_amount"],
            invoice["terms"]) == ("INV-5001", "2026-07-03", "191.00", {"net_days": 30})
    assert party(invoice, "bill_to")["id"] == "AMZ-AP"


def test_partial_shipment_accepts_with_changes():
    facts = copy.deepcopy(FACTS)
    facts["packages"] = facts["packages"][:1]
    facts["packages"][0]["items"][0]["quantity_shipped"] = 6
    facts.pop("invoice_number")
    ack, notice, invoice = draft(ORDER, facts, now=NOW)
    assert ack["ack_type"] == "AC"
    assert [(a["line_number"], a["status"], a["quantity"]) for a in ack["lines"]] == [
        ("1", "accepted", 6), ("1", "rejected", 4), ("2", "accepted", 0), ("2", "rejected", 4)]
    assert [(i["line_number"], i["quantity"]) for i in invoice["lines"]] == [("1", 6)]
    assert (invoice["invoice_number"], invoice["total_amount"]) == ("SHP-77", "57.00")


def test_drafts_pass_the_ledgers_own_checks(db):
    books = Books(db)
    books.add("purchase_order", ORDER, now="2026-07-01T00:00:00")
    ack, notice, invoice = draft(ORDER, FACTS, now=NOW)
    books.add("po_acknowledgment", ack, now="2026-07-03T15:30:00")
    books.add("ship_notice", notice, now="2026-07-03T15:30:00")
    books.add("invoice", invoice, now="2026-07-03T15:30:00")
    assert books.all() == []


@pytest.mark.parametrize("change, field, says", [
    (lambda f: f["packages"][0]["items"][0].update(quantity_shipped=11), "packages",
     "line 1 of PO PO1001: 11 would ship, 10 ordered"),
    (lambda f: f["packages"][1]["items"][0]["product_ids"].update(vendor_part="NOPE"),
     "packages[1].items[0]", "names no line of PO PO1001"),
    (lambda f: f["packages"][0]["items"][0].update(product_ids={"buyer_part": "B00PAN0002"}),
     "packages[0].items[0]", "line 1 of PO PO1001 is not the item named by buyer_part"),
    (lambda f: f["packages"][1].update(sscc="000123456000000013"), "packages[1].sscc",
     "000123456000000013 has a wrong check digit"),
    (lambda f: f["packages"][1].update(sscc="000123456000000005"), "packages[1].sscc",
     "labels two packages"),
    (lambda f: f["packages"][0]["items"][0].update(quantity_shipped=-1),
     "packages[0].items[0].quantity_shipped", "-1 is less than or equal to the minimum of 0"),
    (lambda f: f.pop("ship_date"), "ship_date", "is missing"),
])
def test_facts_that_do_not_fit_the_order_are_refused(change, field, says):
    facts = copy.deepcopy(FACTS)
    change(facts)
    with pytest.raises(InvalidDocument) as raised:
        draft(ORDER, facts, now=NOW)
    assert raised.value.field == field and says in str(raised.value)
    assert str(raised.value).startswith("shipment facts: ")


def test_an_invalid_order_is_refused():
    order = copy.deepcopy(ORDER)
    del order["lines"][0]["unit_price"]
    with pytest.raises(InvalidDocument,
                       match=r"^purchase order PO1001: lines\[0\].unit_price: is missing"):
        draft(order, FACTS, now=NOW)
