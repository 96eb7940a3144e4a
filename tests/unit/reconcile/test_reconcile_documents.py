"""The internal document schemas, and reading documents against them."""

import json

import pytest
from jsonschema import Draft202012Validator

from gateway.reconcile import checks
from gateway.reconcile.documents import (
    DOC_TYPES,
    InvalidDocument,
    check,
    find_line,
    links,
    read,
)
from gateway.translate.schemas import SCHEMAS as SCHEMA_DIR
from tests.unit.reconcile.reconcile_support import ORDER, doc, ts

SCHEMAS = sorted(SCHEMA_DIR.glob("*.schema.json"))
COMMON = json.loads((SCHEMA_DIR / "common.schema.json").read_text())["$defs"]


def described(prop: dict) -> bool:
    """A description of its own, or that of the shared definition it refers to."""
    return "description" in prop or "description" in COMMON.get(
        prop.get("$ref", "").rpartition("/")[2], {})


def undocumented(node, path="") -> list[str]:
    """Properties without a description, anywhere in a schema."""
    missing = []
    if isinstance(node, dict):
        for name, prop in node.get("properties", {}).items():
            if not described(prop):
                missing.append(f"{path}.{name}")
        for key, value in node.items():
            missing += undocumented(value, f"{path}.{key}" if key != "properties" else path)
    elif isinstance(node, list):
        for value in node:
            missing += undocumented(value, path)
    return missing


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.name)
def test_schemas_are_valid_and_every_field_is_described(path):
    schema = json.loads(path.read_text())
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith(path.name)
    assert undocumented(schema) == []


def test_every_document_type_has_a_schema_with_a_valid_example():
    assert {p.name.split(".")[0] for p in SCHEMAS} == {*DOC_TYPES, "common", "shipment_facts",
                                                      "functional_ack"}
    for path in SCHEMAS:
        name = path.name.split(".")[0]
        for body in json.loads(path.read_text()).get("examples", []):
            check(name, body, f"example of {name}")
        assert name == "common" or json.loads(path.read_text())["examples"]


@pytest.mark.parametrize("change, field, says", [
    (lambda d: d["lines"][0]["product_ids"].clear(), "lines[0].product_ids",
     "expected an item named by at least one identifier: upc, ean, gtin, case_code, isbn, "
     "vendor_part or buyer_part"),
    (lambda d: d.update(po_date="2026-02-30"), "po_date",
     '"2026-02-30" is not valid: expected a calendar date'),
    (lambda d: d["lines"][1].update(quantity="4"), "lines[1].quantity",
     '"4" is not valid: expected a positive quantity'),
    (lambda d: d["lines"][1].update(unit_price=-1), "lines[1].unit_price",
     "-1 is less than the minimum of 0"),
    (lambda d: d.update(currency="usd"), "currency",
     '"usd" is not valid: expected ISO 4217 currency code'),
    (lambda d: d.update(note="x"), "(document)", "('note' was unexpected)"),
])
def test_faults_are_named_by_field(change, field, says):
    body = doc("purchase_order")
    change(body)
    with pytest.raises(InvalidDocument) as raised:
        check("purchase_order", body, "purchase_order document d1")
    assert raised.value.field == field
    assert str(raised.value).startswith(f"purchase_order document d1: {field}: ")
    assert says in str(raised.value)


def test_several_faults_are_counted():
    body = doc("purchase_order", currency=1, po_date=2, po_number=3)
    body["lines"][0]["quantity"] = -1
    body["lines"][1]["quantity"] = -1
    with pytest.raises(InvalidDocument, match=r"\(also .*; .* and 2 more\)"):
        check("purchase_order", body, "o")


def test_read_takes_the_documents_own_date_or_its_arrival():
    row = dict(id="d1", partner_id="p", doc_type="ship_notice", created_at=5.0,
               body=json.dumps(doc("ship_notice", issued_at=None)))
    notice = read(row)
    assert (notice.number, notice.issued_at, notice.received_at) == ("SHP-77", 5.0, 5.0)
    row["body"] = json.dumps(doc("ship_notice"))
    assert read(row).issued_at == ts("2026-07-03T09:00:00")
    assert links(read(row)) == {("shipment", "SHP-77"), ("po", "PO1001")}


def test_items_match_by_identifier_and_line_number():
    lines = ORDER["lines"]
    assert find_line(lines, {"product_ids": {"vendor_part": "PAN-02"}})["line_number"] == "2"
    assert find_line(lines, {"line_number": "9",
                             "product_ids": {"ean": "4006381333931"}})["line_number"] == "1"
    assert find_line(lines, {"line_number": "1",
                             "product_ids": {"upc": "012345678905"}}) is None


def test_settings_are_checked():
    assert checks.settings_for({"claim_window_days": 45})["claim_window_days"] == 45
    assert checks.settings_for({"price_tolerance": 0.01})["price_tolerance"] == "0.01"
    with pytest.raises(ValueError, match="must be a number >= 0"):
        checks.settings_for({"asn_late_hours": "soon"})
