"""Drafting the 855, 856 and 810 from an order and shipment facts."""

import copy
import datetime as dt

import pytest

from gateway.reconcile.documents import InvalidDocument, check
from gateway.reconcile.respond import draft
from tests.unit.reconcile.reconcile_support import FACTS, ORDER, Books

NOW = dt.datetime(2026, 7, 3, 15, 30, tzinfo=dt.UTC)


def test_full_shipment_drafts_valid_documents():
    ack, notice, invoice = draft(ORDER, FACTS, now=NOW)
    for name, document in (("order_ack", ack), ("ship_notice", notice), ("invoice", invoice)):
        check(name, document, name)
    assert ack["status"] == "accepted" and ack["ack_date"] == "2026-07-03"
    assert [(a["line_number"], a["quantity_accepted"], a["quantity_rejected"])
            for a in ack["lines"]] == [("1", 10, 0), ("2", 4, 0)]
    assert notice["issued_at"] == "2026-07-03T15:30:00Z"
    assert notice["parties"]["ship_to"]["id"] == "TPA1"
    (order,) = notice["orders"]
    assert [c["sscc"] for c in order["cartons"]] == [c["sscc"] for c in FACTS["cartons"]]
    assert order["cartons"][1]["lines"] == [
        {"asin": "B00PAN0002", "sku": "PAN-02", "line_number": "2", "quantity": 4,
         "unit_of_measure": "EA"}]
    assert (invoice["invoice_number"], invoice["invoice_date"], invoice["total_amount"],
            invoice["terms"]) == ("INV-5001", "2026-07-03", "191.00", {"net_days": 30})
    assert invoice["parties"]["bill_to"]["id"] == "AMZ-AP"


def test_partial_shipment_accepts_with_changes():
    facts = copy.deepcopy(FACTS)
    facts["cartons"] = facts["cartons"][:1]
    facts["cartons"][0]["items"][0]["quantity"] = 6
    facts.pop("invoice_number")
    ack, notice, invoice = draft(ORDER, facts, now=NOW)
    assert ack["status"] == "accepted_with_changes"
    assert [(a["quantity_accepted"], a["quantity_rejected"]) for a in ack["lines"]] == [
        (6, 4), (0, 4)]
    assert [(i["line_number"], i["quantity"]) for i in invoice["lines"]] == [("1", 6)]
    assert (invoice["invoice_number"], invoice["total_amount"]) == ("SHP-77", "57.00")


def test_drafts_pass_the_ledgers_own_checks(db):
    books = Books(db)
    books.add("order", ORDER, now="2026-07-01T00:00:00")
    ack, notice, invoice = draft(ORDER, FACTS, now=NOW)
    books.add("order_ack", ack, now="2026-07-03T15:30:00")
    books.add("ship_notice", notice, now="2026-07-03T15:30:00")
    books.add("invoice", invoice, now="2026-07-03T15:30:00")
    assert books.all() == []


@pytest.mark.parametrize("change, field, says", [
    (lambda f: f["cartons"][0]["items"][0].update(quantity=11), "cartons",
     "line 1 of PO PO1001: 11 would ship, 10 ordered"),
    (lambda f: f["cartons"][1]["items"][0].update(sku="NOPE"), "cartons[1].items[0]",
     "names no line of PO PO1001"),
    (lambda f: f["cartons"][0]["items"][0].update(asin="B00PAN0002"), "cartons[0].items[0]",
     "line 1 of PO PO1001 is not the item named by asin"),
    (lambda f: f["cartons"][1].update(sscc="000123456000000013"), "cartons[1].sscc",
     "000123456000000013 has a wrong check digit"),
    (lambda f: f["cartons"][1].update(sscc="000123456000000005"), "cartons[1].sscc",
     "labels two cartons"),
    (lambda f: f["cartons"][0]["items"][0].update(quantity=-1), "cartons[0].items[0].quantity",
     "-1 is less than or equal to the minimum of 0"),
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
    with pytest.raises(InvalidDocument, match=r"^order PO1001: lines\[0\].unit_price: is missing"):
        draft(order, FACTS, now=NOW)
