"""pyas2lib sends to the gateway: every digest and cipher both implement, signed, encrypted and
compressed, with sync and async MDNs; pyas2lib verifies the gateway's MDN and its MIC."""

import urllib.request

import pytest

from tests.interop.conftest import configure, raw_message
from tests.support import wait_for

pytestmark = pytest.mark.interop

PAYLOAD = (b"ISA*00*          *00*          *ZZ*PYAS2LIB       *ZZ*GATEWAY        *260101*1200*U*"
           b"00401*000000001*0*P*>~\r\n" + b"PO1*1*10*EA*9.95**BP*SKU-1~\r\n" * 200)


def post(url: str, headers: dict, body: bytes) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=60) as r:
        return r.status, dict(r.headers), r.read()


def send(gw, mdn_url=None, **settings):
    """pyas2lib builds a message to the gateway with ``settings`` and POSTs it: (message,
    HTTP status, headers, body)."""
    message = gw.peer.as2.Message(gw.peer.organization(mdn_url), gw.peer.gateway(**settings))
    message.build(PAYLOAD, filename="po.edi", content_type="application/edi-x12",
                  disposition_notification_to="edi@pyas2lib.test")
    return (message, *post(f"http://127.0.0.1:{gw.as2_port}/as2", message.headers,
                           message.content))


def read_mdn(as2, message, headers: dict, body: bytes):
    """pyas2lib's verdict on the gateway's MDN: (status, detail, Mdn)."""
    mdn = as2.Mdn()
    status, detail = mdn.parse(raw_message(headers, body),
                               lambda message_id, _: message
                               if message_id == message.message_id else None)
    return status, detail, mdn


@pytest.mark.parametrize("settings, mode", [
    ({"sign": True, "digest_alg": "sha256", "encrypt": True, "enc_alg": "aes_256_cbc"}, "SYNC"),
    ({"sign": True, "digest_alg": "sha512", "encrypt": True, "enc_alg": "aes_128_cbc",
      "compress": True}, "SYNC"),
    ({"sign": True, "digest_alg": "sha384", "encrypt": True, "enc_alg": "aes_192_cbc"},
     "ASYNC"),
    ({"sign": True, "digest_alg": "sha1", "encrypt": True, "enc_alg": "tripledes_192_cbc",
      "compress": True}, "ASYNC"),
    ({"sign": True, "digest_alg": "sha256"}, "SYNC"),
    ({"encrypt": True, "enc_alg": "aes_256_cbc"}, "SYNC"),
    ({"compress": True}, "ASYNC"),
], ids=["signed-encrypted-sha256-aes256", "compressed-signed-encrypted-sha512-aes128",
        "signed-encrypted-sha384-aes192", "compressed-signed-encrypted-sha1-3des",
        "signed-sha256", "encrypted-aes256", "compressed"])
def test_gateway_takes_pyas2lib_message_and_pyas2lib_verifies_the_mdn(gateway, home, endpoint,
                                                                     settings, mode):
    signed, encrypted = settings.get("sign", False), settings.get("encrypt", False)
    configure(gateway, security=f"{{require_signature: {str(signed).lower()}, "
                                f"require_encryption: {str(encrypted).lower()}}}")
    gateway.start()
    receipts = []
    mdn_url = endpoint(lambda _, headers, body: receipts.append((headers, body))
                       or (200, {}, b"")) + "/as2"
    digest = settings.get("digest_alg") if signed else None
    message, status, headers, body = send(gateway, mdn_url if mode == "ASYNC" else None,
                                          mdn_mode=mode, mdn_digest_alg=digest, **settings)
    assert status == 200
    if mode == "ASYNC":
        headers, body = wait_for(lambda: receipts and receipts[0], what="the async MDN")

    verdict, detail, mdn = read_mdn(gateway.peer.as2, message, headers, body)
    assert (verdict, detail) == ("processed", None)   # MIC mismatch would be processed/warning
    assert mdn.orig_message_id == message.message_id
    assert mdn.digest_alg == digest                    # signed, with the digest asked for
    delivered = wait_for(lambda: list((home / "out").glob("*_po.edi")), what="payload delivered")
    assert delivered[0].read_bytes() == PAYLOAD
    (row,) = gateway.messages()
    assert row["message_id"] == f"<{message.message_id}>" and row["disposition"] == "processed"
    if signed:   # pyas2lib computes a MIC only for what it signs
        assert row["mic"].split(",")[0] == message.mic.decode()


@pytest.mark.parametrize("settings, modifier, named", [
    ({"sign": True, "digest_alg": "md5"}, "authentication-failed", "unsupported digest "
     "algorithm 'md5'"),
    # pyas2lib writes RSASSA-PSS without parameters (RFC 4055: SHA-1 defaults) but signs with
    # the message digest, so no conforming verifier accepts it.
    ({"sign": True, "digest_alg": "sha384", "sign_alg": "rsassa_pss"}, "authentication-failed",
     "rsassa-pss signature with default (sha-1) parameters does not verify"),
], ids=["md5-digest", "pss-without-parameters"])
def test_signatures_the_gateway_cannot_verify_get_a_negative_mdn_pyas2lib_reads(
        gateway, settings, modifier, named):
    configure(gateway, security="{require_signature: false, require_encryption: false}")
    gateway.start()
    message, status, headers, body = send(gateway, mdn_mode="SYNC", **settings)
    verdict, detail, _ = read_mdn(gateway.peer.as2, message, headers, body)
    assert status == 200 and (verdict, detail) == ("processed/error", modifier)
    (row,) = gateway.messages()
    assert row["status"] == "rejected" and named in row["error"].lower()
