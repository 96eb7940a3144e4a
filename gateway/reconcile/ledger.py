"""The reconciliation ledger in the store: booking documents, evaluating subjects, discrepancies.

Every ``thd_*`` function runs inside one transaction (``Database.run``) and returns plain values.
A subject's row is locked while it is evaluated, so two workers booking documents of the same
order on PostgreSQL take turns instead of each writing findings that miss the other's document.
"""

from __future__ import annotations

import json
from decimal import Decimal

from sqlalchemy import and_, func, or_, select, update

from gateway.reconcile import checks
from gateway.reconcile.documents import Doc, links
from gateway.store.messages import thd_event
from gateway.store.schema import (
    documents,
    reconcile_discrepancies,
    reconcile_documents,
    reconcile_links,
    reconcile_subjects,
)
from gateway.store.sql import insert_ignore

AUTO = "auto"
UNSETTLED = ("open", "acknowledged")


class LedgerError(ValueError):
    """An operator action the ledger refuses (unknown discrepancy, wrong status)."""


def thd_load_document(conn, document_id: str) -> dict | None:
    """A row of the gateway's ``documents`` table, as the handler receives it."""
    row = conn.execute(select(documents.c.id, documents.c.partner_id, documents.c.doc_type,
                              documents.c.body, documents.c.created_at)
                       .where(documents.c.id == document_id)).first()
    return dict(row._mapping) if row else None


def thd_apply(conn, doc: Doc, *, now: float, settings: dict) -> dict:
    """Book a document and re-evaluate every subject it touches; a document already booked
    changes nothing. Returns {"booked": bool, "subjects": [...], "opened": n, "resolved": n}."""
    booked = conn.execute(
        insert_ignore(conn, reconcile_documents, ["document_id"]).values(
            document_id=doc.id, partner_id=doc.partner_id, doc_type=doc.doc_type,
            number=doc.number, issued_at=doc.issued_at, received_at=doc.received_at,
            body=json.dumps(doc.body, sort_keys=True), booked_at=now)
        .returning(reconcile_documents.c.document_id)).scalar()
    outcome = {"booked": booked is not None, "subjects": [], "opened": 0, "resolved": 0}
    if booked is None:
        return outcome
    conn.execute(reconcile_links.insert(), [
        dict(document_id=doc.id, kind=kind, value=value, partner_id=doc.partner_id)
        for kind, value in sorted(links(doc))])
    # Sorted, so that two transactions lock shared subjects in the same order.
    for subject in sorted(checks.subjects(doc)):
        opened, resolved = thd_evaluate(conn, doc.partner_id, subject, now=now,
                                        settings=settings,
                                        cause=f"{doc.doc_type} {doc.number}")
        outcome["subjects"].append(subject)
        outcome["opened"] += opened
        outcome["resolved"] += resolved
    return outcome


def _lock_subject(conn, partner_id: str, subject: str, now: float) -> None:
    conn.execute(insert_ignore(conn, reconcile_subjects, ["partner_id", "subject"])
                 .values(partner_id=partner_id, subject=subject, evaluated_at=now))
    conn.execute(select(reconcile_subjects.c.subject).where(
        reconcile_subjects.c.partner_id == partner_id,
        reconcile_subjects.c.subject == subject).with_for_update())


def _doc(row) -> Doc:
    return Doc(id=row.document_id, partner_id=row.partner_id, doc_type=row.doc_type,
               number=row.number, issued_at=row.issued_at, received_at=row.received_at,
               body=json.loads(row.body))


def thd_linked(conn, partner_id: str, kind: str, values: list[str]) -> list[Doc]:
    """Booked documents of a partner linked to any of ``values`` of one kind."""
    if not values:
        return []
    ids = (select(reconcile_links.c.document_id)
           .where(reconcile_links.c.partner_id == partner_id, reconcile_links.c.kind == kind,
                  reconcile_links.c.value.in_(values)))
    rows = conn.execute(select(reconcile_documents)
                        .where(reconcile_documents.c.document_id.in_(ids))
                        .order_by(reconcile_documents.c.issued_at,
                                  reconcile_documents.c.document_id))
    return [_doc(r) for r in rows]


def _text(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:f}"


def thd_evaluate(conn, partner_id: str, subject: str, *, now: float, settings: dict,
                 cause: str | None = None) -> tuple[int, int]:
    """Store what the rules find for a subject now: new findings open, changed ones are
    updated, vanished ones are resolved. Returns (opened, resolved)."""
    _lock_subject(conn, partner_id, subject, now)
    # A subject "po:PO1" is named like the link its documents carry: kind po, value PO1.
    kind, _, value = subject.partition(":")
    evaluation = checks.evaluate(subject, thd_linked(conn, partner_id, kind, [value]), now,
                                 settings)
    t = reconcile_discrepancies
    existing = {r.key: r for r in conn.execute(select(t).where(t.c.partner_id == partner_id,
                                                                t.c.subject == subject))}
    opened = resolved = 0
    for f in evaluation.findings:
        values = dict(type=f.type, severity=f.severity, message=f.message,
                      documents=json.dumps(list(f.documents)),
                      details=json.dumps(f.details, sort_keys=True, default=str),
                      po_number=f.po_number, invoice_number=f.invoice_number,
                      shipment_id=f.shipment_id, amount=_text(f.amount), currency=f.currency)
        row = existing.pop(f.key, None)
        if row is None:
            conn.execute(t.insert().values(partner_id=partner_id, subject=subject, key=f.key,
                                           status="open", created_at=now, updated_at=now,
                                           **values))
            opened += 1
            continue
        # A problem that comes back after settling itself, or turns into another (a return
        # whose claim window closed), is news: open again. An operator's resolution stands.
        reopen = (row.status == "resolved" and row.resolved_by == AUTO) or \
            (row.status == "acknowledged" and row.type != f.type)
        if reopen:
            values.update(status="open", resolved_at=None, resolved_by=None, comment=None)
            opened += 1
        if reopen or any(getattr(row, k) != v for k, v in values.items()):
            conn.execute(update(t).where(t.c.id == row.id).values(updated_at=now, **values))
    for row in existing.values():
        if row.status in UNSETTLED:
            conn.execute(update(t).where(t.c.id == row.id).values(
                status="resolved", resolved_at=now, resolved_by=AUTO, updated_at=now,
                comment=f"settled by {cause}" if cause else "no longer found when re-checked"))
            resolved += 1
    conn.execute(update(reconcile_subjects).where(
        reconcile_subjects.c.partner_id == partner_id, reconcile_subjects.c.subject == subject)
        .values(next_check_at=evaluation.next_check_at, evaluated_at=now,
                open_amount=_text(evaluation.open_amount), currency=evaluation.currency))
    return opened, resolved


def thd_record_invalid(conn, *, document_id: str, partner_id: str, doc_type: str, field: str,
                       message: str, now: float) -> bool:
    """Record a document the ledger cannot read as an open discrepancy (once)."""
    t = reconcile_discrepancies
    created = conn.execute(
        insert_ignore(conn, t, ["partner_id", "subject", "key"]).values(
            partner_id=partner_id, subject=f"document:{document_id}", key="invalid",
            type="invalid_document", severity="error", status="open", message=message,
            documents=json.dumps([document_id]),
            details=json.dumps({"field": field, "doc_type": doc_type[:32]}),
            created_at=now, updated_at=now).returning(t.c.id)).scalar()
    return created is not None


def thd_due(conn, *, now: float, limit: int = 500) -> list[tuple[str, str]]:
    """Subjects whose deadlines have come: (partner_id, subject)."""
    s = reconcile_subjects
    rows = conn.execute(select(s.c.partner_id, s.c.subject).where(s.c.next_check_at <= now)
                        .order_by(s.c.next_check_at).limit(limit))
    return [(r.partner_id, r.subject) for r in rows]


def _row(row) -> dict:
    out = dict(row._mapping)
    out["documents"] = json.loads(out["documents"])
    out["details"] = json.loads(out["details"])
    return out


def thd_discrepancies(conn, *, partner_id: str | None = None, statuses=UNSETTLED,
                      since: float | None = None, po_numbers=(), invoice_numbers=(),
                      limit: int = 10000) -> list[dict]:
    t = reconcile_discrepancies
    query = select(t).order_by(t.c.created_at, t.c.id).limit(limit)
    if partner_id:
        query = query.where(t.c.partner_id == partner_id)
    if statuses:
        query = query.where(t.c.status.in_(list(statuses)))
    if since is not None:
        query = query.where(t.c.created_at >= since)
    if po_numbers or invoice_numbers:
        query = query.where(or_(t.c.po_number.in_(list(po_numbers)),
                                t.c.invoice_number.in_(list(invoice_numbers))))
    return [_row(r) for r in conn.execute(query)]


TRANSITIONS = {"acknowledged": ("open",), "resolved": UNSETTLED}


def thd_transition(conn, discrepancy_id: int, status: str, *, actor: str, now: float,
                   comment: str | None = None) -> dict:
    """An operator acknowledges or resolves a discrepancy; recorded in the audit trail."""
    t = reconcile_discrepancies
    row = conn.execute(select(t).where(t.c.id == discrepancy_id).with_for_update()).first()
    if row is None:
        raise LedgerError(f"no discrepancy {discrepancy_id}")
    if row.status not in TRANSITIONS[status]:
        raise LedgerError(f"discrepancy {discrepancy_id} is {row.status}; only "
                          f"{' or '.join(TRANSITIONS[status])} ones can be {status}")
    values = dict(status=status, updated_at=now, comment=comment or row.comment)
    if status == "resolved":
        values.update(resolved_at=now, resolved_by=actor)
    conn.execute(update(t).where(t.c.id == discrepancy_id).values(**values))
    thd_event(conn, None, f"discrepancy-{status}", actor=actor, now=now, kind="operator",
              detail=f"discrepancy {discrepancy_id} ({row.partner_id} {row.type})"
                     f"{': ' + comment if comment else ''}")
    return _row(conn.execute(select(t).where(t.c.id == discrepancy_id)).one())


def _unpaid(conn, partner_id: str, invoices) -> dict[str, dict]:
    """Invoice number -> {"amount", "currency"} still owed, as the last evaluation found."""
    s = reconcile_subjects
    rows = conn.execute(select(s.c.subject, s.c.open_amount, s.c.currency).where(
        s.c.partner_id == partner_id, s.c.open_amount.is_not(None),
        s.c.subject.in_([f"invoice:{n}" for n in invoices])))
    return {r.subject.partition(":")[2]: {"amount": r.open_amount, "currency": r.currency}
            for r in rows}


def thd_chain(conn, reference: str, *, partner_id: str | None = None) -> list[dict]:
    """Everything booked about one order, found by its PO number or an invoice number: per
    partner, the documents (oldest first), every discrepancy about them, and what is still
    unpaid per invoice."""
    query = select(reconcile_links.c.partner_id, reconcile_links.c.kind).where(
        reconcile_links.c.value == reference, reconcile_links.c.kind.in_(["po", "invoice"]))
    if partner_id:
        query = query.where(reconcile_links.c.partner_id == partner_id)
    kinds: dict[str, set[str]] = {}
    for r in conn.execute(query):
        kinds.setdefault(r.partner_id, set()).add(r.kind)
    chains = []
    for partner in sorted(kinds):
        if "po" in kinds[partner]:
            pos, invoices = {reference}, set()
        else:   # an invoice number: its order's chain, or the invoice alone without a PO
            pos = {d.body["po_number"] for d in thd_linked(conn, partner, "invoice", [reference])
                   if d.doc_type == "invoice" and d.body.get("po_number")}
            invoices = {reference}
        docs = {d.id: d for d in thd_linked(conn, partner, "po", sorted(pos))}
        invoices |= {d.number for d in docs.values() if d.doc_type == "invoice"}
        docs.update((d.id, d) for d in thd_linked(conn, partner, "invoice", sorted(invoices)))
        returns = {d.number for d in docs.values() if d.doc_type == "return"}
        docs.update((d.id, d) for d in thd_linked(conn, partner, "return", sorted(returns)))
        found = thd_discrepancies(conn, partner_id=partner, statuses=(), po_numbers=pos,
                                  invoice_numbers=invoices)
        chains.append(dict(
            partner_id=partner, po_numbers=sorted(pos), invoice_numbers=sorted(invoices),
            documents=[dict(id=d.id, doc_type=d.doc_type, number=d.number, issued_at=d.issued_at,
                            received_at=d.received_at, body=d.body)
                       for d in sorted(docs.values(), key=lambda d: (d.issued_at, d.id))],
            discrepancies=found, unpaid=_unpaid(conn, partner, invoices)))
    return chains


def thd_rates(conn, *, partner_id: str | None = None, since: float | None = None) -> list[dict]:
    """Per partner: invoices and how many match, ship notices and how many were on time, and
    the amount invoiced and not yet paid per currency."""
    d, t, s = reconcile_documents, reconcile_discrepancies, reconcile_subjects
    booked = select(d.c.partner_id, d.c.doc_type, d.c.number).where(
        d.c.doc_type.in_(["invoice", "ship_notice"])).distinct()
    flagged = select(t.c.partner_id, t.c.type, t.c.invoice_number, t.c.shipment_id).where(
        or_(and_(t.c.type.in_(checks.THREE_WAY), t.c.status.in_(UNSETTLED)),
            t.c.type == "asn_late"))
    owed = select(s.c.partner_id, s.c.currency, s.c.open_amount).where(
        s.c.open_amount.is_not(None))
    if partner_id:
        booked = booked.where(d.c.partner_id == partner_id)
        flagged = flagged.where(t.c.partner_id == partner_id)
        owed = owed.where(s.c.partner_id == partner_id)
    if since is not None:
        booked = booked.where(d.c.issued_at >= since)
    bad = {(r.partner_id, "invoice" if r.type != "asn_late" else "ship_notice",
            r.invoice_number if r.type != "asn_late" else r.shipment_id)
           for r in conn.execute(flagged)}
    stats: dict[str, dict] = {}

    def of(partner):
        return stats.setdefault(partner, dict(partner_id=partner, invoices=0, invoices_matched=0,
                                              ship_notices=0, ship_notices_on_time=0,
                                              outstanding={}))
    for r in conn.execute(booked):
        entry = of(r.partner_id)
        name = "invoices" if r.doc_type == "invoice" else "ship_notices"
        good = "invoices_matched" if r.doc_type == "invoice" else "ship_notices_on_time"
        entry[name] += 1
        entry[good] += (r.partner_id, r.doc_type, r.number) not in bad
    for r in conn.execute(owed):
        due = Decimal(r.open_amount)
        if due:
            outstanding = of(r.partner_id)["outstanding"]
            outstanding[r.currency] = str(Decimal(outstanding.get(r.currency, "0")) + due)
    return [stats[p] for p in sorted(stats)]


def thd_open_counts(conn) -> list[tuple[str, str, int]]:
    """(partner, type, count) of unsettled discrepancies, for the metrics."""
    t = reconcile_discrepancies
    rows = conn.execute(select(t.c.partner_id, t.c.type, func.count())
                        .where(t.c.status.in_(UNSETTLED)).group_by(t.c.partner_id, t.c.type))
    return [(r[0], r[1], r[2]) for r in rows]
