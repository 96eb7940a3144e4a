"""The AS2 HTTP(S) endpoint: messages at ``/`` and ``/as2``, async MDNs for our messages at ``/mdn``.

Bodies stream straight into an archive spool file as they arrive (never whole in memory); a body
over the configured cap is answered 413 and the connection closed, and one cut off by the client
is discarded. Header fields with control characters, or AS2 fields given twice, are refused
before anything is recorded: their values end up in MDNs and the store.
"""

from __future__ import annotations

import logging

from twisted.internet import defer
from twisted.internet.threads import deferToThread
from twisted.web.http import HTTPChannel
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

from gateway import metrics
from gateway.archive import TooLarge
from gateway.as2 import inbound, outbound
from gateway.as2.keys import Identity
from gateway.runtime import Runtime

log = logging.getLogger(__name__)
MAX_MDN_BYTES = 1024 * 1024
# Fields an AS2 request may carry once only: a second one is a forged or broken request.
SINGLE_FIELDS = {name.lower().encode(): name for name in (
    "AS2-From", "AS2-To", "Message-ID", "Content-Type", "Content-Transfer-Encoding",
    "Content-Disposition", "Subject", "Disposition-Notification-To",
    "Disposition-Notification-Options", "Receipt-Delivery-Option")}
CONTROL = bytes(range(0x20)).replace(b"\t", b"") + b"\x7f"


class As2Channel(HTTPChannel):
    """HTTP/1.1 (AS2 has no use for HTTP/2) that counts the requests Twisted itself refuses as
    malformed: a bad request line, a header line without a colon, CR, LF or NUL in a value."""

    def _respondToBadRequestAndDisconnect(self):
        metrics.REJECTED.labels("as2", "bad-request").inc()
        log.warning("AS2 request from %s refused: malformed HTTP request line or header",
                    _peer(self.transport))
        super()._respondToBadRequestAndDisconnect()


def _peer(transport) -> str:
    return getattr(transport.getPeer(), "host", "?") if transport else "?"


class SpoolingRequest(Request):
    """Writes the request body to an archive spool file and enforces the size cap."""

    too_large = False
    complete = False   # the whole body arrived; from then on the resource owns self.content

    def gotLength(self, length):
        site = self.channel.site
        self.content = site.archive.spool_file(limit=site.max_body_bytes)
        if length is not None and length > site.max_body_bytes:
            self._refuse()

    def handleContentChunk(self, data):
        if self.too_large:
            return
        try:
            self.content.write(data)
        except TooLarge:
            self._refuse()

    def _refuse(self):
        """Answer 413 at once; the rest of the body is read and dropped (clients that send
        before they read would otherwise see a broken pipe instead of the answer)."""
        self.too_large = True
        self.content.discard()
        metrics.REJECTED.labels("as2", "too-large").inc()
        limit = self.channel.site.max_body_bytes
        self.channel.transport.write(
            b"HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\nContent-Type: text/plain"
            b"\r\n\r\nthe message is larger than this gateway accepts (%d bytes)\r\n" % limit)

    def connectionLost(self, reason):
        if self.complete:
            self.content = None   # being committed by the resource, or already
        elif not self.too_large and self.content is not None:
            metrics.REJECTED.labels("as2", "interrupted").inc()
            log.warning("AS2 upload from %s cut off after %d bytes: discarded",
                        _peer(self.channel and self.channel.transport), self.content.size)
        super().connectionLost(reason)

    def requestReceived(self, command, path, version):
        self.complete = True
        if self.too_large:
            self.channel.transport.loseConnection()
            return
        super().requestReceived(command, path, version)



def header_problem(request) -> str | None:
    """Why a request's header fields cannot be taken in, or None. Values are not quoted back."""
    for name, values in request.requestHeaders.getAllRawHeaders():
        label = SINGLE_FIELDS.get(name.lower()) or name.decode("latin-1")
        if any(len(value.translate(None, CONTROL)) != len(value) for value in values):
            return f"header {label} contains a control character"
        if len(values) > 1 and name.lower() in SINGLE_FIELDS:
            return f"header {label} appears {len(values)} times; AS2 allows it once"
    return None


def str_headers(request) -> dict[str, str]:
    return {k.decode("latin-1"): v[-1].decode("latin-1")
            for k, v in request.requestHeaders.getAllRawHeaders()}


def _reply(request, code: int, text: str, headers: dict | None = None, body: bytes | None = None):
    if request._disconnected:
        return
    request.setResponseCode(code)
    payload = body if body is not None else (text + "\n").encode()
    for name, value in (headers or {"Content-Type": "text/plain; charset=utf-8"}).items():
        request.setHeader(name.encode("latin-1"), value.encode("latin-1"))
    request.setHeader(b"content-length", str(len(payload)).encode())
    request.write(payload)
    request.finish()


class MessageResource(Resource):
    isLeaf = True

    def __init__(self, rt: Runtime, identity: Identity):
        super().__init__()
        self.rt, self.identity = rt, identity

    def render_GET(self, request):
        return b"AS2 endpoint of this gateway: POST messages here\n"

    def render_POST(self, request):
        async def handle():
            answer = await inbound.receive(self.rt, self.identity, str_headers(request),
                                           request.content)
            if answer.mdn is None:
                _reply(request, answer.code, answer.text or "message received")
            else:
                _reply(request, answer.code, "", answer.mdn.headers, answer.mdn.body)

        _run(request, handle)
        return NOT_DONE_YET


class MdnResource(Resource):
    isLeaf = True

    def __init__(self, rt: Runtime):
        super().__init__()
        self.rt = rt

    def render_POST(self, request):
        async def handle():
            content = request.content
            if content.size > MAX_MDN_BYTES:
                metrics.REJECTED.labels("as2", "too-large").inc()
                return _reply(request, 413, f"an MDN is at most {MAX_MDN_BYTES} bytes")
            sha256, _ = await deferToThread(content.commit)   # kept for the audit trail
            body = await deferToThread(content.archive.read, sha256)
            code, text = await outbound.receive_mdn(self.rt, str_headers(request), body)
            _reply(request, code, text)

        _run(request, handle)
        return NOT_DONE_YET


def _run(request, handle):
    """Answer the request by ``handle``, after checking its header fields; a body nobody
    committed is discarded at the end whatever happened."""
    content = request.content
    problem = header_problem(request)
    if problem:
        metrics.REJECTED.labels("as2", "bad-header").inc()
        log.warning("AS2 request from %s refused: %s", _peer(request.transport), problem)
        _reply(request, 400, problem)
        content.close()
        return

    def failed(failure):
        log.error("AS2 request failed: %s", failure.getTraceback())
        _reply(request, 500, "the gateway could not process this request; it has been logged")

    d = defer.ensureDeferred(handle()).addErrback(failed)
    d.addBoth(lambda _: content.close())


def as2_site(rt: Runtime, identity: Identity) -> Site:
    root = Resource()
    messages = MessageResource(rt, identity)
    root.putChild(b"", messages)
    root.putChild(b"as2", messages)
    root.putChild(b"mdn", MdnResource(rt))
    # Idle connections (slow-loris) are dropped. Bodies are never parsed as form submissions:
    # Twisted would read them into memory, and AS2 has none.
    site = Site(root, timeout=300, parsePOSTFormSubmission=False)
    site.protocol = As2Channel
    site.requestFactory = SpoolingRequest
    site.archive = rt.archive
    site.max_body_bytes = rt.config.as2.max_body_bytes
    return site
