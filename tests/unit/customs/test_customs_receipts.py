"""China Customs receipts: the official samples parse; anything else is a clear error."""

import pytest

from gateway.customs import ReceiptError, parse_receipt
from tests.unit.customs.customs_support import SHARED

EXPORT = SHARED / "samples" / "export"


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
