"""The reconciliation ledger in the store: booking documents, evaluating subjects, discrepancies.

Every ``thd_*`` function runs inside one transaction (``Database.run``) and returns plain values.
Documents are booked in batches with a fixed number of statements per batch: the documents and
their links are inserted together, the subjects they touch are locked in sorted order, the
documents and discrepancies of those subjects are loaded at once, every subject is evaluated in
memory, and what changed is written back in bulk. Locking before loading means two workers
booking documents of the same order on PostgreSQL take turns instead of each writing findings
that miss the other's document; sorted order means they never wait on each other in a circle.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from decimal import Decimal

import orjson
from sqlalchemy import and_, bindparam, func, or_, select, update

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
from gateway.store.sql import insert_ignore, insert_many, one_of, prepared, update_many

AUTO = "auto"
UNSETTLED = ("open", "acknowledged")
CHUNK = 500   # values per lookup: an IN list on SQLite stays well under its bind limit


# The queries of booking, built once per dialect.
_LOCK = prepared(lambda dialect: select(reconcile_subjects.c.subject).where(
    reconcile_subjects.c.partner_id == bindparam("partner"),
    one_of(reconcile_subjects.c.subject, "names", dialect))
    .order_by(reconcile_subjects.c.subject).with_for_update())
_LINKED = prepared(lambda dialect: select(reconcile_links.c.value, reconcile_links.c.document_id)
                   .where(reconcile_links.c.partner_id == bindparam("partner"),
                          reconcile_links.c.kind == bindparam("kind"),
                          one_of(reconcile_links.c.value, "values", dialect)))
_FOUND = prepared(lambda dialect: select(reconcile_discrepancies).where(
    reconcile_discrepancies.c.partner_id == bindparam("partner"),
    one_of(reconcile_discrepancies.c.subject, "names", dialect)).with_for_update())
_STORED = prepared(lambda dialect: select(
    documents.c.id, documents.c.partner_id, documents.c.doc_type, documents.c.body,
    documents.c.created_at).where(one_of(documents.c.id, "ids", dialect)))
_BOOKED = prepared(lambda dialect: select(reconcile_documents).where(
    one_of(reconcile_documents.c.document_id, "ids", dialect)))


class LedgerError(ValueError):
    """An operator action the ledger refuses (unknown discrepancy, wrong status)."""


def chunks(items: list, size: int = CHUNK):
    """``items`` in slices of ``size``: for IN lists and multi-row statements."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def thd_load_documents(conn, document_ids: list[str]) -> dict[str, dict]:
    """Rows of the gateway's ``documents`` table by id, as the handler receives them."""
    found = {}
    for chunk in chunks(sorted(set(document_ids))):
        found.update((row["id"], dict(row)) for row in
                     conn.execute(_STORED(conn), dict(ids=chunk)).mappings().all())
    return found


def thd_apply(conn, docs: list[Doc], *, now: float, settings: Mapping[str, dict],
              texts: Mapping[str, str]) -> dict:
    """Book documents and re-evaluate every subject they touch, as if each was booked alone in
    the order given; a document already booked (before, or earlier in ``docs``) changes nothing.
    ``settings``: partner id -> its checked settings; ``texts``: document id -> its body as the
    JSON text it was read from, kept as is. Returns {"booked": [document ids],
    "subjects": [(partner, subject)], "opened": n, "resolved": n}."""
    new = _book(conn, docs, texts, now)
    plan = [(doc, sorted(checks.subjects(doc))) for doc in new]
    books = _Books.load(conn, sorted({(d.partner_id, s) for d, subjects in plan
                                      for s in subjects}), now=now, pending=new)
    for doc, subjects in plan:
        books.show(doc)
        for subject in subjects:
            books.evaluate(doc.partner_id, subject, settings[doc.partner_id],
                           cause=f"{doc.doc_type} {doc.number}")
    books.save(conn)
    return {"booked": [d.id for d in new], "subjects": sorted(books.evaluated),
            "opened": books.opened, "resolved": books.resolved}


def thd_evaluate(conn, subjects: list[tuple[str, str]], *, now: float,
                 settings: Mapping[str, dict]) -> tuple[int, int]:
    """Store what the rules find now for subjects (partner, subject): new findings open,
    changed ones are updated, vanished ones are resolved. Returns (opened, resolved)."""
    keys = sorted(set(subjects))
    books = _Books.load(conn, keys, now=now)
    for partner_id, subject in keys:
        books.evaluate(partner_id, subject, settings[partner_id])
    books.save(conn)
    return books.opened, books.resolved


def _book(conn, docs: list[Doc], texts: Mapping[str, str], now: float) -> list[Doc]:
    """Insert the documents not booked yet and their links; the new ones, in the given order."""
    unique: dict[str, Doc] = {}
    for doc in docs:
        unique.setdefault(doc.id, doc)
    # In id order, so that two transactions booking the same documents meet in the same order.
    rows = [dict(document_id=d.id, partner_id=d.partner_id, doc_type=d.doc_type,
                 number=d.number, issued_at=d.issued_at, received_at=d.received_at,
                 body=texts[d.id], booked_at=now)
            for d in map(unique.get, sorted(unique))]
    booked = set(insert_many(conn, reconcile_documents, rows,
                             ignore_conflicts_on=("document_id",), returning="document_id"))
    new = [d for d in unique.values() if d.id in booked]
    rows = [dict(document_id=d.id, kind=kind, value=value, partner_id=d.partner_id)
            for d in new for kind, value in sorted(links(d))]
    insert_many(conn, reconcile_links, rows)
    return new


def _doc(row) -> Doc:
    return Doc(id=row.document_id, partner_id=row.partner_id, doc_type=row.doc_type,
               number=row.number, issued_at=row.issued_at, received_at=row.received_at,
               body=orjson.loads(row.body))


def _text(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:f}"


def _values(f: checks.Finding) -> dict:
    return dict(type=f.type, severity=f.severity, message=f.message,
                documents=orjson.dumps(f.documents).decode(),
                details=orjson.dumps(f.details, default=str, option=orjson.OPT_SORT_KEYS).decode(),
                po_number=f.po_number, invoice_number=f.invoice_number,
                shipment_id=f.shipment_id, amount=_text(f.amount), currency=f.currency)


def _by_partner(keys: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for partner_id, name in keys:
        grouped[partner_id].append(name)
    return grouped


class _Books:
    """The subjects of one transaction, locked: their documents and discrepancies in memory,
    evaluated there, and written back by :meth:`save`."""

    def __init__(self, now: float):
        self.now = now
        self.docs: dict[str, Doc] = {}
        self.linked: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.hidden: set[str] = set()       # booked in this batch, not yet reached
        self.found: dict[tuple[str, str], dict[str, dict]] = defaultdict(dict)
        self.changed: dict[int, dict] = {}  # id(row) -> row to insert or update
        self.outcome: dict[tuple[str, str], checks.Evaluation] = {}
        self.evaluated: set[tuple[str, str]] = set()
        self.opened = self.resolved = 0

    @classmethod
    def load(cls, conn, keys: list[tuple[str, str]], *, now: float,
             pending: list[Doc] = ()) -> _Books:
        """Lock the subjects ``keys`` (sorted) and load what they hold. ``pending`` documents
        are booked but stay out of evaluations until :meth:`show`."""
        books = cls(now)
        books.docs.update((d.id, d) for d in pending)
        books.hidden.update(d.id for d in pending)
        grouped = _by_partner(keys)
        insert_many(conn, reconcile_subjects, [dict(partner_id=p, subject=n, evaluated_at=now)
                                               for p, n in keys],
                    ignore_conflicts_on=("partner_id", "subject"))
        # Locked in (partner, subject) order: statements follow the sorted keys. (SQLite has
        # no row locks: the transaction holds the database's write lock from its start.)
        if conn.dialect.name == "postgresql":
            for partner_id, names in grouped.items():
                for chunk in chunks(names):
                    conn.execute(_LOCK(conn), dict(partner=partner_id, names=chunk)).all()
        # A subject "po:PO1" is named like the link its documents carry: kind po, value PO1.
        wanted: set[str] = set()
        for partner_id, names in grouped.items():
            by_kind = _by_partner((kind, value) for kind, _, value in
                                  (n.partition(":") for n in names))
            for kind, values in by_kind.items():
                for chunk in chunks(values):
                    for value, document_id in conn.execute(_LINKED(conn), dict(
                            partner=partner_id, kind=kind, values=chunk)).all():
                        books.linked[(partner_id, f"{kind}:{value}")].append(document_id)
                        wanted.add(document_id)
            for chunk in chunks(names):
                for r in conn.execute(_FOUND(conn), dict(partner=partner_id, names=chunk)).mappings().all():
                    books.found[(partner_id, r["subject"])][r["key"]] = dict(r)
        for chunk in chunks(sorted(wanted - books.docs.keys())):
            books.docs.update((r.document_id, _doc(r))
                              for r in conn.execute(_BOOKED(conn), dict(ids=chunk)).all())
        for ids in books.linked.values():
            ids.sort(key=lambda i: (books.docs[i].issued_at, i))
        return books

    def show(self, doc: Doc) -> None:
        """From now on, evaluations see this document of the batch."""
        self.hidden.discard(doc.id)

    def evaluate(self, partner_id: str, subject: str, settings: dict,
                 cause: str | None = None) -> None:
        """What the rules find for a subject now, settled against its stored discrepancies: new
        findings open, changed ones are updated, vanished ones are resolved."""
        key = (partner_id, subject)
        docs = [self.docs[i] for i in self.linked.get(key, ()) if i not in self.hidden]
        evaluation = checks.evaluate(subject, docs, self.now, settings)
        self.outcome[key] = evaluation
        self.evaluated.add(key)
        rows, now = self.found[key], self.now
        seen = set()
        for f in evaluation.findings:
            seen.add(f.key)
            values = _values(f)
            row = rows.get(f.key)
            if row is None:
                row = rows[f.key] = dict(id=None, partner_id=partner_id, subject=subject,
                                         key=f.key, status="open", created_at=now,
                                         updated_at=now, resolved_at=None, resolved_by=None,
                                         comment=None, **values)
                self.changed[id(row)] = row
                self.opened += 1
                continue
            # A problem that comes back after settling itself, or turns into another (a return
            # whose claim window closed), is news: open again. An operator's resolution stands.
            reopen = (row["status"] == "resolved" and row["resolved_by"] == AUTO) or \
                (row["status"] == "acknowledged" and row["type"] != f.type)
            if reopen:
                values.update(status="open", resolved_at=None, resolved_by=None, comment=None)
                self.opened += 1
            if reopen or any(row[k] != v for k, v in values.items()):
                row.update(updated_at=now, **values)
                self.changed[id(row)] = row
        for row in rows.values():
            if row["key"] not in seen and row["status"] in UNSETTLED:
                row.update(status="resolved", resolved_at=now, resolved_by=AUTO, updated_at=now,
                           comment=f"settled by {cause}" if cause
                           else "no longer found when re-checked")
                self.changed[id(row)] = row
                self.resolved += 1

    def save(self, conn) -> None:
        """Write the new and changed discrepancies and the subjects' state, in bulk."""
        rows = list(self.changed.values())
        inserts = [{k: v for k, v in r.items() if k != "id"} for r in rows if r["id"] is None]
        updates = [{k: v for k, v in r.items() if k not in ("partner_id", "subject", "key",
                                                            "created_at")}
                   for r in rows if r["id"] is not None]
        insert_many(conn, reconcile_discrepancies, inserts)
        update_many(conn, reconcile_discrepancies, updates, keys=("id",))
        states = [dict(partner_id=p, subject=n, next_check_at=e.next_check_at,
                       evaluated_at=self.now, open_amount=_text(e.open_amount),
                       currency=e.currency) for (p, n), e in sorted(self.outcome.items())]
        update_many(conn, reconcile_subjects, states, keys=("partner_id", "subject"))


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


def _named(reference: str, partner_id: str | None):
    """(partner, kind) of the links naming ``reference`` as a PO or invoice number. Without a
    partner, each partner's links are searched by the index led by partner: no scan of all."""
    t = reconcile_links
    query = select(t.c.partner_id, t.c.kind).where(t.c.value == reference,
                                                   t.c.kind.in_(["po", "invoice"]))
    if partner_id:
        return query.where(t.c.partner_id == partner_id)
    return query.where(t.c.partner_id.in_(select(_partners_linked().c.id)))


def _partners_linked():
    """The partners that have links, one index probe each (a recursive walk to the next
    partner id): there are few partners and many links."""
    first = select(func.min(reconcile_links.c.partner_id).label("id")).cte(
        "partners", recursive=True)
    following = select(func.min(reconcile_links.c.partner_id)).where(
        reconcile_links.c.partner_id > first.c.id).scalar_subquery()
    return first.union_all(select(following).where(first.c.id.is_not(None)))


def thd_chain(conn, reference: str, *, partner_id: str | None = None) -> list[dict]:
    """Everything booked about one order, found by its PO number or an invoice number: per
    partner, the documents (oldest first), every discrepancy about them, and what is still
    unpaid per invoice."""
    kinds: dict[str, set[str]] = {}
    for r in conn.execute(_named(reference, partner_id)):
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
