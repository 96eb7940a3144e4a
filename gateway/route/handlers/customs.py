"""The customs-filing handler: routed orders and ship notices become checked filings, sent to
the broker (or only written, in simulation); receipts routed back from the broker settle them.

Documents are read as consignments with the seller's product master and identities
(``[customs]`` in gateway.toml); the checks and documents are the customs library's. A
consignment moves draft -> checked -> filed -> accepted | rejected; a rejected one is amended by
a corrected document routed again (or ``gateway customs amend``) and filed as the next version.
Every step, receipt and refused step is kept in its history (customs_events).
"""

from __future__ import annotations

import io
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, or_, select, update
from twisted.internet.threads import deferToThread

from gateway import customs, metrics
from gateway import customs_files as files
from gateway.archive import atomic_copy
from gateway.customs.lifecycle import OutOfTurn, check_amend, consignment_state, settle
from gateway.documents import party
from gateway.outbound import thd_queue
from gateway.runtime import Runtime
from gateway.store import messages
from gateway.store.documents import thd_document
from gateway.store.jobs import Job
from gateway.store.schema import customs_consignments, customs_events, customs_filings
from gateway.worker import PermanentError

# The product ids that name a line in the product master (its SKU column), in order of preference.
ID_FIELDS = ("vendor_part", "ean", "upc", "gtin", "case_code", "buyer_part", "isbn")
DOCUMENT_TYPES = ("purchase_order", "ship_notice")   # what a consignment is read from
# What names a consignment in a receipt: CEB orderNo/copNo/logisticsNo, a broker's consignment.
RECEIPT_REFERENCES = ("orderNo", "copNo", "logisticsNo", "consignment")


def _party(party: dict) -> dict:
    address = party.get("address", {})
    return {"name": party.get("name", ""), "street": ", ".join(address.get("lines", [])),
            "city": address.get("city", ""), "postcode": address.get("postcode", ""),
            "country": address.get("country", ""), "phone": party.get("phone", "")}


def _sku(line: dict) -> str:
    ids = line.get("product_ids") or {}
    return next((ids[k] for k in ID_FIELDS if ids.get(k)), "")


def _shipped_lines(notice: dict, products: dict) -> tuple[list[dict], str]:
    """A ship notice's items summed per SKU, valued at the product master's customs value
    (a ship notice carries no prices); and that value's currency."""
    quantities: dict[str, float] = {}
    for order in notice.get("orders", []):
        for package in order.get("packages", []):
            for item in package.get("items", []):
                sku = _sku(item)
                quantities[sku] = quantities.get(sku, 0) + item.get("quantity_shipped", 0)
    currencies = {products[sku].currency for sku in quantities if sku in products}
    if len(currencies) > 1:
        raise customs.InputError(notice.get("shipment_id", "?"), "lines",
                                 f"products valued in several currencies: {sorted(currencies)}")
    lines = [{"sku": sku, "qty": qty,
              "unit_price": str(products[sku].customs_value) if sku in products else "0"}
             for sku, qty in quantities.items()]
    return lines, (currencies.pop() if currencies else "")


def consignment_input(document: dict, doc_type: str, partner_customs, seller: dict,
                      products: dict) -> dict:
    """The customs library's consignment JSON for an order or a ship notice (mapping/schemas)."""
    ship_to = party(document, "ship_to") or {}
    if doc_type == "ship_notice":
        lines, currency = _shipped_lines(document, products)
        tracking = (document.get("carrier") or {}).get("tracking")
        head = {"id": document.get("shipment_id", ""), "date": document.get("ship_date", "")[:10],
                "currency": currency, **({"waybill": tracking} if tracking else {})}
    else:
        lines = [{"sku": _sku(line), "qty": line.get("quantity"),
                  "unit_price": line.get("unit_price"),
                  **({"description": line["description"]} if line.get("description") else {})}
                 for line in document.get("lines", [])]
        head = {"id": document.get("po_number", ""), "date": document.get("po_date", "")[:10],
                "currency": document.get("currency", "")}
    consignment = {
        **head, "incoterm": partner_customs.incoterm,
        "destination": ship_to.get("address", {}).get("country", ""),
        "transport": partner_customs.transport, "consignor": seller.get("consignor", {}),
        "consignee": _party(ship_to), "lines": lines}
    if partner_customs.regime == "eu":
        # H7: DDP sales collect VAT through IOSS (C07 + F48); otherwise the buyer pays on import.
        ddp = partner_customs.incoterm == "DDP"
        consignment["procedure_codes"] = list(partner_customs.procedure_codes or
                                              (("C07", "F48") if ddp else ("C07",)))
        if not ddp:
            consignment["ioss"] = None
    return consignment



class VersionConflict(Exception):
    """Another node filed this consignment meanwhile: the job runs again on the new state."""


@dataclass
class Attempt:
    """A document (or an operator's amendment) read as the next version of a consignment."""

    partner_id: str
    regime: str
    reference: str   # the order or shipment id
    version: int     # the version it would be filed as
    findings: list[dict] = field(default_factory=list)   # every error finding, or one INPUT
    files: list[dict] = field(default_factory=list)      # kind, filename, sha256, size
    waybill: str = ""
    document_id: str | None = None

    @property
    def refused(self) -> bool:
        return bool(self.findings)


def reference_of(body: dict) -> str:
    """The consignment id a routed order or ship notice declares (its id in every filing)."""
    return str(body.get("po_number") or body.get("shipment_id") or "?")[:64]


def build(attempt: Attempt, source: dict, products: dict, identities, data, keep) -> list:
    """Check consignment JSON ``source`` and build its filings as ``attempt.version``; ``keep``
    stores each filing and returns (sha256, size). Fills in the attempt; returns the filings."""
    try:
        consignment = customs.load_consignment(source, products, identities)
        attempt.waybill = consignment.waybill[:64]
        filings = customs.build_filings(consignment, attempt.regime, data,
                                        version=attempt.version)
    except customs.FilingRefused as e:
        attempt.findings = [finding_dict(f) for f in e.findings]
        return []
    except customs.InputError as e:
        attempt.findings = [{"rule": "INPUT", "severity": "error", "message": str(e),
                             "where": e.where}]
        return []
    for filing in filings:
        sha256, size = keep(filing)
        attempt.files.append({"kind": filing.filename.split("_")[0], "filename": filing.filename,
                              "sha256": sha256, "size": size})
    return filings


def finding_dict(f) -> dict:
    return {"rule": f.rule_id, "severity": f.severity, "message": f.message, "where": str(f.where)}


def keep(archive, directory: Path, filing: customs.Filing) -> tuple[str, int]:
    """Archive a filing and write a copy to the filings directory."""
    directory.mkdir(parents=True, exist_ok=True)
    atomic_copy(io.BytesIO(filing.content), directory / filing.filename)
    return archive.put(filing.content)


def _event(conn, consignment_id: str, version: int, event: str, *, actor: str, now: float,
           document_id: str | None = None, detail=None) -> None:
    conn.execute(customs_events.insert().values(
        consignment_id=consignment_id, at=now, version=version, event=event,
        document_id=document_id, actor=actor[:64],
        detail=None if detail is None else json.dumps(detail)))


def _simulated(conn, row) -> bool:
    """The consignment's current version was only produced in simulation, never sent."""
    t = customs_filings
    return bool(row.version) and conn.execute(select(func.count()).where(
        t.c.partner_id == row.partner_id, t.c.consignment == row.consignment,
        t.c.version == row.version, t.c.status == "simulated")).scalar() > 0


def thd_consignment(conn, partner_id: str, reference: str, *,
                    document_id: str | None = None) -> dict | None:
    """A consignment's row with ``simulated`` (its current filings were never sent) and ``seen``
    (``document_id`` was read for it already); None for a consignment never declared."""
    t = customs_consignments
    row = conn.execute(select(t).where(t.c.partner_id == partner_id,
                                       t.c.consignment == reference)).first()
    if row is None:
        return None
    seen = document_id is not None and conn.execute(select(func.count()).where(
        customs_events.c.consignment_id == row.id,
        customs_events.c.document_id == document_id)).scalar() > 0
    return dict(row._mapping, simulated=_simulated(conn, row), seen=seen)


def next_version(current: dict | None) -> int:
    """The version the next filing of a consignment gets; OutOfTurn while it may not be filed."""
    if current is None:
        return 1
    check_amend(current["consignment"], current["state"], current["version"],
                current["simulated"])
    return current["version"] + 1


def thd_out_of_turn(conn, current: dict, error: OutOfTurn, *, actor: str, now: float,
                    document_id: str | None = None) -> None:
    _event(conn, current["id"], current["version"], "out-of-turn", actor=actor, now=now,
           document_id=document_id, detail={"error": str(error)})


def thd_record(conn, attempt: Attempt, *, broker=None, simulate: bool, actor: str, now: float,
               domain: str = "") -> str | None:
    """Record an attempt in one transaction: the consignment drafted (or amended), then refused
    with its problems, or checked and filed with each filing queued to the broker when there is
    one. Returns the outcome (refused, filed, amended, simulated, out-of-turn), or None when the
    document was recorded before (a re-run after a crash)."""
    t = customs_consignments
    current = thd_consignment(conn, attempt.partner_id, attempt.reference,
                              document_id=attempt.document_id)
    step = dict(actor=actor, now=now, document_id=attempt.document_id)
    if current is None:
        id = str(uuid.uuid4())
        conn.execute(t.insert().values(
            id=id, partner_id=attempt.partner_id, regime=attempt.regime,
            consignment=attempt.reference, state="draft", version=0, problems=0,
            created_at=now, updated_at=now))
        _event(conn, id, attempt.version, "drafted", **step)
    else:
        id = current["id"]
        if current["seen"]:
            return None
        try:
            version = next_version(current)
        except OutOfTurn as e:
            thd_out_of_turn(conn, current, e, **step)
            return "out-of-turn"
        if version != attempt.version:
            raise VersionConflict(f"consignment {attempt.reference} is at version "
                                  f"{current['version']} now, not {attempt.version - 1}")
        amends = current["state"] in ("rejected", "filed")
        _event(conn, id, attempt.version, "amended" if amends else "drafted", **step)
    values = dict(regime=attempt.regime, document_id=attempt.document_id, updated_at=now,
                  findings=json.dumps(attempt.findings), problems=len(attempt.findings))
    if attempt.refused:
        conn.execute(update(t).where(t.c.id == id).values(state="draft", **values))
        _event(conn, id, attempt.version, "refused", **step, detail=attempt.findings)
        return "refused"
    _event(conn, id, attempt.version, "checked", **step)
    status = "simulated" if simulate else "filed"
    for file in attempt.files:
        row = dict(partner_id=attempt.partner_id, document_id=attempt.document_id,
                   regime=attempt.regime, consignment=attempt.reference, kind=file["kind"],
                   filename=file["filename"], sha256=file["sha256"], status=status,
                   version=attempt.version)
        if broker is not None and not simulate:
            row["message_id"] = thd_queue(
                conn, broker, sha256=file["sha256"], size=file["size"],
                filename=file["filename"], content_type="application/xml"
                if file["filename"].endswith(".xml") else "application/json",
                actor=actor, now=now, domain=domain)
        conn.execute(customs_filings.insert().values(
            id=str(uuid.uuid4()), created_at=now, updated_at=now, **row))
    conn.execute(update(t).where(t.c.id == id).values(
        state="filed", version=attempt.version, waybill=attempt.waybill or None, **values))
    _event(conn, id, attempt.version, status, **step,
           detail={"files": [f["filename"] for f in attempt.files],
                   "sent_to": broker.id if broker is not None and not simulate else None})
    return status if simulate or attempt.version == 1 else "amended"


async def file_document(rt: Runtime, job: Job) -> None:
    document = await rt.db.run(thd_document, job.payload["document"])
    if document is None:
        raise PermanentError(f"document {job.payload['document']} does not exist")
    partner = rt.partner(document["partner_id"])
    if partner.customs is None:
        raise PermanentError(f"partner {partner.id} routes to customs but has no customs.regime")
    if document["doc_type"] not in DOCUMENT_TYPES:
        raise PermanentError(f"customs filing reads orders and ship notices; document "
                             f"{document['id']} is a {document['doc_type']}")
    settings = rt.config.customs
    regime = partner.customs.regime
    body = json.loads(document["body"])
    reference = reference_of(body)
    current = await rt.db.run(thd_consignment, partner.id, reference,
                              document_id=document["id"])
    if current and current["seen"]:
        return   # a re-run after a crash: recorded once
    try:
        version = next_version(current)
    except OutOfTurn as e:
        await rt.db.run(thd_out_of_turn, current, e, actor=rt.owner, now=time.time(),
                        document_id=document["id"])
        metrics.CUSTOMS_FILINGS.labels(partner.id, regime, "out-of-turn").inc()
        return
    attempt = Attempt(partner.id, regime, reference, version, document_id=document["id"])
    try:
        products = files.fresh(files.products, settings.products, "products")
        seller = files.fresh(files.seller, settings.seller, "seller")
        data = files.data(settings.data_dir)
        identities = customs.load_identities(seller.get("identities", {}))
        source = consignment_input(body, document["doc_type"], partner.customs, seller, products)
    except (customs.InputError, customs.ProductError) as e:
        attempt.findings = [{"rule": "INPUT", "severity": "error", "message": str(e),
                             "where": getattr(e, "where", "")}]
    else:
        await deferToThread(build, attempt, source, products, identities, data,
                            lambda filing: keep(rt.archive, settings.filings_dir, filing))
    broker = None if settings.simulate or not settings.broker else rt.partner(settings.broker)
    outcome = await rt.db.run(thd_record, attempt, broker=broker, simulate=settings.simulate,
                              actor=rt.owner, now=time.time(),
                              domain=rt.config.gateway.node_name)
    if outcome is None:
        return
    documents = len(attempt.files) if outcome in ("filed", "amended", "simulated") else 1
    metrics.CUSTOMS_FILINGS.labels(partner.id, regime, outcome).inc(documents)
    rt.wake_worker()


@dataclass
class Settlement:
    """What a receipt did: filings settled (partner, regime, outcome), interim answers
    recorded, steps refused (out of turn) and references matching no filing."""

    settled: list[tuple[str, str, str]] = field(default_factory=list)
    interim: int = 0
    refused: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)


def _receipt_detail(receipt: customs.Receipt, entry) -> dict:
    return {"type": receipt.message_type, "status": entry.status, "meaning": entry.meaning,
            "note": entry.note, "time": entry.time, "reasons": list(entry.reasons)}


def thd_settle(conn, receipt: customs.Receipt, *, actor: str, now: float) -> Settlement:
    """Match each entry of a receipt to its consignment's filings (CEB: the filing kind it
    answers; broker JSON: the filing or version it names, else the latest version) and keep it
    in the consignment's history. Final entries settle the filings and then the consignment:
    rejected (with the reasons) when any filing of its version is, accepted when all are."""
    result = Settlement()
    c, f = customs_consignments, customs_filings
    for entry in receipt.entries:
        refs = {k: str(v)[:64] for k, v in entry.references.items()
                if k in RECEIPT_REFERENCES and v}
        named = ", ".join(f"{k}={v}" for k, v in refs.items()) or "no reference"
        rows = conn.execute(select(c).where(or_(c.c.consignment.in_(refs.values()),
                                                c.c.waybill.in_(refs.values())))).all()
        matched = False
        for row in rows:
            version = int(entry.references.get("version") or row.version)
            query = select(f).where(f.c.partner_id == row.partner_id,
                                    f.c.consignment == row.consignment, f.c.version == version)
            if receipt.answers:
                query = query.where(f.c.kind == receipt.answers)
            if entry.references.get("filing"):
                query = query.where(f.c.filename == entry.references["filing"])
            filings = conn.execute(query).all()
            if not filings:
                continue
            matched = True
            _event(conn, row.id, version, "receipt", actor=actor, now=now,
                   detail=_receipt_detail(receipt, entry))
            if entry.outcome is None:
                result.interim += 1
                continue
            for filing in filings:
                try:
                    status = settle(row.consignment, filing.kind, filing.status, entry.outcome)
                except OutOfTurn as e:
                    _event(conn, row.id, version, "out-of-turn", actor=actor, now=now,
                           detail={"error": str(e)})
                    result.refused.append(str(e))
                    continue
                if status is None:
                    continue   # repeats what is known: cleared, then released
                conn.execute(update(f).where(f.c.id == filing.id).values(
                    status=status, updated_at=now,
                    receipt=json.dumps(_receipt_detail(receipt, entry))))
                result.settled.append((row.partner_id, row.regime, status))
            _thd_update_state(conn, row, version, entry, actor=actor, now=now)
        if not matched:
            result.unmatched.append(f"{receipt.message_type} {named}: no filing "
                                    f"{'of kind ' + receipt.answers + ' ' if receipt.answers else ''}"
                                    "matches")
    return result


def _thd_update_state(conn, row, version: int, entry, *, actor: str, now: float) -> None:
    """The consignment's state from its current version's filings, after a receipt."""
    if version != row.version or row.state not in ("filed", "accepted", "rejected"):
        return   # an answer about an earlier version, or one amended since
    f = customs_filings
    statuses = [s for (s,) in conn.execute(select(f.c.status).where(
        f.c.partner_id == row.partner_id, f.c.consignment == row.consignment,
        f.c.version == version))]
    state = consignment_state(statuses)
    if state == row.state:
        return
    values = dict(state=state, updated_at=now)
    if state == "rejected":
        values["reasons"] = json.dumps(list(entry.reasons))
    conn.execute(update(customs_consignments).where(customs_consignments.c.id == row.id)
                 .values(**values))
    _event(conn, row.id, version, state, actor=actor, now=now,
           detail={"reasons": list(entry.reasons)} if state == "rejected" else None)


def thd_overdue(conn, *, before: float) -> list[tuple[str, str, int]]:
    """(partner, regime, how many) filings sent before ``before`` and still unanswered."""
    t = customs_filings
    return [tuple(r) for r in conn.execute(
        select(t.c.partner_id, t.c.regime, func.count())
        .where(t.c.status == "filed", t.c.created_at < before)
        .group_by(t.c.partner_id, t.c.regime))]


async def settle_receipt(rt: Runtime, job: Job) -> None:
    """A message routed to customs without a document: a receipt from the broker. A receipt
    that cannot be read, or that matches no filing, is recorded on its message, counted and
    dead-lettered with the reason; steps out of turn are refused and kept in the history."""
    message = await rt.db.run(messages.thd_get, job.payload["message"])
    sender = message["partner_id"]
    content = await deferToThread(rt.archive.read, message["payload_sha256"])

    async def refuse(error: str):
        await rt.db.run(messages.thd_event, message["id"], "customs-receipt", actor=rt.owner,
                        now=time.time(), kind="status", detail=f"refused: {error}"[:2000])
        raise PermanentError(error)

    try:
        receipt = customs.parse_receipt(content, files.data(rt.config.customs.data_dir))
    except customs.ReceiptError as e:
        metrics.CUSTOMS_RECEIPTS.labels(sender, "malformed").inc()
        await refuse(f"not a customs receipt: {e}")
    result = await rt.db.run(thd_settle, receipt, actor=rt.owner, now=time.time())
    for partner_id, regime, outcome in result.settled:
        metrics.CUSTOMS_FILINGS.labels(partner_id, regime, outcome).inc()
    for outcome, count in (("settled", len(result.settled)), ("interim", result.interim),
                           ("out-of-turn", len(result.refused)),
                           ("unmatched", len(result.unmatched))):
        if count:
            metrics.CUSTOMS_RECEIPTS.labels(sender, outcome).inc(count)
    if result.unmatched and not (result.settled or result.interim or result.refused):
        await refuse(f"customs receipt for unknown filings: "
                     f"{'; '.join(result.unmatched[:5])}")
    await rt.db.run(messages.thd_event, message["id"], "customs-receipt", actor=rt.owner,
                    now=time.time(), kind="status", detail="; ".join(
                        [f"{receipt.message_type}: {len(result.settled)} filing(s) settled, "
                         f"{result.interim} interim"] + result.refused + result.unmatched)[:2000])


async def handle(rt: Runtime, job: Job) -> None:
    """The ``customs`` job: file a routed order, or settle filings from a routed receipt."""
    if job.payload.get("document"):
        await file_document(rt, job)
    else:
        await settle_receipt(rt, job)
