"""pyas2lib, an independent AS2 implementation, as the gateway's trading partner over real HTTP.

pyas2lib is a test-only dependency: ``tests/interop/install-pyas2lib.sh`` installs it with an
oscrypto that loads OpenSSL 3. Without it these tests fail and say how to install it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.certs import self_signed
from tests.support import Daemon, write_partner

INSTALL = "tests/interop/install-pyas2lib.sh .venv/bin/python"
PYAS2LIB_ID = "PYAS2LIB"
GATEWAY_ID = "GATEWAY"
PARTNER_YAML = """\
id: pyas2lib
name: pyas2lib
as2:
  as2_id: {as2_id}
  url: {url}
  certificates: {{signing: partners/pyas2lib.pem, encryption: partners/pyas2lib.pem}}
  security: {security}
  mdn: {mdn}
routes:
  - to: [{{directory: out}}]
"""


def pytest_configure(config):
    config.addinivalue_line("markers", "interop: trades with an independent AS2 implementation")


def raw_message(headers, body: bytes) -> bytes:
    """HTTP headers and body as the one MIME message pyas2lib parses."""
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return head.encode("latin-1") + b"\r\n" + body


@pytest.fixture(scope="session")
def as2lib():
    """pyas2lib's ``as2`` module; fails (never skips) when it is missing or cannot load."""
    try:
        from pyas2lib import as2
    except ImportError as e:
        problem = f"pyas2lib is not installed ({e})"
    except Exception as e:   # oscrypto's LibraryNotFoundError: OpenSSL 3 without the patch
        problem = f"pyas2lib cannot load OpenSSL ({e})"
    else:
        return as2
    pytest.fail(f"{problem}: run {INSTALL}", pytrace=False)


class Pyas2Peer:
    """pyas2lib's side: its organization (a key pair) and the gateway as its partner."""

    def __init__(self, as2, home: Path):
        key_pem, cert_pem = self_signed("pyas2lib", key_size=2048)
        (home / "certs" / "partners").mkdir(parents=True, exist_ok=True)
        (home / "certs" / "partners" / "pyas2lib.pem").write_bytes(cert_pem)
        self.as2, self.home, self.key_pair = as2, home, key_pem + cert_pem

    def organization(self, mdn_url: str | None = None):
        return self.as2.Organization(as2_name=PYAS2LIB_ID, sign_key=self.key_pair,
                                     decrypt_key=self.key_pair, mdn_url=mdn_url,
                                     domain="pyas2lib.test")

    def gateway(self, **settings):
        """The gateway as pyas2lib's partner: what pyas2lib sends it, or demands of it."""
        cert = (self.home / "certs" / "gateway" / "as2.crt").read_bytes()
        return self.as2.Partner(as2_name=GATEWAY_ID, verify_cert=cert, encrypt_cert=cert,
                                **settings)


@pytest.fixture
def gateway(home, daemons, as2lib):
    """A gateway with its development key pair, and pyas2lib as ``peer`` (not yet started)."""
    daemon = daemons({"GATEWAY_IDENTITY_AS2_ID": GATEWAY_ID})
    daemon.command("certs", "init")
    daemon.peer = Pyas2Peer(as2lib, home)
    return daemon


def configure(daemon: Daemon, *, url: str = "http://127.0.0.1:9/as2", security: str = "{}",
              mdn: str = "{mode: sync, signed: true}") -> None:
    """The gateway's partner file for pyas2lib (flow-style YAML for security and mdn)."""
    write_partner(daemon.home, "pyas2lib", PARTNER_YAML.format(
        as2_id=PYAS2LIB_ID, url=url, security=security, mdn=mdn))
