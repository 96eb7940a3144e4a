"""The seller's product master: customs facts per SKU, loaded from CSV or YAML.

Columns (CSV header or YAML mapping keys per product, YAML being a list of mappings):
sku, hs_code, origin, description, customs_value, currency (required); optional: hs_code_cn
(10-digit China code), hts_code_us (10-digit HTS), name_cn, model, barcode, unit (piece, kg,
... see mapping/customs/cn_codes.yaml), legal_unit, legal_qty (legal units per unit),
weight_kg (net, per unit).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation
from pathlib import Path

from ruamel.yaml import YAML, YAMLError

from gateway.customs.text import text_problem

REQUIRED = ("sku", "hs_code", "origin", "description", "customs_value", "currency")


class ProductError(ValueError):
    """A product master that cannot be read; names the file, row and column."""


@dataclass(frozen=True)
class Product:
    sku: str
    hs_code: str
    origin: str
    description: str
    customs_value: Decimal
    currency: str
    hs_code_cn: str = ""
    hts_code_us: str = ""
    name_cn: str = ""
    model: str = ""
    barcode: str = ""
    unit: str = "piece"
    legal_unit: str = ""
    legal_qty: Decimal = Decimal(1)
    weight_kg: Decimal = Decimal(0)


_DECIMALS = {"customs_value", "legal_qty", "weight_kg"}
_UPPER = {"origin", "currency"}
_KNOWN = {f.name for f in fields(Product)}


def _product(row: dict, where: str) -> Product:
    missing = [k for k in REQUIRED if not str(row.get(k) or "").strip()]
    if missing:
        raise ProductError(f"{where}: missing {', '.join(missing)}")
    values = {}
    for key in _KNOWN & row.keys():
        text = str(row[key] if row[key] is not None else "").strip()
        if not text:
            continue  # an empty cell keeps the default
        problem = text_problem(text)
        if problem:
            raise ProductError(f"{where}: {key}: {problem}")
        if key in _DECIMALS:
            try:
                number = Decimal(text)
            except InvalidOperation:
                raise ProductError(f"{where}: {key}: not a number: {text!r:.40}") from None
            if not number.is_finite() or number < 0:
                raise ProductError(f"{where}: {key}: out of range: {text!r:.40}")
            values[key] = number
        else:
            values[key] = text.upper() if key in _UPPER else text
    return Product(**values)


def parse_products(text: str, name: str) -> dict[str, Product]:
    """Products by SKU from CSV or YAML text; ``name`` (a file name) picks the format."""
    if name.endswith((".yaml", ".yml")):
        try:
            rows = YAML(typ="safe").load(text) or []
        except YAMLError as exc:
            raise ProductError(f"{name}: not YAML: {exc}") from None
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ProductError(f"{name}: expected a list of products")
        first = 1
    else:
        rows = list(csv.DictReader(io.StringIO(text)))
        first = 2  # the header is line 1
    products = {}
    for n, row in enumerate(rows, first):
        product = _product(row, f"{name}:{n}")
        if product.sku in products:
            raise ProductError(f"{name}:{n}: duplicate SKU {product.sku}")
        products[product.sku] = product
    return products


def load_products(path: str | Path) -> dict[str, Product]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ProductError(f"{path.name}: not UTF-8 (byte {e.start})") from None
    return parse_products(text, path.name)
