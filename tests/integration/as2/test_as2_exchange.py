"""Two gateways trade over AS2 (sync and async MDNs); a partner's bad MDN marks the send failed."""

import http.server
import json
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from gateway.as2 import mdn
from gateway.certs import self_signed
from tests.support import Daemon, wait_for, write_partner

PARTNER = """\
id: {id}
name: {id}
as2:
  as2_id: {as2_id}
  url: http://127.0.0.1:{port}/as2
  certificates: {{signing: partners/{id}.pem, encryption: partners/{id}.pem}}
  security: {{sign_alg: {alg}, encrypt_alg: {cipher}, compress: true}}
  mdn: {{mode: {mode}, signed: true, timeout_s: 60}}
routes:
  - to: [{{directory: out}}]
"""


def gateway(home, as2_id):
    (home / "partners").mkdir(parents=True)
    d = Daemon(home, {"GATEWAY_IDENTITY_AS2_ID": as2_id})
    d.command("certs", "init")
    return d


@pytest.fixture
def pair(tmp_path):
    alpha = gateway(tmp_path / "alpha", "ALPHA")
    bravo = gateway(tmp_path / "bravo", "BRAVO")
    for me, other, name in ((alpha, bravo, "bravo"), (bravo, alpha, "alpha")):
        (me.home / "certs/partners").mkdir()
        (me.home / f"certs/partners/{name}.pem").write_bytes(
            (other.home / "certs/gateway/as2.crt").read_bytes())
    yield alpha, bravo
    for d in (alpha, bravo):
        if d.proc and d.proc.poll() is None:
            d.proc.kill()


@pytest.mark.parametrize("mode, alg, cipher", [("sync", "sha256", "aes256-cbc"),
                                               ("async", "sha512", "aes128-gcm")])
def test_two_gateways_exchange_and_track_the_mdn(pair, mode, alg, cipher):
    alpha, bravo = pair
    write_partner(alpha.home, "bravo", PARTNER.format(id="bravo", as2_id="BRAVO",
                                                      port=bravo.as2_port, alg=alg,
                                                      cipher=cipher, mode=mode))
    write_partner(bravo.home, "alpha", PARTNER.format(id="alpha", as2_id="ALPHA",
                                                      port=alpha.as2_port, alg=alg,
                                                      cipher=cipher, mode=mode))
    alpha.env["GATEWAY_AS2_RECEIPT_URL"] = f"http://127.0.0.1:{alpha.as2_port}/mdn"
    alpha.start()
    bravo.start()
    payload = alpha.home / "invoice.edi"
    payload.write_bytes(b"ST*810*0001~" * 2000)
    assert "queued message" in alpha.command("send", "--partner", "bravo", str(payload)).stdout
    wait_for(lambda: alpha.messages()[0]["status"] == "delivered", timeout=60,
             what=f"delivered\n{alpha.tail()}")
    sent = alpha.messages()[0]
    got = wait_for(lambda: list((bravo.home / "out").glob("*_invoice.edi")), what="bravo got it")
    assert got[0].read_bytes() == payload.read_bytes()
    received = bravo.messages()[0]
    assert received["message_id"] == sent["message_id"] and received["mic"] == sent["mic"]
    assert sent["disposition"].endswith("processed")
    if mode == "async":
        shown = json.loads(alpha.command("messages", "show", sent["id"], "--json").stdout)
        history = [e["status"] for e in shown["events"]]
        assert history == ["queued", "sent", "awaiting-mdn", "delivered"]
    assert 'gateway_mdns_total{direction="received",outcome="ok",partner="bravo"} 1.0' in \
        alpha.metrics()
    assert alpha.stop() == 0 and bravo.stop() == 0


class LyingPartner(http.server.BaseHTTPRequestHandler):
    """Answers every message with a signed MDN whose MIC is wrong."""

    key = cert = None

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        receipt = mdn.build(dict(self.headers), "AAAA, sha-256", our_key=self.key,
                            our_cert=self.cert)
        self.send_response(200)
        for k, v in receipt.headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(receipt.body)))
        self.end_headers()
        self.wfile.write(receipt.body)

    def log_message(self, *args):
        pass


def test_mdn_with_wrong_mic_fails_the_send(tmp_path):
    alpha = gateway(tmp_path / "alpha", "ALPHA")
    key_pem, cert_pem = self_signed("liar", key_size=2048)
    LyingPartner.key = load_pem_private_key(key_pem, None)
    LyingPartner.cert = x509.load_pem_x509_certificate(cert_pem)
    (alpha.home / "certs/partners").mkdir()
    (alpha.home / "certs/partners/liar.pem").write_bytes(cert_pem)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), LyingPartner)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    write_partner(alpha.home, "liar", PARTNER.format(id="liar", as2_id="LIAR",
                                                     port=server.server_port, alg="sha256",
                                                     cipher="aes256-cbc", mode="sync"))
    try:
        alpha.start()
        (alpha.home / "x.edi").write_bytes(b"hello")
        alpha.command("send", "--partner", "liar", str(alpha.home / "x.edi"))
        wait_for(lambda: alpha.messages()[0]["status"] == "failed", what="failed")
        assert "does not match the MIC sent" in alpha.messages()[0]["error"]
    finally:
        server.shutdown()
        alpha.stop()
