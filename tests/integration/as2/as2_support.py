"""The trading partner's side of the AS2 daemon tests: its keys, messages built by the AS2 library
as a partner would, POSTs by urllib or as raw bytes over a socket, and reading the gateway's
metrics."""

from __future__ import annotations

import http.client
import re
import socket
import urllib.request
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from gateway.as2 import mdn
from gateway.as2 import message as as2message
from gateway.as2.message import SecurityPolicy
from gateway.certs import self_signed

PAYLOAD = b"ISA*00*          *00*          *ZZ*PARTNER        *ZZ*GATEWAY        *" * 50
PARTNER_AS2 = 'PARTNER "CO"'
DEFAULT_POLICY = SecurityPolicy()

PARTNER_YAML = """\
id: partner
name: Partner Co
as2:
  as2_id: '{as2}'
  url: http://127.0.0.1:{{port}}/as2
  certificates: {{signing: partners/partner.pem, encryption: partners/partner.pem}}
routes:
  - to: [{{directory: out}}]
"""


class Peer:
    """The trading partner's side: its key pair, and our gateway's certificate."""

    def __init__(self, home: Path):
        key_pem, cert_pem = self_signed("partner", key_size=2048)
        (home / "certs" / "partners").mkdir(parents=True, exist_ok=True)
        (home / "certs" / "partners" / "partner.pem").write_bytes(cert_pem)
        self.key = load_pem_private_key(key_pem, None)
        self.cert = x509.load_pem_x509_certificate(cert_pem)
        self.home = home

    @property
    def gateway_cert(self):
        return x509.load_pem_x509_certificate((self.home / "certs/gateway/as2.crt").read_bytes())

    def build(self, payload=PAYLOAD, policy=DEFAULT_POLICY, **kw):
        kw.setdefault("as2_to", "GATEWAY")
        kw.setdefault("as2_from", PARTNER_AS2)
        kw.setdefault("filename", "po.edi")
        return as2message.build(payload, "application/edi-x12", policy, kw.pop("key", self.key),
                                kw.pop("cert", self.cert), self.gateway_cert, **kw)

    def post(self, port, out, body=None, headers=None, scheme="http", context=None):
        request = urllib.request.Request(f"{scheme}://127.0.0.1:{port}/as2",
                                         data=body or out.body, headers=headers or out.headers,
                                         method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30, context=context) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def mdn(self, headers, body):
        return mdn.parse(headers, body, [self.gateway_cert], require_signature=True)


def head_bytes(headers: dict[str, str], replace: dict[str, bytes] | None = None) -> bytes:
    """HTTP header lines for ``headers``, with the raw bytes of ``replace`` put in as they are
    (names in ``replace`` that ``headers`` lacks are added)."""
    replace = dict(replace or {})
    lines = []
    for name, value in headers.items():
        raw = replace.pop(name, value.encode("latin-1"))
        lines.append(name.encode() + b": " + raw + b"\r\n")
    lines += [name.encode() + b": " + raw + b"\r\n" for name, raw in replace.items()]
    return b"".join(lines)


def raw_post(port: int, head: bytes, body: bytes, path: str = "/as2"):
    """POST exactly these header bytes and body over a socket (HTTP clients refuse to send
    control characters); (status, headers as http.client parses them, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode() + head
                     + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                     + body)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, response.headers, response.read()


def metric(text: str, name: str, **labels: str) -> float:
    """One sample of a /metrics page (0 when the series does not exist yet)."""
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}(?:\{{(.*)\}})? (\S+)", line)
        if match:
            found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(1) or ""))
            if all(found.get(k) == v for k, v in labels.items()):
                return float(match.group(2))
    return 0.0
