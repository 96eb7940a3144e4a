"""China export: rules, and CEB303/505/603 that validate against the official 2022 XSDs."""

import dataclasses
import datetime as dt

import pytest
from lxml import etree

from gateway.customs import FilingRefused, build_filings, check
from gateway.customs.cn import enterprise_code_valid
from tests.unit.customs.customs_support import error_ids, rule_hits

NS = {"ceb": "http://www.chinaport.gov.cn/ceb"}
NOW = dt.datetime(2026, 7, 15, 9, 30, tzinfo=dt.UTC)


def with_profile(identities, **changes):
    return dataclasses.replace(identities, cn={**identities.cn, **changes})


def test_good_consignment_has_no_errors(make, doc):
    assert error_ids(check(make(doc), "cn")) == []


@pytest.mark.parametrize("mode", ["9610", "9710", "9810", "1210"])
def test_filings_validate_against_xsd(make, doc, identities, export_schema, mode):
    ids = with_profile(identities, trade_mode=mode)
    filings = build_filings(make(doc, ids=ids), "cn", now=NOW)
    assert [f.filename for f in filings] == [
        "CEB303_SO-1001.xml", "CEB505_SO-1001.xml", "CEB603_SO-1001.xml"]
    for filing in filings:
        root = etree.fromstring(filing.content)
        assert export_schema.validate(root), (filing.filename, export_schema.error_log)


def test_order_content(make, doc):
    order = etree.fromstring(build_filings(make(doc), "cn", now=NOW)[0].content)
    head = order.find("ceb:Order/ceb:OrderHead", NS)
    assert head.findtext("ceb:orderType", namespaces=NS) == "E"
    assert head.findtext("ceb:appTime", namespaces=NS) == "20260715173000"  # China time
    assert head.findtext("ceb:goodsValue", namespaces=NS) == "52.9"
    assert head.findtext("ceb:currency", namespaces=NS) == "502"  # USD
    guid = head.findtext("ceb:guid", namespaces=NS)
    assert len(guid) == 36 and guid == guid.upper()
    units = [u.text for u in order.iterfind("ceb:Order/ceb:OrderList/ceb:unit", NS)]
    assert units == ["007", "011", "007"]


def test_inventory_content(make, doc):
    doc["gross_weight_kg"] = "1.5"
    inventory = etree.fromstring(build_filings(make(doc), "cn", now=NOW)[2].content)
    head = inventory.find("ceb:Inventory/ceb:InventoryHead", NS)
    text = {child.tag.split("}")[1]: child.text for child in head}
    assert text["country"] == "304" and text["tradeMode"] == "9610" and text["trafMode"] == "5"
    assert text["ieDate"] == "20260715" and text["ieFlag"] == "E"
    assert text["grossWeight"] == "1.5" and text["netWeight"] == "1.08"
    gcodes = [g.text for g in inventory.iterfind(".//ceb:InventoryList/ceb:gcode", NS)]
    assert gcodes == ["6912001000", "6109100021", "6912001000"]


def test_b2b_mode_orders_are_type_b(make, doc, identities):
    ids = with_profile(identities, trade_mode="9710")
    order = etree.fromstring(build_filings(make(doc, ids=ids), "cn")[0].content)
    assert order.findtext(".//ceb:orderType", namespaces=NS) == "B"


@pytest.mark.parametrize("code, valid", [
    ("1105910159", True),
    ("91110000600037341L", True),
    ("91110000600037341X", False),  # wrong USCC check character
    ("110591015", False),
    ("11059101591", False),
    ("", False),
])
def test_enterprise_codes(code, valid):
    assert enterprise_code_valid(code) is valid


PROFILE_CASES = [
    ({"trade_mode": "0110"}, "CN-MODE", "identities.cn.trade_mode"),
    ({"customs_code": "514"}, "CN-OFFICE-CODE", "identities.cn.customs_code"),
    ({"port_code": "51A1"}, "CN-OFFICE-CODE", "identities.cn.port_code"),
    ({"dxp_id": ""}, "CN-PROFILE", "identities.cn.dxp_id"),
    ({"ebc": {"code": "91110000600037341X", "name": "x"}}, "CN-ENTERPRISE", "identities.cn.ebc"),
    ({"agent": None}, "CN-ENTERPRISE", "identities.cn.agent"),
    ({"logistics": {"code": "1105910159", "name": ""}}, "CN-ENTERPRISE",
     "identities.cn.logistics"),
    ({"owner": {"code": "123"}}, "CN-ENTERPRISE", "identities.cn.owner"),
]


@pytest.mark.parametrize("changes, rule_id, field", PROFILE_CASES)
def test_profile_rules(make, doc, identities, changes, rule_id, field):
    findings = check(make(doc, ids=with_profile(identities, **changes)), "cn")
    assert [h.where.field for h in rule_hits(findings, rule_id)] == [field]
    with pytest.raises(FilingRefused):
        build_filings(make(doc, ids=with_profile(identities, **changes)), "cn")


def test_empty_profile_is_refused_not_a_traceback(make, doc, identities):
    findings = check(make(doc, ids=dataclasses.replace(identities, cn={})), "cn")
    assert {"CN-PROFILE", "CN-MODE", "CN-OFFICE-CODE", "CN-ENTERPRISE"} <= set(error_ids(findings))


CASES = [
    (lambda d: d.update(destination="CN"), "CN-DEST", None, "destination"),
    (lambda d: d.update(destination="XK"), "CN-DEST", None, "destination"),
    (lambda d: d.update(destination="IS"), "CN-COUNTRY", None, "destination"),
    (lambda d: d.update(currency="THB"), "CN-CURRENCY", None, "currency"),
    (lambda d: d.update(transport="camel"), "CN-TRANSPORT", None, "transport"),
    (lambda d: d.update(waybill=""), "CN-WAYBILL", None, "waybill"),
    (lambda d: d.update(waybill="L" * 33), "CN-WAYBILL", None, "waybill"),
    (lambda d: d.update(id="SO-" + "9" * 40), "CN-ORDER-NO", None, "id"),
    (lambda d: d["lines"][2].update(unit_price=0), "CN-POSITIVE", 3, "unit_price"),
    (lambda d: d["lines"][1].update(description="T" * 251), "CN-DESC-LENGTH", 2, "description"),
    (lambda d: d["consignee"].update(city=""), "CN-PARTY", None, "consignee.city"),
    (lambda d: d["consignee"].update(country="XX"), "CN-PARTY-COUNTRY", None,
     "consignee.country"),
]


@pytest.mark.parametrize("mutate, rule_id, line, field", CASES)
def test_rule_fires_with_location(make, doc, mutate, rule_id, line, field):
    mutate(doc)
    hits = rule_hits(check(make(doc), "cn"), rule_id)
    assert [(h.where.line, h.where.field) for h in hits] == [(line, field)]
    assert "?" not in hits[0].message


@pytest.mark.parametrize("field, value, rule_id", [
    ("hs_code_cn", "691200100", "CN-HS"),
    ("hs_code_cn", "", "CN-HS"),  # falls back to the 6-digit generic code
    ("unit", "bottle", "CN-UNIT"),
    ("legal_unit", "ton", "CN-UNIT"),
    ("sku", "S" * 21, "CN-SKU"),
])
def test_product_rules(make, doc, products, field, value, rule_id):
    master = {**products, "TEE-02": dataclasses.replace(products["TEE-02"], **{field: value})}
    if field == "sku":
        doc["lines"][1]["sku"] = value
        master[value] = master["TEE-02"]
        field = "sku"
    hits = rule_hits(check(make(doc, master=master), "cn"), rule_id)
    assert [(h.where.line, h.where.field) for h in hits] == [(2, field)]


def test_hostile_text_stays_within_the_schema(make, doc, export_schema):
    # Quotes, ampersands and markup in a description are escaped, never injected.
    doc["lines"][0]["description"] = 'Mug <b>"A&B"</b> ]]> 陶瓷'
    for filing in build_filings(make(doc), "cn"):
        assert export_schema.validate(etree.fromstring(filing.content)), export_schema.error_log
