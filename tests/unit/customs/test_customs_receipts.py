"""China Customs receipts: the official samples parse; anything else is a clear error."""

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from gateway.customs import ReceiptError, parse_receipt
from tests.unit.customs.customs_support import SHARED

EXPORT = SHARED / "samples" / "export"
REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("name, reference", [
    ("CEB304Message.xml", ("orderNo", "order2018050711340001")),
    ("CEB506Message.xml", ("logisticsNo", "L2018050700001")),
    ("CEB604Message.xml", ("invtNo", "Invt20180507000001")),
    ("CEB214Message.xml", ("invtNo", "invt202003030002")),
])
def test_official_receipts_parse(name, reference):
    receipt = parse_receipt((EXPORT / name).read_bytes())
    assert receipt.message_type == name[:6]
    assert len(receipt.entries) == 10
    entry = receipt.entries[0]
    assert entry.status == "2" and entry.meaning == "being declared"
    assert entry.note.startswith("新增申报成功")
    assert len(entry.time) == 17
    assert entry.references[reference[0]] == reference[1]
    assert not entry.rejected


def test_rejection_is_flagged():
    xml = ('<ceb:CEB604Message xmlns:ceb="http://www.chinaport.gov.cn/ceb" guid="G" '
           'version="1.0"><ceb:InventoryReturn><ceb:guid>X</ceb:guid>'
           '<ceb:returnStatus>100</ceb:returnStatus><ceb:returnTime>20260715093000000'
           '</ceb:returnTime><ceb:returnInfo>商品编码错误</ceb:returnInfo>'
           '</ceb:InventoryReturn></ceb:CEB604Message>')
    (entry,) = parse_receipt(xml.encode()).entries
    assert entry.rejected and entry.note == "商品编码错误"
    assert entry.meaning == "returned by customs (rejected)"


@pytest.mark.parametrize("content, message", [
    (b"", "not well-formed"),
    (b"<a>", "not well-formed"),
    ("<x/>", "expected bytes"),
    (b"<order/>", "not a CEB message"),
    ((EXPORT / "CEB303Message.xml").read_bytes(), "not a receipt"),
    (b"<CEB304Message>" + b"x" * (11 * 1024 * 1024) + b"</CEB304Message>", "exceeds"),
])
def test_bad_receipts(content, message):
    with pytest.raises(ReceiptError, match=message):
        parse_receipt(content)


def test_entities_are_not_expanded(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    xml = (f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]>'
           '<CEB304Message><OrderReturn><returnStatus>2</returnStatus>'
           "<returnInfo>&x;</returnInfo></OrderReturn></CEB304Message>")
    (entry,) = parse_receipt(xml.encode()).entries
    assert "TOP-SECRET" not in entry.note


# -- a broker's JSON receipt (mapping/customs/broker_receipt.schema.json) ----------------------

BROKER_REJECTION = {
    "consignment": "SO-1001", "filing": "H7_SO-1001.json", "version": 1, "status": "rejected",
    "timestamp": "2026-07-16T09:30:00.250+02:00", "reference": "BRK-77",
    "reasons": [{"code": "H7-044", "message": "HS code not valid", "field": "items[0].hs_code"},
                {"code": "H7-101", "message": "Consignee phone missing"}]}


def broker(**changes) -> bytes:
    doc = {k: v for k, v in {**BROKER_REJECTION, **changes}.items() if v is not None}
    return json.dumps(doc).encode()


def test_broker_rejection_parses_with_its_reasons():
    receipt = parse_receipt(b"\n  " + broker())
    assert (receipt.message_type, receipt.guid, receipt.answers) == ("broker-json", "BRK-77", None)
    (entry,) = receipt.entries
    assert entry.outcome == "rejected" and entry.rejected
    assert entry.references == {"consignment": "SO-1001", "filing": "H7_SO-1001.json",
                                "version": 1}
    assert entry.reasons == (
        {"code": "H7-044", "message": "HS code not valid", "field": "items[0].hs_code"},
        {"code": "H7-101", "message": "Consignee phone missing", "field": ""})
    assert entry.note == "HS code not valid; Consignee phone missing"


def test_broker_acceptance_needs_no_reasons():
    (entry,) = parse_receipt(broker(status="accepted", reasons=None, filing=None)).entries
    assert entry.outcome == "accepted" and entry.reasons == ()
    assert entry.references == {"consignment": "SO-1001", "version": 1}


@pytest.mark.parametrize("content, message", [
    (broker()[:-20], "broker receipt: not JSON: "),                     # truncated
    (b'{"consignment": "SO-1", }', "not JSON: Expecting property name"),
    (b"[1, 2]", r"broker receipt: \$: the value is not of type 'object'"),
    (broker(reasons=None), r"\$: 'reasons' is a required property"),
    (broker(reasons=[]), r"\$.reasons: the value should be non-empty"),
    (broker(status="maybe"), r"\$.status: the value is not one of \['accepted', 'rejected'\]"),
    (broker(consignment=None), r"\$: 'consignment' is a required property"),
    (broker(consignment=""), r"\$.consignment: the value should be non-empty"),
    (broker(consignment="X" * 65), r"\$.consignment: the value is too long"),
    (broker(version=0), r"\$.version: the value is less than the minimum of 1"),
    (broker(version="1"), r"\$.version: the value is not of type 'integer'"),
    (broker(timestamp="yesterday"), r"\$.timestamp: the value does not match"),
    (broker(timestamp="2026-13-45T09:30:00Z"), r"\$.timestamp: not a date-time"),
    (broker(reasons=[{"code": "E1"}]), r"\$.reasons\[0\]: 'message' is a required property"),
    (broker(reasons=[{"code": "E", "message": "m", "hint": "h"}]),
     r"\$.reasons\[0\]: Additional properties are not allowed \('hint'"),
    (broker(extra=1), r"\$: Additional properties are not allowed \('extra'"),
    (broker(reasons=[{"code": "E", "message": "m"}] * 101),
     r"\$.reasons: the value is too long"),
    (b'{"a": ' * 100_000 + b"1" + b"}" * 100_000, "nested too deeply"),
    (b'{"consignment": "SO-1", "status": "accepted", "timestamp": "\xff"}', "not UTF-8"),
    (b'{"consignment": "' + b"x" * (11 * 1024 * 1024) + b'"}', "exceeds"),
])
def test_malformed_broker_receipts_get_a_clear_error(content, message):
    with pytest.raises(ReceiptError, match=message):
        parse_receipt(content)


def test_the_broker_receipt_schema_documents_every_field():
    schema = json.loads((REPO / "mapping/customs/broker_receipt.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    assert set(schema["required"]) == {"consignment", "status", "timestamp"}
    properties = dict(schema["properties"], **schema["properties"]["reasons"]["items"][
        "properties"])
    assert {"consignment", "filing", "status", "reasons", "timestamp", "code", "message",
            "field"} <= set(properties)
    assert all(p.get("description") for p in properties.values())
    assert "broker_receipt.schema.json" in (REPO / "mapping/customs/README.md").read_text()
