"""Checks for China cross-border e-commerce export (modes 9610, 9710, 9810, 1210)."""

from __future__ import annotations

import re

from stdnum.cn import uscc

from gateway.customs.rules import Hit, check

ENTERPRISES = ("ebp", "ebc", "logistics", "agent", "owner", "cop", "iac")
_CUSTOMS_CODE = re.compile(r"[0-9A-Z]{10}")


def enterprise_code_valid(code: str) -> bool:
    """A 10-character customs registration code or an 18-character USCC with its check digit."""
    return bool(_CUSTOMS_CODE.fullmatch(code)) or (len(code) == 18 and uscc.is_valid(code))


def _profile(c) -> dict:
    return c.identities.cn


@check("cn_profile")
def cn_profile(c, data, params):
    p = _profile(c)
    for key in params["required"]:
        if not str(p.get(key) or "").strip():
            yield Hit(f"identities.cn.{key}", values={"key": key})


@check("cn_trade_mode")
def cn_trade_mode(c, data, params):
    mode = str(_profile(c).get("trade_mode") or "")
    if mode not in params["modes"]:
        yield Hit("identities.cn.trade_mode", values={"mode": mode[:10]})


@check("cn_office_codes")
def cn_office_codes(c, data, params):
    for key in params["keys"]:
        code = str(_profile(c).get(key) or "")
        if not re.fullmatch(r"\d{4}", code):
            yield Hit(f"identities.cn.{key}", values={"key": key, "code": code[:10]})


@check("cn_enterprises")
def cn_enterprises(c, data, params):
    p = _profile(c)
    for role in ENTERPRISES:
        party = p.get(role)
        if party is None and role not in params["required"]:
            continue
        party = party if isinstance(party, dict) else {}
        code, name = str(party.get("code") or ""), str(party.get("name") or "")
        if not enterprise_code_valid(code) or not name or len(name) > 100:
            yield Hit(f"identities.cn.{role}", values={"role": role, "code": code[:20]})


@check("cn_code_table")
def cn_code_table(c, data, params):
    """``params``: ``table`` (a table of cn_codes.yaml) and the consignment ``field`` or product
    ``product_fields`` whose values it must know."""
    table = data.cn[params["table"]]
    if "field" in params:
        value = getattr(c, params["field"])
        if value not in table:
            yield Hit(params["field"], values={"code": value[:20]})
    for name in params.get("product_fields", ()):
        for line in c.lines:
            value = getattr(line.product, name)
            if value and value not in table:
                yield Hit(name, line.number, {"code": value[:20]})
