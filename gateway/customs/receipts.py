"""China Customs receipts (CEB304, CEB506, CEB604, CEB214 and the like) as plain results."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from gateway.customs.data import default_data

MAX_BYTES = 10 * 1024 * 1024
# 4: sending to customs failed, 100: customs returned the document; negative codes are errors.
REJECTED = {"4", "100"}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                          huge_tree=False, remove_comments=True)


class ReceiptError(ValueError):
    """Bytes that are not a CEB message this gateway can read."""


@dataclass(frozen=True)
class ReceiptEntry:
    guid: str
    status: str  # returnStatus: 2 declaring, 100 rejected, 399 cleared, ... see cn_codes.yaml
    note: str  # returnInfo, customs' own words
    time: str  # returnTime, yyyyMMddHHmmssfff
    references: dict  # orderNo, logisticsNo, invtNo, copNo, preNo, coElNo, ... as present
    meaning: str = ""  # the status in plain words, from mapping/customs/cn_codes.yaml

    @property
    def rejected(self) -> bool:
        return self.status in REJECTED or self.status.startswith("-")


@dataclass(frozen=True)
class Receipt:
    message_type: str  # CEB304, CEB506, CEB604, CEB214, ...
    guid: str
    entries: tuple[ReceiptEntry, ...]


def parse_xml(content: bytes):
    if not isinstance(content, bytes | bytearray):
        raise ReceiptError("expected bytes")
    if len(content) > MAX_BYTES:
        raise ReceiptError(f"message of {len(content)} bytes exceeds {MAX_BYTES}")
    try:
        return etree.fromstring(bytes(content), _PARSER)
    except etree.XMLSyntaxError as exc:
        raise ReceiptError(f"not well-formed XML: {exc}") from None


def local(node) -> str:
    return etree.QName(node).localname if isinstance(node.tag, str) else ""


def parse_receipt(content: bytes, data=None) -> Receipt:
    statuses = (data or default_data()).cn["return_status"]
    root = parse_xml(content)
    # The official CEB214 sample names its root "CEB214" without the "Message" suffix.
    match = re.fullmatch(r"(CEB\d{3})(Message)?", local(root))
    if not match:
        raise ReceiptError(f"not a CEB message: root element {local(root)[:40]!r}")
    entries = []
    for node in root:
        fields = {local(child): (child.text or "").strip() for child in node}
        if "returnStatus" not in fields:
            continue
        status = fields.pop("returnStatus")
        entries.append(ReceiptEntry(
            guid=fields.pop("guid", ""), status=status,
            note=fields.pop("returnInfo", ""), time=fields.pop("returnTime", ""),
            references=fields, meaning=statuses.get(status, "")))
    if not entries:
        raise ReceiptError(f"{match.group(1)} carries no returnStatus: not a receipt")
    return Receipt(match.group(1), root.get("guid", ""), tuple(entries))
