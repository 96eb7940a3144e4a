"""Our AS2 key pair and partners' certificates as loaded objects, and partner policy mapping."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from gateway.as2.message import SecurityPolicy
from gateway.config import Config
from gateway.partners import Partner


@lru_cache(maxsize=256)
def _certificate(path: Path, mtime_ns: int) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def certificate(path: Path) -> x509.Certificate:
    """A PEM certificate, re-read when the file changes (rotation without restart)."""
    return _certificate(path, path.stat().st_mtime_ns)


@dataclass(frozen=True)
class Identity:
    as2_id: str
    key: object
    cert: x509.Certificate
    domain: str

    @classmethod
    def load(cls, config: Config) -> Identity:
        key_path = config.cert_path(config.identity.key)
        key = load_pem_private_key(key_path.read_bytes(), password=None)
        return cls(config.identity.as2_id, key, certificate(config.cert_path(config.identity.cert)),
                   config.gateway.node_name)


def partner_certificates(config: Config, partner: Partner) -> list[x509.Certificate]:
    """Certificates that may sign the partner's messages and MDNs."""
    certs = partner.as2.certificates
    paths = {p for p in (certs.signing, certs.encryption) if p is not None}
    return [certificate(config.cert_path(p)) for p in sorted(paths)]


def encryption_certificate(config: Config, partner: Partner) -> x509.Certificate | None:
    path = partner.as2.certificates.encryption
    return certificate(config.cert_path(path)) if path else None


def policy(partner: Partner) -> SecurityPolicy:
    sec, mdn = partner.as2.security, partner.as2.mdn
    return SecurityPolicy(
        sign=sec.sign, sign_alg=sec.sign_alg, sign_padding=sec.sign_padding, encrypt=sec.encrypt,
        encrypt_alg=sec.encrypt_alg, key_transport=sec.key_transport, compress=sec.compress,
        compress_before_sign=sec.compress_before_sign, require_signature=sec.require_signature,
        require_encryption=sec.require_encryption, allow_expired_certs=sec.allow_expired_certs,
        mdn_mode=mdn.mode, mdn_signed=mdn.signed, mdn_sign_alg=mdn.sign_alg,
        max_decompressed_bytes=sec.max_decompressed_bytes, max_ratio=sec.max_ratio)
