"""Receipts as plain results: China Customs CEB304, CEB506, CEB604, CEB214 and the like (XML),
and a customs broker's acceptance or rejection (JSON, mapping/customs/broker_receipt.schema.json).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from dataclasses import dataclass, replace

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from lxml import etree

from gateway.customs.data import DEFAULT_DIR, default_data
from gateway.customs.text import text_problem

MAX_BYTES = 10 * 1024 * 1024
# 4: sending to customs failed, 100: customs returned the document; negative codes are errors.
REJECTED = {"4", "100", "rejected"}
# 120: accepted, 399: cleared, 800: released; "accepted" is a broker's word.
ACCEPTED = {"120", "399", "800", "accepted"}
BROKER = "broker-json"
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
    reasons: tuple = ()  # why it was rejected: ({"code", "message", "field"}, ...)

    @property
    def rejected(self) -> bool:
        return self.status in REJECTED or self.status.startswith("-")

    @property
    def outcome(self) -> str | None:
        """accepted or rejected; None for an interim answer (stored, declaring, in review)."""
        return "rejected" if self.rejected else "accepted" if self.status in ACCEPTED else None


@dataclass(frozen=True)
class Receipt:
    message_type: str  # CEB304, CEB506, CEB604, CEB214, ... or broker-json
    guid: str
    entries: tuple[ReceiptEntry, ...]

    @property
    def answers(self) -> str | None:
        """The kind of filing a CEB receipt answers (CEB604 -> CEB603); None: any kind."""
        number = self.message_type[3:]
        return f"CEB{int(number) - 1:03d}" if self.message_type.startswith("CEB") else None


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
    """A CEB receipt (XML) or a broker's receipt (JSON), told apart by the first character."""
    if isinstance(content, bytes | bytearray) and content.lstrip()[:1] in (b"{", b"["):
        return parse_broker_receipt(content)
    return parse_ceb_receipt(content, data)


def parse_ceb_receipt(content: bytes, data=None) -> Receipt:
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
        status, note = fields.pop("returnStatus"), fields.pop("returnInfo", "")
        entry = ReceiptEntry(
            guid=fields.pop("guid", ""), status=status, note=note,
            time=fields.pop("returnTime", ""), references=fields,
            meaning=statuses.get(status, ""))
        if entry.rejected:
            entry = replace(entry, reasons=(
                {"code": status, "message": note or entry.meaning, "field": ""},))
        entries.append(entry)
    if not entries:
        raise ReceiptError(f"{match.group(1)} carries no returnStatus: not a receipt")
    return Receipt(match.group(1), root.get("guid", ""), tuple(entries))


@functools.cache
def broker_schema() -> Draft202012Validator:
    schema = json.loads((DEFAULT_DIR / "broker_receipt.schema.json").read_text("utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _unfileable(node, path: str) -> str | None:
    """The first text in ``node`` no store or terminal can take (a lone surrogate, ...)."""
    if isinstance(node, dict):
        items = node.items()
    elif isinstance(node, list):
        items = enumerate(node)
    else:
        problem = text_problem(node) if isinstance(node, str) else None
        return f"{path}: {problem}" if problem else None
    for key, value in items:
        found = _unfileable(value, f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}")
        if found:
            return found
    return None


def parse_broker_receipt(content: bytes) -> Receipt:
    """A broker's answer to one filing or consignment (broker_receipt.schema.json)."""
    if not isinstance(content, bytes | bytearray):
        raise ReceiptError("expected bytes")
    if len(content) > MAX_BYTES:
        raise ReceiptError(f"message of {len(content)} bytes exceeds {MAX_BYTES}")
    try:
        doc = json.loads(bytes(content))
    except RecursionError:
        raise ReceiptError("broker receipt: JSON nested too deeply") from None
    except UnicodeDecodeError as e:
        raise ReceiptError(f"broker receipt: not UTF-8 (byte {e.start})") from None
    except ValueError as e:   # names line and column
        raise ReceiptError(f"broker receipt: not JSON: {e}") from None
    error = best_match(broker_schema().iter_errors(doc))
    if error is not None:
        where = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.path)
        # Never the value itself: it may be long, or personal data a broker echoed.
        message = error.message.replace(repr(error.instance), "the value")
        raise ReceiptError(f"broker receipt: {where}: {message[:160]}")
    problem = _unfileable(doc, "$")
    if problem:
        raise ReceiptError(f"broker receipt: {problem}")
    try:
        dt.datetime.fromisoformat(doc["timestamp"])
    except ValueError:
        raise ReceiptError("broker receipt: $.timestamp: not a date-time") from None
    reasons = tuple({"code": r["code"], "message": r["message"], "field": r.get("field", "")}
                    for r in doc.get("reasons", []))
    references = {k: doc[k] for k in ("consignment", "filing", "version") if k in doc}
    entry = ReceiptEntry(
        guid=doc.get("reference", ""), status=doc["status"],
        note="; ".join(r["message"] for r in reasons), time=doc["timestamp"],
        references=references, meaning=doc["status"], reasons=reasons)
    return Receipt(BROKER, doc.get("reference", ""), (entry,))
