"""EU import of low-value consignments (H7 data set): checks, the flat duty, the H7 filing."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict
from decimal import Decimal

from stdnum.eu import oss

from gateway.customs.checks import tariff_code
from gateway.customs.rates import RateError
from gateway.customs.rules import Hit, check


def eur_value(c, data) -> Decimal | None:
    """Intrinsic value in EUR at the rate valid on the consignment date; None without a rate."""
    try:
        return data.rates.convert(c.value, c.currency, "EUR", c.date)
    except RateError:
        return None


def flat_duty(c, data) -> Decimal:
    """The flat duty per distinct tariff subheading for parcels under the limit, once in force."""
    cfg = data.settings["eu"]["flat_duty"]
    value = eur_value(c, data)
    if c.date < dt.date.fromisoformat(str(cfg["from"])) or value is None:
        return Decimal(0)
    if value >= Decimal(str(data.settings["eu"]["limit_eur"])):
        return Decimal(0)
    digits = cfg["subheading_digits"]
    subheadings = {tariff_code(line, "hs_code")[:digits] for line in c.lines}
    return Decimal(str(cfg["eur"])) * len(subheadings)


@check("eu_rate")
def eu_rate(c, data, params):
    if eur_value(c, data) is None:
        yield Hit("currency", values={"currency": c.currency[:10], "date": c.date.isoformat()})


@check("eu_value_limit")
def eu_value_limit(c, data, params):
    value, limit = eur_value(c, data), Decimal(str(data.settings["eu"]["limit_eur"]))
    if value is not None and value > limit:
        yield Hit("lines", values={"value": f"{value:.2f}", "limit": limit})


@check("ioss_valid")
def ioss_valid(c, data, params):
    for number in c.ioss:
        if not number.startswith("IM") or not oss.is_valid(number):
            yield Hit("ioss", values={"ioss": number[:20]})


@check("ioss_single")
def ioss_single(c, data, params):
    if len(c.ioss) > 1:
        yield Hit("ioss", values={"ioss": ", ".join(n[:20] for n in c.ioss[:5])})


@check("procedure_codes")
def procedure_codes(c, data, params):
    """``params``: when ``ioss`` is true/false/absent, the codes ``required`` and ``forbidden``."""
    if "ioss" in params and params["ioss"] != bool(c.ioss):
        return
    codes = set(c.procedure_codes)
    if "allowed" in params:
        bad = codes - set(params["allowed"])
    else:
        bad = (codes & set(params.get("forbidden", ()))) | (set(params.get("required", ())) - codes)
    if bad:
        yield Hit("procedure_codes", values={"codes": ", ".join(sorted(bad))[:60]})


@check("incoterm_ioss")
def incoterm_ioss(c, data, params):
    if c.incoterm in params["incoterms"] and bool(c.ioss) != params["ioss"]:
        yield Hit("incoterm", values={"incoterm": c.incoterm[:10]})


@check("eori")
def eori(c, data, params):
    number = c.identities.eori
    body = number[2:]
    valid = number[:2] in params["prefixes"] and re.fullmatch(r"[0-9A-Z]{1,15}", body)
    if number and not valid:
        yield Hit("identities.eori", values={"eori": number[:20]})


@check("flat_duty")
def flat_duty_notice(c, data, params):
    duty = flat_duty(c, data)
    if duty:
        yield Hit("lines", values={"duty": f"{duty:.2f}"})


def h7_document(c, data) -> dict:
    value = eur_value(c, data)
    return {
        "dataset": "H7",
        "consignment": c.id,
        "date": c.date.isoformat(),
        "incoterm": c.incoterm,
        "ioss": c.ioss[0] if c.ioss else None,
        "procedure_codes": list(c.procedure_codes),
        "eori": c.identities.eori or None,
        "consignor": asdict(c.consignor),
        "consignee": asdict(c.consignee),
        "currency": c.currency,
        "intrinsic_value": str(c.value),
        "intrinsic_value_eur": f"{value:.2f}",
        "flat_duty_eur": f"{flat_duty(c, data):.2f}",
        "items": [{
            "sequence": line.number,
            "description": line.description,
            "hs_code": tariff_code(line, "hs_code"),
            "origin": line.product.origin,
            "quantity": str(line.qty),
            "value": str(line.value),
        } for line in c.lines],
    }
