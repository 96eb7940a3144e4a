"""A 200 MB AS2 message (signed with SHA-256, AES-256-CBC, sync signed MDN) through the real
daemon: its memory stays far below the message size and the payload arrives intact."""

import hashlib
import http.client
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509

from gateway.as2 import cms, mdn
from gateway.certs import self_signed
from tests.support import descendants, wait_for, write_partner

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")

PAYLOAD_MB = 200
PEAK_RSS_BOUND_MB = 250

PARTNER = """\
id: partner
name: Partner Co
as2:
  as2_id: PARTNER
  url: http://127.0.0.1:9/as2
  certificates: {signing: partners/partner.pem, encryption: partners/partner.pem}
routes:
  - to: [{directory: out}]
"""


def _sha256(path: Path, skip: int = 0) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        f.seek(skip)
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _peak_rss_mb(pid: int) -> float:
    """The peak RSS of the daemon plus those of its helper processes (the sum of their peaks:
    at least their peak together)."""
    total = 0
    for process in [pid, *descendants(pid)]:
        status = Path(f"/proc/{process}/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
        total += int(line.split()[1])
    return total / 1024


def test_large_signed_encrypted_message_keeps_memory_flat(home, daemons, tmp_path):
    gw = daemons({"GATEWAY_AS2_MAX_BODY_BYTES": str((PAYLOAD_MB + 10) << 20),
                  "GATEWAY_IDENTITY_AS2_ID": "GATEWAY"})  # fmt: skip
    gw.command("certs", "init")
    key_pem, cert_pem = self_signed("partner", key_size=2048)
    (home / "certs/partners").mkdir(parents=True, exist_ok=True)
    (home / "certs/partners/partner.pem").write_bytes(cert_pem)
    (tmp_path / "partner.key").write_bytes(key_pem)
    write_partner(home, "partner", PARTNER)
    gw.start()

    # The partner's side, streamed by openssl: entity -> multipart/signed -> EnvelopedData.
    head = b"Content-Type: application/octet-stream\r\nContent-Disposition: attachment; " \
           b"filename=big.bin\r\n\r\n"  # fmt: skip
    entity = tmp_path / "entity"
    block = os.urandom(1 << 20)
    with open(entity, "wb") as f:
        f.write(head)
        for i in range(PAYLOAD_MB):
            f.write(block[i:] + block[:i])
    signed, body = tmp_path / "signed.eml", tmp_path / "body.der"
    for args in (
        ["-sign", "-binary", "-stream", "-md", "sha256", "-in", entity, "-out", signed,
         "-signer", home / "certs/partners/partner.pem", "-inkey", tmp_path / "partner.key"],
        ["-encrypt", "-binary", "-stream", "-aes256", "-in", signed, "-outform", "DER",
         "-out", body, "-recip", home / "certs/gateway/as2.crt"],
    ):  # fmt: skip
        subprocess.run(["openssl", "cms", *map(str, args)], check=True, capture_output=True)
    signed.unlink()

    headers = {
        "AS2-Version": "1.2", "AS2-From": "PARTNER", "AS2-To": "GATEWAY",
        "Message-ID": "<large-1@partner>", "MIME-Version": "1.0",
        "Content-Type": "application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m",
        "Content-Length": str(body.stat().st_size),
        "Disposition-Notification-To": "as2@partner",
        "Disposition-Notification-Options": "signed-receipt-protocol=optional, pkcs7-signature; "
                                            "signed-receipt-micalg=optional, sha-256",
    }  # fmt: skip
    connection = http.client.HTTPConnection("127.0.0.1", gw.as2_port, timeout=600)
    with open(body, "rb") as f:
        connection.request("POST", "/as2", body=f, headers=headers)
        response = connection.getresponse()
        receipt_body = response.read()
    assert response.status == 200, receipt_body[:500]
    gateway_cert = x509.load_pem_x509_certificate((home / "certs/gateway/as2.crt").read_bytes())
    receipt = mdn.parse(dict(response.getheaders()), receipt_body,
                        [gateway_cert], require_signature=False)  # fmt: skip
    assert receipt.ok, receipt.text
    digest = hashlib.sha256()
    with open(entity, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    assert receipt.mic_matches(cms.mic_of(lambda name: digest.digest(), "sha-256"))

    delivered = wait_for(lambda: list((home / "out").glob("*big.bin")), timeout=300,
                         what="payload delivered")  # fmt: skip
    payload_sha = _sha256(entity, skip=len(head))
    assert _sha256(delivered[0]) == payload_sha
    (message,) = gw.messages()
    assert message["payload_sha256"] == payload_sha and message["size"] == body.stat().st_size
    peak = _peak_rss_mb(gw.proc.pid)
    assert peak < PEAK_RSS_BOUND_MB, f"peak RSS {peak:.0f} MB for a {PAYLOAD_MB} MB message"
