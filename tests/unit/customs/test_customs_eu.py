"""EU H7 low-value rules: each fires on a crafted consignment, none on the good example."""

import dataclasses
import json
from decimal import Decimal

import pytest

from gateway.customs import FilingRefused, build_filings, check, default_data
from gateway.customs.eu import flat_duty
from tests.unit.customs.customs_support import error_ids, rule_hits


def product(products, sku, **changes):
    return {**products, sku: dataclasses.replace(products[sku], **changes)}


def test_good_consignment_has_no_errors(make, doc):
    found = check(make(doc), "eu")
    assert error_ids(found) == []
    assert [f.rule_id for f in found] == ["EU-DUTY-FLAT"]


# (mutation of the document, rule id, line, field)
CASES = [
    (lambda d: d["lines"][0].update(qty=100), "EU-H7-VALUE", None, "lines"),
    (lambda d: d.update(destination="CH"), "EU-DEST", None, "destination"),
    (lambda d: d.update(ioss="IN2760000742"), "EU-IOSS-FORMAT", None, "ioss"),
    (lambda d: d.update(ioss="IM9990000742"), "EU-IOSS-FORMAT", None, "ioss"),
    (lambda d: d.update(ioss="IM27600007"), "EU-IOSS-FORMAT", None, "ioss"),
    (lambda d: d.update(ioss=["IM2760000742", "IM3720000123"]), "EU-IOSS-SINGLE", None, "ioss"),
    (lambda d: d.update(procedure_codes=["C07", "F48", "H07"]), "EU-APC-UNKNOWN", None,
     "procedure_codes"),
    (lambda d: d.update(procedure_codes=["F48"]), "EU-APC-C07", None, "procedure_codes"),
    (lambda d: d.update(procedure_codes=["C07", "F49"]), "EU-APC-IOSS", None, "procedure_codes"),
    (lambda d: d.update(procedure_codes=["C07", "F48", "F49"]), "EU-APC-IOSS", None,
     "procedure_codes"),
    (lambda d: d.update(incoterm="DAP", ioss=None), "EU-APC-NO-IOSS", None, "procedure_codes"),
    (lambda d: d.update(ioss=None, procedure_codes=["C07", "F49"]), "EU-INCOTERM-DDP", None,
     "incoterm"),
    (lambda d: d.update(incoterm="DAP"), "EU-INCOTERM-DAP", None, "incoterm"),
    (lambda d: d.update(incoterm="ddu"), "EU-INCOTERM-DAP", None, "incoterm"),
    (lambda d: d["lines"][1].update(qty=0), "EU-POSITIVE", 2, "qty"),
    (lambda d: d["lines"][0].update(description="Gift"), "EU-DESC-VAGUE", 1, "description"),
    (lambda d: d["lines"][2].update(description="Spare parts, see invoice"), "EU-DESC-VAGUE", 3,
     "description"),
    (lambda d: d["lines"][0].update(description="Ceramic mug " * 50), "EU-DESC-LENGTH", 1,
     "description"),
    (lambda d: d["consignee"].update(street=""), "EU-PARTY", None, "consignee.street"),
    (lambda d: d["consignor"].pop("phone"), "EU-PARTY", None, "consignor.phone"),
    (lambda d: d["consignee"].update(postcode=""), "EU-PARTY", None, "consignee.postcode"),
    (lambda d: d.update(consignee={}), "EU-PARTY", None, "consignee.name"),
    (lambda d: d["consignee"].update(country="Germany"), "EU-PARTY-COUNTRY", None,
     "consignee.country"),
    (lambda d: d["consignor"].update(country="ZZ"), "EU-PARTY-COUNTRY", None, "consignor.country"),
]


@pytest.mark.parametrize("mutate, rule_id, line, field", CASES)
def test_rule_fires_with_location(make, doc, mutate, rule_id, line, field):
    mutate(doc)
    hits = rule_hits(check(make(doc), "eu"), rule_id)
    assert hits, f"{rule_id} did not fire"
    assert any(h.where.line == line and h.where.field == field for h in hits), hits
    assert all(h.where.consignment == "SO-1001" and h.severity == "error" for h in hits)
    assert all("?" not in h.message for h in hits), hits


def test_postcode_not_needed_where_none_exist(make, doc):
    doc["consignor"].update(country="HK", postcode="")
    assert not rule_hits(check(make(doc), "eu"), "EU-PARTY")


def test_dap_without_ioss_and_f49_is_clean(make, doc):
    doc.update(incoterm="DAP", ioss=None, procedure_codes=["C07", "F49"])
    assert error_ids(check(make(doc), "eu")) == []


@pytest.mark.parametrize("eori", ["US123456", "DE", "DE1234567890123456", "de12345", "DE12-345"])
def test_bad_eori(make, doc, identities, eori):
    ids = dataclasses.replace(identities, eori=eori)
    hits = rule_hits(check(make(doc, ids=ids), "eu"), "EU-EORI")
    assert [h.where.field for h in hits] == ["identities.eori"]


@pytest.mark.parametrize("eori", ["DE123456789012345", "XI123456789000", "FR1"])
def test_good_eori(make, doc, identities, eori):
    ids = dataclasses.replace(identities, eori=eori)
    assert not rule_hits(check(make(doc, ids=ids), "eu"), "EU-EORI")


@pytest.mark.parametrize("field, value, rule_id", [
    ("hs_code", "6912", "EU-HS"),
    ("hs_code", "69120A", "EU-HS"),
    ("origin", "XX", "EU-ORIGIN"),
])
def test_product_rules(make, doc, products, field, value, rule_id):
    master = product(products, "TEE-02", **{field: value})
    hits = rule_hits(check(make(doc, master=master), "eu"), rule_id)
    assert [(h.where.line, h.where.field) for h in hits] == [(2, field)]


def test_flat_duty_per_distinct_subheading(make, doc):
    # Two mugs share 6912.00, the T-shirt is 6109.10: two subheadings, EUR 6.
    c = make(doc)
    assert flat_duty(c, default_data()) == Decimal(6)
    assert "6.00" in rule_hits(check(c, "eu"), "EU-DUTY-FLAT")[0].message


def test_no_flat_duty_before_july_2026(make, doc):
    doc["date"] = "2026-06-30"
    c = make(doc)
    assert flat_duty(c, default_data()) == 0
    assert not rule_hits(check(c, "eu"), "EU-DUTY-FLAT")


def test_no_flat_duty_above_the_limit(make, doc):
    doc["lines"][0]["qty"] = 100
    assert flat_duty(make(doc), default_data()) == 0


def test_h7_filing(make, doc):
    (filing,) = build_filings(make(doc), "eu")
    assert filing.format == "json" and filing.filename == "H7_SO-1001.json"
    h7 = json.loads(filing.content)
    assert h7["ioss"] == "IM2760000742" and h7["procedure_codes"] == ["C07", "F48"]
    assert h7["intrinsic_value_eur"] == "46.00"  # USD 52.90 at 1.15
    assert h7["flat_duty_eur"] == "6.00"
    assert [i["hs_code"] for i in h7["items"]] == ["691200", "610910", "691200"]


def test_filing_refused_on_errors(make, doc):
    doc["lines"][0]["description"] = "goods"
    with pytest.raises(FilingRefused) as refused:
        build_filings(make(doc), "eu")
    assert [f.rule_id for f in refused.value.findings] == ["EU-DESC-VAGUE"]
    assert "SO-1001 line 1: description" in str(refused.value)


def test_unknown_regime(make, doc):
    with pytest.raises(ValueError, match="unknown customs regime"):
        check(make(doc), "mars")


def test_filename_is_safe_for_hostile_ids(make, doc):
    doc["id"] = "../../etc/passwd"
    (filing,) = build_filings(make(doc), "eu")
    assert filing.filename == "H7_etc_passwd.json"
