"""The ``process`` job: apply the partner's routing rules to a received message and queue one
delivery job per target, in the transaction that marks the message routed."""

from __future__ import annotations

import time

from gateway.partners import DirectorySink, Partner, WebhookSink
from gateway.runtime import Runtime
from gateway.store import jobs, messages
from gateway.store.jobs import Job
from gateway.worker import PermanentError


def targets(partner: Partner, *, direction: str, doc_type: str | None) -> list:
    """Targets of every route whose ``match`` fits; a rule naming a type needs a typed document."""
    found = []
    for route in partner.routes:
        if route.match.get("direction", direction) != direction:
            continue
        if "type" in route.match and route.match["type"] != doc_type:
            continue
        found += [t for t in route.to if t not in found]
    return found


def delivery(target) -> tuple[str, dict]:
    """The job (kind, payload) that hands a message to one target."""
    if isinstance(target, DirectorySink):
        return "deliver", {"directory": str(target.directory)}
    if isinstance(target, WebhookSink):
        return "webhook", {"url": target.webhook}
    return target, {}


def thd_route(conn, message_id: str, deliveries: list[tuple[str, dict]], *, actor: str,
              now: float) -> None:
    for kind, payload in deliveries:
        key = f"{kind}:{message_id}:{sorted(payload.items())}"
        jobs.thd_enqueue(conn, kind, dict(payload, message=message_id), now=now,
                         message_id=message_id, dedupe_key=key)
    detail = ", ".join(kind for kind, _ in deliveries) or "no route matched"
    messages.thd_set_status(conn, message_id, "routed", actor=actor, now=now, detail=detail)


async def process(rt: Runtime, job: Job) -> None:
    message = await rt.db.run(messages.thd_get, job.payload["message"])
    if message is None:
        raise PermanentError(f"message {job.payload['message']} does not exist")
    partner = rt.partner(message["partner_id"])
    # Raw payloads carry no document type yet; typed rules apply once translation has run.
    deliveries = [delivery(t) for t in targets(partner, direction="inbound", doc_type=None)
                  if not isinstance(t, str)]
    await rt.db.run(thd_route, message["id"], deliveries, actor=rt.owner, now=time.time())
    rt.wake_worker()
