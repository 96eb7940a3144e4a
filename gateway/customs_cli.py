"""``gateway customs``: check a consignment against a regime's rules as the customs handler
would (nothing stored or sent); list consignments, their state and filings, and show one's
history, daemon running or not; amend a rejected consignment and file it again."""

from __future__ import annotations

import getpass
import json
import sys
import time
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path

from gateway.customs.lifecycle import STATES


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
    from gateway.customs_files import fresh
    from gateway.worker import PermanentError

    try:
        return fresh(loader, path, what)
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
    from gateway.customs_files import seller as loader

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

    from gateway.customs_files import data as loader

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
    from gateway.customs_files import products as product_master

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
        products = _load(product_master, settings.products, "products")
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


def thd_consignments(conn, *, partner_id: str | None = None, state: str | None = None,
                     reference: str | None = None, limit: int = 50) -> list[dict]:
    """Consignments, last changed first, with their number of filings (every document of every
    version), the last check's findings, the last rejection's reasons and the latest receipt."""
    from sqlalchemy import func, select

    from gateway.store.schema import customs_consignments as c
    from gateway.store.schema import customs_filings as f

    match = (f.c.partner_id == c.c.partner_id) & (f.c.consignment == c.c.consignment)
    filings = select(func.count()).where(match).scalar_subquery()
    receipt = (select(f.c.receipt).where(match, f.c.receipt.is_not(None))
               .order_by(f.c.updated_at.desc()).limit(1).scalar_subquery())
    query = (select(c, filings.label("filings"), receipt.label("receipt"))
             .order_by(c.c.updated_at.desc(), c.c.id).limit(limit))
    for column, value in (("partner_id", partner_id), ("state", state),
                          ("consignment", reference)):
        if value:
            query = query.where(c.c[column] == value)
    rows = []
    for row in conn.execute(query):
        row = dict(row._mapping)
        for key in ("findings", "reasons", "receipt"):
            row[key] = json.loads(row[key]) if row[key] else None
        rows.append(row)
    return rows


def thd_history(conn, consignment_id: str) -> dict:
    """A consignment's filings and events, oldest first."""
    from sqlalchemy import select

    from gateway.store.schema import customs_consignments as c
    from gateway.store.schema import customs_events as e
    from gateway.store.schema import customs_filings as f

    row = conn.execute(select(c).where(c.c.id == consignment_id)).one()
    filings = conn.execute(select(f).where(
        f.c.partner_id == row.partner_id, f.c.consignment == row.consignment)
        .order_by(f.c.version, f.c.kind)).all()
    events = conn.execute(select(e).where(e.c.consignment_id == consignment_id)
                          .order_by(e.c.id)).all()
    return {"filings": [dict(r._mapping) for r in filings],
            "events": [dict(r._mapping, detail=json.loads(r.detail) if r.detail else None)
                       for r in events]}


def note(consignment: dict) -> str:
    """What a consignment's state rests on: the rejection's reasons, the check's first problem,
    or the latest receipt."""
    reasons, findings, receipt = (consignment[k] for k in ("reasons", "findings", "receipt"))
    if consignment["state"] == "rejected" and reasons:
        first = reasons[0]
        field = f" ({first['field']})" if first.get("field") else ""
        more = f" (+{len(reasons) - 1} more)" if len(reasons) > 1 else ""
        return f"{first['code']}: {first['message']}{field}{more}"
    if consignment["state"] == "draft" and findings:
        first = findings[0]
        more = f" (+{len(findings) - 1} more)" if len(findings) > 1 else ""
        return f"{first['rule']} {first['where']}: {first['message']}{more}"
    if receipt:
        return receipt.get("meaning") or receipt.get("note") or receipt.get("status") or ""
    return ""


def cmd_status(args) -> int:
    from gateway.cli import _config, _store, _table, _when

    found = _store(_config(args)).transaction(thd_consignments, partner_id=args.partner,
                                              state=args.state, limit=args.limit)
    if args.json:
        print(json.dumps([dict(c, note=note(c)) for c in found], indent=2, ensure_ascii=False))
        return 0
    rows = [("CONSIGNMENT", "PARTNER", "REGIME", "STATE", "VERSION", "FILINGS", "PROBLEMS",
             "UPDATED", "REASON / PROBLEM / RECEIPT")]
    rows += [(c["consignment"], c["partner_id"], c["regime"], c["state"], c["version"],
              c["filings"], c["problems"], _when(c["updated_at"]), note(c)[:100])
             for c in found]
    if len(rows) == 1:
        rows.append(("(no consignments)",) + ("",) * 8)
    _table(rows)
    return 0


def _one(db, reference: str, partner_id: str | None) -> dict:
    found = db.transaction(thd_consignments, partner_id=partner_id, reference=reference)
    if not found:
        raise Unreadable(f"no consignment {reference!r}"
                         f"{f' of partner {partner_id}' if partner_id else ''}")
    if len(found) > 1:
        raise Unreadable(f"consignment {reference!r} is declared by several partners "
                         f"({', '.join(c['partner_id'] for c in found)}): name one with --partner")
    return found[0]


def cmd_show(args) -> int:
    from gateway.cli import _config, _store, _when

    db = _store(_config(args))
    try:
        consignment = _one(db, args.consignment, args.partner)
    except Unreadable as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    history = db.transaction(thd_history, consignment["id"])
    if args.json:
        print(json.dumps(dict(consignment, **history), indent=2, ensure_ascii=False))
        return 0
    c = consignment
    print(f"{c['consignment']} ({c['partner_id']}, {c['regime']}): {c['state']}, version "
          f"{c['version']}, {c['filings']} filing(s), {c['problems']} problem(s)")
    for f in history["filings"]:
        print(f"  v{f['version']} {f['kind']:9} {f['status']:9} {f['filename']}")
    for e in history["events"]:
        detail = "" if e["detail"] is None else json.dumps(e["detail"], ensure_ascii=False)
        print(f"  {_when(e['at'])}  v{e['version']} {e['event']:11} {e['actor']}  {detail[:200]}")
    return 0


def cmd_amend(args) -> int:
    """File a rejected (or refused) consignment again from a corrected FILE, as the next version."""
    from gateway.archive import Archive
    from gateway.cli import _config, _store
    from gateway.customs.lifecycle import OutOfTurn
    from gateway.customs_files import products as product_master
    from gateway.partners import load_partners
    from gateway.route.handlers.customs import (
        Attempt,
        build,
        keep,
        next_version,
        thd_consignment,
        thd_out_of_turn,
        thd_record,
    )

    config = _config(args)
    settings = config.customs
    db = _store(config)
    actor, path = f"operator:{getpass.getuser()}", Path(args.file)
    try:
        found = _one(db, args.consignment, args.partner)
        current = db.transaction(thd_consignment, found["partner_id"], found["consignment"])
        partner_customs = _partner_customs(config, current["partner_id"])
        broker = None
        if settings.broker and not settings.simulate:
            broker = load_partners(config).partners.get(settings.broker)
            if broker is None:
                raise Unreadable(f"customs.broker {settings.broker!r} is not a partner")
        doc = _read_json(path)
        products = _load(product_master, settings.products, "products")
        seller, identities = _seller(settings)
        data = _data(settings)
        source = _consignment_input(path, doc, partner_customs, seller, products)
        declared = str(source.get("id") if isinstance(source, dict) else None)[:64]
        if declared != current["consignment"]:
            raise Unreadable(f"{path}: declares consignment {declared!r}, not "
                             f"{current['consignment']!r}")
    except Unreadable as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    try:
        version = next_version(current)
    except OutOfTurn as e:
        db.transaction(thd_out_of_turn, current, e, actor=actor, now=time.time())
        print(f"error: {e}", file=sys.stderr)
        return 1
    attempt = Attempt(current["partner_id"], current["regime"], current["consignment"], version)
    archive = Archive(config.gateway.data_dir)
    build(attempt, source, products, identities, data,
          lambda filing: keep(archive, settings.filings_dir, filing))
    outcome = db.transaction(thd_record, attempt, broker=broker, simulate=settings.simulate,
                             actor=actor, now=time.time(), domain=config.gateway.node_name)
    if outcome == "refused":
        for f in attempt.findings:
            print(f"{f['severity']} {f['rule']} {f['where']}: {f['message']}")
        print(f"error: consignment {attempt.reference} not filed: {len(attempt.findings)} "
              "problem(s); it stays a draft", file=sys.stderr)
        return 1
    if outcome not in ("filed", "amended", "simulated"):
        print(f"error: consignment {attempt.reference} changed meanwhile: see `gateway customs "
              f"show {attempt.reference}`", file=sys.stderr)
        return 1
    sent = (f"queued to {broker.id}" if broker is not None else
            "simulation: nothing sent" if settings.simulate else "written, no broker set")
    print(f"{attempt.reference} ({attempt.regime}): filed as version {version}: "
          f"{', '.join(f['filename'] for f in attempt.files)} ({sent})")
    return 0


def add_parser(subparsers) -> None:
    """Register ``gateway customs check``, ``status``, ``show`` and ``amend``."""
    group = subparsers.add_parser("customs", help="check, list, show and amend consignments")
    sub = group.add_subparsers(dest="customs", required=True)
    check = sub.add_parser("check", help="check a consignment (the customs library's JSON, or an "
                           "internal order with --partner) against a regime's rules; exit 1 on "
                           "any error finding")
    check.add_argument("file")
    check.add_argument("--regime", metavar="eu|cn|us", help="default: the partner's customs.regime")
    check.add_argument("--partner", help="read FILE as an internal document "
                       '({"document_type": "purchase_order", "document": {...}}) with its '
                       "customs settings")
    check.set_defaults(fn=cmd_check)
    status = sub.add_parser("status", help="consignments in the store, last changed first: "
                            "state, version, number of filings, problems")
    status.add_argument("--partner")
    status.add_argument("--state", choices=STATES)
    status.add_argument("--limit", type=int, default=50)
    status.add_argument("--json", action="store_true")
    status.set_defaults(fn=cmd_status)
    show = sub.add_parser("show", help="one consignment: its filings and its history (every "
                          "check, filing, receipt and refused step)")
    show.add_argument("consignment")
    show.add_argument("--partner", help="whose consignment, when several partners declare it")
    show.add_argument("--json", action="store_true")
    show.set_defaults(fn=cmd_show)
    amend = sub.add_parser("amend", help="file a rejected (or refused) consignment again from a "
                           "corrected FILE, as its next version; exit 1 when refused")
    amend.add_argument("consignment")
    amend.add_argument("file", help="the customs library's consignment JSON, or an internal "
                       'order or ship notice ({"document_type": "purchase_order", '
                       '"document": {...}})')
    amend.add_argument("--partner", help="whose consignment, when several partners declare it")
    amend.set_defaults(fn=cmd_amend)
