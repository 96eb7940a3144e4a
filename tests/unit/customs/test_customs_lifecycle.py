"""A consignment's lifecycle in the store (SQLite and PostgreSQL): draft -> checked -> filed ->
accepted | rejected -> amended and filed again, every step kept; steps out of turn refused."""

import copy
import json
import time
import uuid

import pytest
from sqlalchemy import select

from gateway.archive import Archive
from gateway.customs import default_data, parse_receipt
from gateway.customs.lifecycle import OutOfTurn, check_amend, consignment_state, settle
from gateway.route.handlers.customs import (
    Attempt,
    build,
    keep,
    next_version,
    thd_consignment,
    thd_out_of_turn,
    thd_record,
    thd_settle,
)
from gateway.store import messages
from gateway.store.schema import customs_events, customs_filings, documents
from tests.unit.customs.customs_support import EXAMPLE

# -- the rules, pure ---------------------------------------------------------------------------


@pytest.mark.parametrize("state, simulated", [
    (None, False), ("draft", False), ("checked", False), ("rejected", False), ("filed", True)])
def test_a_new_draft_rejected_or_only_simulated_consignment_may_be_filed(state, simulated):
    check_amend("SO-1", state, 1, simulated)


@pytest.mark.parametrize("state, message", [
    ("filed", "consignment SO-1 was filed (version 2) and awaits its receipt"),
    ("accepted", "consignment SO-1 was accepted (version 2): an accepted filing cannot be "
                 "amended")])
def test_a_filed_or_accepted_consignment_may_not_be_amended(state, message):
    with pytest.raises(OutOfTurn, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_amend("SO-1", state, 2, False)


@pytest.mark.parametrize("status, outcome, expected", [
    ("filed", "accepted", "accepted"), ("filed", "rejected", "rejected"),
    ("accepted", "accepted", None), ("rejected", "rejected", None)])
def test_receipts_settle_filed_filings_and_repeat_harmlessly(status, outcome, expected):
    assert settle("SO-1", "H7", status, outcome) == expected


@pytest.mark.parametrize("status, outcome, message", [
    ("accepted", "rejected", "H7 of consignment SO-1 was already accepted"),
    ("rejected", "accepted", "was already rejected"),
    ("simulated", "accepted", "produced in simulation and never sent")])
def test_contradicting_receipts_are_out_of_turn(status, outcome, message):
    with pytest.raises(OutOfTurn, match=message):
        settle("SO-1", "H7", status, outcome)


def test_consignment_state_follows_its_filings():
    assert consignment_state(["filed", "accepted", "filed"]) == "filed"
    assert consignment_state(["accepted", "accepted", "accepted"]) == "accepted"
    assert consignment_state(["accepted", "rejected", "filed"]) == "rejected"


# -- in the store ------------------------------------------------------------------------------


def receipt(status: str, **fields) -> bytes:
    doc = {"consignment": "SO-1001", "status": status, "timestamp": "2026-07-16T09:30:00+02:00",
           **fields}
    if status == "rejected" and "reasons" not in doc:
        doc["reasons"] = [{"code": "H7-044", "message": "HS code 691200 is not a valid "
                           "subheading for mugs", "field": "items[0].hs_code"}]
    return json.dumps(doc).encode()


def thd_document(conn) -> str:
    id, _ = messages.thd_create(conn, direction="inbound", transport="as2", partner_id="shop",
                                message_id=f"<{uuid.uuid4()}>", status="processed",
                                actor="test", now=time.time())
    doc_id = str(uuid.uuid4())
    conn.execute(documents.insert().values(id=doc_id, message_id=id, position=1,
                                           partner_id="shop", doc_type="purchase_order",
                                           reference="SO-1001", body="{}",
                                           created_at=time.time()))
    return doc_id


@pytest.fixture
def file(db, tmp_path, products, identities):
    """Read consignment JSON as the next version of its consignment and record it."""
    archive = Archive(tmp_path / "data")

    def run(source: dict, regime: str = "eu", *, simulate: bool = False, document=False):
        current = db.transaction(thd_consignment, "shop", source["id"])
        attempt = Attempt("shop", regime, source["id"], next_version(current))
        if document:
            attempt.document_id = db.transaction(thd_document)
        build(attempt, source, products, identities, default_data(),
              lambda filing: keep(archive, tmp_path / "filings", filing))
        outcome = db.transaction(thd_record, attempt, simulate=simulate, actor="node-1",
                                 now=time.time())
        return outcome, attempt

    return run


def state(db, reference="SO-1001") -> dict:
    return db.transaction(thd_consignment, "shop", reference)


def history(db) -> list[tuple[int, str]]:
    with db.engine.connect() as conn:
        return [(r.version, r.event) for r in conn.execute(
            select(customs_events).order_by(customs_events.c.id))]


def filings(db) -> list[tuple[int, str, str]]:
    with db.engine.connect() as conn:
        return [(r.version, r.filename, r.status) for r in conn.execute(
            select(customs_filings).order_by(customs_filings.c.version))]


def test_refused_then_filed_rejected_amended_and_accepted(db, file, tmp_path):
    bad = copy.deepcopy(EXAMPLE)
    bad["lines"][0]["description"] = "gift"
    del bad["consignee"]["phone"]
    outcome, attempt = file(bad)
    assert outcome == "refused" and attempt.files == []
    draft = state(db)
    assert (draft["state"], draft["version"], draft["problems"]) == ("draft", 0, 2)
    assert {f["rule"] for f in json.loads(draft["findings"])} == {"EU-DESC-VAGUE", "EU-PARTY"}

    outcome, attempt = file(copy.deepcopy(EXAMPLE))   # corrected: first filed version
    assert outcome == "filed" and attempt.version == 1
    assert (state(db)["state"], state(db)["version"], state(db)["problems"]) == ("filed", 1, 0)
    assert filings(db) == [(1, "H7_SO-1001.json", "filed")]
    assert json.loads((tmp_path / "filings/H7_SO-1001.json").read_text())["version"] == 1

    with pytest.raises(OutOfTurn, match="awaits its receipt"):   # not while awaiting an answer
        next_version(state(db))
    settled = db.transaction(thd_settle, parse_receipt(receipt("rejected")), actor="node-1",
                             now=time.time())
    assert settled.settled == [("shop", "eu", "rejected")] and not settled.unmatched
    rejected = state(db)
    assert rejected["state"] == "rejected"
    assert json.loads(rejected["reasons"]) == [{
        "code": "H7-044", "message": "HS code 691200 is not a valid subheading for mugs",
        "field": "items[0].hs_code"}]

    outcome, attempt = file(copy.deepcopy(EXAMPLE))   # amended: the next version
    assert outcome == "amended" and attempt.version == 2
    assert filings(db) == [(1, "H7_SO-1001.json", "rejected"), (2, "H7_SO-1001_v2.json", "filed")]
    assert json.loads((tmp_path / "filings/H7_SO-1001_v2.json").read_text())["version"] == 2
    assert (tmp_path / "filings/H7_SO-1001.json").exists()   # the first filing is kept

    # A late answer about version 1 changes nothing of version 2.
    late = db.transaction(thd_settle, parse_receipt(receipt("rejected", version=1)),
                          actor="node-1", now=time.time())
    assert late.settled == [] and state(db)["state"] == "filed"
    db.transaction(thd_settle, parse_receipt(receipt("accepted", filing="H7_SO-1001_v2.json")),
                   actor="node-1", now=time.time())
    assert (state(db)["state"], state(db)["version"]) == ("accepted", 2)
    assert history(db) == [
        (1, "drafted"), (1, "refused"), (1, "drafted"), (1, "checked"), (1, "filed"),
        (1, "receipt"), (1, "rejected"), (2, "amended"), (2, "checked"), (2, "filed"),
        (1, "receipt"), (2, "receipt"), (2, "accepted")]

    with pytest.raises(OutOfTurn, match="an accepted filing cannot be amended"):
        next_version(state(db))


def test_out_of_turn_steps_are_refused_and_recorded(db, file):
    file(copy.deepcopy(EXAMPLE))
    db.transaction(thd_settle, parse_receipt(receipt("accepted")), actor="n", now=time.time())
    current = state(db)
    try:
        next_version(current)
    except OutOfTurn as e:
        db.transaction(thd_out_of_turn, current, e, actor="operator:ann", now=time.time())
    contradiction = db.transaction(thd_settle, parse_receipt(receipt("rejected")), actor="n",
                                   now=time.time())
    assert contradiction.refused == [
        "H7 of consignment SO-1001 was already accepted: a receipt saying rejected is refused"]
    assert state(db)["state"] == "accepted"
    assert [e for _, e in history(db)][-3:] == ["out-of-turn", "receipt", "out-of-turn"]
    unknown = db.transaction(thd_settle, parse_receipt(receipt("accepted", consignment="SO-9")),
                             actor="n", now=time.time())
    assert unknown.unmatched == ["broker-json consignment=SO-9: no filing matches"]
    assert unknown.settled == [] and unknown.refused == []


def test_china_receipts_settle_the_kind_they_answer_and_amendments_change(db, file, tmp_path,
                                                                          export_schema):
    from lxml import etree

    doc = copy.deepcopy(EXAMPLE)
    doc["destination"] = doc["consignee"]["country"] = "GB"
    assert file(doc, "cn")[0] == "filed"
    returned = (b'<ceb:CEB604Message xmlns:ceb="http://www.chinaport.gov.cn/ceb" guid="G" '
                b'version="1.0"><ceb:InventoryReturn><ceb:guid>X</ceb:guid>'
                b'<ceb:copNo>SO-1001</ceb:copNo><ceb:returnStatus>100</ceb:returnStatus>'
                b'<ceb:returnTime>20260715093000000</ceb:returnTime>'
                b'<ceb:returnInfo>gcode error</ceb:returnInfo></ceb:InventoryReturn>'
                b'</ceb:CEB604Message>')
    db.transaction(thd_settle, parse_receipt(returned), actor="n", now=time.time())
    assert state(db)["state"] == "rejected"
    assert {(f, s) for _, f, s in filings(db)} == {
        ("CEB303_SO-1001.xml", "filed"), ("CEB505_SO-1001.xml", "filed"),
        ("CEB603_SO-1001.xml", "rejected")}
    assert json.loads(state(db)["reasons"]) == [
        {"code": "100", "message": "gcode error", "field": ""}]
    outcome, attempt = file(copy.deepcopy(doc), "cn")
    assert outcome == "amended"
    for name in ("CEB303", "CEB505", "CEB603"):
        amended = etree.parse(str(tmp_path / f"filings/{name}_SO-1001_v2.xml"))
        export_schema.assertValid(amended)
        ns = {"ceb": "http://www.chinaport.gov.cn/ceb"}
        assert amended.xpath("//ceb:appType/text()", namespaces=ns) == ["2"]
        assert amended.xpath("//ceb:appStatus/text()", namespaces=ns) == ["2"]
        first = etree.parse(str(tmp_path / f"filings/{name}_SO-1001.xml"))
        assert first.xpath("//ceb:appType/text()", namespaces=ns) == ["1"]
        assert amended.getroot().get("guid") != first.getroot().get("guid")
    # The waybill names the consignment in a CEB506.
    accepted = returned.replace(b"CEB604", b"CEB506").replace(
        b"InventoryReturn", b"LogisticsReturn").replace(
        b"<ceb:copNo>SO-1001</ceb:copNo>", b"<ceb:logisticsNo>LP00123456789CN</ceb:logisticsNo>"
        ).replace(b">100<", b">120<")
    result = db.transaction(thd_settle, parse_receipt(accepted), actor="n", now=time.time())
    assert result.settled == [("shop", "cn", "accepted")]
    assert ("CEB505_SO-1001_v2.xml", "accepted") in {(f, s) for _, f, s in filings(db)}


def test_a_document_is_recorded_once_and_simulation_may_be_replaced(db, file):
    outcome, attempt = file(copy.deepcopy(EXAMPLE), simulate=True, document=True)
    assert outcome == "simulated" and state(db)["simulated"]
    again = db.transaction(thd_record, attempt, simulate=True, actor="n", now=time.time())
    assert again is None   # the same document, recorded before
    outcome, attempt = file(copy.deepcopy(EXAMPLE), document=True)
    assert (outcome, attempt.version) == ("amended", 2)
    never_sent = db.transaction(thd_settle, parse_receipt(receipt("accepted", version=1)),
                                actor="n", now=time.time())
    assert "produced in simulation and never sent" in never_sent.refused[0]
