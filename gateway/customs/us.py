"""US entry data: no de minimis since 2025-08-29, so every parcel is a type 11 or 01 entry."""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal

from gateway.customs.checks import tariff_code
from gateway.customs.rates import RateError
from gateway.customs.rules import Hit, check


def usd_value(c, data) -> Decimal | None:
    try:
        return data.rates.convert(c.value, c.currency, "USD", c.date)
    except RateError:
        return None


def entry_type(c, data) -> str:
    """The declared type, else informal (11) up to the limit and formal (01) above it."""
    if c.entry_type:
        return c.entry_type
    value = usd_value(c, data)
    limit = Decimal(str(data.settings["us"]["informal_limit_usd"]))
    return "11" if value is not None and value <= limit else "01"


@check("us_rate")
def us_rate(c, data, params):
    if usd_value(c, data) is None:
        yield Hit("currency", values={"currency": c.currency[:10], "date": c.date.isoformat()})


@check("us_entry_type")
def us_entry_type(c, data, params):
    kind = entry_type(c, data)
    if kind not in params["allowed"]:
        yield Hit("entry_type", values={"entry_type": kind[:10]})


@check("us_informal_limit")
def us_informal_limit(c, data, params):
    value = usd_value(c, data)
    limit = Decimal(str(data.settings["us"]["informal_limit_usd"]))
    if entry_type(c, data) == "11" and value is not None and value > limit:
        yield Hit("entry_type", values={"value": f"{value:.2f}", "limit": limit})


def entry_document(c, data) -> dict:
    value = usd_value(c, data)
    return {
        "entry_type": entry_type(c, data),
        "consignment": c.id,
        "date": c.date.isoformat(),
        "importer_of_record": c.identities.us_importer or None,
        "shipper": asdict(c.consignor),
        "consignee": asdict(c.consignee),
        "country_of_export": c.consignor.country,
        "currency": c.currency,
        "total_value": str(c.value),
        "total_value_usd": f"{value:.2f}",
        "lines": [{
            "line": line.number,
            "hts": tariff_code(line, "hts_code_us"),
            "description": line.description,
            "country_of_origin": line.product.origin,
            "quantity": str(line.qty),
            "value": str(line.value),
            "value_usd": f"{data.rates.convert(line.value, c.currency, 'USD', c.date):.2f}",
        } for line in c.lines],
    }
