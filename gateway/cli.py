"""The ``gateway`` command: serve, check, db, certs, messages, jobs, send, receive, replay,
resend, reconcile, status."""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import logging
import signal
import sys
import time
from pathlib import Path

from gateway.config import Config, load_config
from gateway.problems import ConfigError

log = logging.getLogger("gateway")


def _setup_logging(level: str) -> None:
    from twisted.logger import STDLibLogObserver, globalLogBeginner

    logging.basicConfig(level=getattr(logging, level.upper().replace("WARN", "WARNING")),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    globalLogBeginner.beginLoggingTo([STDLibLogObserver()], redirectStandardIO=False)


def _config(args) -> Config:
    return load_config(Path(args.config) if args.config else None)


def _store(config: Config):
    """A Database for commands that read or change the store without the daemon's reactor."""
    from gateway.store.database import Database

    url = config.database_url
    if url.startswith("sqlite") and not Path(url.split("///", 1)[-1]).exists():
        raise SystemExit(f"no database at {url}: start the gateway or run `gateway db upgrade`")
    return Database(url)


def cmd_serve(args) -> int:
    from twisted.internet import defer, reactor

    from gateway import certs, collector
    from gateway.app import Gateway
    from gateway.partners import load_partners
    from gateway.store.database import make_engine, upgrade

    config = _config(args)
    _setup_logging(config.gateway.log_level)
    partners = load_partners(config)
    for path in certs.init_dev_identity(config):
        log.warning("generated a self-signed development certificate/key: %s", path)
    engine = make_engine(config.database_url)
    upgrade(engine)
    engine.dispose()

    app = Gateway(config, partners)
    failed = []

    def start():
        try:
            app.startService()
        except Exception as e:   # a port in use, an unreadable key: stop with the reason
            log.critical("gateway failed to start: %s", e)
            failed.append(e)
            reactor.stop()
            return
        collector.tune()

    def hangup(_signum, _frame):
        reactor.callFromThread(lambda: defer.ensureDeferred(app.reload()))

    reactor.callWhenRunning(start)
    reactor.addSystemEventTrigger("before", "shutdown",
                                  lambda: app.stopService() if app.running else None)
    signal.signal(signal.SIGHUP, hangup)
    reactor.run()
    log.info("gateway stopped")
    return 1 if failed else 0


def cmd_check(args) -> int:
    from gateway import certs
    from gateway.partners import load_partners

    problems = []
    try:
        config = _config(args)
    except ConfigError as e:
        problems += e.problems
        config = None
    partners = None
    if config is not None:
        try:
            partners = load_partners(config)
        except ConfigError as e:
            problems += e.problems
    if partners is not None:
        from gateway.x12flow import check_partner
        for partner in partners.partners.values():
            problems += check_partner(partner, config.gateway.mapping_dir)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) found")
        return 1
    expired = [c for c in certs.inventory(config, partners)
               if c.not_after is not None and c.days_left() < 0]
    for cert in expired:
        print(f"warning: {cert.path}: certificate of {cert.owner} ({cert.usage}) has expired")
    print(f"configuration OK: {len(partners)} partners")
    return 0


def cmd_db_upgrade(args) -> int:
    from gateway.store.database import make_engine, upgrade

    config = _config(args)
    engine = make_engine(config.database_url)
    upgrade(engine)
    engine.dispose()
    print(f"database at newest schema: {config.database_url.split('@')[-1]}")
    return 0


def cmd_certs_init(args) -> int:
    from gateway import certs

    config = _config(args)
    written = certs.init_dev_identity(config, force=args.force)
    for path in written:
        print(f"wrote {path}")
    if not written:
        print("certificates already exist (use --force to replace them)")
    return 0


def cmd_certs_status(args) -> int:
    from gateway import certs
    from gateway.partners import load_partners

    config = _config(args)
    partners = load_partners(config)
    rows = [("OWNER", "USAGE", "DAYS LEFT", "NOT AFTER", "SUBJECT / PROBLEM", "FILE")]
    worst = 0
    for c in certs.inventory(config, partners):
        days = c.days_left()
        if c.error or days < 0:
            worst = 1
        rows.append((c.owner, c.usage, "-" if days is None else f"{days:.0f}",
                     c.not_after.date().isoformat() if c.not_after else "-",
                     c.error or c.subject, str(c.path)))
    _table(rows)
    return worst


def _table(rows) -> None:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _when(ts: float | None) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


def cmd_messages(args) -> int:
    from gateway.store import jobs, messages

    db = _store(_config(args))
    if args.id:
        message = db.transaction(messages.thd_get, args.id)
        if message is None:
            print(f"no message {args.id!r}")
            return 1
        message_jobs = db.transaction(jobs.thd_list, message_id=message["id"])
        if args.json:
            print(json.dumps(dict(message, jobs=message_jobs), indent=2, default=str))
            return 0
        for key in ("id", "direction", "transport", "partner_id", "message_id", "status",
                    "content_type", "filename", "size", "sha256", "mic", "error"):
            print(f"{key:13} {message[key] if message[key] is not None else '-'}")
        print(f"{'created':13} {_when(message['created_at'])}")
        print("history:")
        for e in message["events"]:
            print(f"  {_when(e['at'])}  {e['status'] or e['kind']:14} {e['actor']:24} "
                  f"{e['detail'] or ''}".rstrip())
        if message_jobs:
            print("jobs:")
            for j in message_jobs:
                print(f"  #{j['id']} {j['kind']:10} {j['status']:8} attempts={j['attempts']}"
                      f"{'  last error: ' + j['last_error'] if j['last_error'] else ''}")
        return 0
    found = db.transaction(messages.thd_list, partner_id=args.partner, status=args.status,
                           direction=args.direction, limit=args.limit)
    if args.json:
        print(json.dumps(found, indent=2, default=str))
        return 0
    rows = [("ID", "CREATED", "DIR", "PARTNER", "VIA", "STATUS", "SIZE", "MESSAGE-ID")]
    rows += [(m["id"][:8], _when(m["created_at"]), m["direction"][:3], m["partner_id"],
              m["transport"], m["status"], m["size"] if m["size"] is not None else "-",
              m["message_id"][:60]) for m in found]
    _table(rows)
    return 0


def cmd_jobs(args) -> int:
    from gateway.store import jobs

    db = _store(_config(args))
    if args.retry:
        ok = db.transaction(jobs.thd_retry_dead, args.retry, now=time.time())
        print(f"job {args.retry} {'queued again' if ok else 'is not dead-lettered'}")
        return 0 if ok else 1
    found = db.transaction(jobs.thd_list, status=args.status, limit=args.limit)
    rows = [("ID", "KIND", "STATUS", "ATTEMPTS", "UPDATED", "MESSAGE", "LAST ERROR")]
    rows += [(j["id"], j["kind"], j["status"], j["attempts"], _when(j["updated_at"]),
              (j["message_id"] or "-")[:8], (j["last_error"] or "")[:80]) for j in found]
    _table(rows)
    return 0


def cmd_receive(args) -> int:
    """Take in a file a partner delivered by other means, exactly as if it came over a transport."""
    from gateway.archive import Archive
    from gateway.intake import thd_record_inbound
    from gateway.partners import load_partners

    config = _config(args)
    partners = load_partners(config)
    if args.partner not in partners.partners:
        print(f"unknown partner {args.partner!r}")
        return 1
    path = Path(args.file)
    sha256, size = Archive(config.gateway.data_dir).put_file(path)
    db = _store(config)
    id, created = db.transaction(
        thd_record_inbound, partner_id=args.partner, transport="file",
        message_id=args.message_id or f"file:{sha256}", sha256=sha256, size=size,
        actor="operator", now=time.time(), filename=path.name)
    print(f"{'received' if created else 'duplicate of'} message {id} ({size} bytes)")
    return 0


def cmd_send(args) -> int:
    """Queue a file for a partner; the running gateway sends it (AS2 or SFTP) and tracks it."""
    from gateway.archive import Archive
    from gateway.outbound import thd_queue, transport_for
    from gateway.partners import load_partners

    config = _config(args)
    partner = load_partners(config).partners.get(args.partner)
    if partner is None or transport_for(partner) is None:
        print(f"partner {args.partner!r} is not configured to receive (as2.url or sftp)")
        return 1
    path = Path(args.file)
    sha256, size = Archive(config.gateway.data_dir).put_file(path)
    id = _store(config).transaction(
        thd_queue, partner, sha256=sha256, size=size, filename=path.name,
        content_type=args.content_type, actor="operator", now=time.time(),
        domain=config.gateway.node_name)
    print(f"queued message {id} ({size} bytes) for {partner.id} by {transport_for(partner)}")
    return 0


def cmd_replay(args) -> int:
    from gateway.process import thd_replay

    db = _store(_config(args))
    try:
        run = db.transaction(thd_replay, args.id, actor=f"operator:{getpass.getuser()}",
                             now=time.time())
    except ValueError as e:
        print(e)
        return 1
    print(f"message {args.id} queued for replay #{run}")
    return 0


def cmd_resend(args) -> int:
    from gateway.outbound import thd_resend
    from gateway.partners import load_partners

    config = _config(args)
    partners = load_partners(config).partners
    try:
        attempt = _store(config).transaction(
            thd_resend, args.id, partners, actor=f"operator:{getpass.getuser()}",
            now=time.time())
    except ValueError as e:
        print(e)
        return 1
    print(f"message {args.id} queued to be sent again (resend #{attempt})")
    return 0


def cmd_translate(args) -> int:
    """X12 -> what the gateway makes of it (JSON), or documents (JSON) -> X12; nothing stored."""
    from gateway import x12flow, x12out
    from gateway.edi.x12 import read_units
    from gateway.partners import load_partners

    config = _config(args)
    partners = load_partners(config)
    path = Path(args.file)
    if args.to == "x12":
        partner = partners.partners.get(args.partner or "")
        if partner is None:
            print("--to x12 needs --partner, a configured partner", file=sys.stderr)
            return 1
        data = json.loads(path.read_text(encoding="utf-8"))
        docs = [(d["document_type"], d["document"]) for d in
                (data if isinstance(data, list) else [data])]
        try:
            print(x12out.build(config, partner, docs, 1, 1))
        except (x12out.OutboundError, ValueError, KeyError) as e:
            print(f"{path}: {e}", file=sys.stderr)
            return 1
        return 0
    partner = partners.partners.get(args.partner or "")
    if partner is None:
        with open(path, "rb") as f:
            first = next((u for u in read_units(f)), None)
        sender = first and partners.by_isa(first.sender_qualifier, first.sender_id)
        if sender is None:
            print(f"{path}: no partner has this interchange's sender id; pass --partner",
                  file=sys.stderr)
            return 1
        partner = sender
    if partner.x12 is None:
        print(f"partner {partner.id} has no x12 settings", file=sys.stderr)
        return 1
    mapping = config.gateway.mapping_dir
    exam = x12flow.examine(partner, path, mapping, x12flow.translator(partner, mapping))
    result, problems = x12flow.summary(partner, exam)
    print(json.dumps(result, indent=2))
    for problem in problems:
        print(problem, file=sys.stderr)
    rejected = exam.fatal or any(o.status == "R" or o.error for ic in exam.interchanges
                                 for o in ic.sets)
    return 1 if rejected or not exam.interchanges else 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gateway", description=__doc__)
    p.add_argument("--config", help="gateway.toml (default: embedded defaults, or $GATEWAY_CONFIG)")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the gateway").set_defaults(fn=cmd_serve)
    sub.add_parser("check", help="validate gateway.toml and every partner file").set_defaults(
        fn=cmd_check)
    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db", required=True)
    db.add_parser("upgrade", help="migrate to the newest schema").set_defaults(fn=cmd_db_upgrade)
    certs = sub.add_parser("certs", help="certificates").add_subparsers(dest="certs", required=True)
    init = certs.add_parser("init", help="generate the gateway's development key pairs")
    init.add_argument("--force", action="store_true", help="replace existing ones")
    init.set_defaults(fn=cmd_certs_init)
    certs.add_parser("status", help="every certificate in use, with days to expiry").set_defaults(
        fn=cmd_certs_status)
    msgs = sub.add_parser("messages", help="list messages, or show one with its history")
    msgs.add_argument("show", nargs="?", choices=["show"], help=argparse.SUPPRESS)
    msgs.add_argument("id", nargs="?", help="message id (or a unique prefix, or its Message-ID)")
    msgs.add_argument("--partner")
    msgs.add_argument("--status")
    msgs.add_argument("--direction", choices=["inbound", "outbound"])
    msgs.add_argument("--limit", type=int, default=50)
    msgs.add_argument("--json", action="store_true")
    msgs.set_defaults(fn=cmd_messages)
    jobs = sub.add_parser("jobs", help="the work queue: list jobs, retry a dead-lettered one")
    jobs.add_argument("--status", choices=["pending", "running", "done", "dead"])
    jobs.add_argument("--limit", type=int, default=50)
    jobs.add_argument("--retry", type=int, metavar="JOB_ID")
    jobs.set_defaults(fn=cmd_jobs)
    send = sub.add_parser("send", help="send a file to a partner (AS2, or SFTP when it has no AS2)")
    send.add_argument("--partner", required=True)
    send.add_argument("--content-type", default="application/edi-x12",
                      help="payload type (default application/edi-x12)")
    send.add_argument("file")
    send.set_defaults(fn=cmd_send)
    tr = sub.add_parser("translate", help="show what the gateway makes of an X12 file (JSON), "
                        "or render documents as X12; nothing is stored or sent")
    tr.add_argument("file")
    tr.add_argument("--partner", help="whose guides and maps (default: by the ISA sender id)")
    tr.add_argument("--to", choices=["json", "x12"], default="json")
    tr.set_defaults(fn=cmd_translate)
    replay = sub.add_parser("replay", help="process a received message again from its archive")
    replay.add_argument("id")
    replay.set_defaults(fn=cmd_replay)
    resend = sub.add_parser("resend", help="send an outbound message again (same Message-ID)")
    resend.add_argument("id")
    resend.set_defaults(fn=cmd_resend)
    receive = sub.add_parser("receive", help="take in a file from a partner delivered by hand")
    receive.add_argument("--partner", required=True)
    receive.add_argument("--message-id", help="the partner's id for it (default: its sha256)")
    receive.add_argument("file")
    receive.set_defaults(fn=cmd_receive)
    from gateway.reconcile.cli import add_parser as add_reconcile
    add_reconcile(sub)
    from gateway.status import add_parser as add_status
    add_status(sub)
    from gateway.customs_cli import add_parser as add_customs
    add_customs(sub)
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.fn(args)
    except ConfigError as e:
        for problem in e.problems:
            print(problem, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
