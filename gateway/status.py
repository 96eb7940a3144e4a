"""``gateway status``: one screen on the health of every partner and of the work queue, read from
the store (works whether the daemon runs or not), as a table or ``--json``."""

from __future__ import annotations

import json
import time

from sqlalchemy import func, select

from gateway.store import acks
from gateway.store import jobs as jobs_store
from gateway.store.schema import jobs, messages

DAY_S = 86400
FAILED = ("failed", "rejected", "mdn-timeout")
AWAITING_MDN = "awaiting-mdn"
def thd_last_messages(conn) -> dict[tuple[str, str], dict]:
    """(partner, direction) -> the newest message's created_at and status."""
    newest = func.row_number().over(partition_by=(messages.c.partner_id, messages.c.direction),
                                    order_by=(messages.c.created_at.desc(), messages.c.id))
    ranked = select(messages.c.partner_id, messages.c.direction, messages.c.created_at,
                    messages.c.status, newest.label("n")).subquery()
    rows = conn.execute(select(ranked.c.partner_id, ranked.c.direction, ranked.c.created_at,
                               ranked.c.status).where(ranked.c.n == 1))
    return {(r.partner_id, r.direction): {"at": r.created_at, "status": r.status} for r in rows}


def _count_outbound_in(conn, status: str) -> dict[str, int]:
    rows = conn.execute(select(messages.c.partner_id, func.count())
                        .where(messages.c.direction == "outbound", messages.c.status == status)
                        .group_by(messages.c.partner_id))
    return {partner: count for partner, count in rows}


def thd_pending_mdns(conn) -> dict[str, int]:
    """Per partner: messages sent that wait for their asynchronous MDN."""
    return _count_outbound_in(conn, AWAITING_MDN)


def thd_pending_acks(conn) -> dict[str, int]:
    """Per partner: functional groups sent that wait for their acknowledgment (997/999)."""
    return acks.thd_pending_counts(conn)


def thd_failures(conn, *, since: float) -> dict[str, dict[str, int]]:
    """Per partner, since ``since``: messages by failing status, and jobs dead-lettered."""
    out: dict[str, dict[str, int]] = {}
    rows = conn.execute(select(messages.c.partner_id, messages.c.status, func.count())
                        .where(messages.c.status.in_(FAILED), messages.c.updated_at >= since)
                        .group_by(messages.c.partner_id, messages.c.status))
    for partner, status, count in rows:
        out.setdefault(partner, {})[status] = count
    dead = conn.execute(select(messages.c.partner_id, func.count())
                        .select_from(jobs.join(messages, jobs.c.message_id == messages.c.id))
                        .where(jobs.c.status == "dead", jobs.c.updated_at >= since)
                        .group_by(messages.c.partner_id))
    for partner, count in dead:
        out.setdefault(partner, {})["dead_jobs"] = count
    return out


def thd_summary(conn, *, now: float) -> dict:
    """Everything ``gateway status`` shows that lives in the database, as plain values."""
    return {"last": thd_last_messages(conn), "pending_mdns": thd_pending_mdns(conn),
            "pending_acks": thd_pending_acks(conn),
            "failures": thd_failures(conn, since=now - DAY_S),
            "queue": jobs_store.thd_queue_stats(conn, now=now)}


def build(stored: dict, certificates: list, partner_ids: list[str], *, now: float) -> dict:
    """The status document: configured partners plus any the store still has messages of."""
    known = set(partner_ids) | {p for p, _ in stored["last"]}
    partners = []
    for partner in sorted(known):
        failures = stored["failures"].get(partner, {})
        certs = [c for c in certificates if c["owner"] == partner]
        partners.append({
            "partner": partner,
            "configured": partner in partner_ids,
            "last_in": stored["last"].get((partner, "inbound")),
            "last_out": stored["last"].get((partner, "outbound")),
            "pending_mdns": stored["pending_mdns"].get(partner, 0),
            "pending_acks": stored["pending_acks"].get(partner, 0),
            "failed_24h": {s: failures.get(s, 0) for s in FAILED},
            "dead_jobs_24h": failures.get("dead_jobs", 0),
            "certificates": certs,
        })
    queue: dict[str, dict] = {}
    for row in stored["queue"]:
        entry = queue.setdefault(row["kind"], {"pending": 0, "running": 0, "dead": 0,
                                               "oldest_pending_age_s": None})
        entry[row["status"]] = row["count"]
        if row["status"] == "pending":
            entry["oldest_pending_age_s"] = round(row["oldest_age"], 1)
    return {"generated_at": now, "partners": partners,
            "gateway_certificates": [c for c in certificates if c["owner"] == "gateway"],
            "queue": [dict(kind=k, **v) for k, v in sorted(queue.items())]}


def certificate_rows(config, partners) -> list[dict]:
    from gateway import certs

    out = []
    for c in certs.inventory(config, partners):
        days = c.days_left()
        out.append({"owner": c.owner, "usage": c.usage, "path": str(c.path),
                    "subject": c.subject, "error": c.error,
                    "not_after": c.not_after.isoformat() if c.not_after else None,
                    "days_left": None if days is None else round(days, 1)})
    return out


def _duration(seconds: float) -> str:
    for unit, size in (("d", DAY_S), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def _last(entry: dict | None, now: float) -> str:
    if entry is None:
        return "-"
    return f"{_duration(max(0.0, now - entry['at']))} ago {entry['status']}"


def _cert_cell(certs: list[dict]) -> str:
    if not certs:
        return "-"
    broken = [c for c in certs if c["error"]]
    if broken:
        return f"ERROR ({broken[0]['usage']}): {broken[0]['error']}"
    worst = min(certs, key=lambda c: c["days_left"])
    days = worst["days_left"]
    note = " EXPIRED" if days < 0 else (" EXPIRES SOON" if days < 30 else "")
    return f"{days:.0f} days ({worst['usage']}){note}"


def render(doc: dict, problems: list[str]) -> None:
    """Print the status document as two tables and the gateway's own certificate."""
    from gateway.cli import _table

    now = doc["generated_at"]
    rows = [("PARTNER", "LAST IN", "LAST OUT", "AWAITING MDN", "AWAITING 997/999",
             "FAILED 24H", "DEAD JOBS 24H", "CERTIFICATES")]
    for p in doc["partners"]:
        name = p["partner"] if p["configured"] else f"{p['partner']} (not configured)"
        rows.append((name, _last(p["last_in"], now), _last(p["last_out"], now),
                     p["pending_mdns"], p["pending_acks"], sum(p["failed_24h"].values()),
                     p["dead_jobs_24h"], _cert_cell(p["certificates"])))
    if len(rows) == 1:
        rows.append(("(no partners)",) + ("",) * 7)
    _table(rows)
    print(f"\ngateway certificates: {_cert_cell(doc['gateway_certificates'])}\n")
    rows = [("QUEUE", "PENDING", "RUNNING", "DEAD", "OLDEST PENDING")]
    for q in doc["queue"]:
        age = q["oldest_pending_age_s"]
        rows.append((q["kind"], q["pending"], q["running"], q["dead"],
                     "-" if age is None else _duration(age)))
    if len(rows) == 1:
        rows.append(("(empty)", 0, 0, 0, "-"))
    _table(rows)
    for problem in problems:
        print(f"warning: {problem}")


def cmd_status(args) -> int:
    from gateway.cli import _config, _store
    from gateway.partners import load_partners
    from gateway.problems import ConfigError

    config = _config(args)
    problems = []
    try:
        partners = load_partners(config)
    except ConfigError as e:   # still show what the store knows
        partners = None
        problems = [f"partners not loaded: {p}" for p in e.problems]
    now = time.time()
    stored = _store(config).transaction(thd_summary, now=now)
    doc = build(stored, certificate_rows(config, partners),
                sorted(partners.partners) if partners else [], now=now)
    if args.json:
        doc["problems"] = problems
        print(json.dumps(doc, indent=2, default=str))
    else:
        render(doc, problems)
    return 0


def add_parser(subparsers) -> None:
    """Register ``gateway status`` on the ``gateway`` command's subparsers."""
    status = subparsers.add_parser(
        "status", help="one screen: per partner last messages, pending MDNs and 997s, failures, "
                       "certificates; and the work queue")
    status.add_argument("--json", action="store_true")
    status.set_defaults(fn=cmd_status)
