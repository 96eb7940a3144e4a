"""AS2 against the real daemon: messages built by the AS2 library (as a partner would) are POSTed
over HTTP; MDNs, dispositions, duplicates, caps, async receipts, and two gateways trading."""

import http.server
import threading
import urllib.request

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from gateway.as2 import message as as2message
from gateway.as2.message import SecurityPolicy
from gateway.certs import self_signed
from tests.integration.as2.as2_support import PARTNER_AS2, PARTNER_YAML, PAYLOAD, Peer
from tests.support import free_port, wait_for, write_partner


@pytest.fixture
def gw(home, daemons):
    gateway = daemons({"GATEWAY_AS2_MAX_BODY_BYTES": str(256 * 1024)})
    gateway.command("certs", "init")
    peer = Peer(home)
    write_partner(home, "partner", PARTNER_YAML.format(port=free_port(), as2=PARTNER_AS2))
    gateway.start()
    gateway.peer = peer
    return gateway


def test_signed_encrypted_message_gets_signed_mdn_and_payload_flows_on(gw, home):
    out = gw.peer.build()
    status, headers, body = gw.peer.post(gw.as2_port, out)
    assert status == 200 and int(headers["Content-Length"]) == len(body)
    receipt = gw.peer.mdn(headers, body)
    assert receipt.ok and receipt.disposition_type == "processed" and receipt.modifier is None
    assert receipt.mic_matches(out.mic) and receipt.signed
    assert receipt.original_message_id == out.message_id
    delivered = wait_for(lambda: list((home / "out").glob("*_po.edi")), what="payload delivered")
    assert delivered[0].read_bytes() == PAYLOAD
    (message,) = gw.messages()
    assert (message["partner_id"], message["status"], message["message_id"]) == (
        "partner", "delivered", out.message_id)
    assert message["disposition"] == "processed" and message["mic"] == out.mic

    again_status, again_headers, again_body = gw.peer.post(gw.as2_port, out)
    again = gw.peer.mdn(again_headers, again_body)
    assert again_status == 200 and again.ok and again.modifier == "warning: duplicate-document"
    assert "received before" in again.text
    assert len(list((home / "out").iterdir())) == 1 and len(gw.messages()) == 1


@pytest.mark.parametrize("case, expected", [
    ("unknown partner", "error: unknown-trading-partner"),
    ("wrong recipient", "error: unknown-trading-partner"),
    ("unsigned", "error: insufficient-message-security"),
    ("unencrypted", "error: insufficient-message-security"),
    ("tampered ciphertext", "error: decryption-failed"),
    ("forged signer", "error: authentication-failed"),
])
def test_bad_messages_get_the_rfc_4130_disposition_and_are_recorded(gw, case, expected):
    peer = gw.peer
    if case == "unknown partner":
        out = as2message.build(PAYLOAD, "application/edi-x12", SecurityPolicy(), peer.key,
                               peer.cert, peer.gateway_cert, as2_from="STRANGER", as2_to="GATEWAY")
    elif case == "wrong recipient":
        out = peer.build(as2_to="SOMEONE ELSE")
    elif case == "unsigned":
        out = peer.build(policy=SecurityPolicy(sign=False))
    elif case == "unencrypted":
        out = peer.build(policy=SecurityPolicy(encrypt=False))
    elif case == "forged signer":
        key_pem, cert_pem = self_signed("forger", key_size=2048)
        out = as2message.build(PAYLOAD, "application/edi-x12", SecurityPolicy(),
                               load_pem_private_key(key_pem, None),
                               x509.load_pem_x509_certificate(cert_pem), peer.gateway_cert,
                               as2_from=PARTNER_AS2, as2_to="GATEWAY")
    else:
        out = peer.build()
        out = out._replace(body=out.body[:-40] + bytes(40))
    status, headers, body = peer.post(gw.as2_port, out)
    receipt = peer.mdn(headers, body)
    assert status == 200 and not receipt.ok and receipt.modifier == expected
    (message,) = gw.messages()
    assert message["status"] == "rejected" and message["error"]
    assert message["disposition"] == f"processed/{expected}"
    assert receipt.text.strip().endswith(message["error"])
    assert "Traceback" not in receipt.text
    reason = expected.split(": ")[1]
    assert f'gateway_rejected_total{{reason="{reason}",transport="as2"}} 1.0' in gw.metrics()


def test_oversized_body_is_refused_with_413_and_nothing_recorded(gw, home):
    out = gw.peer.build(payload=b"X" * (600 * 1024), policy=SecurityPolicy(encrypt=False))
    status, _, body = gw.peer.post(gw.as2_port, out)
    assert status == 413 and b"larger than this gateway accepts" in body
    assert gw.messages() == []
    assert not list((home / "var" / "spool").iterdir())
    assert 'gateway_rejected_total{reason="too-large",transport="as2"} 1.0' in gw.metrics()


def test_missing_message_id_is_a_clear_400(gw):
    out = gw.peer.build()
    headers = {k: v for k, v in out.headers.items() if k != "Message-ID"}
    status, _, body = gw.peer.post(gw.as2_port, out, headers=headers)
    assert status == 400 and b"needs a Message-ID header" in body


class Receipts(http.server.BaseHTTPRequestHandler):
    got: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receipts.got.append((dict(self.headers), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_async_mdn_is_posted_to_the_receipt_url(gw):
    Receipts.got = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receipts)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        out = gw.peer.build(policy=SecurityPolicy(mdn_mode="async"),
                            async_mdn_url=f"http://127.0.0.1:{server.server_port}/receipts")
        status, _, body = gw.peer.post(gw.as2_port, out)
        assert status == 200 and b"received" in body
        wait_for(lambda: Receipts.got, what="async MDN")
        receipt = gw.peer.mdn(*Receipts.got[0])
        assert receipt.ok and receipt.mic_matches(out.mic)
        wait_for(lambda: any(e["status"] == "mdn-sent" for e in gw_events(gw)), what="mdn-sent")
    finally:
        server.shutdown()


def gw_events(gw):
    import json

    newest = gw.messages()[0]["id"]
    return json.loads(gw.command("messages", "show", newest, "--json").stdout)["events"]


def test_https_listener_takes_messages_over_tls_1_2_and_refuses_older(home, daemons):
    import ssl

    tls_port = free_port()
    gw = daemons({"GATEWAY_AS2_TLS_PORT": str(tls_port), "GATEWAY_AS2_TLS_CERT": "tls/server.crt",
                  "GATEWAY_AS2_TLS_KEY": "tls/server.key"})
    gw.command("certs", "init")
    assert (home / "certs/tls/server.crt").exists()   # certs init makes the TLS pair too
    peer = Peer(home)
    write_partner(home, "partner", PARTNER_YAML.format(port=free_port(), as2=PARTNER_AS2))
    gw.start()
    context = ssl.create_default_context(cafile=str(home / "certs/tls/server.crt"))
    context.check_hostname = False
    out = peer.build()
    request = urllib.request.Request(f"https://127.0.0.1:{tls_port}/as2", data=out.body,
                                     headers=out.headers, method="POST")
    with urllib.request.urlopen(request, timeout=30, context=context) as r:
        receipt = peer.mdn(dict(r.headers), r.read())
    assert receipt.ok and receipt.mic_matches(out.mic)

    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname, old.verify_mode = False, ssl.CERT_NONE
    old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_1
    old.set_ciphers("ALL:@SECLEVEL=0")
    with pytest.raises(urllib.error.URLError, match="PROTOCOL_VERSION|VERSION|alert"):
        urllib.request.urlopen(f"https://127.0.0.1:{tls_port}/as2", timeout=10, context=old)
