"""AS2 metrics of the real daemon on every path: async MDNs outstanding both ways (with their
age) until they are settled, MDN latency and dispositions for sync, async and broken MDNs."""

from __future__ import annotations

import http.server
import threading
import urllib.request

import pytest

from gateway.as2 import mdn
from gateway.as2 import message as as2message
from gateway.as2.message import SecurityPolicy
from tests.integration.as2.as2_support import PARTNER_AS2, PARTNER_YAML, Peer, metric
from tests.support import free_port, wait_for, write_partner

PARTNERS = """\
id: {id}
name: {id}
as2:
  as2_id: {as2_id}
  url: {url}/{id}
  certificates: {{signing: partners/partner.pem, encryption: partners/partner.pem}}
  mdn: {{mode: {mode}, signed: true, timeout_s: 3600}}
  retry: {{timeout_s: 10}}
"""


@pytest.fixture
def gw(home, daemons, endpoint):
    got = []

    def answer(path, headers, body):
        # The partners' AS2 servers: /slow takes messages and answers its MDN later (async),
        # /broken answers with a sync MDN that is not one.
        got.append((path, headers, body))
        return 200, {"Content-Type": "multipart/report; boundary=x"}, \
            b"this is not an MDN" if path == "/broken" else b"thanks"

    url = endpoint(answer)
    gateway = daemons({"GATEWAY_JOBS_BACKOFF_BASE_S": "0.2", "GATEWAY_JOBS_BACKOFF_MAX_S": "0.5",
                       "GATEWAY_JOBS_MAX_ATTEMPTS": "1000"})
    gateway.command("certs", "init")
    gateway.peer = Peer(home)
    write_partner(home, "partner", PARTNER_YAML.format(port=free_port(), as2=PARTNER_AS2))
    for id, mode in (("slow", "async"), ("broken", "sync")):
        write_partner(home, id, PARTNERS.format(id=id, as2_id=id.upper(), mode=mode,
                                                url=url))
    gateway.partner_got = got
    return gateway.start()


def series(gw, name, **labels):
    return metric(gw.metrics(), name, **labels)


def test_async_mdn_we_owe_is_pending_with_its_age_until_delivered(gw):
    receipts_port = free_port()   # nobody listens there yet
    out = gw.peer.build(policy=SecurityPolicy(mdn_mode="async"),
                        async_mdn_url=f"http://127.0.0.1:{receipts_port}/receipts")
    status, _, _ = gw.peer.post(gw.as2_port, out)
    assert status == 200
    wait_for(lambda: series(gw, "gateway_as2_pending_mdn_oldest_age_seconds", partner="partner",
                            direction="sent") >= 1, what="the owed MDN a second old")
    assert series(gw, "gateway_as2_pending_mdns", partner="partner", direction="sent") == 1
    (message,) = gw.messages()
    assert message["status"] in ("accepted", "routed", "delivered")
    assert series(gw, "gateway_mdns_total", partner="partner", direction="sent",
                  outcome="ok") == 0

    got = []

    class Receipts(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            got.append((dict(self.headers), self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", receipts_port), Receipts)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        wait_for(lambda: got, what="the async MDN delivered at last")
        receipt = gw.peer.mdn(*got[0])
        assert receipt.ok and receipt.mic_matches(out.mic)
        wait_for(lambda: "gateway_as2_pending_mdns{" not in gw.metrics(),
                 what="nothing pending any more")
        assert series(gw, "gateway_mdns_total", partner="partner", direction="sent",
                      outcome="ok") == 1
    finally:
        server.shutdown()


def test_async_mdn_we_await_is_pending_until_it_arrives_then_timed(gw):
    (gw.home / "order.edi").write_bytes(b"ST*850*0001~")
    gw.command("send", "--partner", "slow", str(gw.home / "order.edi"))
    wait_for(lambda: gw.messages()[0]["status"] == "awaiting-mdn", what="awaiting-mdn")
    wait_for(lambda: series(gw, "gateway_as2_pending_mdns", partner="slow",
                            direction="received") == 1, what="the awaited MDN counted")
    assert series(gw, "gateway_mdn_latency_seconds_count", partner="slow") == 0

    # The partner unwraps what it got and answers with a signed async MDN to our receipt URL.
    (path, headers, body), = [g for g in gw.partner_got if g[0] == "/slow"]
    peer = gw.peer
    unwrapped = as2message.unwrap(headers, body, peer.key, peer.cert, [peer.gateway_cert],
                                  SecurityPolicy())
    assert unwrapped.payload == b"ST*850*0001~"
    receipt = mdn.build(headers, unwrapped.mic, our_key=peer.key, our_cert=peer.cert)
    request = urllib.request.Request(headers["Receipt-Delivery-Option"], data=receipt.body,
                                     headers=receipt.headers, method="POST")
    with urllib.request.urlopen(request, timeout=30) as r:
        assert r.status == 200 and b"MDN accepted" in r.read()
    (message,) = gw.messages()
    assert message["status"] == "delivered"
    wait_for(lambda: "gateway_as2_pending_mdns{" not in gw.metrics(),
             what="nothing pending any more")
    page = gw.metrics()
    assert metric(page, "gateway_mdn_latency_seconds_count", partner="slow") == 1
    assert metric(page, "gateway_mdns_total", partner="slow", direction="received",
                  outcome="ok") == 1
    assert metric(page, "gateway_as2_messages_total", partner="slow", direction="outbound",
                  disposition="processed") == 1
    assert metric(page, "gateway_as2_message_bytes_total", partner="slow", direction="outbound",
                  disposition="processed") == len(b"ST*850*0001~")


def test_sync_answer_that_is_no_mdn_fails_the_message_and_is_counted(gw):
    (gw.home / "order.edi").write_bytes(b"ST*850*0002~")
    gw.command("send", "--partner", "broken", str(gw.home / "order.edi"))
    wait_for(lambda: gw.messages()[0]["status"] == "failed", what="failed")
    (message,) = gw.messages()
    assert "the sync MDN could not be accepted" in message["error"]
    page = gw.metrics()
    assert metric(page, "gateway_mdns_total", partner="broken", direction="received",
                  outcome="failed") == 1
    assert metric(page, "gateway_mdn_latency_seconds_count", partner="broken") == 1
    assert metric(page, "gateway_messages_total", partner="broken", direction="outbound",
                  status="failed") == 1
    assert metric(page, "gateway_as2_messages_total", partner="broken", direction="outbound",
                  disposition="invalid-mdn") == 1
