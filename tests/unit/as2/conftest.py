"""Throwaway RSA identities for the AS2 tests, written to disk too so openssl can use them."""

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Identity:
    key: rsa.RSAPrivateKey
    cert: x509.Certificate
    key_path: Path
    cert_path: Path


def make_identity(directory: Path, name: str, days: tuple[int, int] = (-1, 365)) -> Identity:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + dt.timedelta(days=days[0]))
        .not_valid_after(now + dt.timedelta(days=days[1]))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_path = directory / f"{name}.key"
    cert_path = directory / f"{name}.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return Identity(key, cert, key_path, cert_path)


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("as2-pki")


@pytest.fixture(scope="session")
def ours(pki_dir: Path) -> Identity:
    return make_identity(pki_dir, "gateway")


@pytest.fixture(scope="session")
def partner(pki_dir: Path) -> Identity:
    return make_identity(pki_dir, "partner")


@pytest.fixture(scope="session")
def stranger(pki_dir: Path) -> Identity:
    return make_identity(pki_dir, "stranger")


@pytest.fixture(scope="session")
def expired(pki_dir: Path) -> Identity:
    return make_identity(pki_dir, "expired", days=(-30, -1))
