"""Sending documents as X12: internal JSON through the partner's maps, checked against its
guides, in an interchange with its envelope and the next control numbers, queued to it."""

from __future__ import annotations

import io
import json
import uuid
from datetime import datetime

from gateway.archive import Archive
from gateway.config import Config
from gateway.documents import reference
from gateway.edi.x12 import Delimiters, Validator, find_guide, gs, interchange, isa, read_units
from gateway.edi.x12.envelope import TransactionSet
from gateway.outbound import thd_queue
from gateway.partners import Partner
from gateway.store import acks, jobs, messages
from gateway.store.schema import documents
from gateway.translate import find_map, render

SET_IDS = {"po_acknowledgment": "855", "ship_notice": "856", "invoice": "810",
           "purchase_order": "850", "remittance": "820"}
FUNCTIONAL_IDS = {"855": "PR", "856": "SH", "810": "IN", "850": "PO", "820": "RA"}
DELIMITERS = Delimiters("*", ">", "~")
ISA_VERSIONS = {"004010": "00401", "004030": "00403", "005010": "00501"}


class OutboundError(ValueError):
    """A document that cannot go out as X12 for this partner; says which and why."""


def _reply_version(partner: Partner, document: dict) -> str:
    """The version to write a document in: that of the envelope it carries (the interchange it
    answers) when the partner uses it, else the partner's first."""
    version = str((document.get("envelope") or {}).get("version", ""))[:6]
    return version if version in partner.x12.versions else partner.x12.versions[0]


def build(config: Config, partner: Partner, docs: list[tuple[str, dict]], isa_control: int,
          gs_control: int, when: datetime | None = None) -> str:
    """One interchange holding a group per document (``(doc_type, document)`` pairs). A document
    carrying an envelope (a reply drafted from a received one) is written in its version and,
    when that was a test interchange, as a test; identities and control numbers always come from
    the partner's settings and our counters."""
    if partner.x12 is None:
        raise OutboundError(f"partner {partner.id} has no x12 settings")
    root = config.gateway.mapping_dir / "x12"
    overlay = partner.x12.overlay or ""
    groups = []
    versions = []
    for n, (doc_type, document) in enumerate(docs):
        set_id = SET_IDS.get(doc_type)
        if set_id is None:
            raise OutboundError(f"no X12 transaction set for {doc_type} documents")
        version = _reply_version(partner, document)
        versions.append(version)
        map = find_map(set_id, version, profile=partner.x12_profile, root=root, overlay=overlay)
        segments = render(document, map, 1)
        header = gs(FUNCTIONAL_IDS[set_id], partner.x12.our_gs_id or config.identity.isa_id,
                    partner.x12.gs_id, gs_control + n, version, when)
        groups.append((header, [segments]))
    test = partner.x12.test_indicator == "T" or any(
        (d.get("envelope") or {}).get("test_indicator") == "T" for _, d in docs)
    text = interchange(isa((config.identity.isa_qualifier, config.identity.isa_id),
                           (partner.x12.isa_qualifier, partner.x12.isa_id), isa_control,
                           DELIMITERS, version=ISA_VERSIONS[max(versions, default="004010")],
                           usage="T" if test else "P", when=when), groups, DELIMITERS)
    _check(text, partner, root)
    return text


def _check(text: str, partner: Partner, root) -> None:
    """Our own output must pass the partner's guides: never send what we would reject."""
    for unit in read_units(io.BytesIO(text.encode())):
        if isinstance(unit, TransactionSet):
            guide = find_guide(unit.id, unit.group.version, profile=partner.x12_profile,
                               root=root, overlay=partner.x12.overlay or "")
            problems = unit.problems + Validator(guide).validate(unit)
            if problems:
                first = problems[0]
                raise OutboundError(f"{unit.id} for {partner.id} breaks its guide: segment "
                                    f"{first.segment_no} {first.segment_id}: {first.message}")


def thd_queue_documents(conn, partner: Partner, archive_ref: tuple[str, int],
                        docs: list[tuple[str, dict]], gs_control: int, *, actor: str,
                        now: float, domain: str, reconcile: bool) -> str:
    """Queue the interchange, store its documents (booked in the ledger when asked), and
    expect a 997/999 for each group when the partner sends them."""
    sha256, size = archive_ref
    id = thd_queue(conn, partner, sha256=sha256, size=size,
                   filename=f"{'-'.join(SET_IDS[t] for t, _ in docs)}-{uuid.uuid4().hex[:8]}.x12",
                   content_type="application/edi-x12", actor=actor, now=now, domain=domain)
    for position, (doc_type, document) in enumerate(docs, 1):
        doc_id = str(uuid.uuid4())
        conn.execute(documents.insert().values(
            id=doc_id, message_id=id, position=position, partner_id=partner.id,
            doc_type=doc_type, reference=(reference(doc_type, document) or "")[:64],
            body=json.dumps(document), created_at=now))
        if reconcile:
            jobs.thd_enqueue(conn, "reconcile", {"document": doc_id}, now=now, message_id=id,
                             dedupe_key=f"reconcile:{doc_id}")
    if partner.x12.ack != "none":
        acks.thd_expect(conn, partner.id, [(FUNCTIONAL_IDS[SET_IDS[t]], gs_control + n)
                                           for n, (t, _) in enumerate(docs)], id, now=now)
    return id


def send_documents(db, config: Config, partner: Partner, docs: list[tuple[str, dict]], *,
                   actor: str, now: float, reconcile: bool = True) -> str:
    """Everything above for a command-line caller (no reactor): returns the message id."""
    isa_control = db.transaction(messages.thd_next_counter, partner.id, "isa")
    gs_control = db.transaction(messages.thd_next_counter, partner.id, "gs", count=len(docs))
    text = build(config, partner, docs, isa_control, gs_control)
    archived = Archive(config.gateway.data_dir).put(text.encode())
    return db.transaction(thd_queue_documents, partner, archived, docs, gs_control, actor=actor,
                          now=now, domain=config.gateway.node_name, reconcile=reconcile)
