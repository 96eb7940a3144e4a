"""``gateway reconcile``: report, show, respond, ack and resolve, against the store."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

from gateway.reconcile import ledger, report, respond
from gateway.reconcile.documents import InvalidDocument, parse_json, timestamp


def _since(text: str) -> float:
    try:
        return timestamp(dt.date.fromisoformat(text).isoformat())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _db(args):
    # Imported here: gateway.cli imports this module to register the commands.
    from gateway.cli import _config, _store

    return _store(_config(args))


def cmd_report(args) -> int:
    db = _db(args)
    items = db.transaction(ledger.thd_discrepancies, partner_id=args.partner, since=args.since)
    rates = db.transaction(ledger.thd_rates, partner_id=args.partner, since=args.since)
    filters = {"partner": args.partner,
               "since": dt.datetime.fromtimestamp(args.since, dt.UTC).date().isoformat()
               if args.since is not None else None}
    print(report.render(report.build(items, rates, now=time.time(), filters=filters),
                        args.format))
    return 0


def cmd_show(args) -> int:
    chains = _db(args).transaction(ledger.thd_chain, args.reference, partner_id=args.partner)
    if not chains:
        print(f"nothing booked under PO or invoice {args.reference!r}", file=sys.stderr)
        return 1
    print(report.render_chain(chains, args.format))
    return 0


def _order(args) -> dict:
    """The order to answer: a JSON file, or the newest order booked under a PO number."""
    path = Path(args.order)
    if path.is_file():
        return parse_json(path.read_text(encoding="utf-8"), f"order file {path}")
    chains = _db(args).transaction(ledger.thd_chain, args.order, partner_id=args.partner)
    if len(chains) > 1:
        raise SystemExit(f"PO {args.order} is booked for several partners "
                         f"({', '.join(c['partner_id'] for c in chains)}): name one with --partner")
    orders = [d["body"] for c in chains for d in c["documents"] if d["doc_type"] == "purchase_order"
              and d["number"] == args.order and d["body"].get("purpose") != "cancellation"]
    if not orders:
        raise SystemExit(f"no order {args.order!r} is booked and no such file exists")
    return orders[-1]


def cmd_respond(args) -> int:
    try:
        order = _order(args)
        facts = parse_json(Path(args.shipment).read_text(encoding="utf-8"), respond.FACTS)
        drafts = dict(zip(("po_acknowledgment", "ship_notice", "invoice"),
                          respond.draft(order, facts), strict=True))
    except InvalidDocument as e:
        print(f"cannot draft: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"cannot read {e.filename}: {e.strerror}", file=sys.stderr)
        return 1
    if args.send:
        return _send(args, drafts)
    if args.out is None:
        print(json.dumps(drafts, indent=2))
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, document in drafts.items():
        path = out / f"{name}.json"
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {path}")
    return 0



def _send(args, drafts: dict) -> int:
    """Render the drafts as X12 for the partner, queue them, and book them in the ledger."""
    from gateway.cli import _config, _store
    from gateway.partners import load_partners
    from gateway.x12out import OutboundError, send_documents

    config = _config(args)
    partner = load_partners(config).partners.get(args.partner or "")
    if partner is None:
        print(f"--send needs --partner, a configured partner (not {args.partner!r})",
              file=sys.stderr)
        return 1
    try:
        id = send_documents(_store(config), config, partner, list(drafts.items()),
                            actor="operator", now=time.time())
    except (OutboundError, ValueError) as e:
        print(f"cannot send: {e}", file=sys.stderr)
        return 1
    print(f"queued message {id} for {partner.id}: 855, 856 and 810")
    return 0


def _transition(args, status: str) -> int:
    try:
        row = _db(args).transaction(ledger.thd_transition, args.id, status, actor=args.by,
                                    now=time.time(), comment=args.comment)
    except ledger.LedgerError as e:
        print(e, file=sys.stderr)
        return 1
    print(f"discrepancy {row['id']} ({row['partner_id']} {row['type']}) is {row['status']}")
    return 0


def cmd_ack(args) -> int:
    return _transition(args, "acknowledged")


def cmd_resolve(args) -> int:
    return _transition(args, "resolved")


def add_parser(subparsers) -> None:
    """Register ``gateway reconcile ...`` on the ``gateway`` command's subparsers."""
    rec = subparsers.add_parser("reconcile", help="the reconciliation ledger: open items, "
                                "order chains, drafting 855/856/810").add_subparsers(
        dest="reconcile", required=True)
    rep = rec.add_parser("report", help="open items, aging buckets and match rates")
    rep.add_argument("--partner")
    rep.add_argument("--since", type=_since, metavar="DATE",
                     help="only items raised (and documents issued) since this date")
    rep.add_argument("--format", choices=report.FORMATS, default="table",
                     help="csv holds the open items, one per row")
    rep.set_defaults(fn=cmd_report)
    show = rec.add_parser("show", help="the whole chain of one order: documents, discrepancies")
    show.add_argument("reference", metavar="PO|INVOICE")
    show.add_argument("--partner")
    show.add_argument("--format", choices=("table", "json"), default="table")
    show.set_defaults(fn=cmd_show)
    resp = rec.add_parser("respond", help="draft the 855, 856 and 810 for a shipment of an order")
    resp.add_argument("order", metavar="PO|FILE", help="a booked PO number or an order JSON file")
    resp.add_argument("--shipment", required=True, metavar="FILE",
                      help="shipment facts JSON (mapping/schemas/shipment_facts.schema.json)")
    resp.add_argument("--partner")
    resp.add_argument("--out", metavar="DIR", help="write the three drafts here (default: print)")
    resp.add_argument("--send", action="store_true",
                      help="render them as X12 and queue them to --partner (and book them)")
    resp.set_defaults(fn=cmd_respond)
    who = os.environ.get("USER") or os.environ.get("LOGNAME") or "operator"
    ack = rec.add_parser("ack", help="acknowledge an open discrepancy")
    ack.add_argument("id", type=int)
    ack.add_argument("--comment")
    ack.add_argument("--by", default=who, help=f"who (default: {who})")
    ack.set_defaults(fn=cmd_ack)
    res = rec.add_parser("resolve", help="resolve a discrepancy, saying how")
    res.add_argument("id", type=int)
    res.add_argument("--comment", required=True)
    res.add_argument("--by", default=who, help=f"who (default: {who})")
    res.set_defaults(fn=cmd_resolve)
