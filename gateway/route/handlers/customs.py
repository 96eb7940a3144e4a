"""The customs-filing handler: routed orders and ship notices become checked filings, sent to
the broker (or only written, in simulation); receipts routed back from the broker settle them.

Documents are read as consignments with the seller's product master and identities
(``[customs]`` in gateway.toml); the checks and documents are the customs library's.
"""

from __future__ import annotations

import io
import json
import time
import uuid
from functools import lru_cache
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from sqlalchemy import func, select, update
from twisted.internet.threads import deferToThread

from gateway import customs, metrics
from gateway.archive import atomic_copy
from gateway.outbound import thd_queue
from gateway.runtime import Runtime
from gateway.store import messages
from gateway.store.documents import thd_document
from gateway.store.jobs import Job
from gateway.store.schema import customs_filings
from gateway.worker import PermanentError

ID_FIELDS = ("sku", "ean", "upc", "gtin", "asin", "isbn")
DOCUMENT_TYPES = ("order", "ship_notice")   # what a consignment is read from
SETTLED = ("120", "399", "800")   # China returnStatus: accepted, cleared, released


@lru_cache(maxsize=8)
def _products(path: Path, mtime_ns: int) -> dict:
    return customs.load_products(path)


@lru_cache(maxsize=8)
def _seller(path: Path, mtime_ns: int) -> dict:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}


@lru_cache(maxsize=4)
def _data(path: Path | None) -> customs.CustomsData:
    return customs.load_data(path) if path else customs.default_data()


def _fresh(loader, path: Path | None, what: str):
    """The file's content, re-read whenever it changes on disk (the seller edits it live)."""
    if path is None:
        raise PermanentError(f"customs.{what} is not set in gateway.toml")
    try:
        return loader(path, path.stat().st_mtime_ns)
    except FileNotFoundError:
        raise PermanentError(f"customs.{what} file {path} does not exist") from None
    except YAMLError as e:
        # Never the parser's own text: it quotes the line, and the seller file holds addresses.
        mark = getattr(e, "problem_mark", None)
        raise PermanentError(f"customs.{what} file {path} is not valid YAML"
                             f"{f' (line {mark.line + 1})' if mark else ''}") from None


def _party(party: dict) -> dict:
    return {"name": party.get("name", ""), "street": ", ".join(party.get("address_lines", [])),
            "city": party.get("city", ""), "postcode": party.get("postcode", ""),
            "country": party.get("country", ""), "phone": party.get("phone", "")}


def _sku(line: dict) -> str:
    return next((line[k] for k in ID_FIELDS if line.get(k)), "")


def _shipped_lines(notice: dict, products: dict) -> tuple[list[dict], str]:
    """A ship notice's items summed per SKU, valued at the product master's customs value
    (a ship notice carries no prices); and that value's currency."""
    quantities: dict[str, float] = {}
    for order in notice.get("orders", []):
        for carton in order.get("cartons", []):
            for line in carton.get("lines", []):
                sku = _sku(line)
                quantities[sku] = quantities.get(sku, 0) + line.get("quantity", 0)
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
    ship_to = document.get("parties", {}).get("ship_to", {})
    if doc_type == "ship_notice":
        lines, currency = _shipped_lines(document, products)
        head = {"id": document.get("shipment_id", ""), "date": document.get("ship_date", "")[:10],
                "currency": currency,
                **({"waybill": document["tracking_number"]}
                   if document.get("tracking_number") else {})}
    else:
        lines = [{"sku": _sku(line), "qty": line.get("quantity"),
                  "unit_price": line.get("unit_price"),
                  **({"description": line["description"]} if line.get("description") else {})}
                 for line in document.get("lines", [])]
        head = {"id": document.get("po_number", ""), "date": document.get("order_date", "")[:10],
                "currency": document.get("currency", "")}
    consignment = {
        **head, "incoterm": partner_customs.incoterm, "destination": ship_to.get("country", ""),
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


def thd_record(conn, rows: list[dict], *, broker=None, actor: str, now: float,
               domain: str = "") -> None:
    """Store filings, and queue each to the broker when there is one, in one transaction."""
    for row in rows:
        exists = conn.execute(select(customs_filings.c.id).where(
            customs_filings.c.document_id == row["document_id"],
            customs_filings.c.kind == row["kind"])).scalar()
        if exists:
            continue   # a re-run after a crash: filed once
        if broker is not None:
            row["message_id"] = thd_queue(
                conn, broker, sha256=row["sha256"], size=row.pop("size"),
                filename=row["filename"], content_type="application/xml"
                if row["filename"].endswith(".xml") else "application/json",
                actor=actor, now=now, domain=domain)
        row.pop("size", None)
        conn.execute(customs_filings.insert().values(
            id=str(uuid.uuid4()), created_at=now, updated_at=now, **row))


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
    base = dict(partner_id=partner.id, document_id=document["id"], regime=regime)
    body = json.loads(document["body"])
    reference = body.get("po_number") or body.get("shipment_id") or "?"
    try:
        products = _fresh(_products, settings.products, "products")
        seller = _fresh(_seller, settings.seller, "seller")
        data = _data(settings.data_dir)
        consignment = customs.load_consignment(
            consignment_input(body, document["doc_type"], partner.customs, seller, products),
            products, customs.load_identities(seller.get("identities", {})))
        filings = customs.build_filings(consignment, regime, data)
    except (customs.FilingRefused, customs.InputError, customs.ProductError) as e:
        findings = [{"rule": f.rule_id, "severity": f.severity, "message": f.message,
                     "where": str(f.where)} for f in getattr(e, "findings", [])] or \
                   [{"rule": "INPUT", "severity": "error", "message": str(e), "where": ""}]
        await rt.db.run(thd_record, [dict(base, consignment=reference[:64],
                                          kind="checks", status="refused",
                                          findings=json.dumps(findings))],
                        actor=rt.owner, now=time.time())
        metrics.CUSTOMS_FILINGS.labels(partner.id, regime, "refused").inc()
        return
    rows = []
    for filing in filings:
        sha256, size = await deferToThread(_keep, rt, filing)
        rows.append(dict(base, consignment=consignment.id[:64], kind=filing.filename.split("_")[0],
                         filename=filing.filename, sha256=sha256, size=size,
                         status="simulated" if settings.simulate else "filed"))
    broker = None if settings.simulate or not settings.broker else rt.partner(settings.broker)
    await rt.db.run(thd_record, rows, broker=broker, actor=rt.owner, now=time.time(),
                    domain=rt.config.gateway.node_name)
    for row in rows:
        metrics.CUSTOMS_FILINGS.labels(partner.id, regime, row["status"]).inc()
    rt.wake_worker()


def _keep(rt: Runtime, filing: customs.Filing) -> tuple[str, int]:
    """Archive a filing and write a copy to the filings directory."""
    directory = rt.config.customs.filings_dir
    directory.mkdir(parents=True, exist_ok=True)
    atomic_copy(io.BytesIO(filing.content), directory / filing.filename)
    return rt.archive.put(filing.content)


def thd_settle(conn, receipt: customs.Receipt, *, now: float) -> list[tuple[str, str, str]]:
    """Settle filings named by the receipt's final entries (accepted, cleared, released or
    rejected); interim ones (stored, declaring, under review) change nothing.
    Returns (partner, regime, outcome) per settled filing."""
    settled = []
    for entry in receipt.entries:
        if not entry.rejected and entry.status not in SETTLED:
            continue
        outcome = "rejected" if entry.rejected else "accepted"
        refs = {v for k, v in entry.references.items() if k in ("orderNo", "copNo", "logisticsNo")}
        rows = conn.execute(select(customs_filings).where(
            customs_filings.c.consignment.in_(refs), customs_filings.c.status == "filed")).all()
        for row in rows:
            conn.execute(update(customs_filings).where(customs_filings.c.id == row.id).values(
                status=outcome, updated_at=now, receipt=json.dumps(
                    {"type": receipt.message_type, "status": entry.status, "note": entry.note,
                     "meaning": entry.meaning})))
            settled.append((row.partner_id, row.regime, outcome))
    return settled


def thd_overdue(conn, *, before: float) -> list[tuple[str, str, int]]:
    """(partner, regime, how many) filings sent before ``before`` and still unanswered."""
    t = customs_filings
    return [tuple(r) for r in conn.execute(
        select(t.c.partner_id, t.c.regime, func.count())
        .where(t.c.status == "filed", t.c.created_at < before)
        .group_by(t.c.partner_id, t.c.regime))]


async def settle_receipt(rt: Runtime, job: Job) -> None:
    """A message routed to customs without a document: a receipt from the broker."""
    message = await rt.db.run(messages.thd_get, job.payload["message"])
    content = await deferToThread(rt.archive.read, message["payload_sha256"])
    try:
        receipt = customs.parse_receipt(content, _data(rt.config.customs.data_dir))
    except customs.ReceiptError as e:
        raise PermanentError(f"not a customs receipt: {e}") from None
    settled = await rt.db.run(thd_settle, receipt, now=time.time())
    for partner_id, regime, outcome in settled:
        metrics.CUSTOMS_FILINGS.labels(partner_id, regime, outcome).inc()
    await rt.db.run(messages.thd_event, message["id"], "customs-receipt", actor=rt.owner,
                    now=time.time(), kind="status",
                    detail=f"{receipt.message_type}: {len(settled)} filing(s) settled")


async def handle(rt: Runtime, job: Job) -> None:
    """The ``customs`` job: file a routed order, or settle filings from a routed receipt."""
    if job.payload.get("document"):
        await file_document(rt, job)
    else:
        await settle_receipt(rt, job)
