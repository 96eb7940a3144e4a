"""China cross-border e-commerce export messages (2022 edition): CEB303 order, CEB505 waybill,
CEB603 inventory list, and the shared envelope also used by CEB213.

The seller's China profile (``Identities.cn``) supplies: trade_mode, customs_code, port_code,
dxp_id, and {code, name} for ebp (platform), ebc (seller), logistics, agent and optionally
owner (default ebc) and cop (the transmitting enterprise, default agent); optional pod,
wrap_type, statistics_flag, app_status, ems_no, iac {code, name} (bonded 1210 exports).
Messages leave unsigned: appStatus 2 messages are signed (SM2/SM3) by the China E-Port client.
A first filing is appType 1 (new); an amendment re-filed after customs returned it is appType 2
(change) of the same orderNo/copNo/logisticsNo, under a new guid.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from lxml import etree

from gateway.customs.filing import Filing, filename

NS = "http://www.chinaport.gov.cn/ceb"
CHINA_TIME = dt.timezone(dt.timedelta(hours=8))


def new_guid() -> str:
    return str(uuid.uuid4()).upper()


def app_time(now: dt.datetime | None) -> str:
    return (now or dt.datetime.now(CHINA_TIME)).astimezone(CHINA_TIME).strftime("%Y%m%d%H%M%S")


def dec(value: Decimal) -> str:
    """A decimal as the schemas take it: at most 5 fraction digits, no exponent."""
    text = format(value.quantize(Decimal("0.00001")), "f")
    return text.rstrip("0").rstrip(".")


def append(parent, name: str, fields: list[tuple[str, object]]):
    """Child ``name`` with one element per (tag, value) in schema order; None values are left out."""
    node = etree.SubElement(parent, f"{{{NS}}}{name}")
    for tag, value in fields:
        if value is not None:
            child = etree.SubElement(node, f"{{{NS}}}{tag}")
            child.text = dec(value) if isinstance(value, Decimal) else str(value)
    return node


def envelope(kind: str, profile: dict, bodies) -> bytes:
    """``CEB{kind}Message`` holding the bodies (callables adding one element each)."""
    root = etree.Element(f"{{{NS}}}CEB{kind}Message", nsmap={"ceb": NS})
    root.set("guid", new_guid())
    root.set("version", "1.0")
    for body in bodies:
        body(root)
    cop = profile.get("cop") or profile["agent"]
    append(root, "BaseTransfer", [("copCode", cop["code"]), ("copName", cop["name"]),
                                  ("dxpMode", "DXP"), ("dxpId", profile["dxp_id"])])
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def head(profile: dict, now, version: int = 1) -> list:
    return [("guid", new_guid()), ("appType", "1" if version == 1 else "2"),
            ("appTime", app_time(now)),
            ("appStatus", profile.get("app_status", "2"))]


def _gname(line) -> str:
    return (line.product.name_cn or line.description)[:250]


def order(c, data, now=None, version: int = 1) -> bytes:
    p, codes = c.identities.cn, data.cn
    currency = codes["currencies"][c.currency]

    def body(root):
        node = append(root, "Order", [])
        append(node, "OrderHead", head(p, now, version) + [
            ("orderType", codes["order_types"][p["trade_mode"]]), ("orderNo", c.id),
            ("ebpCode", p["ebp"]["code"]), ("ebpName", p["ebp"]["name"]),
            ("ebcCode", p["ebc"]["code"]), ("ebcName", p["ebc"]["name"]),
            ("goodsValue", c.value), ("freight", c.freight), ("currency", currency)])
        for line in c.lines:
            append(node, "OrderList", [
                ("gnum", line.number), ("itemNo", line.sku), ("itemName", _gname(line)),
                ("itemDescribe", line.description[:1000]), ("barCode", line.product.barcode or None),
                ("unit", codes["units"][line.product.unit]), ("currency", currency),
                ("qty", line.qty), ("price", line.unit_price), ("totalPrice", line.value)])

    return envelope("303", p, [body])


def gross_weight(c) -> Decimal:
    return c.gross_weight_kg if c.gross_weight_kg is not None else c.net_weight_kg


def waybill(c, data, now=None, version: int = 1) -> bytes:
    p = c.identities.cn
    info = "; ".join(dict.fromkeys(_gname(line) for line in c.lines))
    return envelope("505", p, [lambda root: append(root, "Logistics", head(p, now, version) + [
        ("logisticsCode", p["logistics"]["code"]), ("logisticsName", p["logistics"]["name"]),
        ("logisticsNo", c.waybill), ("freight", c.freight), ("insuredFee", Decimal(0)),
        ("currency", data.cn["currencies"][c.currency]), ("grossWeight", gross_weight(c)),
        ("packNo", c.packages), ("goodsInfo", " ".join(info.split())[:200]),
        ("ebcCode", p["ebc"]["code"]), ("ebcName", p["ebc"]["name"]),
        ("ebcTelephone", c.consignor.phone[:50] or None)])])


def inventory(c, data, now=None, version: int = 1) -> bytes:
    p, codes = c.identities.cn, data.cn
    currency, country = codes["currencies"][c.currency], codes["countries"][c.destination]
    owner, iac = p.get("owner") or p["ebc"], p.get("iac") or {}

    def body(root):
        node = append(root, "Inventory", [])
        append(node, "InventoryHead", head(p, now, version) + [
            ("customsCode", p["customs_code"]),
            ("ebpCode", p["ebp"]["code"]), ("ebpName", p["ebp"]["name"]), ("orderNo", c.id),
            ("logisticsCode", p["logistics"]["code"]), ("logisticsName", p["logistics"]["name"]),
            ("logisticsNo", c.waybill), ("copNo", c.id), ("ieFlag", "E"),
            ("portCode", p["port_code"]), ("ieDate", c.date.strftime("%Y%m%d")),
            ("statisticsFlag", p.get("statistics_flag", "B")),
            ("agentCode", p["agent"]["code"]), ("agentName", p["agent"]["name"]),
            ("ebcCode", p["ebc"]["code"]), ("ebcName", p["ebc"]["name"]),
            ("ownerCode", owner["code"]), ("ownerName", owner["name"]),
            ("iacCode", iac.get("code")), ("iacName", iac.get("name")), ("emsNo", p.get("ems_no")),
            ("tradeMode", p["trade_mode"]), ("trafMode", codes["transport"][c.transport]),
            ("country", country), ("POD", p.get("pod", country)),
            ("freight", c.freight), ("fCurrency", currency), ("fFlag", "3"),
            ("insuredFee", Decimal(0)), ("iCurrency", currency), ("iFlag", "3"),
            ("wrapType", p.get("wrap_type", "2")), ("packNo", c.packages),
            ("grossWeight", gross_weight(c)), ("netWeight", c.net_weight_kg)])
        for line in c.lines:
            product = line.product
            append(node, "InventoryList", [
                ("gnum", line.number), ("itemNo", line.sku), ("itemName", _gname(line)),
                ("gcode", product.hs_code_cn or product.hs_code), ("gname", _gname(line)),
                ("gmodel", " ".join((product.model or line.description).split())[:250]),
                ("barCode", product.barcode or "无"), ("country", country),
                ("currency", currency), ("qty", line.qty), ("qty1", line.qty * product.legal_qty),
                ("unit", codes["units"][product.unit]),
                ("unit1", codes["units"][product.legal_unit or product.unit]),
                ("price", line.unit_price), ("totalPrice", line.value)])

    return envelope("603", p, [body])


def filings(c, data, now=None, version: int = 1) -> list[Filing]:
    return [Filing("xml", filename(f"CEB{kind}", c.id, "xml", version),
                   build(c, data, now, version))
            for kind, build in (("303", order), ("505", waybill), ("603", inventory))]
