"""The gateway sends to pyas2lib: pyas2lib, behind a small HTTP receiver, decrypts, verifies and
decompresses the message and answers with its signed MDN (sync, or async to the gateway's
receipt URL), and the gateway marks the message delivered or, on a negative MDN, failed."""

import base64
import hashlib
import urllib.request

import pytest
from asn1crypto import cms

from tests.interop.conftest import configure, raw_message
from tests.support import wait_for

pytestmark = pytest.mark.interop

# The gateway's cipher setting -> the algorithm in the EnvelopedData it sends.
CIPHERS = {"3des": "tripledes_3key", "aes128-cbc": "aes128_cbc", "aes192-cbc": "aes192_cbc",
           "aes256-cbc": "aes256_cbc"}
PAYLOAD = b"ST*810*0001~\r\nBIG*20260101*INV-1~\r\n" + b"IT1*1*10*EA*9.95~\r\n" * 300


def pyas2lib_receiver(peer, endpoint, **demands):
    """pyas2lib answering AS2 POSTs, demanding ``demands`` of the gateway: (URL, what it
    received as (status, exception, message, body), its async MDNs not yet delivered)."""
    received, pending = [], []
    organization, gateway = peer.organization(), peer.gateway(**demands)

    def answer(_, headers, body):
        message = peer.as2.Message()
        status, exception, mdn = message.parse(raw_message(headers, body),
                                               find_org_cb=lambda _: organization,
                                               find_partner_cb=lambda _: gateway)
        received.append((status, exception, message, body))
        if mdn.mdn_mode == "ASYNC":
            pending.append(mdn)
            return 200, {}, b"message received, MDN follows\r\n"
        return 200, mdn.headers, mdn.content

    return endpoint(answer) + "/as2", received, pending


def deliver(mdn) -> int:
    request = urllib.request.Request(mdn.mdn_url, data=mdn.content, headers=mdn.headers,
                                     method="POST")
    with urllib.request.urlopen(request, timeout=30) as r:
        return r.status


def sent_status(gateway, *statuses):
    return wait_for(lambda: gateway.messages()[0]["status"] in statuses and gateway.messages()[0],
                    what=f"message {' or '.join(statuses)}\n{gateway.tail()}")


@pytest.mark.parametrize("alg, mdn_alg, cipher, mode, options", [
    ("sha256", "sha256", "aes256-cbc", "sync", ""),
    ("sha512", "sha256", "3des", "async", "compress: true"),
    ("sha384", "sha1", "aes128-cbc", "sync", "compress: true, compress_before_sign: false"),
    ("sha1", "sha1", "aes192-cbc", "async", "sign_padding: pss, key_transport: oaep"),
], ids=["sha256-aes256-sync", "compressed-sha512-mic-sha256-3des-async",
        "signed-then-compressed-sha384-mic-sha1-aes128-sync", "pss-oaep-sha1-aes192-async"])
def test_pyas2lib_takes_the_gateway_message_and_its_mdn_settles_it(gateway, endpoint, alg,
                                                                   mdn_alg, cipher, mode,
                                                                   options):
    url, received, pending = pyas2lib_receiver(gateway.peer, endpoint, sign=True, encrypt=True)
    # pyas2lib computes the MIC with the signature's digest, whatever MIC algorithm we ask for;
    # the gateway checks it with the algorithm the MDN names.
    configure(gateway, url=url, security=f"{{sign_alg: {alg}, encrypt_alg: {cipher}, {options}}}",
              mdn=f"{{mode: {mode}, signed: true, sign_alg: {mdn_alg}}}")
    gateway.start()
    (gateway.home / "invoice.edi").write_bytes(PAYLOAD)
    gateway.command("send", "--partner", "pyas2lib", "invoice.edi")
    if mode == "async":
        sent_status(gateway, "awaiting-mdn")
        assert deliver(pending[0]) == 200
    sent = sent_status(gateway, "delivered", "failed")

    status, exception, message, body = received[0]
    assert (status, exception) == ("processed", (None, None))
    assert message.content == PAYLOAD and message.payload.get_filename() == "invoice.edi"
    assert message.encrypted and message.signed and message.digest_alg == alg
    enveloped = cms.ContentInfo.load(body)["content"]
    assert enveloped["encrypted_content_info"]["content_encryption_algorithm"][
        "algorithm"].native == CIPHERS[cipher]
    assert enveloped["recipient_infos"][0].chosen["key_encryption_algorithm"][
        "algorithm"].native == ("rsaes_oaep" if "oaep" in options else "rsaes_pkcs1v15")
    assert message.compressed == ("compress" in options)
    assert (sent["status"], sent["error"]) == ("delivered", None)
    assert sent["message_id"] == f"<{message.message_id}>"
    assert sent["disposition"].endswith("processed")
    digest, _, named = sent["mic"].partition(",")
    assert named.strip() == f"sha-{mdn_alg[3:]}"        # the one we asked for, and keep
    # pyas2lib's MIC is by the signature's digest: when that is not what we asked for, the
    # gateway computed the MIC again by it to accept the MDN.
    assert len(base64.b64decode(message.mic)) == hashlib.new(alg).digest_size
    assert (digest == message.mic.decode()) == (mdn_alg == alg)


def test_pyas2lib_refuses_an_unsigned_message_and_the_send_fails(gateway, endpoint):
    url, received, _ = pyas2lib_receiver(gateway.peer, endpoint, sign=True, encrypt=True)
    configure(gateway, url=url, security="{sign: false}", mdn="{mode: sync, signed: true}")
    gateway.start()
    (gateway.home / "invoice.edi").write_bytes(PAYLOAD)
    gateway.command("send", "--partner", "pyas2lib", "invoice.edi")
    sent = sent_status(gateway, "delivered", "failed")
    assert received[0][0] == "processed/Error"
    assert sent["status"] == "failed" and "insufficient-message-security" in sent["error"]
