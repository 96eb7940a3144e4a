"""Opening received AS2 messages and signing their MDNs in helper processes.

Unwrapping a message is mostly Python (MIME, ASN.1, digests) that holds the interpreter lock. In
the reactor's process it would compete for that lock with HTTP and the store, and use one core
whatever the machine has. With ``as2.helper_processes`` above 0 (the default: one per core, at
most four) the work runs in that many helper processes, forked from a fork server and not from the
daemon. Each takes the gateway's key pair once when it starts. It reads bodies from the archive
and writes payloads to the archive, so only references and small results cross the pipe. With 0
the work runs in the reactor's thread pool.

A helper that dies (killed, out of memory) costs no message: the pool is replaced and the call
runs in a thread. Errors raised by the work (an ``As2Error`` with its disposition, anything else)
come back to the caller as they were raised.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from twisted.application.service import Service
from twisted.internet import defer, reactor, threads

from gateway import metrics
from gateway.archive import Archive
from gateway.as2 import mdn
from gateway.as2 import message as as2message

log = logging.getLogger(__name__)
MAX_DEFAULT_PROCESSES = 4
HEAD_BYTES = 64   # of the payload, returned to judge what it is without reading it again


def default_processes() -> int:
    return min(os.cpu_count() or 1, MAX_DEFAULT_PROCESSES)


@dataclass(frozen=True)
class Context:
    """What the work needs besides its arguments: in the daemon's process, or a helper's."""

    archive: Archive
    key: rsa.RSAPrivateKey
    cert: x509.Certificate
    domain: str   # in the MDN's Reporting-UA and Message-ID


@dataclass(frozen=True)
class Opened:
    """What the store keeps of a message opened: its MIC and the payload archived."""

    mic: str
    filename: str | None
    content_type: str
    payload_sha256: str
    payload_head: bytes   # its first HEAD_BYTES


@functools.lru_cache(maxsize=256)
def _certificate(der: bytes) -> x509.Certificate:
    return x509.load_der_x509_certificate(der)


def open_message(context: Context, sha256: str, headers: Mapping[str, str],
                 partner_certs: Sequence[bytes], policy: as2message.SecurityPolicy,
                 just_written: bool) -> Opened:
    """Unwrap the body archived as ``sha256`` and archive its payload. ``partner_certs``: the
    DER of the certificates that may sign it."""
    result, payload_sha256 = as2message.unwrap_archived(
        context.archive, sha256, headers, context.key, context.cert,
        [_certificate(der) for der in partner_certs], policy, just_written=just_written)
    with open(context.archive.path(payload_sha256), "rb") as payload:
        head = payload.read(HEAD_BYTES)
    return Opened(result.mic, result.filename, result.content_type, payload_sha256, head)


def sign_receipt(context: Context, headers: Mapping[str, str], mic: str | None,
                 error: str | None, warning: str | None, explanation: str) -> mdn.OutgoingMdn:
    """The MDN (see :func:`gateway.as2.mdn.build`), signed with the gateway's key if asked."""
    return mdn.build(headers, mic, error=error, warning=warning, explanation=explanation,
                     our_key=context.key, our_cert=context.cert, reporting_ua="gateway",
                     domain=context.domain)


# In a helper process: its context, set once when it starts.
_helper_context: Context | None = None


def _start_helper(data_dir: str, key_der: bytes, cert_der: bytes, domain: str) -> None:
    global _helper_context
    threading.Thread(target=_exit_with_daemon, name="exit-with-daemon", daemon=True).start()
    _helper_context = Context(Archive(Path(data_dir)),
                              serialization.load_der_private_key(key_der, None),
                              x509.load_der_x509_certificate(cert_der), domain)


def _exit_with_daemon() -> None:
    """End this helper when the daemon's process ends, however it ends (``kill -9`` too): a
    helper waiting for work would otherwise wait for ever."""
    multiprocessing.parent_process().join()
    os._exit(0)


def _in_helper(work: Callable, *args):
    return work(_helper_context, *args)


class Helpers(Service):
    """The helper processes while the service runs, or the thread pool when there are none."""

    def __init__(self, context: Context, data_dir: Path, processes: int):
        self.context, self.data_dir, self.processes = context, data_dir, processes
        self.pool: ProcessPoolExecutor | None = None

    def startService(self) -> None:
        super().startService()
        if self.processes > 0:
            self.pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        key = self.context.key.private_bytes(serialization.Encoding.DER,
                                             serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption())
        cert = self.context.cert.public_bytes(serialization.Encoding.DER)
        return ProcessPoolExecutor(
            self.processes, mp_context=multiprocessing.get_context("forkserver"),
            initializer=_start_helper,
            initargs=(str(self.data_dir), key, cert, self.context.domain))

    def stopService(self) -> defer.Deferred:
        """Helpers finish what they are doing; calls not started yet are cancelled."""
        super().stopService()
        pool, self.pool = self.pool, None
        if pool is None:
            return defer.succeed(None)
        return threads.deferToThread(pool.shutdown, wait=True, cancel_futures=True)

    def run(self, work: Callable, *args) -> defer.Deferred:
        """``work(context, *args)`` in a helper, or in a thread when there is none."""
        pool = self.pool
        if pool is None:
            return threads.deferToThread(work, self.context, *args)
        try:
            future = pool.submit(_in_helper, work, *args)
        except BrokenProcessPool:
            return self._instead(pool, work, args)
        done = defer.Deferred()
        future.add_done_callback(
            lambda f: reactor.callFromThread(self._settle, pool, f, done, work, args))
        return done

    def _settle(self, pool: ProcessPoolExecutor, future: Future, done: defer.Deferred,
                work: Callable, args) -> None:
        if future.cancelled():
            done.errback(defer.CancelledError(f"{work.__name__} cancelled: the gateway stops"))
            return
        error = future.exception()
        if isinstance(error, BrokenProcessPool):
            self._instead(pool, work, args).chainDeferred(done)
        elif error is not None:
            done.errback(error)
        else:
            done.callback(future.result())

    def _instead(self, broken: ProcessPoolExecutor, work: Callable, args) -> defer.Deferred:
        """A helper of ``broken`` died: a new pool for the calls to come (once, however many
        calls it failed), and this call in a thread."""
        if self.pool is broken:
            log.error("an AS2 helper process died; starting new ones")
            metrics.AS2_HELPER_DEATHS.inc()
            broken.shutdown(wait=False)
            self.pool = self._new_pool()
        return threads.deferToThread(work, self.context, *args)
