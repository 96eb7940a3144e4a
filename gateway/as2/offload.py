"""Opening received AS2 messages and signing their MDNs in helper processes.

Unwrapping a message is mostly Python (MIME, ASN.1, digests) that holds the interpreter lock. In
the reactor's process it would compete for that lock with HTTP and the store, and use one core
whatever the machine has. With ``as2.helper_processes`` above 0 (the default: one per core, at
most four) the work runs in up to that many helper processes, started by the reactor as the
first calls come (``python -c "...offload import serve..."``). Each takes the gateway's key pair
once, over its stdin, then answers calls one at a time: a call is a length-prefixed pickle of
(work, arguments) on its stdin, the answer one on its stdout. The reactor reads and writes those
pipes itself: no thread of the daemon is involved. A helper reads bodies from the archive and
writes payloads to the archive, so only references and small results cross the pipes. With 0
the work runs in the reactor's thread pool.

A helper that dies (killed, out of memory) costs no message: the call it held runs in a thread,
and the next call starts a new helper. Helpers that keep dying (five within a minute) are given
up for threads. A helper ends when its stdin closes: when the daemon stops, or dies however it
dies. Errors raised by the work (an ``As2Error`` with its disposition, anything else) come back
to the caller as they were raised, with the helper's traceback as their cause.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import pickle
import struct
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from twisted.application.service import Service
from twisted.internet import defer, protocol, reactor, threads
from twisted.internet.error import ProcessExitedAlready

from gateway import metrics
from gateway.archive import Archive
from gateway.as2 import mdn
from gateway.as2 import message as as2message

log = logging.getLogger(__name__)
MAX_DEFAULT_PROCESSES = 4
HEAD_BYTES = 64   # of the payload, returned to judge what it is without reading it again
FRAME = struct.Struct(">I")   # the length of the pickle that follows
GIVE_UP_DEATHS, GIVE_UP_WINDOW_S = 5, 60
STOP_GRACE_S = 30   # to finish the call in hand when the gateway stops, then killed


def processes(configured: int | None) -> int:
    """How many helpers: as configured, else one per core and at most MAX_DEFAULT_PROCESSES."""
    return min(os.cpu_count() or 1, MAX_DEFAULT_PROCESSES) if configured is None else configured


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


WORKS = {"open_message": open_message, "sign_receipt": sign_receipt}


class RemoteTraceback(Exception):
    """The cause of an error a helper raised: its traceback there."""

    def __str__(self) -> str:
        return self.args[0]


# In a helper process.

def serve() -> None:
    """A helper's life: the context, then calls until the daemon closes our stdin. Answers go to
    the daemon over the original stdout; whatever else is printed goes to stderr, the log."""
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    frames = _frames(sys.stdin.buffer)
    first = next(frames, None)
    if first is None:
        return
    data_dir, key_der, cert_der, domain = pickle.loads(first)
    context = Context(Archive(Path(data_dir)), serialization.load_der_private_key(key_der, None),
                      x509.load_der_x509_certificate(cert_der), domain)
    for frame in frames:
        work, args = pickle.loads(frame)
        try:
            answer = pickle.dumps((True, WORKS[work](context, *args)))
        except Exception as e:
            answer = _error(e, traceback.format_exc())
        answers.write(FRAME.pack(len(answer)) + answer)
        answers.flush()


def _error(error: Exception, trace: str) -> bytes:
    try:
        return pickle.dumps((False, error, trace))
    except Exception:   # an error that does not pickle arrives as its text
        return pickle.dumps((False, RuntimeError(f"{type(error).__name__}: {error}"), trace))


def _frames(stream: BinaryIO) -> Iterator[bytes]:
    while len(head := stream.read(FRAME.size)) == FRAME.size:
        size = FRAME.unpack(head)[0]
        body = stream.read(size)
        if len(body) < size:
            return
        yield body


def _frame(value) -> bytes:
    data = pickle.dumps(value)
    return FRAME.pack(len(data)) + data


# In the daemon.

@dataclass
class _Call:
    work: Callable
    args: tuple
    done: defer.Deferred = field(default_factory=defer.Deferred)


class _Helper(protocol.ProcessProtocol):
    """One helper process: the call it is answering, and its answer as it arrives."""

    def __init__(self, helpers: Helpers):
        self.helpers, self.call, self.buffer = helpers, None, b""
        self.ended = defer.Deferred()

    def send(self, call: _Call) -> None:
        self.call = call
        self.transport.write(_frame((call.work.__name__, call.args)))

    def outReceived(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= FRAME.size:
            size = FRAME.unpack_from(self.buffer)[0]
            if len(self.buffer) < FRAME.size + size:
                return
            frame = self.buffer[FRAME.size:FRAME.size + size]
            self.buffer = self.buffer[FRAME.size + size:]
            call, self.call = self.call, None
            self.helpers._answered(self, call, frame)

    def processEnded(self, reason) -> None:
        self.helpers._ended(self, reason.value)
        self.ended.callback(None)


class Helpers(Service):
    """Up to ``processes`` helpers while the service runs; the thread pool when there are none."""

    def __init__(self, context: Context, data_dir: Path, processes: int):
        self.context, self.data_dir, self.processes = context, data_dir, processes
        self.helpers: set[_Helper] = set()
        self.idle: list[_Helper] = []
        self.waiting: deque[_Call] = deque()
        self.deaths: deque[float] = deque()

    def run(self, work: Callable, *args) -> defer.Deferred:
        """``work(context, *args)`` in a helper, or in a thread when there is none."""
        if not self.running or self.processes == 0:
            return threads.deferToThread(work, self.context, *args)
        call = _Call(work, args)
        self.waiting.append(call)
        self._dispatch()
        return call.done

    def _dispatch(self) -> None:
        """Waiting calls to idle helpers, starting helpers up to ``processes``."""
        while self.waiting:
            if not self.idle:
                if len(self.helpers) >= self.processes:
                    return
                self._spawn()
            self.idle.pop().send(self.waiting.popleft())

    def _spawn(self) -> None:
        helper = _Helper(self)
        reactor.spawnProcess(
            helper, sys.executable,
            [sys.executable, "-c", "from gateway.as2.offload import serve; serve()"],
            env=os.environ, childFDs={0: "w", 1: "r", 2: 2})
        key = self.context.key.private_bytes(serialization.Encoding.DER,
                                             serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption())
        cert = self.context.cert.public_bytes(serialization.Encoding.DER)
        helper.transport.write(_frame((str(self.data_dir), key, cert, self.context.domain)))
        self.helpers.add(helper)
        self.idle.append(helper)

    def _answered(self, helper: _Helper, call: _Call, frame: bytes) -> None:
        self.idle.append(helper)
        try:
            answer = pickle.loads(frame)
        except Exception as e:
            answer = (False, RuntimeError(f"the answer to {call.work.__name__} cannot be read: "
                                          f"{e}"), "")
        self._dispatch()
        if answer[0]:
            call.done.callback(answer[1])
        else:
            error, trace = answer[1], answer[2]
            error.__cause__ = RemoteTraceback(trace) if trace else None
            call.done.errback(error)

    def _ended(self, helper: _Helper, why) -> None:
        self.helpers.discard(helper)
        if helper in self.idle:
            self.idle.remove(helper)
        if self.running:
            log.error("an AS2 helper process died (%s); starting new ones", why)
            metrics.AS2_HELPER_DEATHS.inc()
            now = time.monotonic()
            self.deaths.append(now)
            while self.deaths and self.deaths[0] < now - GIVE_UP_WINDOW_S:
                self.deaths.popleft()
            if len(self.deaths) >= GIVE_UP_DEATHS and self.processes:
                log.critical("%d AS2 helper processes died within %d s; opening messages in "
                             "threads from now on (restart the gateway to try helpers again)",
                             len(self.deaths), GIVE_UP_WINDOW_S)
                self.processes = 0
        if helper.call is not None:
            call, helper.call = helper.call, None
            self._in_thread(call)
        while self.waiting and self.processes == 0:
            self._in_thread(self.waiting.popleft())
        self._dispatch()

    def _in_thread(self, call: _Call) -> None:
        threads.deferToThread(call.work, self.context, *call.args).chainDeferred(call.done)

    def stopService(self) -> defer.Deferred:
        """Helpers finish the call in hand and end; calls not started yet are cancelled."""
        super().stopService()
        while self.waiting:
            self.waiting.popleft().done.errback(
                defer.CancelledError("not opened: the gateway stops"))
        ended = []
        for helper in list(self.helpers):
            helper.transport.closeStdin()
            kill = reactor.callLater(STOP_GRACE_S, _kill, helper)
            ended.append(helper.ended.addBoth(lambda _, kill=kill: kill.active() and kill.cancel()))
        return defer.DeferredList(ended)


def _kill(helper: _Helper) -> None:
    with contextlib.suppress(ProcessExitedAlready):
        helper.transport.signalProcess("KILL")
