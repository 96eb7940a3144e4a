"""How the daemon settles what it sent: an MDN whose MIC uses another algorithm than we asked for
is checked with that one (or refused, naming it, when the gateway has no such digest), and an
async MDN that arrives before the partner has answered our POST leaves the message delivered,
with no MDN awaited and no timeout, also when the POST then fails and is retried."""

from __future__ import annotations

import json
import urllib.request

import pytest

from gateway.as2 import cms, mdn
from gateway.as2 import message as as2message
from gateway.as2.message import SecurityPolicy
from tests.integration.as2.as2_support import Peer, metric
from tests.support import wait_for, write_partner

PARTNER = """\
id: {id}
name: {id}
as2:
  as2_id: {as2_id}
  url: {url}/{id}
  certificates: {{signing: partners/partner.pem, encryption: partners/partner.pem}}
  security: {{sign_alg: {sign_alg}}}
  mdn: {{mode: {mode}, signed: true, sign_alg: sha256, timeout_s: 1}}
  retry: {{timeout_s: 10}}
"""
# What each partner writes as Received-Content-MIC, given the MIC by the algorithm it chose.
MIC_BY = {
    "other-alg": lambda headers, body: mic_as(headers, body, "sha-512"),
    "wrong-mic": lambda headers, body: cms.mic(b"something else", "sha-384"),
    "md5-mic": lambda headers, body: "XUFAKrxLKna5cZ2REBfFkg==, md5",
}


def mic_as(headers, body, alg) -> str:
    """The partner unwraps what it got and computes the MIC with ``alg``, as if asked for it."""
    asked = dict(headers, **{"Disposition-Notification-Options":
                             f"signed-receipt-protocol=optional, pkcs7-signature; "
                             f"signed-receipt-micalg=optional, {alg}"})
    return PartnerServer.peer_unwrap(asked, body).mic


class PartnerServer:
    """The partners' AS2 servers, one per path: /<id> in MIC_BY answers a sync MDN with that MIC;
    /early posts its async MDN to our receipt URL and then answers 200; /early-then-503 does the
    same but answers 503, as if the POST had failed."""

    peer: Peer
    got: list = []
    mdn_answers: list = []

    @staticmethod
    def peer_unwrap(headers, body):
        peer = PartnerServer.peer
        return as2message.unwrap(headers, body, peer.key, peer.cert, [peer.gateway_cert],
                                 SecurityPolicy())

    @staticmethod
    def answer(path, headers, body):
        partner = path.strip("/")
        PartnerServer.got.append(partner)
        peer = PartnerServer.peer
        if partner in MIC_BY:
            receipt = mdn.build(headers, MIC_BY[partner](headers, body), our_key=peer.key,
                                our_cert=peer.cert)
            return 200, receipt.headers, receipt.body
        receipt = mdn.build(headers, PartnerServer.peer_unwrap(headers, body).mic,
                            our_key=peer.key, our_cert=peer.cert)
        request = urllib.request.Request(headers["Receipt-Delivery-Option"], data=receipt.body,
                                         headers=receipt.headers, method="POST")
        with urllib.request.urlopen(request, timeout=30) as r:   # before our answer
            PartnerServer.mdn_answers.append((r.status, r.read().decode().strip()))
        code = 503 if partner == "early-then-503" else 200
        return code, {"Content-Type": "text/plain"}, b"received\r\n"


@pytest.fixture
def gw(home, daemons, endpoint):
    gateway = daemons({"GATEWAY_JOBS_BACKOFF_BASE_S": "0.2", "GATEWAY_JOBS_BACKOFF_MAX_S": "0.5"})
    gateway.command("certs", "init")
    PartnerServer.peer, PartnerServer.got, PartnerServer.mdn_answers = Peer(home), [], []
    url = endpoint(PartnerServer.answer)
    for id, mode, sign_alg in (("other-alg", "sync", "sha384"), ("wrong-mic", "sync", "sha256"),
                               ("md5-mic", "sync", "sha256"), ("early", "async", "sha256"),
                               ("early-then-503", "async", "sha256")):
        write_partner(home, id, PARTNER.format(id=id, as2_id=id.upper().replace("-", "_"),
                                               url=url, mode=mode,
                                               sign_alg=sign_alg))
    gateway.env["GATEWAY_AS2_RECEIPT_URL"] = f"http://127.0.0.1:{gateway.as2_port}/mdn"
    return gateway.start()


def send(gw, partner: str) -> None:
    (gw.home / "order.edi").write_bytes(b"ST*850*0001~\r\nBEG*00*SA*PO-1~\r\n" * 20)
    gw.command("send", "--partner", partner, str(gw.home / "order.edi"))


def settled(gw, partners) -> dict[str, dict]:
    """Each partner's one message, once all of them are delivered or failed."""
    def all_settled():
        rows = {row["partner_id"]: row for row in gw.messages()}
        return rows if all(rows.get(p, {}).get("status") in ("delivered", "failed")
                           for p in partners) else None
    return wait_for(all_settled, what=f"{', '.join(partners)} settled\n{gw.tail()}")


def test_mdn_mic_by_another_algorithm_is_checked_with_it(gw):
    for partner in MIC_BY:
        send(gw, partner)
    rows = settled(gw, MIC_BY)
    other = rows["other-alg"]
    assert (other["status"], other["error"]) == ("delivered", None), gw.tail()
    assert other["mic"].endswith(", sha-256")     # what we asked for, and stored
    wrong = rows["wrong-mic"]
    assert wrong["status"] == "failed"
    assert wrong["error"].startswith("MDN MIC '") and ", sha-384' does not match the MIC of " \
        "what we sent, computed again by sha384 from the archived payload," in wrong["error"]
    md5 = rows["md5-mic"]
    assert md5["status"] == "failed"
    assert "cannot be checked: unsupported digest algorithm 'md5'" in md5["error"]
    page = gw.metrics()
    for partner, outcome in (("other-alg", "processed"), ("wrong-mic", "mic-mismatch"),
                             ("md5-mic", "mic-mismatch")):
        assert metric(page, "gateway_as2_messages_total", partner=partner, direction="outbound",
                      disposition=outcome) == 1


@pytest.mark.parametrize("partner", ["early", "early-then-503"])
def test_async_mdn_before_the_post_returns_leaves_the_message_delivered(gw, partner):
    send(gw, partner)
    (row,) = gw.messages()

    def sent_for_good():
        shown = json.loads(gw.command("messages", "show", row["id"], "--json").stdout)
        sending = [j for j in shown["jobs"] if j["kind"] == "as2-send"]
        return shown if sending and sending[0]["status"] == "done" else None

    message = wait_for(sent_for_good, what=f"the send job done\n{gw.tail()}")
    assert PartnerServer.mdn_answers == [(200, "MDN accepted")]
    assert PartnerServer.got == [partner]            # a failed POST is not sent again once settled
    assert message["status"] == "delivered" and message["error"] is None
    assert [e["status"] for e in message["events"]] == ["queued", "sent", "delivered"]
    (job,) = message["jobs"]                         # no MDN awaited, so no timeout queued
    assert (job["kind"], job["attempts"]) == ("as2-send", 2 if "503" in partner else 1)
