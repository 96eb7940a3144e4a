"""CEB213 export returns: within the original list's goods and quantities, within a year."""

import datetime as dt
from decimal import Decimal

import pytest
from lxml import etree

from gateway.customs import (
    FilingRefused,
    ReturnItem,
    ReturnRequest,
    build_filings,
    build_return,
    check_return,
    default_data,
)
from tests.unit.customs.customs_support import SHARED, rule_hits

NS = {"ceb": "http://www.chinaport.gov.cn/ceb"}
RELEASED = dt.date(2026, 7, 16)


@pytest.fixture
def original(make, doc):
    doc["lines"][0]["qty"] = 3
    return build_filings(make(doc), "cn")[2].content


def request(*items, requested_on=dt.date(2026, 9, 1), earlier=(), reason="客户取消订单"):
    return ReturnRequest(
        cop_no="RET-0001", invt_no="51412026E000000001", released_on=RELEASED,
        requested_on=requested_on, reason=reason,
        items=tuple(ReturnItem(g, Decimal(q)) for g, q in items),
        previously_returned=tuple(ReturnItem(g, Decimal(q)) for g, q in earlier))


def build(original, identities, req):
    return build_return(original, req, identities.cn, default_data())


def test_return_validates_against_xsd(original, identities, export_schema):
    filing = build(original, identities, request((1, 2), (3, 1)))
    assert filing.filename == "CEB213_RET-0001.xml"
    root = etree.fromstring(filing.content)
    assert export_schema.validate(root), export_schema.error_log
    head = root.find("ceb:InvtRefund/ceb:InvtRefundHead", NS)
    assert head.findtext("ceb:invtNo", namespaces=NS) == "51412026E000000001"
    assert head.findtext("ceb:ieFlag", namespaces=NS) == "I"
    assert head.findtext("ceb:country", namespaces=NS) == "304"
    assert head.findtext("ceb:billNo", namespaces=NS) == "LP00123456789CN"
    items = [(i.findtext("ceb:gnum", namespaces=NS), i.findtext("ceb:qty", namespaces=NS))
             for i in root.iterfind(".//ceb:InvtRefundList", NS)]
    assert items == [("1", "2"), ("3", "1")]


def test_whole_quantity_on_the_last_day_is_allowed(original, identities):
    req = request((1, 3), requested_on=dt.date(2027, 7, 16))
    build(original, identities, req)


def test_return_exceeding_exported_quantity_is_refused(original, identities):
    with pytest.raises(FilingRefused) as refused:
        build(original, identities, request((1, 4)))
    (finding,) = refused.value.findings
    assert finding.rule_id == "CN-RETURN-QTY"
    assert finding.where.consignment == "RET-0001" and finding.where.line == 1
    assert "exceeds the 3 exported" in finding.message


def test_split_lines_and_earlier_returns_count(original, identities):
    _, findings = check_return(original, request((1, 2), (1, 2)), default_data())
    assert [f.rule_id for f in findings] == ["CN-RETURN-QTY"]
    _, findings = check_return(original, request((1, 2), earlier=[(1, 2)]), default_data())
    assert [f.rule_id for f in findings] == ["CN-RETURN-QTY"]
    _, findings = check_return(original, request((1, 1), earlier=[(1, 2)]), default_data())
    assert findings == []


def test_return_after_one_year_is_refused(original, identities):
    with pytest.raises(FilingRefused) as refused:
        build(original, identities, request((1, 1), requested_on=dt.date(2027, 7, 17)))
    assert [f.rule_id for f in refused.value.findings] == ["CN-RETURN-WINDOW"]
    assert "2027-07-16" in refused.value.findings[0].message


def test_return_before_release_is_refused(original):
    _, findings = check_return(original, request((1, 1), requested_on=dt.date(2026, 7, 1)),
                               default_data())
    assert rule_hits(findings, "CN-RETURN-WINDOW")


def test_unknown_item_and_empty_return(original):
    _, findings = check_return(original, request((9, 1), (2, 0)), default_data())
    assert [(f.rule_id, f.where.line) for f in findings] == [
        ("CN-RETURN-ITEM", 9), ("CN-RETURN-ITEM", 2)]
    _, findings = check_return(original, request(), default_data())
    assert [f.rule_id for f in findings] == ["CN-RETURN-ITEM"]


def test_reason_required(original):
    _, findings = check_return(original, request((1, 1), reason=" "), default_data())
    assert [f.rule_id for f in findings] == ["CN-RETURN-REASON"]


@pytest.mark.parametrize("content", [
    b"not xml",
    (SHARED / "samples/export/CEB303Message.xml").read_bytes(),
    (SHARED / "samples/export/CEB603Message.xml").read_bytes(),  # ten inventories
    b'<ceb:CEB603Message xmlns:ceb="http://www.chinaport.gov.cn/ceb"><ceb:Inventory/>'
    b"</ceb:CEB603Message>",
])
def test_unusable_original_is_a_clear_error(content):
    with pytest.raises(ValueError, match="original inventory list"):
        check_return(content, request((1, 1)), default_data())
