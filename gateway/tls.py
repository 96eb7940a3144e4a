"""TLS server options for the HTTPS listener: TLS 1.2 or newer, optional client certificates."""

from __future__ import annotations

from twisted.internet import ssl

from gateway.config import Config


def server_options(config: Config) -> ssl.CertificateOptions:
    as2 = config.as2
    pem = config.cert_path(as2.tls_key).read_bytes() + config.cert_path(as2.tls_cert).read_bytes()
    own = ssl.PrivateCertificate.loadPEM(pem)
    extra = {}
    if as2.client_ca:
        ca = ssl.Certificate.loadPEM(config.cert_path(as2.client_ca).read_bytes())
        extra = dict(verify=True, caCerts=[ca.original], requireCertificate=True)
    return ssl.CertificateOptions(privateKey=own.privateKey.original, certificate=own.original,
                                  raiseMinimumTo=ssl.TLSVersion.TLSv1_2, **extra)
