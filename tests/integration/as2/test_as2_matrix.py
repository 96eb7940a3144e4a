"""The AS2 option matrix over real HTTP against one gateway process: security layers (none, sign,
encrypt, both, compression before and after signing), MDN modes (sync, async, none), signed and
unsigned MDNs, every digest, cipher and key transport, binary and base64 transfer encoding, CRLF
and LF payloads. A pairwise covering selection of combinations (every pair of values of two
dimensions that can occur together, occurs at least once) is built here as a partner would build
it, POSTed, and checked: the MDN's disposition, signature and MIC, and the stored payload."""

from __future__ import annotations

import base64
import email.utils
import hashlib
import http.server
import itertools
import random
import threading

import pytest
from cryptography import x509

from gateway.as2 import cms, mdn, mime
from tests.integration.as2.as2_support import Peer
from tests.support import wait_for, write_partner

DIMENSIONS = {
    "security": ["none", "sign", "encrypt", "sign+encrypt", "compress+sign", "sign+compress",
                 "compress+sign+encrypt", "sign+compress+encrypt"],
    "mdn": ["sync", "async", "none"],
    "mdn_signed": [True, False],
    "digest": ["sha1", "sha256", "sha384", "sha512"],
    "cipher": ["3des", "aes128-cbc", "aes192-cbc", "aes256-cbc", "aes128-gcm", "aes256-gcm"],
    "key_transport": ["rsa-pkcs1v15", "oaep"],
    "transfer_encoding": ["binary", "base64"],
    "line_ends": ["crlf", "lf"],
}

PARTNER = """\
id: matrix
name: Matrix Co
as2:
  as2_id: MATRIX
  certificates: {signing: partners/partner.pem, encryption: partners/partner.pem}
  security: {sign: false, encrypt: false, require_signature: false, require_encryption: false}
  mdn: {mode: sync, signed: false}
"""


def relevant(row: dict, dimension: str) -> bool:
    """Whether a dimension's value makes a difference in this row."""
    if dimension in ("cipher", "key_transport"):
        return "encrypt" in row["security"]
    if dimension == "mdn_signed":
        return row["mdn"] != "none"
    if dimension == "digest":   # the signature's digest and the MIC's
        return "sign" in row["security"] or (row["mdn"] != "none" and row["mdn_signed"])
    return True


def pairs(row: dict) -> set:
    used = [d for d in DIMENSIONS if relevant(row, d)]
    return {((a, row[a]), (b, row[b])) for a, b in itertools.combinations(used, 2)}


def covering_rows(seed: int = 4130) -> tuple[list[dict], set]:
    """Greedy pairwise selection: (rows, the pairs they had to cover)."""
    everything = [dict(zip(DIMENSIONS, values, strict=True))
                  for values in itertools.product(*DIMENSIONS.values())]
    required = set().union(*(pairs(row) for row in everything))
    rng, rows, missing = random.Random(seed), [], set(required)
    while missing:
        best = max(rng.sample(everything, 400), key=lambda row: len(pairs(row) & missing))
        if not pairs(best) & missing:   # the sample missed what is left: take it head on
            (a, va), (b, vb) = next(iter(missing))
            best = next(r for r in everything if r[a] == va and r[b] == vb
                        and (((a, va), (b, vb)) in pairs(r)))
        rows.append(best)
        missing -= pairs(best)
    return rows, required


ROWS, REQUIRED = covering_rows()


def payload_for(index: int, row: dict) -> bytes:
    eol = b"\r\n" if row["line_ends"] == "crlf" else b"\n"
    lines = [f"ROW {index:03d} {row}".encode()] + [b"LIN*%d*widget*12*EA" % i for i in range(40)]
    return eol.join(lines) + eol


def wrap(index: int, row: dict, payload: bytes, peer: Peer, gateway_cert: x509.Certificate,
         receipts_url: str):
    """The partner's message for ``row``: (HTTP headers, body, the MIC its MDN must carry)."""
    security, digest = row["security"], row["digest"]
    encoded = payload
    if row["transfer_encoding"] == "base64":
        encoded = mime.canonical(base64.encodebytes(payload))
    fields = [("Content-Type", "application/edi-x12"),
              ("Content-Transfer-Encoding", row["transfer_encoding"]),
              ("Content-Disposition", f'attachment; filename="row{index}.edi"')]
    body, mic_data = encoded, None

    def compressed(fields, body):
        return mime.smime("compressed-data"), cms.compress(mime.entity(fields, body))

    if security.startswith("compress"):
        fields, body = compressed(fields, body)
    if "sign" in security:
        mic_data = mime.entity(fields, body)
        signature = cms.sign(mic_data, peer.key, peer.cert, digest)
        content_type, body = mime.signed(mic_data, signature, cms.micalg(digest))
        fields = [("Content-Type", content_type)]
        if "sign+compress" in security:
            fields, body = compressed(fields, body)
    if "encrypt" in security:
        inner = mime.entity(fields, body)
        mic_data = mic_data or mime.canonical(inner)
        body = cms.encrypt(inner, gateway_cert, row["cipher"], row["key_transport"])
        fields = mime.smime("enveloped-data")
    headers = {"AS2-Version": "1.2", "AS2-From": "MATRIX", "AS2-To": "GATEWAY",
               "Message-ID": f"<row-{index}@matrix>", "MIME-Version": "1.0",
               "Date": email.utils.formatdate(usegmt=True), "Subject": f"row {index}",
               **dict(fields)}
    if row["mdn"] != "none":
        headers["Disposition-Notification-To"] = "as2@matrix"
        if row["mdn_signed"]:
            headers["Disposition-Notification-Options"] = (
                "signed-receipt-protocol=optional, pkcs7-signature; "
                f"signed-receipt-micalg=optional, {cms.micalg(digest)}")
    if row["mdn"] == "async":
        headers["Receipt-Delivery-Option"] = receipts_url
    mic_alg = digest if (row["mdn"] != "none" and row["mdn_signed"]) or "sign" in security \
        else "sha256"
    return headers, body, cms.mic(payload if mic_data is None else mic_data, cms.micalg(mic_alg))


class Receipts(http.server.BaseHTTPRequestHandler):
    got: dict = {}

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.end_headers()
        headers = dict(self.headers)
        Receipts.got[self.path] = (headers, body)

    def log_message(self, *args):
        pass


@pytest.fixture
def receipts():
    Receipts.got = {}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receipts)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def test_the_selection_covers_every_pair():
    """Every value of every dimension meets every security mode and every MDN mode it can."""
    assert set().union(*(pairs(r) for r in ROWS)) == REQUIRED
    assert len(ROWS) < 80


def test_matrix_over_http(home, daemons, receipts):
    gw = daemons()
    gw.command("certs", "init")
    peer = Peer(home)
    write_partner(home, "matrix", PARTNER)
    gw.start()
    gateway_cert = peer.gateway_cert
    expected = {}
    for index, row in enumerate(ROWS):
        payload = payload_for(index, row)
        headers, body, mic = wrap(index, row, payload, peer, gateway_cert,
                                  f"http://127.0.0.1:{receipts.server_port}/row/{index}")
        expected[headers["Message-ID"]] = (row, payload, mic)
        status, answer_headers, answer = peer.post(gw.as2_port, None, body=body, headers=headers)
        assert status == 200, (row, answer)
        if row["mdn"] == "sync":
            check_mdn(row, mic, headers["Message-ID"], answer_headers, answer, gateway_cert)
        else:
            assert answer_headers["Content-Type"].startswith("text/plain"), row

    asynchronous = {f"/row/{i}": r for i, r in enumerate(ROWS) if r["mdn"] == "async"}
    wait_for(lambda: set(Receipts.got) == set(asynchronous), timeout=60,
             what=f"{len(asynchronous)} async MDNs")
    for path, row in asynchronous.items():
        index = int(path.rpartition("/")[2])
        check_mdn(row, expected[f"<row-{index}@matrix>"][2], f"<row-{index}@matrix>",
                  *Receipts.got[path], gateway_cert)

    stored = {m["message_id"]: m for m in gw.messages("--limit", str(len(ROWS) + 10))}
    assert set(stored) == set(expected)
    for message_id, (row, payload, mic) in expected.items():
        message = stored[message_id]
        assert message["status"] in ("accepted", "routed"), (row, message)
        assert message["disposition"] == "processed", row
        assert message["payload_sha256"] == hashlib.sha256(payload).hexdigest(), row
        assert message["mic"] == mic, row
        assert message["filename"] == f"row{int(message_id[5:-8])}.edi", row
    page = gw.metrics()
    assert f'gateway_as2_messages_total{{direction="inbound",disposition="processed",' \
           f'partner="matrix"}} {float(len(ROWS))}' in page


def check_mdn(row, mic, message_id, headers, body, gateway_cert):
    receipt = mdn.parse(headers, body, [gateway_cert], require_signature=row["mdn_signed"])
    assert receipt.ok and receipt.modifier is None, (row, receipt)
    assert receipt.original_message_id == message_id, row
    assert receipt.mic_matches(mic) and receipt.mic == mic, (row, receipt.mic, mic)
    assert receipt.signed == row["mdn_signed"], row
    if row["mdn_signed"]:
        assert cms.digest_name(receipt.digest_alg) == cms.digest_name(row["digest"]), row
