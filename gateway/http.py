"""Outbound HTTP(S) POST (AS2 messages, MDNs, webhooks), with timeouts and an optional pinned CA."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import BinaryIO

from twisted.internet import reactor
from twisted.internet.ssl import Certificate, optionsForClientTLS
from twisted.web.client import (
    Agent,
    BrowserLikePolicyForHTTPS,
    FileBodyProducer,
    PartialDownloadError,
    readBody,
)
from twisted.web.http_headers import Headers
from twisted.web.iweb import IPolicyForHTTPS
from zope.interface import implementer

MAX_RESPONSE_BYTES = 16 * 1024 * 1024


@implementer(IPolicyForHTTPS)
class TrustCA:
    """Trust exactly one CA (a partner's own) for HTTPS instead of the system store."""

    def __init__(self, ca_pem: bytes):
        self.root = Certificate.loadPEM(ca_pem)

    def creatorForNetloc(self, hostname, port):
        return optionsForClientTLS(hostname.decode("ascii"), trustRoot=self.root)


def agent(tls_ca: Path | None = None) -> Agent:
    policy = TrustCA(tls_ca.read_bytes()) if tls_ca else BrowserLikePolicyForHTTPS()
    return Agent(reactor, contextFactory=policy, connectTimeout=30)


async def post(url: str, headers: dict[str, str], body: bytes | BinaryIO, *, timeout: float,
               tls_ca: Path | None = None) -> tuple[int, bytes, dict[str, str]]:
    """POST ``body`` (bytes, or a file streamed from disk); (status, response body, response
    headers). Raises on network errors and timeouts."""
    request_headers = Headers({k.encode("latin-1"): [v.encode("latin-1")]
                               for k, v in headers.items()})
    sending = agent(tls_ca).request(b"POST", url.encode("ascii"), request_headers,
                                    FileBodyProducer(BytesIO(body) if isinstance(body, bytes)
                                                     else body))
    response = await sending.addTimeout(timeout, reactor)
    if isinstance(response.length, int) and response.length > MAX_RESPONSE_BYTES:
        raise RuntimeError(f"{url} answered with {response.length} bytes, over the limit")
    try:
        answer = await readBody(response).addTimeout(timeout, reactor)
    except PartialDownloadError as e:   # no Content-Length, ended by closing: the whole body
        answer = e.response
    got = {k.decode("latin-1"): v[-1].decode("latin-1")
           for k, v in response.headers.getAllRawHeaders()}
    return response.code, answer, got
