"""US entries: no de minimis; type 11 or 01 with 10-digit HTS codes, origin, quantity, value."""

import dataclasses
import json

import pytest

from gateway.customs import FilingRefused, build_filings, check
from tests.unit.customs.customs_support import error_ids, rule_hits


@pytest.fixture
def us_doc(doc):
    doc.update(destination="US", incoterm="DAP", ioss=None, procedure_codes=None)
    doc["consignee"].update(country="US", city="New York", postcode="10001",
                            street="350 Fifth Avenue")
    return doc


def test_good_consignment_has_no_findings(make, us_doc):
    assert check(make(us_doc), "us") == []


def test_entry_document(make, us_doc):
    (filing,) = build_filings(make(us_doc), "us")
    assert filing.filename == "US-ENTRY_SO-1001.json"
    entry = json.loads(filing.content)
    assert entry["entry_type"] == "11"
    assert entry["consignee"]["postcode"] == "10001"
    assert entry["importer_of_record"] == "12-3456789AB"
    assert [(x["hts"], x["country_of_origin"], x["quantity"]) for x in entry["lines"]] == [
        ("6912004810", "CN", "2"), ("6109100012", "CN", "1"), ("6912004810", "CN", "1")]
    assert entry["total_value_usd"] == "52.90"


def test_formal_entry_above_informal_limit(make, us_doc):
    us_doc["lines"][0]["qty"] = 300
    (filing,) = build_filings(make(us_doc), "us")
    assert json.loads(filing.content)["entry_type"] == "01"


CASES = [
    (lambda d: d.update(entry_type="86"), "US-ENTRY-TYPE", None, "entry_type"),
    (lambda d: (d.update(entry_type="11"), d["lines"][0].update(qty=300)), "US-INFORMAL-LIMIT",
     None, "entry_type"),
    (lambda d: d.update(destination="CA"), "US-DEST", None, "destination"),
    (lambda d: d.update(currency="ZZZ"), "US-RATE", None, "currency"),
    (lambda d: d["lines"][0].update(qty="0"), "US-POSITIVE", 1, "qty"),
    (lambda d: d["lines"][1].update(description="apparel"), "US-DESC-VAGUE", 2, "description"),
    (lambda d: d["consignee"].update(postcode=""), "US-PARTY", None, "consignee.postcode"),
    (lambda d: d["consignee"].update(name=""), "US-PARTY", None, "consignee.name"),
    (lambda d: d["consignor"].update(country="??"), "US-PARTY-COUNTRY", None,
     "consignor.country"),
]


@pytest.mark.parametrize("mutate, rule_id, line, field", CASES)
def test_rule_fires_with_location(make, us_doc, mutate, rule_id, line, field):
    mutate(us_doc)
    hits = rule_hits(check(make(us_doc), "us"), rule_id)
    assert [(h.where.line, h.where.field) for h in hits] == [(line, field)]
    assert "?" not in hits[0].message.replace("??", "")


@pytest.mark.parametrize("field, value, rule_id", [
    ("hts_code_us", "69120048", "US-HTS"),
    ("hts_code_us", "", "US-HTS"),  # the 6-digit generic code is not enough
    ("origin", "", "US-ORIGIN"),
])
def test_product_rules(make, us_doc, products, field, value, rule_id):
    master = {**products, "MUG-02": dataclasses.replace(products["MUG-02"], **{field: value})}
    hits = rule_hits(check(make(us_doc, master=master), "us"), rule_id)
    assert [(h.where.line, h.where.field) for h in hits] == [(3, field)]


def test_section_321_is_refused(make, us_doc):
    us_doc["entry_type"] = "86"
    with pytest.raises(FilingRefused) as refused:
        build_filings(make(us_doc), "us")
    assert error_ids(refused.value.findings) == ["US-ENTRY-TYPE"]
    assert "de minimis" in refused.value.findings[0].message
