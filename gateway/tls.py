"""TLS for the HTTPS listener: TLS 1.2 or newer, optional client certificates, and a count of the
handshakes that fail (a partner with a wrong or missing client certificate, an old TLS version,
plain HTTP sent to the TLS port)."""

from __future__ import annotations

import logging
import re

from cryptography import x509
from OpenSSL import SSL, crypto
from twisted.internet import ssl
from twisted.internet.interfaces import IHandshakeListener
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory
from zope.interface import implementer

from gateway import metrics
from gateway.config import Config

log = logging.getLogger(__name__)


def server_options(config: Config) -> ssl.CertificateOptions:
    """With ``as2.client_ca`` set, every client must present a certificate issued by (or equal
    to) one of the certificates in that PEM file: partners' CAs or their own client
    certificates."""
    as2 = config.as2
    pem = config.cert_path(as2.tls_key).read_bytes() + config.cert_path(as2.tls_cert).read_bytes()
    own = ssl.PrivateCertificate.loadPEM(pem)
    extra = {}
    if as2.client_ca:
        trusted = x509.load_pem_x509_certificates(config.cert_path(as2.client_ca).read_bytes())
        extra = dict(verify=True, requireCertificate=True,
                     caCerts=[crypto.X509.from_cryptography(c) for c in trusted])
    return ssl.CertificateOptions(privateKey=own.privateKey.original, certificate=own.original,
                                  raiseMinimumTo=ssl.TLSVersion.TLSv1_2, **extra)


def failure_reason(error: SSL.Error) -> str:
    """OpenSSL's reason for a failed handshake as a label: 'peer-did-not-return-a-certificate',
    'certificate-verify-failed', 'unsupported-protocol', 'http-request', ..."""
    errors = error.args[0] if error.args and isinstance(error.args[0], list) else []
    text = errors[-1][-1] if errors and errors[-1] else str(error)
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")[:64] or "unknown"


@implementer(IHandshakeListener)
class _HandshakeWatch(ProtocolWrapper):
    completed = False

    def handshakeCompleted(self):
        self.completed = True
        if IHandshakeListener.providedBy(self.wrappedProtocol):
            self.wrappedProtocol.handshakeCompleted()

    def connectionLost(self, reason):
        if not self.completed and reason.check(SSL.Error):
            label = failure_reason(reason.value)
            metrics.TLS_HANDSHAKE_FAILURES.labels(self.factory.listener, label).inc()
            peer = self.transport.getPeer() if self.transport else None
            log.warning("TLS handshake on the %s listener with %s failed: %s",
                        self.factory.listener, getattr(peer, "host", "?"), label)
        super().connectionLost(reason)


class HandshakeWatch(WrappingFactory):
    """Wraps the factory served inside TLS and counts the handshakes that fail, by reason."""

    protocol = _HandshakeWatch

    def __init__(self, wrapped, listener: str):
        super().__init__(wrapped)
        self.listener = listener
