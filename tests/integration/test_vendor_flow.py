"""A vendor's month with Amazon, end to end over real AS2 between two gateways on 127.0.0.1:
an 850 arrives; the 855/856/810 go out from `reconcile respond --send`; Amazon's 997 settles
them; an 820 arrives short-paid with an adjustment; the report shows the short payment with its
reason; a later credit memo resolves it."""

import io
import json

import pytest

from gateway.edi.x12 import Delimiters, gs, interchange, isa, load, transaction_set
from gateway.translate import find_map, render, translate
from tests.support import Daemon, wait_for, write_partner

DELIMITERS = Delimiters("*", ">", "~")
SCHEMAS = __import__("gateway.translate.schemas", fromlist=["SCHEMAS"]).SCHEMAS


def example(name: str) -> dict:
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text())["examples"][0]


def gateway(home, as2_id, isa_id):
    (home / "partners").mkdir(parents=True)
    d = Daemon(home, {"GATEWAY_IDENTITY_AS2_ID": as2_id, "GATEWAY_IDENTITY_ISA_ID": isa_id})
    d.command("certs", "init")
    (home / "certs/partners").mkdir()
    return d


@pytest.fixture
def pair(tmp_path):
    vendor = gateway(tmp_path / "vendor", "ACME", "ACME")
    amazon = gateway(tmp_path / "amazon", "AMAZON", "AMAZON")
    for me, other, name in ((vendor, amazon, "amazon-vc"), (amazon, vendor, "vendor")):
        (me.home / f"certs/partners/{name}.pem").write_bytes(
            (other.home / "certs/gateway/as2.crt").read_bytes())
    write_partner(vendor.home, "amazon-vc", f"""\
id: amazon-vc
name: Amazon Vendor Central
as2:
  as2_id: AMAZON
  url: http://127.0.0.1:{amazon.as2_port}/as2
  certificates: {{signing: partners/amazon-vc.pem, encryption: partners/amazon-vc.pem}}
x12: {{isa_qualifier: ZZ, isa_id: AMAZON, gs_id: AMAZON}}
routes:
  - match: {{type: "850"}}
    to: [reconcile]
  - match: {{type: "820"}}
    to: [reconcile]
  - match: {{type: credit_memo}}
    to: [reconcile]
""")
    write_partner(amazon.home, "vendor", f"""\
id: vendor
name: ACME Housewares
as2:
  as2_id: ACME
  url: http://127.0.0.1:{vendor.as2_port}/as2
  certificates: {{signing: partners/vendor.pem, encryption: partners/vendor.pem}}
routes:
  - to: [{{directory: in}}]
""")
    (vendor.home / "mapping").symlink_to(SCHEMAS.parents[1] / "mapping")
    vendor.start()
    amazon.start()
    yield vendor, amazon
    for d in (vendor, amazon):
        if d.proc.poll() is None:
            d.proc.kill()


def amazon_sends(amazon, name: str, set_id: str, fid: str, document: dict, control: int):
    body = render(document, find_map(set_id), 1) if document else None
    text = interchange(isa(("ZZ", "AMAZON"), ("ZZ", "ACME"), control, DELIMITERS),
                       [(gs(fid, "AMAZON", "ACME", control), [body])], DELIMITERS)
    (amazon.home / name).write_text(text)
    amazon.command("send", "--partner", "vendor", str(amazon.home / name))


def received_by_amazon(amazon, count: int):
    files = wait_for(lambda: len(list((amazon.home / "in").glob("*"))) >= count and
                     sorted((amazon.home / "in").glob("*")), timeout=60, what="at Amazon")
    return [load(io.BytesIO(f.read_bytes()))[0] for f in files]


def report(vendor) -> list[dict]:
    return json.loads(vendor.command("reconcile", "report", "--format", "json").stdout)[
        "open_items"]


def test_order_to_cash_with_a_short_payment_settled_by_a_credit_memo(pair, tmp_path):
    vendor, amazon = pair
    order = example("purchase_order")   # what Amazon's guide also demands of a PO:
    order.update(purpose="original", order_type="SA")
    for party in order["parties"]:
        party.setdefault("id_qualifier", "92")
    amazon_sends(amazon, "po.x12", "850", "PO", order, 101)
    wait_for(lambda: any(m["status"] == "processed" for m in vendor.messages("--direction",
                                                                             "inbound")),
             timeout=60, what=f"850 processed at the vendor\n{vendor.tail()}")
    (ack_997,) = received_by_amazon(amazon, 1)
    assert ack_997.groups[0].functional_id == "FA"

    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps(example("shipment_facts")))
    result = vendor.command("reconcile", "respond", "PO1001", "--shipment", str(facts),
                            "--partner", "amazon-vc", "--send")
    assert "queued message" in result.stdout, result.stderr
    wait_for(lambda: all(m["status"] == "delivered"
                         for m in vendor.messages("--direction", "outbound")),
             timeout=60, what="855/856/810 delivered with their MDN")
    interchanges = received_by_amazon(amazon, 2)
    (sent,) = [ic for ic in interchanges if ic.groups[0].functional_id != "FA"]
    assert [g.functional_id for g in sent.groups] == ["PR", "SH", "IN"]
    invoice = translate(sent.groups[2].sets[0])
    assert invoice["po_number"] == "PO1001"

    # Amazon acknowledges the three groups with one 997 each.
    acks = [transaction_set("997", n + 1, [["AK1", g.functional_id, g.control_number],
                                           ["AK9", "A", "1", "1", "1"]])
            for n, g in enumerate(sent.groups)]
    text = interchange(isa(("ZZ", "AMAZON"), ("ZZ", "ACME"), 102, DELIMITERS),
                       [(gs("FA", "AMAZON", "ACME", 102), acks)], DELIMITERS)
    (amazon.home / "997.x12").write_text(text)
    amazon.command("send", "--partner", "vendor", str(amazon.home / "997.x12"))
    wait_for(lambda: 'gateway_acks_total{direction="received",kind="997",outcome="accepted",'
             'partner="amazon-vc"} 3.0' in vendor.metrics(), timeout=60, what="997s matched")
    assert "amazon-vc" in vendor.command("status").stdout

    total = float(invoice["total_amount"])
    short = 10.0
    remittance = {
        "payment": {"trace_number": "ACH-777", "date": "2026-08-01", "method": "ACH",
                    "currency": "USD", "amount": f"{total - short:.2f}"},
        "remittances": [{"invoice_number": invoice["invoice_number"], "po_number": "PO1001",
                         "amount_paid": f"{total - short:.2f}", "invoice_amount": f"{total:.2f}",
                         "adjustments": [{"reason_code": "01", "amount": f"{short:.2f}",
                                          "reference": "PRICE-DIFF"}]}]}
    amazon_sends(amazon, "remit.x12", "820", "RA", remittance, 103)
    shorts = wait_for(lambda: [d for d in report(vendor) if d["type"] == "short_paid"],
                      timeout=60, what=f"short payment reported\n{vendor.tail()}")
    assert "01 10.00" in shorts[0]["message"] and shorts[0]["amount"] == "10.00"

    memo = {"document_type": "credit_memo", "document": {
        "memo_number": "CM-9", "memo_date": "2026-08-05", "kind": "credit",
        "invoice_number": invoice["invoice_number"], "currency": "USD", "amount": "10.00"}}
    (tmp_path / "memo.json").write_text(json.dumps(memo))
    vendor.command("receive", "--partner", "amazon-vc", str(tmp_path / "memo.json"))
    wait_for(lambda: not [d for d in report(vendor) if d["type"] == "short_paid"],
             timeout=60, what="short payment resolved by the credit memo")
    chain = vendor.command("reconcile", "show", "PO1001").stdout
    assert invoice["invoice_number"] in chain
    assert vendor.stop() == 0 and amazon.stop() == 0
