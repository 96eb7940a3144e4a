"""The gateway's own dev certificates, and the inventory of every certificate in use."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from gateway.config import Config
from gateway.partners import PartnerSet


@dataclass(frozen=True)
class CertInfo:
    owner: str        # "gateway" or a partner id
    usage: str        # as2, tls, signing, encryption, tls_ca
    path: Path
    subject: str
    not_after: dt.datetime | None
    error: str | None = None

    def days_left(self, now: dt.datetime | None = None) -> float | None:
        if self.not_after is None:
            return None
        now = now or dt.datetime.now(dt.UTC)
        return (self.not_after - now).total_seconds() / 86400


def self_signed(common_name: str, *, days: int = 825, key_size: int = 3072,
                dns_names: tuple[str, ...] = ()) -> tuple[bytes, bytes]:
    """A new RSA key and a self-signed certificate for it, both PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5))
               .not_valid_after(now + dt.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                              critical=False))
    if dns_names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]), critical=False)
    cert = builder.sign(key, hashes.SHA256())
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


def write_key_pair(key_path: Path, cert_path: Path, key_pem: bytes, cert_pem: bytes) -> None:
    key_path.parent.mkdir(parents=True, exist_ok=True)
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key_pem)
    cert_path.write_bytes(cert_pem)


def init_dev_identity(config: Config, *, force: bool = False) -> list[Path]:
    """Generate the gateway's AS2 key pair (and a TLS one when TLS is configured) if missing."""
    written = []
    pairs = [(config.cert_path(config.identity.key), config.cert_path(config.identity.cert),
              config.identity.as2_id, ())]
    if config.as2.tls_cert and config.as2.tls_key:
        pairs.append((config.cert_path(config.as2.tls_key), config.cert_path(config.as2.tls_cert),
                      "localhost", ("localhost",)))
    for key_path, cert_path, cn, dns in pairs:
        if force or not (key_path.exists() and cert_path.exists()):
            write_key_pair(key_path, cert_path, *self_signed(cn, dns_names=dns))
            written += [key_path, cert_path]
    return written


def _read(owner: str, usage: str, path: Path) -> CertInfo:
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except FileNotFoundError:
        return CertInfo(owner, usage, path, "", None, "file does not exist")
    except ValueError as e:
        return CertInfo(owner, usage, path, "", None, f"not a PEM certificate: {e}")
    return CertInfo(owner, usage, path, cert.subject.rfc4514_string(), cert.not_valid_after_utc)


def inventory(config: Config, partners: PartnerSet | None) -> list[CertInfo]:
    """Every certificate the gateway uses: its own, then each partner's."""
    found = [_read("gateway", "as2", config.cert_path(config.identity.cert))]
    if config.as2.tls_cert:
        found.append(_read("gateway", "tls", config.cert_path(config.as2.tls_cert)))
    for partner in (partners.partners.values() if partners else ()):
        if partner.as2 is None:
            continue
        for usage in ("signing", "encryption", "tls_ca"):
            path = getattr(partner.as2.certificates, usage)
            if path is not None:
                found.append(_read(partner.id, usage, config.cert_path(path)))
    return found
