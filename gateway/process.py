"""The ``process`` job: what happens to a received payload after it is safely stored.

X12 from a partner with X12 settings: envelopes and guide validation, 997/999/TA1 queued back by
the transport it came in by, each accepted set translated to a document, documents routed by
type. Anything else: routed as it is. Everything a run decides is recorded in one transaction,
so a crash re-runs it from the start and a finished message is never processed twice.
"""

from __future__ import annotations

import json
import time
import uuid

from sqlalchemy import select
from twisted.internet.threads import deferToThread

from gateway import metrics
from gateway.documents import REFERENCES, reference
from gateway.outbound import thd_queue, transport_for
from gateway.partners import Partner
from gateway.route.router import delivery, targets
from gateway.runtime import Runtime
from gateway.store import acks as expected_acks
from gateway.store import jobs, messages
from gateway.store.jobs import Job
from gateway.store.schema import documents, interchanges
from gateway.store.sql import insert_ignore
from gateway.translate import DocumentError, validate_document
from gateway.worker import PermanentError
from gateway.x12flow import (
    Examination,
    SetOutcome,
    acknowledgment,
    examine,
    is_x12,
    mark_duplicate,
    translator,
)

PENDING = ("received", "accepted")
MAX_JSON_BYTES = 16 * 1024 * 1024


def thd_enqueue_routes(conn, message_id: str, partner: Partner, *, doc_type: str | None,
                       document_id: str | None, now: float, run: int = 0) -> list[str]:
    """Queue one job per target of the routes matching this message or document; ``run``
    counts operator replays, so a replay routes again while a crash re-run does not."""
    kinds = []
    for target in targets(partner, direction="inbound", doc_type=doc_type):
        kind, payload = delivery(target)
        if document_id:
            payload = dict(payload, document=document_id)
        key = f"{kind}:{document_id or message_id}:{run}:{sorted(payload.items())}"
        jobs.thd_enqueue(conn, kind, dict(payload, message=message_id), now=now,
                         message_id=message_id, dedupe_key=key)
        kinds.append(kind)
    return kinds


def thd_record_raw(conn, message: dict, partner: Partner, *, actor: str, now: float,
                   run: int = 0) -> list[str]:
    """Route a payload as it is; the kinds of the jobs queued."""
    kinds = thd_enqueue_routes(conn, message["id"], partner, doc_type=None, document_id=None,
                               now=now, run=run)
    messages.thd_set_status(conn, message["id"], "routed", actor=actor, now=now,
                            detail=", ".join(kinds) or "no route matched")
    return kinds


def thd_remember_interchanges(conn, partner_id: str, keys: list, message_id: str,
                              now: float) -> list[bool]:
    """Remember each interchange; False for one the partner sent before in another message."""
    fresh = []
    for qualifier, sender_id, control in keys:
        sender = f"{qualifier}/{sender_id}"
        conn.execute(insert_ignore(conn, interchanges, ["partner_id", "sender", "control_number"])
                     .values(partner_id=partner_id, sender=sender, control_number=control,
                             message_id=message_id, created_at=now))
        owner = conn.execute(select(interchanges.c.message_id).where(
            interchanges.c.partner_id == partner_id, interchanges.c.sender == sender,
            interchanges.c.control_number == control)).scalar_one()
        fresh.append(owner == message_id)
    return fresh


def thd_store_document(conn, message_id: str, position: int, partner_id: str, outcome,
                       now: float) -> str:
    """Insert the document of one set, or update it in place on a replay (same id)."""
    values = dict(doc_type=outcome.doc_type, reference=(outcome.reference or "")[:64] or None,
                  body=json.dumps(outcome.document))
    existing = conn.execute(select(documents.c.id).where(
        documents.c.message_id == message_id, documents.c.position == position)).scalar()
    if existing:
        conn.execute(documents.update().where(documents.c.id == existing).values(**values))
        return existing
    doc_id = str(uuid.uuid4())
    conn.execute(documents.insert().values(id=doc_id, message_id=message_id, position=position,
                                           partner_id=partner_id, created_at=now, **values))
    return doc_id


def thd_record_x12(conn, message: dict, partner: Partner, exam: Examination,
                   acks: list[tuple[str, int, str]], *, actor: str, now: float,
                   domain: str, run: int = 0) -> str:
    """Record an examined X12 payload: documents, routes, acknowledgments, status."""
    position = 0
    accepted = rejected = 0
    problems = []
    for ic in exam.interchanges:
        if ic.duplicate:
            problems.append(f"interchange {ic.key[2]} was received before; not processed again")
            rejected += len(ic.sets)
            continue
        for outcome in ic.sets:
            position += 1
            if outcome.status == "R" or outcome.error:
                rejected += 1
                problems.append(outcome.summary())
                continue
            accepted += 1
            if outcome.ack is not None:
                settled = expected_acks.thd_received(conn, partner.id, *outcome.ack, actor=actor,
                                                     now=now)
                if settled is None:
                    problems.append(f"{outcome.set_id} acknowledges group {outcome.ack[0]}, "
                                    "which was not sent to this partner")
            if outcome.document is None:
                continue
            doc_id = thd_store_document(conn, message["id"], position, partner.id, outcome, now)
            thd_enqueue_routes(conn, message["id"], partner, doc_type=outcome.set_id,
                               document_id=doc_id, now=now, run=run)
    thd_enqueue_routes(conn, message["id"], partner, doc_type=None, document_id=None, now=now,
                       run=run)
    for sha256, size, name in acks:
        thd_queue(conn, partner, sha256=sha256, size=size, filename=name,
                  content_type="application/edi-x12", actor=actor, now=now, domain=domain,
                  via=message["transport"])
    if exam.fatal:
        problems.insert(0, exam.fatal)
    status = ("rejected" if exam.fatal or (rejected and not accepted) or not exam.interchanges
              else "partially-accepted" if rejected else "processed")
    error = "; ".join(problems)[:4000] or None
    if not exam.interchanges and not exam.fatal:
        error = "no interchange found in the payload"
    messages.thd_set_status(conn, message["id"], status, actor=actor, now=now, error=error,
                            detail=f"{accepted} set(s) accepted, {rejected} rejected, "
                                   f"{len(acks)} acknowledgment(s) queued")
    return status


def _may_be_json(head: bytes) -> bool:
    """Whether a payload whose first 64 bytes are ``head`` may be a JSON document."""
    return head.lstrip()[:1] == b"{"


def routed_as_is(partner: Partner, head: bytes) -> bool:
    """Whether processing would only route a payload beginning with ``head`` (its first 64
    bytes) as it is (see ``process``): its partner has no X12 settings and it cannot be an
    internal JSON document. The receiver then records the routing in the transaction that
    accepts the message, instead of queueing a job."""
    return partner.x12 is None and not _may_be_json(head[:64])


def json_document(path) -> tuple[str, dict] | tuple[None, str] | None:
    """An internal JSON document carried as ``{"document_type": T, "document": {...}}``:
    (T, document), or (None, why it is refused); None for any other payload."""
    if path.stat().st_size > MAX_JSON_BYTES:
        return None
    with open(path, "rb") as f:
        if not _may_be_json(f.read(64)):
            return None
        f.seek(0)
        try:
            data = json.load(f)
        except (ValueError, UnicodeDecodeError):
            return None
    if not isinstance(data, dict) or set(data) != {"document_type", "document"}:
        return None
    doc_type = data["document_type"]
    if doc_type not in REFERENCES:
        return None, f"document_type {doc_type!r} is not one of {', '.join(REFERENCES)}"
    try:
        validate_document(data["document"], doc_type)
    except DocumentError as e:
        return None, str(e)
    return doc_type, data["document"]


def thd_record_json(conn, message: dict, partner: Partner, carried, *, actor: str, now: float,
                    run: int = 0) -> None:
    doc_type, document = carried
    if doc_type is None:
        messages.thd_set_status(conn, message["id"], "rejected", actor=actor, now=now,
                                error=document)
        return
    outcome = SetOutcome("", doc_type, "", "A", [], doc_type,
                         reference(doc_type, document) or "", document)
    doc_id = thd_store_document(conn, message["id"], 1, partner.id, outcome, now)
    kinds = thd_enqueue_routes(conn, message["id"], partner, doc_type=doc_type,
                               document_id=doc_id, now=now, run=run)
    routed = ", ".join(kinds) or "nothing"
    messages.thd_set_status(conn, message["id"], "processed", actor=actor, now=now,
                            detail=f"{doc_type} document; routed to {routed}")


def thd_replay(conn, id: str, *, actor: str, now: float) -> int:
    """Operator action: run a received message through processing and routing again."""
    message = messages.thd_get(conn, id)
    if message is None or message["direction"] != "inbound" or not message["payload_sha256"]:
        raise ValueError(f"{id} is not a received message with an archived payload")
    run = 1 + sum(1 for e in message["events"] if e["status"] == "replay")
    messages.thd_set_status(conn, message["id"], "replay", actor=actor, now=now,
                            detail=f"replay #{run} by {actor}")
    messages.thd_set_status(conn, message["id"], "accepted", actor=actor, now=now)
    jobs.thd_enqueue(conn, "process", {"message": message["id"], "run": run}, now=now,
                     message_id=message["id"], dedupe_key=f"process:{message['id']}:{run}")
    return run


async def process(rt: Runtime, job: Job) -> None:
    message = await rt.db.run(messages.thd_get, job.payload["message"])
    if message is None:
        raise PermanentError(f"message {job.payload['message']} does not exist")
    if message["status"] not in PENDING:
        return   # already processed (a re-run after a crash, or a duplicate job)
    partner = rt.partner(message["partner_id"])
    path = await deferToThread(rt.archive.verify, message["payload_sha256"])
    carried = await deferToThread(json_document, path)
    if carried is not None:
        await rt.db.run(thd_record_json, message, partner, carried, actor=rt.owner,
                        now=time.time(), run=job.payload.get("run", 0))
        metrics.MESSAGES.labels(partner.id, "inbound", "processed").inc()
        rt.wake_worker()
        return
    if partner.x12 is None or not await deferToThread(is_x12, path):
        await rt.db.run(thd_record_raw, message, partner, actor=rt.owner, now=time.time(),
                        run=job.payload.get("run", 0))
        rt.wake_worker()
        return
    mapping_dir = rt.config.gateway.mapping_dir
    exam = await deferToThread(examine, partner, path, mapping_dir,
                               translator(partner, mapping_dir))
    fresh = await rt.db.run(thd_remember_interchanges, partner.id,
                            [ic.key for ic in exam.interchanges], message["id"], time.time())
    for ic, new in zip(exam.interchanges, fresh, strict=True):
        if not new:
            mark_duplicate(partner, ic)
    acks = []
    for ic in exam.interchanges:
        isa_control = await rt.db.run(messages.thd_next_counter, partner.id, "isa")
        gs_control = await rt.db.run(messages.thd_next_counter, partner.id, "gs",
                                     count=max(1, len(ic.groups)))
        text = acknowledgment(partner, ic, isa_control, gs_control)
        if text is not None and transport_for(partner, message["transport"]) is not None:
            sha256, size = await deferToThread(rt.archive.put,
                                               text.encode(ic.interchange.encoding))
            acks.append((sha256, size, f"ack-{ic.key[2]}-{isa_control:09d}.x12"))
    status = await rt.db.run(thd_record_x12, message, partner, exam, acks, actor=rt.owner,
                             now=time.time(), domain=rt.config.gateway.node_name,
                             run=job.payload.get("run", 0))
    _count(partner, exam, status)
    rt.wake_worker()


def _count(partner: Partner, exam: Examination, status: str) -> None:
    metrics.MESSAGES.labels(partner.id, "inbound", status).inc()
    for ic in exam.interchanges:
        for outcome in ic.sets:
            ok = outcome.status != "R" and not outcome.error
            metrics.X12_SETS.labels(partner.id, outcome.set_id,
                                    "accepted" if ok else "rejected").inc()
            if ok and outcome.document is not None:
                metrics.DOCUMENTS.labels(partner.id, outcome.doc_type).inc()
            if ok and outcome.ack is not None:
                metrics.ACKS.labels(partner.id, "received", outcome.set_id,
                                    expected_acks.OUTCOMES.get(outcome.ack[1], "rejected")).inc()
        if ic.want_ta1:
            metrics.ACKS.labels(partner.id, "sent", "TA1",
                                "rejected" if ic.problems else "accepted").inc()
        if partner.x12.ack == "none":
            continue
        for group, _ in ic.groups:
            statuses = {o.status for o in ic.sets if o.group_control == group.control_number}
            if statuses and group.functional_id != "FA":
                outcome = ("rejected" if statuses == {"R"} else
                           "partial" if "R" in statuses else "accepted")
                kind = "999" if group.version >= "005010" else "997"
                metrics.ACKS.labels(partner.id, "sent", kind, outcome).inc()
