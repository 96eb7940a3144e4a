"""Sinks: hand a message's payload to a directory (atomic, idempotent by message id) or POST it
to a webhook (the receiver de-duplicates by the X-Gateway-Message-Id header)."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

from twisted.internet.threads import deferToThread

from gateway import metrics
from gateway.archive import atomic_copy
from gateway.http import post
from gateway.runtime import Runtime
from gateway.store import messages
from gateway.store.documents import thd_document
from gateway.store.jobs import Job
from gateway.worker import PermanentError

WEBHOOK_TIMEOUT_S = 120


def sink_name(message: dict, document_id: str | None) -> str:
    """``<document id>.json`` for a document, else ``<message id>_<partner's file name>``:
    unique, stable across retries, safe on any file system."""
    if document_id:
        return f"{document_id}.json"
    original = Path(message.get("filename") or "payload").name
    return f"{message['id']}_{re.sub(r'[^A-Za-z0-9._-]', '_', original)[:100]}"


def write_to(rt: Runtime, message: dict, directory: Path, document: dict | None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / sink_name(message, document and document["id"])
    if document is not None:
        atomic_copy(io.BytesIO(document["body"].encode()), target)
    else:
        with open(rt.archive.verify(message["payload_sha256"]), "rb") as source:
            atomic_copy(source, target)
    return target


async def _load(rt: Runtime, job: Job) -> tuple[dict, dict | None]:
    message = await rt.db.run(messages.thd_get, job.payload["message"])
    if message is None or not message["payload_sha256"]:
        raise PermanentError(f"message {job.payload['message']} has no archived payload")
    document = None
    if job.payload.get("document"):
        document = await rt.db.run(thd_document, job.payload["document"])
        if document is None:
            raise PermanentError(f"document {job.payload['document']} does not exist")
    return message, document


async def deliver_directory(rt: Runtime, job: Job) -> None:
    message, document = await _load(rt, job)
    target = await deferToThread(write_to, rt, message, Path(job.payload["directory"]), document)
    await _delivered(rt, message, f"directory {target}")


async def _delivered(rt: Runtime, message: dict, detail: str) -> None:
    await rt.db.run(messages.thd_set_status, message["id"], "delivered", actor=rt.owner,
                    now=time.time(), detail=detail)
    metrics.MESSAGES.labels(message["partner_id"], "inbound", "delivered").inc()


async def deliver_webhook(rt: Runtime, job: Job) -> None:
    message, document = await _load(rt, job)
    headers = {"X-Gateway-Message-Id": message["id"], "X-Gateway-Partner": message["partner_id"]}
    url = job.payload["url"]
    if document is not None:
        headers.update({"Content-Type": "application/json", "X-Gateway-Document-Id":
                        document["id"], "X-Gateway-Document-Type": document["doc_type"]})
        code, _, _ = await post(url, headers, document["body"].encode(), timeout=WEBHOOK_TIMEOUT_S)
    else:
        headers["Content-Type"] = message["content_type"] or "application/octet-stream"
        path = await deferToThread(rt.archive.verify, message["payload_sha256"])
        with open(path, "rb") as body:
            code, _, _ = await post(url, headers, body, timeout=WEBHOOK_TIMEOUT_S)
    if not 200 <= code < 300:
        raise RuntimeError(f"webhook {url} answered HTTP {code}")
    await _delivered(rt, message, f"webhook {url}")
