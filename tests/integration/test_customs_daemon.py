"""Customs filing through the daemon: routed orders are checked and filed to the broker (or
refused with findings), and the broker's receipts settle the filings."""

import json
import shutil
import time
import uuid

import pytest
from ruamel.yaml import YAML
from sqlalchemy import select

from gateway.store import jobs, messages
from gateway.store.database import Database
from gateway.store.schema import customs_filings, documents
from tests.support import REPO, SHARED, wait_for, write_partner

DATA = REPO / "tests/unit/customs/data"
SAMPLES = SHARED / "customs/cn-ceb-2022/samples/export"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGxHQ0hNDo7p9a8m9XqPpWQmA0GUtZ5W2x+LyRq7bXhm b@x"


def order(po: str, *, phone: str | None, description: str = "Ceramic coffee mug, 350 ml"):
    ship_to = {"name": "Erika Mustermann", "address_lines": ["Heidestrasse 17"],
               "city": "Koeln", "postcode": "51147", "country": "DE"}
    if phone:
        ship_to["phone"] = phone
    return {"po_number": po, "purpose": "original", "order_date": "2026-07-15",
            "currency": "USD", "parties": {"ship_to": ship_to},
            "lines": [{"line_number": "1", "sku": "MUG-01", "quantity": 2,
                       "unit_of_measure": "EA", "unit_price": "12.50",
                       "description": description}]}


def thd_routed_order(conn, partner_id: str, body: dict) -> str:
    """A received message with its translated order, routed to customs."""
    id, _ = messages.thd_create(conn, direction="inbound", transport="as2",
                                partner_id=partner_id, message_id=f"<{uuid.uuid4()}>",
                                status="processed", actor="test", now=time.time())
    doc_id = str(uuid.uuid4())
    conn.execute(documents.insert().values(id=doc_id, message_id=id, position=1,
                                           partner_id=partner_id, doc_type="order",
                                           reference=body["po_number"], body=json.dumps(body),
                                           created_at=time.time()))
    jobs.thd_enqueue(conn, "customs", {"message": id, "document": doc_id}, now=time.time(),
                     message_id=id)
    return doc_id


@pytest.fixture
def gw(home, daemons):
    (home / "customs").mkdir()
    shutil.copy(DATA / "products.csv", home / "customs/products.csv")
    shipment = json.loads((DATA / "shipment.json").read_text())
    seller = {"identities": YAML(typ="safe").load((DATA / "identities.yaml").read_text()),
              "consignor": shipment["consignor"]}
    (home / "customs/seller.yaml").write_text(json.dumps(seller))
    write_partner(home, "shop", "id: shop\nname: Web shop orders\n"
                  "customs: {regime: eu, incoterm: DDP}\n")
    write_partner(home, "broker", f"id: broker\nname: Broker\n"
                  f"sftp: {{username: broker, authorized_keys: ['{KEY}']}}\n"
                  "routes:\n  - to: [customs]\n")
    return daemons({"GATEWAY_CUSTOMS_RECEIPT_TIMEOUT_S": "2",
                    "GATEWAY_CUSTOMS_PRODUCTS": "customs/products.csv",
                    "GATEWAY_CUSTOMS_SELLER": "customs/seller.yaml",
                    "GATEWAY_CUSTOMS_BROKER": "broker",
                    "GATEWAY_CUSTOMS_SIMULATE": "false"}).start()


def filings(db) -> dict:
    with db.engine.connect() as conn:
        return {r.consignment: r._asdict() for r in conn.execute(select(customs_filings))}


def test_orders_are_filed_or_refused_with_findings(gw, home):
    db = Database(f"sqlite:///{home / 'var/gateway.db'}")
    db.transaction(thd_routed_order, "shop", order("PO-GOOD", phone="+49 221 123456"))
    db.transaction(thd_routed_order, "shop", order("PO-BAD", phone=None, description="gift"))
    found = wait_for(lambda: len(filings(db)) == 2 and filings(db), what="two filings")
    good, bad = found["PO-GOOD"], found["PO-BAD"]
    assert (good["kind"], good["status"], good["regime"]) == ("H7", "filed", "eu")
    h7 = json.loads((home / "var/customs/H7_PO-GOOD.json").read_text())
    assert h7 and good["filename"] == "H7_PO-GOOD.json"
    placed = wait_for(lambda: list((home / "var/sftp/broker/outbound").glob("*_H7_PO-GOOD.json")),
                      what="filing queued to the broker")
    assert json.loads(placed[0].read_text()) == h7
    assert bad["status"] == "refused"
    rules = {(f["rule"], f["where"]) for f in json.loads(bad["findings"])}
    assert any(rule == "EU-PARTY" and "consignee" in where and "phone" in where
               for rule, where in rules), rules
    assert any(rule == "EU-DESC-VAGUE" for rule, _ in rules), rules
    text = gw.metrics()
    assert 'gateway_customs_filings_total{outcome="filed",partner="shop",regime="eu"} 1.0' in text
    assert 'gateway_customs_filings_total{outcome="refused",partner="shop",regime="eu"} 1.0' \
        in text
    wait_for(lambda: 'gateway_customs_filings_overdue{partner="shop",regime="eu"} 1.0'
             in gw.metrics(), what="the unanswered filing counted as overdue")


def test_receipts_from_the_broker_settle_filings(gw, home):
    db = Database(f"sqlite:///{home / 'var/gateway.db'}")
    with db.engine.begin() as conn:
        conn.execute(customs_filings.insert().values(
            id=str(uuid.uuid4()), partner_id="shop", regime="cn", consignment="1105910159",
            kind="CEB603", status="filed", created_at=time.time(), updated_at=time.time()))
    receipt = SAMPLES / "CEB604Message.xml"
    cleared = receipt.read_text(encoding="utf-8").replace(
        "<ceb:returnStatus>2<", "<ceb:returnStatus>399<", 1)
    (home / "604.xml").write_text(cleared, encoding="utf-8")
    gw.command("receive", "--partner", "broker", str(home / "604.xml"))
    wait_for(lambda: filings(db)["1105910159"]["status"] == "accepted", what="settled")
    assert json.loads(filings(db)["1105910159"]["receipt"])["type"] == "CEB604"
    (home / "junk.xml").write_text("<not-a-receipt/>")
    gw.command("receive", "--partner", "broker", str(home / "junk.xml"))
    wait_for(lambda: "not a customs receipt" in gw.command("jobs", "--status", "dead").stdout,
             what="a non-receipt dead-lettered with its reason")


def test_ship_notice_from_an_inbound_856_is_filed_as_a_us_entry(gw, home):
    from gateway.edi.x12 import Delimiters, gs, interchange, isa
    from gateway.translate import find_map, render
    from tests.unit.translate.documents import SHIP_NOTICE

    write_partner(home, "us-shop", """\
id: us-shop
name: US web shop, shipped by the vendor
x12: {isa_qualifier: ZZ, isa_id: USSHOP, gs_id: USSHOP, ack: none, profile: amazon-vc}
customs: {regime: us, incoterm: DDP}
routes:
  - match: {type: "856"}
    to: [customs]
""")
    (home / "mapping").symlink_to(REPO / "mapping")
    gw.send(__import__("signal").SIGHUP)
    wait_for(lambda: "gateway_partners 3.0" in gw.metrics(), what="partner added")
    notice = dict(SHIP_NOTICE, parties={
        "ship_to": {"name": "Pat Doe", "address_lines": ["1 Main St"], "city": "Reno",
                    "state": "NV", "postcode": "89501", "country": "US"},
        "ship_from": SHIP_NOTICE["parties"]["ship_from"]},
        orders=[{"po_number": "WEB-7", "cartons": [{"sscc": "000012345600000018", "lines": [
            {"line_number": "1", "quantity": 4, "unit_of_measure": "EA", "sku": "MUG-01"},
            {"line_number": "2", "quantity": 2, "unit_of_measure": "EA", "sku": "TEE-02"}]}]}])
    d = Delimiters("*", ">", "~")
    (home / "asn.x12").write_text(interchange(
        isa(("ZZ", "USSHOP"), ("ZZ", "GATEWAY"), 5, d),
        [(gs("SH", "USSHOP", "GATEWAY", 5), [render(notice, find_map("856"), 1)])], d))
    gw.command("receive", "--partner", "us-shop", str(home / "asn.x12"))
    db = Database(f"sqlite:///{home / 'var/gateway.db'}")
    filing = wait_for(lambda: filings(db).get("ASN0001"), what=f"US entry filed\n{gw.tail()}")
    assert (filing["kind"], filing["status"], filing["regime"]) == ("US-ENTRY", "filed", "us")
    entry = json.loads((home / "var/customs" / filing["filename"]).read_text())
    assert entry["total_value"] == "89.80"   # 4 x 12.50 + 2 x 19.90 at the product master's values
    assert [(line["hts"], line["quantity"]) for line in entry["lines"]] == [
        ("6912004810", "4"), ("6109100012", "2")]


def test_a_broken_seller_file_never_puts_its_content_in_logs(gw, home):
    (home / "customs/seller.yaml").write_text(
        'consignor:\n  street: "5 Secret Street\n  phone: +44 7700 900123\n')
    db = Database(f"sqlite:///{home / 'var/gateway.db'}")
    db.transaction(thd_routed_order, "shop", order("PO-X", phone="+49 1"))
    dead = wait_for(lambda: db.transaction(jobs.thd_list, status="dead"), what="refused job")
    assert "customs.seller file customs/seller.yaml is not valid YAML (line" in \
        dead[0]["last_error"]
    for text in (dead[0]["last_error"], gw.tail(400)):
        assert "Secret" not in text and "7700" not in text
