"""Sinks: hand a message's payload to a directory (atomic, idempotent by message id) or POST it
to a webhook (the receiver de-duplicates by the X-Gateway-Message-Id header)."""

from __future__ import annotations

import re
import time
from pathlib import Path

from twisted.internet.threads import deferToThread

from gateway import metrics
from gateway.archive import atomic_copy
from gateway.http import post
from gateway.runtime import Runtime
from gateway.store import messages
from gateway.store.jobs import Job
from gateway.worker import PermanentError

WEBHOOK_TIMEOUT_S = 120


def sink_name(message: dict) -> str:
    """``<message id>_<partner's file name>``: unique, stable across retries, safe on any FS."""
    original = Path(message.get("filename") or "payload").name
    return f"{message['id']}_{re.sub(r'[^A-Za-z0-9._-]', '_', original)[:100]}"


def copy_payload(rt: Runtime, message: dict, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / sink_name(message)
    with open(rt.archive.verify(message["payload_sha256"]), "rb") as source:
        atomic_copy(source, target)
    return target


async def deliver_directory(rt: Runtime, job: Job) -> None:
    message = await rt.db.run(messages.thd_get, job.payload["message"])
    if message is None or not message["payload_sha256"]:
        raise PermanentError(f"message {job.payload['message']} has no archived payload")
    target = await deferToThread(copy_payload, rt, message, Path(job.payload["directory"]))
    await _delivered(rt, message, f"directory {target}")


async def _delivered(rt: Runtime, message: dict, detail: str) -> None:
    await rt.db.run(messages.thd_set_status, message["id"], "delivered", actor=rt.owner,
                    now=time.time(), detail=detail)
    metrics.MESSAGES.labels(message["partner_id"], "inbound", "delivered").inc()


async def deliver_webhook(rt: Runtime, job: Job) -> None:
    message = await rt.db.run(messages.thd_get, job.payload["message"])
    if message is None or not message["payload_sha256"]:
        raise PermanentError(f"message {job.payload['message']} has no archived payload")
    path = await deferToThread(rt.archive.verify, message["payload_sha256"])
    headers = {"Content-Type": message["content_type"] or "application/octet-stream",
               "X-Gateway-Message-Id": message["id"], "X-Gateway-Partner": message["partner_id"]}
    url = job.payload["url"]
    with open(path, "rb") as body:
        code, _, _ = await post(url, headers, body, timeout=WEBHOOK_TIMEOUT_S)
    if not 200 <= code < 300:
        raise RuntimeError(f"webhook {url} answered HTTP {code}")
    await _delivered(rt, message, f"webhook {url}")
