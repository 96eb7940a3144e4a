"""Checks shared by every regime: parties, descriptions, tariff codes, quantities."""

from __future__ import annotations

import re

import pycountry

from gateway.customs.rules import Hit, check


def country_known(code: str) -> bool:
    return len(code) == 2 and pycountry.countries.get(alpha_2=code) is not None


def tariff_code(line, key: str) -> str:
    """The line's code for one regime (``key`` a Product field), else its generic HS code."""
    return re.sub(r"[\s.]", "", getattr(line.product, key) or line.product.hs_code)


@check("party_complete")
def party_complete(c, data, params):
    for role in params["parties"]:
        party = getattr(c, role)
        for name in params["fields"]:
            if not getattr(party, name):
                yield Hit(f"{role}.{name}", values={"party": role, "field": name})
        if params.get("postcode") and not party.postcode and party.country not in data.no_postcode:
            yield Hit(f"{role}.postcode", values={"party": role, "field": "postcode"})


@check("party_country")
def party_country(c, data, params):
    for role in params["parties"]:
        code = getattr(c, role).country
        if not country_known(code):
            yield Hit(f"{role}.country", values={"party": role, "country": code[:20]})


@check("destination")
def destination(c, data, params):
    allowed, excluded = params.get("countries"), params.get("excluded", ())
    if (not country_known(c.destination) or c.destination in excluded
            or (allowed and c.destination not in allowed)):
        yield Hit("destination", values={"country": c.destination[:20]})


@check("description_vague")
def description_vague(c, data, params):
    for line in c.lines:
        text = line.description.lower()
        found = [t for t in data.vague_terms if re.search(rf"\b{re.escape(t)}\b", text)]
        if found or not text:
            yield Hit("description", line.number, {"terms": ", ".join(found) or "(empty)"})


@check("description_length")
def description_length(c, data, params):
    for line in c.lines:
        if len(line.description) > params["max"]:
            yield Hit("description", line.number,
                      {"length": len(line.description), "max": params["max"]})


@check("tariff_digits")
def tariff_digits(c, data, params):
    for line in c.lines:
        code = tariff_code(line, params["code"])
        exact, least = params.get("exact"), params.get("min", 0)
        if not code.isdigit() or len(code) < least or (exact and len(code) != exact):
            yield Hit(params["code"], line.number, {"code": code[:20]})


@check("origin")
def origin(c, data, params):
    for line in c.lines:
        if not country_known(line.product.origin):
            yield Hit("origin", line.number, {"country": line.product.origin[:20]})


@check("positive")
def positive(c, data, params):
    for line in c.lines:
        for name in ("qty", "unit_price"):
            if getattr(line, name) <= 0:
                yield Hit(name, line.number, {"field": name})


@check("max_length")
def max_length(c, data, params):
    """``params``: ``field`` of the consignment or ``line_field`` of each line, ``max``, and
    ``required`` when empty is not allowed."""
    if "line_field" in params:
        name = params["line_field"]
        targets = [(line.number, getattr(line, name)) for line in c.lines]
    else:
        name = params["field"]
        targets = [(None, getattr(c, name))]
    for number, value in targets:
        if len(value) > params["max"] or (params.get("required") and not value):
            yield Hit(name, number, {"length": len(value), "max": params["max"]})
