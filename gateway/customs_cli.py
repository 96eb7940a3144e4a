"""``gateway customs``: check a consignment against a regime's rules as the customs handler
would (nothing stored or sent), and list the filings in the store, daemon running or not."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path

STATES = ("refused", "simulated", "filed", "accepted", "rejected")


class Unreadable(Exception):
    """An input the check cannot start from; its text is the one-line error to print."""


def _read_json(path: Path):
    try:
        return json.loads(path.read_bytes())
    except OSError as e:
        raise Unreadable(f"{path}: cannot read: {e.strerror}") from None
    except ValueError as e:   # JSONDecodeError names line and column; also undecodable bytes
        raise Unreadable(f"{path}: not JSON: {e}") from None


def _load(loader, path: Path | None, what: str):
    """A ``[customs]`` file through the handler's own cached loader."""
    from ruamel.yaml import YAMLError

    from gateway.customs import ProductError
    from gateway.route.handlers.customs import _fresh
    from gateway.worker import PermanentError

    try:
        return _fresh(loader, path, what)
    except PermanentError as e:   # not set, or no such file
        raise Unreadable(str(e)) from None
    except OSError as e:
        raise Unreadable(f"customs.{what} file {path}: cannot read: {e.strerror}") from None
    except ProductError as e:   # names the row and column
        raise Unreadable(f"customs.{what} file {path}: {e}") from None
    except (YAMLError, UnicodeDecodeError) as e:
        # The problem and its line, never the quoted snippet: the seller file holds addresses.
        mark = getattr(e, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark else ""
        raise Unreadable(f"customs.{what} file {path}: not valid YAML: "
                         f"{getattr(e, 'problem', None) or type(e).__name__}{line}") from None


def _seller(settings) -> tuple[dict, object]:
    """The seller file's content and identities."""
    from gateway import customs
    from gateway.route.handlers.customs import _seller as loader

    seller = _load(loader, settings.seller, "seller")
    if not isinstance(seller, dict):
        raise Unreadable(f"customs.seller file {settings.seller}: expected a mapping with "
                         "identities and consignor")
    try:
        return seller, customs.load_identities(seller.get("identities", {}))
    except customs.InputError as e:
        raise Unreadable(f"customs.seller file {settings.seller}: {e.where}: expected a mapping")\
            from None


def _data(settings):
    from ruamel.yaml import YAMLError

    from gateway.route.handlers.customs import _data as loader

    try:
        return loader(settings.data_dir)
    except (OSError, ValueError, LookupError, YAMLError) as e:
        raise Unreadable(f"customs.data_dir {settings.data_dir}: {' '.join(str(e).split())}")\
            from None


def _partner_customs(config, partner_id: str):
    from gateway.partners import load_partners

    partner = load_partners(config).partners.get(partner_id)
    if partner is None:
        raise Unreadable(f"unknown partner {partner_id!r}")
    if partner.customs is None:
        raise Unreadable(f"partner {partner_id} has no customs settings (customs.regime)")
    return partner.customs


def _consignment_input(path: Path, doc, partner_customs, seller: dict, products: dict) -> dict:
    """The library's consignment JSON: the file itself, or an internal document converted as the
    handler converts it."""
    from gateway.route.handlers.customs import DOCUMENT_TYPES, consignment_input
    from gateway.translate.schemas import DocumentError, validate_document

    if not (isinstance(doc, dict) and "document_type" in doc):
        return doc
    doc_type = doc["document_type"]
    if doc_type not in DOCUMENT_TYPES:
        raise Unreadable(f"{path}: document_type: customs filing reads "
                         f"{' and '.join(DOCUMENT_TYPES)}, not {str(doc_type)[:40]!r}")
    if partner_customs is None:
        raise Unreadable(f"{path}: an internal {doc_type} document needs --partner "
                         "(whose customs settings apply)")
    try:
        validate_document(doc.get("document"), doc_type)
    except DocumentError as e:
        raise Unreadable(f"{path}: document: {e}") from None
    return consignment_input(doc["document"], doc_type, partner_customs, seller, products)


def _value(consignment, where) -> str:
    """The value a finding points at, as text; empty when it names none (a field left empty,
    a finding on the whole consignment)."""
    lines = consignment.lines
    node = lines[where.line - 1] if where.line and where.line <= len(lines) else consignment
    for name in where.field.split("."):
        if isinstance(node, Mapping):
            node = node.get(name)
        elif hasattr(node, name):
            node = getattr(node, name)
        else:   # a line's tariff codes, origin and units live in its product
            node = getattr(getattr(node, "product", None), name, None)
    if isinstance(node, tuple) and all(isinstance(v, str) for v in node):
        node = ", ".join(node)
    return str(node) if isinstance(node, str | int | Decimal) else ""


def finding_line(finding, consignment) -> str:
    """One finding: severity, rule, line and field, the offending value, the message."""
    where = finding.where
    place = " ".join(filter(None, (f"line {where.line}" if where.line else "", where.field)))
    value = _value(consignment, where)
    shown = f" = {value[:60]!r}" if value else ""
    return f"{finding.severity} {finding.rule_id} {place or '-'}{shown}: {finding.message}"


def cmd_check(args) -> int:
    from gateway import customs
    from gateway.cli import _config
    from gateway.route.handlers.customs import _products

    config = _config(args)
    settings = config.customs
    path = Path(args.file)
    try:
        partner_customs = _partner_customs(config, args.partner) if args.partner else None
        regime = args.regime or (partner_customs.regime if partner_customs else None)
        if regime is None:
            raise Unreadable("--regime is required (or --partner, whose customs.regime applies)")
        if regime not in customs.REGIMES:
            raise Unreadable(f"--regime {regime[:20]!r}: known regimes are "
                             f"{', '.join(customs.REGIMES)}")
        doc = _read_json(path)
        products = _load(_products, settings.products, "products")
        seller, identities = _seller(settings)
        data = _data(settings)
        try:
            consignment = customs.load_consignment(
                _consignment_input(path, doc, partner_customs, seller, products), products,
                identities)
        except customs.InputError as e:   # names the consignment and the JSON path
            raise Unreadable(f"{path}: {e}") from None
    except Unreadable as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    findings = customs.check(consignment, regime, data)
    for finding in findings:
        print(finding_line(finding, consignment))
    errors = len(customs.errors(findings))
    print(f"{consignment.id} ({regime}): {errors} error(s), {len(findings) - errors} warning(s)")
    return 1 if errors else 0


def thd_filings(conn, *, partner_id: str | None = None, status: str | None = None,
                limit: int = 50) -> list[dict]:
    """Filings, newest first, with their findings and receipt decoded."""
    from sqlalchemy import select

    from gateway.store.schema import customs_filings as t

    query = select(t).order_by(t.c.created_at.desc(), t.c.id).limit(limit)
    if partner_id:
        query = query.where(t.c.partner_id == partner_id)
    if status:
        query = query.where(t.c.status == status)
    rows = []
    for row in conn.execute(query):
        row = dict(row._mapping)
        row["findings"] = json.loads(row["findings"]) if row["findings"] else []
        row["receipt"] = json.loads(row["receipt"]) if row["receipt"] else None
        rows.append(row)
    return rows


def note(filing: dict) -> str:
    """What a filing's state rests on: the receipt's meaning, else its first finding."""
    receipt, findings = filing["receipt"], filing["findings"]
    if receipt:
        return receipt.get("meaning") or receipt.get("note") or receipt.get("status") or ""
    if not findings:
        return ""
    first = findings[0]
    more = f" (+{len(findings) - 1} more)" if len(findings) > 1 else ""
    return f"{first['rule']} {first['where']}: {first['message']}{more}"


def cmd_status(args) -> int:
    from gateway.cli import _config, _store, _table, _when

    filings = _store(_config(args)).transaction(thd_filings, partner_id=args.partner,
                                                status=args.state, limit=args.limit)
    if args.json:
        print(json.dumps([dict(f, note=note(f)) for f in filings], indent=2, ensure_ascii=False))
        return 0
    rows = [("CONSIGNMENT", "PARTNER", "REGIME", "KIND", "STATUS", "FILE", "CREATED", "UPDATED",
             "RECEIPT / FINDING")]
    rows += [(f["consignment"], f["partner_id"], f["regime"], f["kind"] or "-", f["status"],
              f["filename"] or "-", _when(f["created_at"]), _when(f["updated_at"]),
              note(f)[:100]) for f in filings]
    if len(rows) == 1:
        rows.append(("(no filings)",) + ("",) * 8)
    _table(rows)
    return 0


def add_parser(subparsers) -> None:
    """Register ``gateway customs check`` and ``gateway customs status``."""
    group = subparsers.add_parser("customs", help="check consignments, list filings")
    sub = group.add_subparsers(dest="customs", required=True)
    check = sub.add_parser("check", help="check a consignment (the customs library's JSON, or an "
                           "internal order with --partner) against a regime's rules; exit 1 on "
                           "any error finding")
    check.add_argument("file")
    check.add_argument("--regime", metavar="eu|cn|us", help="default: the partner's customs.regime")
    check.add_argument("--partner", help="read FILE as an internal document "
                       '({"document_type": "order", "document": {...}}) with its customs settings')
    check.set_defaults(fn=cmd_check)
    status = sub.add_parser("status", help="filings in the store, newest first")
    status.add_argument("--partner")
    status.add_argument("--state", choices=STATES)
    status.add_argument("--limit", type=int, default=50)
    status.add_argument("--json", action="store_true")
    status.set_defaults(fn=cmd_status)
