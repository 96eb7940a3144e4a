"""The ledger on SQLite and PostgreSQL: an order's life with its discrepancies, documents out of
order and twice, deadlines, operator actions and hostile documents."""

import itertools
from concurrent.futures import ThreadPoolExecutor

import pytest

from gateway import metrics
from gateway.reconcile import handler, ledger
from gateway.store.jobs import Job
from gateway.store.schema import events
from gateway.worker import PermanentError
from tests.unit.reconcile.reconcile_support import (
    INVOICE,
    ORDER,
    REMITTANCE,
    SHIP_NOTICE,
    Books,
    doc,
    result,
    ts,
)


def by_type(items):
    return {d["type"]: d for d in items}


def over_shipping_late_asn():
    notice = doc("ship_notice", issued_at="2026-07-06T12:00:00Z")
    notice["orders"][0]["packages"][0]["items"][0]["quantity_shipped"] = 8
    notice["orders"][0]["packages"].append(
        {"sscc": "000123456000000029",
         "items": [{"line_number": "1", "product_ids": {"buyer_part": "B00MUG0001"},
                    "quantity_shipped": 4, "unit": "EA"}]})
    return notice


def price_mismatch_invoice():
    invoice = doc("invoice", total_amount="195.00")
    invoice["lines"][1]["unit_price"] = "25.00"
    return invoice


SHORT_PAYMENT = doc("remittance", payment=dict(REMITTANCE["payment"], amount="171.00"),
                    remittances=[
    {"invoice_number": "INV-5001", "po_number": "PO1001", "invoice_amount": "195.00",
     "amount_paid": "171.00",
     "adjustments": [{"reason_code": "01", "amount": "4.00", "description": "price difference"},
                     {"reason_code": "22", "amount": "15.00", "reference": "SHORT-881"}]}],
    adjustments=[{"reason_code": "CS", "amount": "30.00", "reference": "COOP-2026-07",
                  "description": "co-op advertising"}])


def test_an_order_through_its_discrepancies(books):
    books.add("purchase_order", ORDER, now="2026-07-01T08:00:00")
    assert books.open() == []

    books.add("ship_notice", over_shipping_late_asn(), now="2026-07-06T12:00:00")
    found = by_type(books.open())
    assert sorted(found) == ["asn_late", "asn_over_shipped"]
    over = found["asn_over_shipped"]
    assert over["details"] == {"line": "1", "ordered": "10", "shipped": "12", "excess": "2"}
    assert over["amount"] == "19.00" and over["currency"] == "USD"
    assert over["message"] == "PO PO1001 line 1 (buyer part B00MUG0001): 12 shipped, 10 ordered"
    late = found["asn_late"]
    assert late["severity"] == "warning" and late["shipment_id"] == "SHP-77"
    assert "sent 60 hours after the goods shipped on 2026-07-03" in late["message"]

    books.add("invoice", price_mismatch_invoice(), now="2026-07-06T13:00:00")
    price = by_type(books.open())["invoice_price_mismatch"]
    assert price["invoice_number"] == "INV-5001" and price["po_number"] == "PO1001"
    assert price["details"] == {"line": "2", "po_price": "24.00", "invoiced_price": "25.00",
                                "quantity": "4"}
    assert price["amount"] == "4.00"
    assert "unit price 25.00 USD, PO PO1001 says 24.00" in price["message"]

    books.add("remittance", SHORT_PAYMENT, now="2026-08-01T10:00:00")
    found = by_type(books.open())
    short = found["short_paid"]
    assert short["severity"] == "error"    # 19.00 of adjustments explain 24.00 short: not all
    assert short["amount"] == "24.00"
    assert short["details"]["adjustments"] == [
        {"reason_code": "01", "amount": "4.00", "description": "price difference"},
        {"reason_code": "22", "amount": "15.00", "reference": "SHORT-881"}]
    assert "171.00 of 195.00 USD paid by ACH-9001, 24.00 short; adjustments: 01 4.00, " \
           "22 15.00" in short["message"]
    deduction = found["deduction"]
    assert deduction["amount"] == "30.00" and deduction["details"]["reference"] == "COOP-2026-07"
    assert "deducts 30.00 USD (reason CS, COOP-2026-07): co-op advertising" in \
        deduction["message"]

    books.add("return", doc("return"), now="2026-08-10T09:00:00")
    waiting = by_type(books.open())["return_no_credit_memo"]
    assert waiting["amount"] == "19.00" and waiting["details"] == {"due": "2026-09-09"}

    books.add("credit_memo", doc("credit_memo"), now="2026-08-20T09:00:00")
    assert sorted(by_type(books.open())) == ["asn_late", "asn_over_shipped", "deduction",
                                             "invoice_price_mismatch", "short_paid"]
    settled = [d for d in books.all() if d["status"] == "resolved"]
    assert [(d["type"], d["resolved_by"], d["comment"]) for d in settled] == [
        ("return_no_credit_memo", "auto", "settled by credit_memo CM-42")]


def test_a_clean_order_leaves_nothing_open_and_counts_as_matched(books):
    for doc_type, now in (("purchase_order", "2026-07-01T08:00:00"), ("ship_notice", "2026-07-03T10:00:00"),
                          ("invoice", "2026-07-03T11:00:00"),
                          ("remittance", "2026-08-01T00:00:00")):
        books.add(doc_type, doc(doc_type), now=now)
    assert books.all() == []
    (chain,) = books.db.transaction(ledger.thd_chain, "PO1001")
    assert chain["unpaid"] == {"INV-5001": {"amount": "0.00", "currency": "USD"}}
    (rates,) = books.db.transaction(ledger.thd_rates)
    assert rates == dict(partner_id="amazon-us", invoices=1, invoices_matched=1, ship_notices=1,
                         ship_notices_on_time=1, outstanding={})


SCENARIO = [("purchase_order", ORDER), ("ship_notice", over_shipping_late_asn()),
            ("invoice", price_mismatch_invoice()), ("remittance", SHORT_PAYMENT),
            ("return", doc("return")), ("credit_memo", doc("credit_memo"))]


def findings(books):
    return sorted((d["type"], d["status"], d["amount"], d["message"]) for d in books.all()
                  if d["status"] != "resolved")


@pytest.mark.parametrize("order", [[5, 4, 3, 2, 1, 0], [2, 0, 5, 1, 4, 3]])
def test_any_arrival_order_and_repeats_give_the_same_books(db, order):
    forward = Books(db, partner="forward")
    for doc_type, body in SCENARIO:
        forward.add(doc_type, body, now="2026-08-20T10:00:00", received="2026-07-06T12:00:00")
    shuffled = Books(db, partner="shuffled")
    ids = [shuffled.store(*SCENARIO[i], received="2026-07-06T12:00:00") for i in order]
    for doc_id in ids + ids:     # every document twice
        shuffled.apply(doc_id, now="2026-08-20T10:00:00")
    assert findings(shuffled) == findings(forward)
    assert [t for t, *_ in findings(forward)] == [
        "asn_late", "asn_over_shipped", "deduction", "invoice_price_mismatch", "short_paid"]


def test_a_document_booked_twice_changes_nothing(books):
    doc_id = books.store("purchase_order", ORDER)
    first = books.apply(doc_id, now="2026-07-01T00:00:00")
    again = books.apply(doc_id, now="2026-07-02T00:00:00")
    assert first["booked"] == [doc_id] and first["subjects"] == [("amazon-us", "po:PO1001")]
    assert again == {"booked": [], "subjects": [], "opened": 0, "resolved": 0, "invalid": {},
                     "refused": {}, "jobs": []}


def test_late_documents_resolve_what_they_can(books):
    books.add("invoice", INVOICE, now="2026-07-03T00:00:00")
    books.add("ship_notice", SHIP_NOTICE, now="2026-07-03T01:00:00")
    assert books.open_types() == ["asn_unknown_po", "invoice_unknown_po"]
    books.add("purchase_order", ORDER, now="2026-07-04T00:00:00")
    assert books.open_types() == []
    assert {d["comment"] for d in books.all()} == {"settled by purchase_order PO1001"}


def test_invoice_quantity_above_shipped_until_the_asn_arrives(books):
    books.add("purchase_order", ORDER, now="2026-07-01T00:00:00")
    books.add("invoice", INVOICE, now="2026-07-03T00:00:00")
    found = by_type(books.open())
    assert sorted(found) == ["invoice_qty_over_shipped"]
    assert len([d for d in books.open()]) == 2    # both lines billed, nothing shipped
    books.add("ship_notice", SHIP_NOTICE, now="2026-07-03T01:00:00")
    assert books.open() == []


def test_unknown_items_cancelled_orders_and_duplicate_invoices(books):
    books.add("purchase_order", ORDER, now="2026-07-01T00:00:00")
    stray = doc("ship_notice")
    stray["orders"][0]["packages"][1]["items"][0] = {
        "product_ids": {"ean": "5901234123457"}, "quantity_shipped": 3, "unit": "EA"}
    books.add("ship_notice", stray, now="2026-07-03T00:00:00")
    unknown = by_type(books.open())["asn_unknown_item"]
    assert unknown["message"] == ("ship notice SHP-77 ships 3 of EAN 5901234123457, which is not "
                                  "on PO PO1001")
    books.add("purchase_order", doc("purchase_order", purpose="cancellation"), now="2026-07-03T02:00:00")
    assert "asn_cancelled_po" in books.open_types()

    books.add("invoice", doc("invoice", po_number=None), now="2026-07-04T00:00:00")
    books.add("invoice", doc("invoice", po_number=None), now="2026-07-04T01:00:00")
    found = by_type(books.open())
    duplicate = found["invoice_duplicate"]
    assert (duplicate["severity"], duplicate["message"]) == (
        "warning", "invoice number INV-5001 was sent 2 times as identical copies")
    assert len(duplicate["documents"]) == 2
    assert found["invoice_po_missing"]["invoice_number"] == "INV-5001"
    books.add("invoice", doc("invoice", po_number=None, total_amount="1.00"),
              now="2026-07-04T02:00:00")
    duplicate = by_type(books.open())["invoice_duplicate"]
    assert (duplicate["severity"], duplicate["message"]) == (
        "error", "invoice number INV-5001 was sent 3 times with different contents")


def test_an_item_billed_on_several_lines_is_found_on_each(books):
    books.add("purchase_order", ORDER, now="2026-07-01T00:00:00")
    books.add("ship_notice", SHIP_NOTICE, now="2026-07-03T00:00:00")
    invoice = doc("invoice", total_amount="200.00")
    stray = {"product_ids": {"vendor_part": "LID-9"}, "quantity": 1, "unit": "EA",
             "unit_price": "1.00"}
    invoice["lines"] = [dict(invoice["lines"][0], quantity=5, unit_price="9.60"),
                        dict(invoice["lines"][0], quantity=5, unit_price="9.70"),
                        invoice["lines"][1], stray, stray]
    books.add("invoice", invoice, now="2026-07-03T01:00:00")
    assert books.open_types() == ["invoice_price_mismatch", "invoice_price_mismatch",
                                  "invoice_unknown_item", "invoice_unknown_item"]
    assert sorted(d["amount"] for d in books.open()) == ["0.50", "1.00", "1.00", "1.00"]


def test_payments_over_unknown_and_explained(books):
    books.add("invoice", doc("invoice", invoice_number="INV-1", total_amount="100.00",
                             po_number=None), now="2026-07-03T00:00:00")
    books.add("invoice", doc("invoice", invoice_number="INV-2", total_amount="50.00",
                             po_number=None), now="2026-07-03T00:00:00")
    books.add("remittance", doc("remittance", remittances=[
        {"invoice_number": "INV-1", "amount_paid": "120.00"},
        {"invoice_number": "INV-2", "amount_paid": 45,
         "adjustments": [{"reason_code": "72", "amount": 5}]},
        {"invoice_number": "INV-404", "amount_paid": "10.00"}]), now="2026-08-01T00:00:00")
    found = {(d["type"], d["invoice_number"]): d for d in books.open()
             if d["type"] != "invoice_po_missing"}
    assert sorted(found) == [("over_paid", "INV-1"), ("payment_unknown_invoice", "INV-404"),
                             ("short_paid", "INV-2")]
    assert found[("over_paid", "INV-1")]["amount"] == "20.00"
    assert found[("short_paid", "INV-2")]["severity"] == "warning"   # fully explained
    assert found[("payment_unknown_invoice", "INV-404")]["amount"] == "10.00"


def test_sweep_finds_unpaid_invoices_overdue_asns_and_uncredited_returns(books):
    books.add("purchase_order", ORDER, now="2026-07-01T00:00:00")
    books.add("invoice", doc("invoice", po_number=None, invoice_number="INV-9"),
              now="2026-07-03T00:00:00")
    books.add("return", doc("return"), now="2026-08-10T00:00:00")
    assert books.sweep("2026-07-06T23:00:00") == 0
    assert books.sweep("2026-07-07T00:00:01") == 1     # ship window closed 2026-07-05 + 24h
    assert "asn_overdue" in books.open_types()
    assert books.sweep("2026-08-03T00:00:00") == 1     # net 30 from 2026-07-03
    overdue = by_type(books.open())["invoice_overdue"]
    assert overdue["details"] == {"invoiced": "191.00", "due": "2026-08-02", "net_days": 30}
    assert overdue["amount"] == "191.00"

    waiting = by_type(books.open())["return_no_credit_memo"]
    books.db.transaction(ledger.thd_transition, waiting["id"], "acknowledged", actor="ann",
                         now=ts("2026-08-11T00:00:00"))
    assert books.sweep("2026-09-10T00:00:00") == 1     # 30 days after 2026-08-10
    escalated = [d for d in books.all() if d["id"] == waiting["id"]][0]
    assert (escalated["type"], escalated["status"], escalated["severity"]) == (
        "credit_memo_overdue", "open", "error")
    assert books.sweep("2026-12-01T00:00:00") == 0     # nothing left to wait for

    books.add("remittance", doc("remittance", remittances=[
        {"invoice_number": "INV-9", "amount_paid": "191.00"}]), now="2026-09-11T00:00:00")
    assert "invoice_overdue" not in books.open_types()


def test_claim_window_and_terms_are_partner_settings(db):
    books = Books(db, settings={"amazon-us": {"claim_window_days": 10}})
    books.add("return", doc("return"), now="2026-08-10T00:00:00")
    assert by_type(books.open())["return_no_credit_memo"]["details"] == {"due": "2026-08-20"}
    assert books.sweep("2026-08-21T00:00:00") == 1
    assert books.open_types() == ["credit_memo_overdue"]


def test_operator_acknowledges_and_resolves_with_a_comment(books, db):
    books.add("invoice", doc("invoice", po_number=None), now="2026-07-03T00:00:00")
    item = books.open()[0]
    acked = db.transaction(ledger.thd_transition, item["id"], "acknowledged", actor="ann",
                           now=ts("2026-07-04T00:00:00"), comment="asking the buyer")
    assert (acked["status"], acked["comment"]) == ("acknowledged", "asking the buyer")
    with pytest.raises(ledger.LedgerError, match="is acknowledged; only open ones"):
        db.transaction(ledger.thd_transition, item["id"], "acknowledged", actor="ann",
                       now=ts("2026-07-04T00:00:00"))
    done = db.transaction(ledger.thd_transition, item["id"], "resolved", actor="bob",
                          now=ts("2026-07-05T00:00:00"), comment="PO added by phone")
    assert (done["status"], done["resolved_by"], done["comment"]) == (
        "resolved", "bob", "PO added by phone")
    with pytest.raises(ledger.LedgerError, match="no discrepancy 999999"):
        db.transaction(ledger.thd_transition, 999999, "resolved", actor="bob", now=0)
    # An operator's resolution stands when the same finding is evaluated again.
    books.add("invoice", doc("invoice", po_number=None, invoice_number="INV-X"),
              now="2026-07-06T00:00:00")
    books.sweep("2026-09-01T00:00:00")
    assert [d["status"] for d in books.all() if d["id"] == item["id"]] == ["resolved"]
    with db.engine.connect() as conn:
        audit = [r.detail for r in conn.execute(events.select().where(
            events.c.kind == "operator"))]
    assert audit == [f"discrepancy {item['id']} (amazon-us invoice_po_missing): asking the buyer",
                     f"discrepancy {item['id']} (amazon-us invoice_po_missing): PO added by "
                     f"phone"]


@pytest.mark.parametrize("doc_type, body, field, says", [
    ("purchase_order", doc("purchase_order", po_number=None), "po_number", "is missing"),
    ("ship_notice", {**SHIP_NOTICE, "orders": [{"po_number": "PO1001", "packages": [
        {"sscc": "000123456000000005", "items": [
            {"product_ids": {"buyer_part": "B00MUG0001"}, "quantity_shipped": -5,
             "unit": "EA"}]}]}]},
     "orders[0].packages[0].items[0].quantity_shipped",
     "-5 is less than or equal to the minimum of 0"),
    ("invoice", doc("invoice", total_amount="12,50"), "total_amount",
     '"12,50" is not valid: expected a non-negative decimal amount'),
    ("remittance", doc("remittance", payment=dict(REMITTANCE["payment"], amount="lots")),
     "payment.amount",
     '"lots" is not valid: expected a decimal amount that may be negative'),
    ("inventory", {"items": []}, "doc_type", "'inventory' is not one the ledger keeps"),
    ("purchase_order", "{not json", "(document)", "not valid JSON"),
    ("purchase_order", '{"po_number": NaN}', "(document)", "not valid JSON: unexpected character"),
    ("purchase_order", "[1, 2]", "(document)", "must be a JSON object"),
])
def test_hostile_documents_become_discrepancies_naming_the_field(books, doc_type, body, field,
                                                                 says):
    doc_id = books.store(doc_type, body)
    outcome = books.apply(doc_id, now="2026-07-01T00:00:00")
    assert outcome["booked"] == [] and list(outcome["invalid"]) == [doc_id]
    books.apply(doc_id, now="2026-07-02T00:00:00")     # recorded once
    (item,) = books.open()
    assert item["type"] == "invalid_document" and item["documents"] == [doc_id]
    assert item["details"]["field"] == field
    assert f"document {doc_id}: {field}: " in item["message"]
    assert says in item["message"]


def test_the_job_fails_for_good_without_a_document(db):
    class Rt:
        pass
    rt = Rt()
    rt.db = db
    with pytest.raises(PermanentError, match="payload names no document"):
        result(handler.reconcile(rt, Job(1, "reconcile", {}, 1, None)))
    with pytest.raises(PermanentError, match="document nope does not exist"):
        result(handler.reconcile(rt, Job(2, "reconcile", {"document": "nope"}, 1, None)))


def test_wrong_partner_settings_fail_the_job(db):
    books = Books(db, settings={"amazon-us": {"claim_window": 5}})
    doc_id = books.store("purchase_order", ORDER)
    with pytest.raises(PermanentError, match="unknown reconciliation setting 'claim_window'"):
        books.apply(doc_id, now="2026-07-01T00:00:00")


def test_chain_of_an_order_by_po_or_invoice(books, db):
    for doc_type, body in SCENARIO:
        books.add(doc_type, body, now="2026-08-20T10:00:00")
    books.add("purchase_order", doc("purchase_order", po_number="PO-OTHER"), now="2026-08-20T10:00:00")
    (by_po,) = db.transaction(ledger.thd_chain, "PO1001")
    (by_invoice,) = db.transaction(ledger.thd_chain, "INV-5001", partner_id="amazon-us")
    assert by_po == by_invoice
    assert by_po["po_numbers"] == ["PO1001"] and by_po["invoice_numbers"] == ["INV-5001"]
    # By their own dates: the invoice is dated the ship day, the late ASN three days later.
    assert [d["doc_type"] for d in by_po["documents"]] == [
        "purchase_order", "invoice", "ship_notice", "remittance", "return", "credit_memo"]
    # Booked weeks late, the order and invoice were overdue until the ASN and payment came.
    assert {(d["type"], d["status"]) for d in by_po["discrepancies"]} == {
        ("asn_late", "open"), ("asn_over_shipped", "open"), ("invoice_price_mismatch", "open"),
        ("short_paid", "open"), ("return_no_credit_memo", "resolved"),
        ("asn_overdue", "resolved"), ("invoice_overdue", "resolved")}
    assert db.transaction(ledger.thd_chain, "PO-NONE") == []


def test_chain_without_a_partner_finds_every_partners_order_by_index(books, db):
    other = Books(db, partner="walmart")
    for ledger_books in (books, other, Books(db, partner="target")):
        ledger_books.add("purchase_order", doc("purchase_order"), now="2026-08-20T10:00:00")
    other.add("purchase_order", doc("purchase_order", po_number="PO-OTHER"),
              now="2026-08-20T10:00:00")
    chains = db.transaction(ledger.thd_chain, "PO1001")
    assert [c["partner_id"] for c in chains] == ["amazon-us", "target", "walmart"]
    assert [len(c["documents"]) for c in chains] == [1, 1, 1]
    assert [c["partner_id"] for c in db.transaction(ledger.thd_chain, "PO-OTHER")] == ["walmart"]

    def plan(conn):
        compiled = ledger._named("PO1001", None).compile(
            dialect=conn.dialect, compile_kwargs={"literal_binds": True})
        return [r[-1] for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}")]
    if db.engine.dialect.name == "sqlite":   # each step is an index search, none a scan
        steps = db.transaction(plan)
        assert any("reconcile_links USING COVERING INDEX" in s for s in steps), steps
        assert not any(s.startswith("SCAN reconcile_links") for s in steps), steps


def test_metrics_follow_the_books(books, db):
    for doc_type, body in SCENARIO[:4]:
        books.add(doc_type, body, now="2026-08-01T10:00:00")
    result(handler.refresh_metrics(db))
    sample = metrics.RECONCILE_OPEN.labels("amazon-us", "short_paid")._value.get()
    assert sample == 1
    assert metrics.RECONCILE_INVOICE_MATCH.labels("amazon-us")._value.get() == 0
    assert metrics.RECONCILE_ASN_ON_TIME.labels("amazon-us")._value.get() == 0
    assert metrics.RECONCILE_OUTSTANDING.labels("amazon-us", "USD")._value.get() == 24.0


def test_rates_count_each_invoice_and_shipment_once(books, db):
    books.add("purchase_order", ORDER, now="2026-07-01T00:00:00")
    for i, late in itertools.product(range(2), (False, True)):
        notice = doc("ship_notice", shipment_id=f"S{i}{late}",
                     issued_at="2026-07-09T00:00:00Z" if late else "2026-07-03T12:00:00Z")
        notice["orders"][0]["packages"] = notice["orders"][0]["packages"][:1]
        notice["orders"][0]["packages"][0]["items"][0]["quantity_shipped"] = 1
        books.add("ship_notice", notice, now="2026-07-09T00:00:00")
    (rates,) = db.transaction(ledger.thd_rates)
    assert (rates["ship_notices"], rates["ship_notices_on_time"]) == (4, 2)
    assert db.transaction(ledger.thd_rates, since=ts("2026-08-01T00:00:00")) == []


def test_documents_of_one_order_booked_at_once_are_all_counted(db):
    """Workers booking ship notices of one order in parallel take turns on the order's subject."""
    books = Books(db)
    books.add("purchase_order", ORDER, now="2026-07-01T00:00:00")
    ids = []
    for i in range(16):
        notice = doc("ship_notice", shipment_id=f"S{i}")
        notice["orders"][0]["packages"] = notice["orders"][0]["packages"][:1]
        notice["orders"][0]["packages"][0]["items"][0]["quantity_shipped"] = 1
        ids.append(books.store("ship_notice", notice, received="2026-07-03T12:00:00"))
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda doc_id: books.apply(doc_id, now="2026-07-03T12:00:00"), ids))
    (over,) = books.open()
    assert over["details"]["shipped"] == "16" and len(over["documents"]) == 17


def test_chain_of_an_invoice_without_a_po(books, db):
    books.add("invoice", doc("invoice", po_number=None, invoice_number="INV-9"),
              now="2026-07-03T00:00:00")
    books.add("remittance", doc("remittance", remittances=[
        {"invoice_number": "INV-9", "amount_paid": "100.00"}]), now="2026-08-01T00:00:00")
    (chain,) = db.transaction(ledger.thd_chain, "INV-9")
    assert (chain["po_numbers"], chain["invoice_numbers"]) == ([], ["INV-9"])
    assert [d["doc_type"] for d in chain["documents"]] == ["invoice", "remittance"]
    assert chain["unpaid"] == {"INV-9": {"amount": "91.00", "currency": "USD"}}
    assert {d["type"] for d in chain["discrepancies"]} == {"invoice_po_missing", "short_paid"}


def test_sweep_skips_a_partner_with_broken_settings(db, caplog):
    Books(db, partner="good").add("return", doc("return"), now="2026-08-10T00:00:00")
    Books(db, partner="bad").add("return", doc("return"), now="2026-08-10T00:00:00")
    books = Books(db, partner="good", settings={"bad": {"claim_window_days": -1}})
    assert books.sweep("2026-10-01T00:00:00") == 1
    assert books.open_types() == ["credit_memo_overdue"]
    assert "reconcile sweep: partner bad: reconciliation setting claim_window_days must be " \
           "a number >= 0" in caplog.text


def test_credit_memos_must_cover_the_return(books):
    books.add("credit_memo", doc("credit_memo", amount="10.00"), now="2026-08-09T00:00:00")
    assert books.open_types() == ["credit_memo_unknown_return"]
    books.add("return", doc("return"), now="2026-08-10T00:00:00")
    short = by_type(books.open())["credit_memo_short"]
    assert short["message"] == "return RMA-300 is worth 19.00, credit memos CM-42 credit 10.00"
    assert short["amount"] == "9.00"
    books.add("credit_memo", doc("credit_memo", memo_number="CM-43", amount="9.00"),
              now="2026-08-11T00:00:00")
    assert books.open() == []
