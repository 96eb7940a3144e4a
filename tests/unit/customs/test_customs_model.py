"""Reading internal JSON, product masters and identities; hostile input gives clear errors."""

import dataclasses
from decimal import Decimal

import pytest

from gateway.customs import InputError, ProductError, load_identities, load_products
from gateway.customs.products import parse_products
from tests.unit.customs.customs_support import DATA


def test_example_loads(make, doc):
    c = make(doc)
    assert c.id == "SO-1001" and c.destination == "DE" and c.incoterm == "DDP"
    assert [line.sku for line in c.lines] == ["MUG-01", "TEE-02", "MUG-02"]
    assert c.lines[1].unit_price == Decimal("19.9")
    assert c.lines[1].description == "Men's cotton T-shirt, knitted"  # from the product master
    assert c.value == Decimal("52.90")
    assert c.ioss == ("IM2760000742",)
    assert c.net_weight_kg == Decimal("1.08")


def test_consignment_is_frozen(make, doc):
    with pytest.raises(dataclasses.FrozenInstanceError):
        make(doc).id = "other"


def test_product_master_csv_and_yaml_agree():
    assert load_products(DATA / "products.csv") == load_products(DATA / "products.yaml")


def test_unit_price_defaults_to_customs_value(make, doc):
    del doc["lines"][2]["unit_price"]
    assert make(doc).lines[2].unit_price == Decimal("8.00")


def test_customs_value_in_another_currency_is_not_used(make, doc):
    del doc["lines"][2]["unit_price"]
    doc["currency"] = "EUR"
    with pytest.raises(InputError, match="in USD, not EUR") as caught:
        make(doc)
    assert caught.value.where == "lines[2].unit_price"


def test_default_ioss_from_identities(make, doc):
    del doc["ioss"]
    assert make(doc).ioss == ("IM2760000742",)


@pytest.mark.parametrize("mutate, where", [
    (lambda d: d.pop("id"), "id"),
    (lambda d: d.pop("date"), "date"),
    (lambda d: d.update(date="15/07/2026"), "date"),
    (lambda d: d.update(lines=[]), "lines"),
    (lambda d: d.update(lines="MUG-01"), "lines"),
    (lambda d: d.update(lines=["MUG-01"]), "lines[0]"),
    (lambda d: d["lines"][0].update(qty="two"), "lines[0].qty"),
    (lambda d: d["lines"][0].update(qty="NaN"), "lines[0].qty"),
    (lambda d: d["lines"][0].update(qty="1e400"), "lines[0].qty"),
    (lambda d: d["lines"][0].update(qty=-1), "lines[0].qty"),
    (lambda d: d["lines"][0].update(qty=True), "lines[0].qty"),
    (lambda d: d["lines"][1].update(unit_price=[1]), "lines[1].unit_price"),
    (lambda d: d["lines"][0].update(sku="NOPE"), "lines[0].sku"),
    (lambda d: d["lines"][0].update(description="x" * 100_000), "lines[0].description"),
    (lambda d: d["lines"][0].update(description="mug\x00"), "lines[0].description"),
    (lambda d: d.update(consignee="Erika"), "consignee"),
    (lambda d: d["consignee"].update(name={"first": "Erika"}), "consignee.name"),
    (lambda d: d.update(packages=0), "packages"),
    (lambda d: d.update(packages="1.5"), "packages"),
    (lambda d: d.update(gross_weight_kg="heavy"), "gross_weight_kg"),
    (lambda d: d.pop("currency"), "currency"),
])
def test_hostile_input_names_the_field(make, doc, mutate, where):
    mutate(doc)
    with pytest.raises(InputError) as caught:
        make(doc)
    assert caught.value.where == where
    assert where in str(caught.value)


def test_not_an_object(make):
    with pytest.raises(InputError, match=r"\$: expected a JSON object"):
        make(["not", "a", "dict"])


def test_too_many_lines(make, doc):
    doc["lines"] = doc["lines"] * 400
    with pytest.raises(InputError, match="lines exceed"):
        make(doc)


def test_missing_party_fields_are_left_to_the_rules(make, doc):
    doc["consignee"] = {"name": "Erika"}
    assert make(doc).consignee.street == ""


@pytest.mark.parametrize("text, message", [
    ("sku,hs_code\nA,1\n", "missing origin"),
    ("sku,hs_code,origin,description,customs_value,currency\nA,610910,CN,Shirt,ten,USD\n",
     "customs_value: not a number"),
    ("sku,hs_code,origin,description,customs_value,currency\nA,610910,CN,Shirt,-1,USD\n",
     "out of range"),
    ("sku,hs_code,origin,description,customs_value,currency\n"
     "A,610910,CN,Shirt,1,USD\nA,610910,CN,Shirt,1,USD\n", "duplicate SKU A"),
])
def test_bad_product_master(text, message):
    with pytest.raises(ProductError, match=message):
        parse_products(text, "products.csv")


def test_bad_product_yaml():
    with pytest.raises(ProductError, match="expected a list"):
        parse_products("sku: A\n", "products.yaml")
    with pytest.raises(ProductError, match="not YAML"):
        parse_products("- [unclosed\n", "products.yaml")


def test_bad_identities():
    with pytest.raises(InputError):
        load_identities("DE123")
    with pytest.raises(InputError, match="identities.cn"):
        load_identities({"cn": "9610"})
