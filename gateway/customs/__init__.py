"""Customs domain library: consignments, data-driven checks, filings and receipts (EU, CN, US).

Pure: no network, no database. ``check`` finds problems, ``build_filings`` refuses while any
error finding remains, ``parse_receipt`` reads China Customs receipts and brokers' JSON
receipts, ``lifecycle`` says which steps a consignment's state allows.
"""

from __future__ import annotations

from gateway.customs import ceb, checks, cn, eu, us  # noqa: F401  (cn and checks register rules)
from gateway.customs.cn_returns import ReturnItem, ReturnRequest, build_return, check_return
from gateway.customs.data import CustomsData, default_data, load_data
from gateway.customs.filing import Filing, FilingRefused, json_filing
from gateway.customs.model import (
    Consignment,
    Identities,
    InputError,
    Party,
    load_consignment,
    load_identities,
)
from gateway.customs.products import Product, ProductError, load_products, parse_products
from gateway.customs.receipts import Receipt, ReceiptEntry, ReceiptError, parse_receipt
from gateway.customs.rules import Finding, Where, errors, run

REGIMES = ("eu", "cn", "us")

__all__ = [
    "REGIMES", "Consignment", "CustomsData", "Filing", "FilingRefused", "Finding", "Identities",
    "InputError", "Party", "Product", "ProductError", "Receipt", "ReceiptEntry", "ReceiptError",
    "ReturnItem", "ReturnRequest", "Where", "build_filings", "build_return", "check",
    "check_return", "default_data", "load_consignment", "load_data", "load_identities",
    "load_products", "parse_products", "parse_receipt",
]


def check(consignment: Consignment, regime: str, data: CustomsData | None = None) -> list[Finding]:
    if regime not in REGIMES:
        raise ValueError(f"unknown customs regime {regime!r:.20}; known: {', '.join(REGIMES)}")
    data = data or default_data()
    return run(data.rules[regime], consignment, consignment.id, data)


def build_filings(consignment: Consignment, regime: str, data: CustomsData | None = None,
                  now=None, version: int = 1) -> list[Filing]:
    """The documents to file: EU H7 JSON, US entry JSON, or China CEB303, CEB505 and CEB603.
    ``version`` counts the consignment's filings: above 1 the documents amend the earlier ones."""
    data = data or default_data()
    found = errors(check(consignment, regime, data))
    if found:
        raise FilingRefused(found)
    if regime == "eu":
        return [json_filing("H7", consignment.id, eu.h7_document(consignment, data), version)]
    if regime == "us":
        return [json_filing("US-ENTRY", consignment.id, us.entry_document(consignment, data),
                            version)]
    return ceb.filings(consignment, data, now, version)
