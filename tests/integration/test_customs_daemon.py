"""Customs filing through the daemon: routed orders are checked and filed to the broker (or
refused with findings), the broker's receipts settle the filings, rejected consignments are
amended and filed again, and no consignee's personal data reaches the logs."""

import json
import shutil
import time
import uuid

import pytest
from ruamel.yaml import YAML
from sqlalchemy import select

from gateway.store import jobs, messages
from gateway.store.database import Database
from gateway.store.schema import customs_consignments, customs_filings, documents
from tests.support import REPO, SHARED, wait_for, write_partner

DATA = REPO / "tests/unit/customs/data"
SAMPLES = SHARED / "customs/cn-ceb-2022/samples/export"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGxHQ0hNDo7p9a8m9XqPpWQmA0GUtZ5W2x+LyRq7bXhm b@x"


def order(po: str, *, phone: str | None, description: str = "Ceramic coffee mug, 350 ml"):
    ship_to = {"role": "ship_to", "name": "Erika Mustermann",
               "address": {"lines": ["Heidestrasse 17"], "city": "Koeln", "postcode": "51147",
                           "country": "DE"}}
    if phone:
        ship_to["phone"] = phone
    return {"po_number": po, "purpose": "original", "po_date": "2026-07-15",
            "currency": "USD", "parties": [ship_to],
            "lines": [{"line_number": "1", "product_ids": {"vendor_part": "MUG-01"},
                       "quantity": 2, "unit": "EA", "unit_price": "12.50",
                       "description": description}]}


def thd_routed_order(conn, partner_id: str, body: dict) -> str:
    """A received message with its translated order, routed to customs."""
    id, _ = messages.thd_create(conn, direction="inbound", transport="as2",
                                partner_id=partner_id, message_id=f"<{uuid.uuid4()}>",
                                status="processed", actor="test", now=time.time())
    doc_id = str(uuid.uuid4())
    conn.execute(documents.insert().values(id=doc_id, message_id=id, position=1,
                                           partner_id=partner_id, doc_type="purchase_order",
                                           reference=body["po_number"], body=json.dumps(body),
                                           created_at=time.time()))
    jobs.thd_enqueue(conn, "customs", {"message": id, "document": doc_id}, now=time.time(),
                     message_id=id)
    return doc_id


ENV = {"GATEWAY_CUSTOMS_RECEIPT_TIMEOUT_S": "2", "GATEWAY_CUSTOMS_PRODUCTS": "customs/products.csv",
       "GATEWAY_CUSTOMS_SELLER": "customs/seller.yaml", "GATEWAY_CUSTOMS_BROKER": "broker",
       "GATEWAY_CUSTOMS_SIMULATE": "false"}


@pytest.fixture
def customs_home(home):
    """The seller's files, a web shop declared in the EU and a broker."""
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
    return home


@pytest.fixture
def gw(customs_home, daemons):
    return daemons(ENV).start()


def filings(db) -> dict:
    """The latest filing of each consignment."""
    with db.engine.connect() as conn:
        return {r.consignment: r._asdict() for r in conn.execute(
            select(customs_filings).order_by(customs_filings.c.version))}


def consignments(db) -> dict:
    with db.engine.connect() as conn:
        return {r.consignment: r._asdict() for r in conn.execute(select(customs_consignments))}


def test_orders_are_filed_or_refused_with_findings(gw, home):
    db = Database(f"sqlite:///{home / 'var/gateway.db'}")
    db.transaction(thd_routed_order, "shop", order("PO-GOOD", phone="+49 221 123456"))
    db.transaction(thd_routed_order, "shop", order("PO-BAD", phone=None, description="gift"))
    wait_for(lambda: len(consignments(db)) == 2, what="two consignments")
    good, bad = filings(db)["PO-GOOD"], consignments(db)["PO-BAD"]
    assert (good["kind"], good["status"], good["regime"], good["version"]) == \
        ("H7", "filed", "eu", 1)
    assert consignments(db)["PO-GOOD"]["state"] == "filed"
    h7 = json.loads((home / "var/customs/H7_PO-GOOD.json").read_text())
    assert h7["version"] == 1 and good["filename"] == "H7_PO-GOOD.json"
    placed = wait_for(lambda: list((home / "var/sftp/broker/outbound").glob("*_H7_PO-GOOD.json")),
                      what="filing queued to the broker")
    assert json.loads(placed[0].read_text()) == h7
    assert (bad["state"], bad["version"], bad["problems"]) == ("draft", 0, 2)
    assert "PO-BAD" not in filings(db)
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
        conn.execute(customs_consignments.insert().values(
            id=str(uuid.uuid4()), partner_id="shop", regime="cn", consignment="1105910159",
            state="filed", version=1, problems=0, created_at=time.time(),
            updated_at=time.time()))
        conn.execute(customs_filings.insert().values(
            id=str(uuid.uuid4()), partner_id="shop", regime="cn", consignment="1105910159",
            kind="CEB603", status="filed", version=1, created_at=time.time(),
            updated_at=time.time()))
    receipt = SAMPLES / "CEB604Message.xml"
    cleared = receipt.read_text(encoding="utf-8").replace(
        "<ceb:returnStatus>2<", "<ceb:returnStatus>399<", 1)
    (home / "604.xml").write_text(cleared, encoding="utf-8")
    gw.command("receive", "--partner", "broker", str(home / "604.xml"))
    wait_for(lambda: filings(db)["1105910159"]["status"] == "accepted", what="settled")
    assert json.loads(filings(db)["1105910159"]["receipt"])["type"] == "CEB604"
    assert consignments(db)["1105910159"]["state"] == "accepted"
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
    notice = dict(SHIP_NOTICE, ship_to={
        "role": "ship_to", "name": "Pat Doe",
        "address": {"lines": ["1 Main St"], "city": "Reno", "state": "NV", "postcode": "89501",
                    "country": "US"}},
        orders=[{"po_number": "WEB-7", "packages": [{"sscc": "000012345600000018", "items": [
            {"line_number": "1", "quantity_shipped": 4, "unit": "EA",
             "product_ids": {"vendor_part": "MUG-01"}},
            {"line_number": "2", "quantity_shipped": 2, "unit": "EA",
             "product_ids": {"vendor_part": "TEE-02"}}]}]}])
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


def broker_receipt(home, name: str, **doc) -> str:
    path = home / name
    path.write_text(json.dumps({"timestamp": "2026-07-16T09:30:00Z", **doc}))
    return str(path)


def test_a_rejected_consignment_is_amended_refiled_and_accepted(gw, home):
    db = Database(f"sqlite:///{home / 'var/gateway.db'}")
    outbound = home / "var/sftp/broker/outbound"
    db.transaction(thd_routed_order, "shop", order("PO-LIFE", phone="+49 221 123456"))
    wait_for(lambda: list(outbound.glob("*_H7_PO-LIFE.json")), what="version 1 sent")
    gw.command("receive", "--partner", "broker", broker_receipt(
        home, "rejected.json", consignment="PO-LIFE", filing="H7_PO-LIFE.json",
        status="rejected", reasons=[{"code": "H7-044", "message": "HS code not valid",
                                     "field": "items[0].hs_code"}]))
    wait_for(lambda: consignments(db)["PO-LIFE"]["state"] == "rejected", what="rejected")
    table = gw.command("customs", "status", "--state", "rejected").stdout
    assert "H7-044: HS code not valid (items[0].hs_code)" in table

    db.transaction(thd_routed_order, "shop", order("PO-LIFE", phone="+49 221 123456",
                                                   description="Stoneware coffee mug"))
    placed = wait_for(lambda: list(outbound.glob("*_H7_PO-LIFE_v2.json")), what="v2 sent")
    amended = json.loads(placed[0].read_text())
    assert amended["version"] == 2 and amended["items"][0]["description"] == \
        "Stoneware coffee mug"
    assert consignments(db)["PO-LIFE"]["state"] == "filed"
    gw.command("receive", "--partner", "broker", broker_receipt(
        home, "accepted.json", consignment="PO-LIFE", version=2, status="accepted"))
    wait_for(lambda: consignments(db)["PO-LIFE"]["state"] == "accepted", what="accepted")
    listed = json.loads(gw.command("customs", "status", "--json").stdout)
    life = next(c for c in listed if c["consignment"] == "PO-LIFE")
    assert (life["state"], life["version"], life["filings"]) == ("accepted", 2, 2)

    # Out of turn: a third document for the accepted consignment, a receipt contradicting it.
    db.transaction(thd_routed_order, "shop", order("PO-LIFE", phone="+49 221 123456"))
    gw.command("receive", "--partner", "broker", broker_receipt(
        home, "late.json", consignment="PO-LIFE", status="rejected",
        reasons=[{"code": "X", "message": "late"}]))
    shown = wait_for(lambda: (lambda out: out.count("out-of-turn") == 2 and out)(
        gw.command("customs", "show", "PO-LIFE").stdout), what="two steps refused")
    assert "an accepted filing cannot be amended" in shown
    assert "H7 of consignment PO-LIFE was already accepted" in shown
    assert shown.splitlines()[0] == "PO-LIFE (shop, eu): accepted, version 2, 2 filing(s), " \
                                    "0 problem(s)"
    assert consignments(db)["PO-LIFE"]["state"] == "accepted"
    assert not list(outbound.glob("*_H7_PO-LIFE_v3.json"))

    # Receipts that match nothing, or are not receipts, are dead-lettered with the reason.
    gw.command("receive", "--partner", "broker", broker_receipt(
        home, "unknown.json", consignment="PO-NONE", status="accepted"))
    (home / "bad.json").write_text('{"consignment": "PO-LIFE", "status": "maybe"}')
    gw.command("receive", "--partner", "broker", str(home / "bad.json"))
    dead = wait_for(lambda: (lambda jobs: len(jobs) == 2 and jobs)(
        db.transaction(jobs.thd_list, status="dead")), what="two receipts refused")
    errors = sorted(j["last_error"] for j in dead)
    assert errors[0].endswith("customs receipt for unknown filings: broker-json "
                              "consignment=PO-NONE: no filing matches"), errors
    assert "not a customs receipt: broker receipt: $" in errors[1], errors
    text = gw.metrics()
    for sample in ('gateway_customs_filings_total{outcome="rejected",partner="shop",regime="eu"} '
                   "1.0",
                   'gateway_customs_filings_total{outcome="amended",partner="shop",regime="eu"} '
                   "1.0",
                   'gateway_customs_filings_total{outcome="accepted",partner="shop",regime="eu"} '
                   "1.0",
                   'gateway_customs_filings_total{outcome="out-of-turn",partner="shop",'
                   'regime="eu"} 1.0',
                   'gateway_customs_receipts_total{outcome="settled",partner="broker"} 2.0',
                   'gateway_customs_receipts_total{outcome="out-of-turn",partner="broker"} 1.0',
                   'gateway_customs_receipts_total{outcome="unmatched",partner="broker"} 1.0',
                   'gateway_customs_receipts_total{outcome="malformed",partner="broker"} 1.0'):
        assert sample in text, sample


def test_personal_data_never_reaches_the_logs(customs_home, daemons):
    """The logs of a refused, a failing and a successful filing and of a rejection, searched
    for the consignee's name, phone and street, with the daemon logging everything (debug)."""
    home, gw = customs_home, daemons(dict(ENV, GATEWAY_GATEWAY_LOG_LEVEL="debug")).start()
    name, phone, street = "Zofia Wiśniewska-Kowalczyk", "+48 601 987 654", "Ulica Kwiatowa 23"
    db = Database(f"sqlite:///{home / 'var/gateway.db'}")

    def private(po, **changes):
        body = order(po, phone=phone, **changes)
        body["parties"][0].update(name=name, address={
            "lines": [street], "country": "PL", "postcode": "00-001", "city": "Warszawa"})
        return body

    db.transaction(thd_routed_order, "shop", private("PO-OK"))
    refused = private("PO-REFUSED", description="gift")
    del refused["parties"][0]["address"]["postcode"]
    db.transaction(thd_routed_order, "shop", refused)
    broken = private("PO-BROKEN")
    broken["parties"][0]["name"] = name + "\ud800"   # cannot be filed: a data problem
    db.transaction(thd_routed_order, "shop", broken)
    wait_for(lambda: len(consignments(db)) == 3, what="three consignments")
    gw.command("receive", "--partner", "broker", broker_receipt(
        home, "rejected.json", consignment="PO-OK", status="rejected",
        reasons=[{"code": "R1", "message": "consignee unknown", "field": "consignee.name"}]))
    wait_for(lambda: consignments(db)["PO-OK"]["state"] == "rejected", what="rejected")
    (home / "junk.json").write_text(json.dumps({"consignment": "PO-OK", "status": phone,
                                                "timestamp": "2026-07-16T09:30:00Z"}))
    gw.command("receive", "--partner", "broker", str(home / "junk.json"))
    wait_for(lambda: db.transaction(jobs.thd_list, status="dead"), what="junk refused")
    states = {k: (c["state"], c["problems"]) for k, c in consignments(db).items()}
    assert states == {"PO-OK": ("rejected", 0), "PO-REFUSED": ("draft", 2),
                      "PO-BROKEN": ("draft", 1)}
    findings = json.loads(consignments(db)["PO-BROKEN"]["findings"])
    assert findings[0]["where"] == "consignee.name"
    assert "lone surrogate" in findings[0]["message"]
    gw.stop()
    logs = gw.log.read_text(encoding="utf-8", errors="replace")
    assert " DEBUG " in logs and "not a customs receipt" in logs   # all is logged
    for secret in (name, "Wiśniewska", phone, "601 987", street, "Kwiatowa"):
        assert secret not in logs, secret
        for job in db.transaction(jobs.thd_list, status="dead"):
            assert secret not in (job["last_error"] or ""), secret
