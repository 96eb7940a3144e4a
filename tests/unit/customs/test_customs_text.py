"""Text no filing can carry (a lone surrogate, a non-character, a control character) is refused
as a data problem naming its field, in consignments, product masters, identities and receipts;
any other Unicode is filed."""

import copy
import json

import pytest
from lxml import etree

from gateway.customs import (
    InputError,
    ProductError,
    ReceiptError,
    build_filings,
    load_identities,
    load_products,
    parse_receipt,
)
from gateway.customs.products import parse_products
from gateway.customs.text import text_problem
from tests.unit.customs.customs_support import DATA, EXAMPLE


def text_fields(node, path=""):
    """The JSON path of every text in the example shipment."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from text_fields(value, f"{path}.{key}" if path else key)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from text_fields(value, f"{path}[{i}]")
    elif isinstance(node, str):
        yield path


def put(doc, path: str, value):
    parts = path.replace("[", ".").replace("]", "").split(".")
    for part in parts[:-1]:
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    doc[int(parts[-1]) if isinstance(doc, list) else parts[-1]] = value


FIELDS = sorted(set(text_fields(EXAMPLE)) - {"ioss", "procedure_codes[0]", "procedure_codes[1]"})


@pytest.mark.parametrize("char, kind", [
    ("\ud800", "a lone surrogate (U+D800)"), ("\udfff", "a lone surrogate (U+DFFF)"),
    ("\ufffe", "a non-character (U+FFFE)"), ("\x1b", "a control character (U+001B)")])
def test_text_problem_names_the_character_and_position(char, kind):
    assert text_problem(f"ab{char}c") == f"text holds {kind} at position 2, which cannot be filed"
    assert text_problem("Kaffeebecher 咖啡杯 ☕ \t\n") is None


@pytest.mark.parametrize("path", FIELDS)
def test_a_lone_surrogate_in_any_field_names_that_field(make, path):
    doc = copy.deepcopy(EXAMPLE)
    put(doc, path, "Heide\ud800strasse")
    with pytest.raises(InputError) as caught:
        make(doc)
    assert caught.value.where == path
    message = str(caught.value)
    assert ("lone surrogate (U+D800) at position 5" in message or   # text
            r"not a number: 'Heide\ud800strasse'" in message), message   # amounts, escaped
    message.encode("utf-8")   # the error itself can be logged and stored


@pytest.mark.parametrize("path, where", [("ioss", "ioss[0]"),
                                         ("procedure_codes[0]", "procedure_codes[0]")])
def test_codes_with_unfileable_text_are_refused(make, path, where):
    doc = copy.deepcopy(EXAMPLE)
    put(doc, path, "IM\udc80")
    with pytest.raises(InputError, match="lone surrogate") as caught:
        make(doc)
    assert caught.value.where == where


def test_the_surrogate_of_a_json_escape_is_refused(make):
    doc = json.loads(json.dumps(EXAMPLE).replace("Erika", "\\ud83dErika"))   # half an emoji
    with pytest.raises(InputError, match="consignee.name: text holds a lone surrogate"):
        make(doc)


@pytest.mark.parametrize("regime", ["eu", "cn", "us"])
def test_any_other_unicode_is_filed(make, regime, export_schema):
    doc = copy.deepcopy(EXAMPLE)
    doc["consignee"]["name"] = "Zoë Ŝtraße 🎁 王芳"
    doc["lines"][0]["description"] = "Ceramic mug ☕, 350 ml"
    if regime == "us":
        doc.update(destination="US", incoterm="DAP", ioss=None, procedure_codes=[])
        doc["consignee"].update(country="US", postcode="89501")
    for filing in build_filings(make(doc), regime):
        if filing.format == "xml":
            export_schema.assertValid(etree.fromstring(filing.content))
        else:
            assert "🎁" in json.loads(filing.content)["consignee"]["name"]


@pytest.mark.parametrize("column", ["sku", "description", "name_cn", "model", "hs_code"])
def test_product_master_yaml_with_a_surrogate_names_row_and_column(column):
    row = {"sku": "A", "hs_code": "691200", "origin": "CN", "description": "Mug",
           "customs_value": "1", "currency": "USD", column: "M\\ud800"}
    text = "- {" + ", ".join(f'{k}: "{v}"' for k, v in row.items()) + "}\n"
    with pytest.raises(ProductError, match=f"products.yaml:1: {column}: text holds a lone "
                                           "surrogate"):
        parse_products(text, "products.yaml")


def test_product_master_that_is_not_utf8(tmp_path):
    path = tmp_path / "products.csv"
    path.write_bytes((DATA / "products.csv").read_bytes() + b"Z-1,691200,CN,Mug \xff,1,USD\n")
    with pytest.raises(ProductError, match=r"products.csv: not UTF-8 \(byte \d+\)"):
        load_products(path)


@pytest.mark.parametrize("identities, where", [
    ({"eori": "DE1\ud800"}, "identities.eori"),
    ({"cn": {"ebp": {"code": "1105910159", "name": "东方\udc00"}}}, "identities.cn.ebp.name"),
    ({"cn": {"trade_mode": "96\x0010"}}, "identities.cn.trade_mode"),
])
def test_identities_with_unfileable_text_name_the_key(identities, where):
    with pytest.raises(InputError) as caught:
        load_identities(identities)
    assert caught.value.where == where


def test_broker_receipt_with_a_surrogate_names_the_path():
    content = json.dumps({"consignment": "SO-1", "status": "rejected",
                          "timestamp": "2026-07-16T09:30:00Z",
                          "reasons": [{"code": "E1", "message": "bad \ud800"}]}).encode()
    with pytest.raises(ReceiptError, match=r"\$\.reasons\[0\]\.message: text holds a lone"):
        parse_receipt(content)
