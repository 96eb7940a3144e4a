"""Routing rules: which targets a partner's routes give a message or document, and the job that
hands it to each target."""

from __future__ import annotations

from gateway.partners import DirectorySink, Partner, WebhookSink


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
