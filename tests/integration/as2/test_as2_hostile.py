"""Hostile input to the real daemon over real HTTP(S) on 127.0.0.1: header injection, uploads cut
off, a kill between commit and answer, client certificates, and broken or malicious messages.
Each case checks the answer on the wire, what the store holds and what was counted."""

from __future__ import annotations

import datetime as dt
import email
import hashlib
import json
import os
import signal
import socket
import ssl
import threading
import zlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from cryptography.x509.oid import NameOID

from gateway.as2 import mime
from gateway.as2.message import SecurityPolicy
from gateway.certs import self_signed
from tests.integration.as2.as2_support import (
    PARTNER_AS2,
    PARTNER_YAML,
    PAYLOAD,
    Peer,
    head_bytes,
    metric,
    raw_post,
)
from tests.support import free_port, wait_for, write_partner

UNSIGNED = SecurityPolicy(sign=False)   # the partner's policy requires a signature


@pytest.fixture
def gw(home, daemons):
    gateway = daemons({"GATEWAY_AS2_MAX_BODY_BYTES": str(256 * 1024)})
    gateway.command("certs", "init")
    gateway.peer = Peer(home)
    write_partner(home, "partner", PARTNER_YAML.format(port=free_port(), as2=PARTNER_AS2))
    return gateway.start()


def notification(body: bytes, content_type: str) -> str:
    """The message/disposition-notification part of an MDN, as text."""
    entity = mime.from_http({"Content-Type": content_type}, body)
    if entity.content_type == "multipart/signed":
        entity = mime.parts(entity)[0]
    part = next(p for p in mime.parts(entity)
                if p.content_type == "message/disposition-notification")
    return part.decoded().decode("latin-1")


def dispositions(fields: str) -> list[str]:
    """Disposition fields as a peer parsing text with Python's email package sees them (its
    parser breaks lines where str.splitlines() does, NEL and form feed included)."""
    return email.message_from_string(fields).get_all("Disposition") or []


def spool(home):
    return list((home / "var" / "spool").iterdir())


def test_line_breaks_in_as2_headers_are_refused_or_neutralised(gw, home):
    peer, port = gw.peer, gw.as2_port
    forged = b"Disposition: automatic-action/MDN-sent-automatically; processed"

    # Folded onto a continuation line: HTTP unfolds it into one value; the MDN keeps it on one
    # line, so the negative disposition stands.
    out = peer.build(policy=UNSIGNED, message_id="<fold@partner>")
    status, headers, body = raw_post(port, head_bytes(out.headers, {
        "Message-ID": b"<fold@partner>\r\n " + forged}), out.body)
    fields = notification(body, headers["Content-Type"])
    assert status == 200
    assert dispositions(fields) == [
        "automatic-action/MDN-sent-automatically; processed/error: insufficient-message-security"]
    assert peer.mdn(dict(headers), body).modifier == "error: insufficient-message-security"

    # NEL (U+0085) in Message-ID and AS2-To: a line break to Python's email parser, so the MDN
    # and the response's header fields carry a space instead.
    out = peer.build(policy=UNSIGNED, message_id="<nel@partner>")
    status, headers, body = raw_post(port, head_bytes(out.headers, {
        "Message-ID": b"<nel@partner>\x85" + forged, "AS2-To": b"GATEWAY\x85X-Injected: yes"}),
        out.body)
    fields = notification(body, headers["Content-Type"])
    assert status == 200 and "X-Injected" not in headers
    assert headers["AS2-From"] == "GATEWAY X-Injected: yes"
    assert dispositions(fields) == [
        "automatic-action/MDN-sent-automatically; processed/error: unknown-trading-partner"]
    assert "Original-Message-ID: <nel@partner> Disposition: " in fields

    # Encoded line breaks are text, not line breaks: the message is taken in as it is.
    encoded = "<enc@partner>=?utf-8?q?=0D=0ADisposition:_processed?=%0D%0A"
    out = peer.build(message_id=encoded)
    status, headers, body = raw_post(port, head_bytes(out.headers), out.body)
    receipt = peer.mdn(dict(headers), body)
    assert status == 200 and receipt.ok and receipt.original_message_id == encoded
    assert len(dispositions(notification(body, headers["Content-Type"]))) == 1

    stored = {m["message_id"]: m for m in gw.messages()}
    assert stored["<fold@partner> " + forged.decode()]["disposition"] == \
        "processed/error: insufficient-message-security"
    assert stored["<nel@partner>\x85" + forged.decode()]["status"] == "rejected"
    assert stored[encoded]["status"] in ("accepted", "routed", "delivered")
    before = len(stored)

    # Refused before anything is recorded: control characters our check finds, a field given
    # twice by a CR LF in a value, and a bare LF (refused by the HTTP parser itself).
    refused = [
        ({"Subject": b"order\x0c" + forged}, 400, b"header Subject contains a control character"),
        ({"Disposition-Notification-To": b"as2@partner\x0bX-Injected: yes"}, 400,
         b"header Disposition-Notification-To contains a control character"),
        ({"AS2-From": PARTNER_AS2.encode() + b"\r\nAS2-From: STRANGER"}, 400,
         b"header AS2-From appears 2 times; AS2 allows it once"),
        ({"Message-ID": b"<lf@partner>\n" + forged}, 400, b""),
    ]
    for replace, code, text in refused:
        out = peer.build()
        status, headers, body = raw_post(port, head_bytes(out.headers, replace), out.body)
        assert (status, body.strip()) == (code, text)
        assert b"Injected" not in body and b"STRANGER" not in body and "X-Injected" not in headers
    assert len(gw.messages()) == before and spool(home) == []
    page = gw.metrics()
    assert metric(page, "gateway_rejected_total", transport="as2", reason="bad-header") == 3
    assert metric(page, "gateway_rejected_total", transport="as2", reason="bad-request") == 1
    assert metric(page, "gateway_as2_messages_total", partner="partner", direction="inbound",
                  disposition="insufficient-message-security") == 1
    assert metric(page, "gateway_as2_messages_total", partner="partner", direction="inbound",
                  disposition="unknown-trading-partner") == 1


def test_upload_cut_off_midway_is_discarded_and_counted(gw, home):
    out = gw.peer.build()
    head = head_bytes(out.headers)
    with socket.create_connection(("127.0.0.1", gw.as2_port)) as sock:
        sock.sendall(b"POST /as2 HTTP/1.1\r\nHost: gateway\r\n" + head
                     + f"Content-Length: {len(out.body)}\r\n\r\n".encode()
                     + out.body[:len(out.body) // 2])
        wait_for(lambda: spool(home), what="the upload to reach the spool")
    wait_for(lambda: metric(gw.metrics(), "gateway_rejected_total", transport="as2",
                            reason="interrupted") == 1, what="the cut-off upload counted")
    assert spool(home) == [] and gw.messages() == []
    assert not list((home / "var" / "archive").rglob("*"))
    status, headers, body = gw.peer.post(gw.as2_port, out)   # and the gateway goes on serving
    assert status == 200 and gw.peer.mdn(headers, body).ok
    assert [m["message_id"] for m in gw.messages()] == [out.message_id]


def test_killed_between_commit_and_answer_the_resend_is_answered_and_processed_once(gw, home):
    """The partner certificate sits on storage that hangs (a FIFO nobody writes to): the
    gateway records the message, then stalls before it can unwrap it and answer, and is killed
    there. After a restart the partner's resend gets its MDN and the payload is delivered once."""
    peer = gw.peer
    out = peer.build()
    cert = home / "certs" / "partners" / "partner.pem"
    cert.rename(cert.with_suffix(".good"))
    os.mkfifo(cert)
    answers = []

    def partner_sends():
        try:
            answers.append(peer.post(gw.as2_port, out))
        except OSError as e:   # the connection dies with the gateway
            answers.append(e)

    sender = threading.Thread(target=partner_sends)
    sender.start()
    wait_for(lambda: gw.messages(), timeout=30, what="the message recorded")
    assert gw.stop(signal.SIGKILL) == -signal.SIGKILL
    sender.join(30)
    assert len(answers) == 1 and isinstance(answers[0], OSError)   # no MDN was sent
    (message,) = gw.messages()
    assert (message["message_id"], message["status"]) == (out.message_id, "received")

    cert.unlink()
    cert.with_suffix(".good").rename(cert)
    gw.start()
    status, headers, body = peer.post(gw.as2_port, out)
    receipt = peer.mdn(headers, body)
    assert status == 200 and receipt.ok and receipt.modifier is None
    assert receipt.mic_matches(out.mic)
    delivered = wait_for(lambda: list((home / "out").glob("*_po.edi")), what="delivered")
    wait_for(lambda: gw.messages()[0]["status"] == "delivered", what="message delivered")
    status, headers, body = peer.post(gw.as2_port, out)   # the partner tries once more
    assert peer.mdn(headers, body).modifier == "warning: duplicate-document"
    (message,) = gw.messages()
    assert message["status"] == "delivered"
    shown = json.loads(gw.command("messages", "show", message["id"], "--json").stdout)
    assert [e["status"] for e in shown["events"]].count("routed") == 1   # routed once, inline
    assert [j["kind"] for j in shown["jobs"]].count("deliver") == 1
    assert len(delivered) == 1 and delivered[0].read_bytes() == PAYLOAD
    assert len(list((home / "out").iterdir())) == 1
    page = gw.metrics()
    assert metric(page, "gateway_as2_messages_total", partner="partner", direction="inbound",
                  disposition="processed") == 1
    assert metric(page, "gateway_as2_messages_total", partner="partner", direction="inbound",
                  disposition="duplicate-document") == 1


def client_context(ca: bytes, pair: tuple[bytes, bytes] | None, tmp) -> ssl.SSLContext:
    context = ssl.create_default_context(cadata=ca.decode())
    context.check_hostname = False
    if pair:
        key, cert = tmp / "client.key", tmp / "client.crt"
        key.write_bytes(pair[0])
        cert.write_bytes(pair[1])
        context.load_cert_chain(cert, key)
    return context


def test_https_with_client_certificates_accepts_the_partner_and_refuses_others(home, daemons,
                                                                                tmp_path):
    tls_port = free_port()
    partner_tls = self_signed("partner-tls-client", key_size=2048)
    other_partner_tls = self_signed("other-partner-tls-client", key_size=2048)
    stranger_tls = self_signed("stranger", key_size=2048)
    (home / "certs" / "tls").mkdir(parents=True)
    # Two partners' client certificates in one file: the second one must be trusted too.
    (home / "certs/tls/clients.pem").write_bytes(other_partner_tls[1] + partner_tls[1])
    gw = daemons({"GATEWAY_AS2_TLS_PORT": str(tls_port), "GATEWAY_AS2_TLS_CERT": "tls/server.crt",
                  "GATEWAY_AS2_TLS_KEY": "tls/server.key",
                  "GATEWAY_AS2_CLIENT_CA": "tls/clients.pem"})
    gw.command("certs", "init")
    peer = Peer(home)
    write_partner(home, "partner", PARTNER_YAML.format(port=free_port(), as2=PARTNER_AS2))
    gw.start()
    server_cert = (home / "certs/tls/server.crt").read_bytes()

    out = peer.build()
    status, headers, body = peer.post(tls_port, out, scheme="https",
                                      context=client_context(server_cert, partner_tls, tmp_path))
    receipt = peer.mdn(headers, body)
    assert status == 200 and receipt.ok and receipt.mic_matches(out.mic)

    for pair in (None, stranger_tls):
        context = client_context(server_cert, pair, tmp_path)
        with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
            with socket.create_connection(("127.0.0.1", tls_port), timeout=10) as raw:
                with context.wrap_socket(raw) as tls:
                    # TLS 1.3 clients learn of the refusal when they read
                    tls.sendall(b"POST /as2 HTTP/1.1\r\nHost: gateway\r\nContent-Length: 0\r\n\r\n")
                    tls.recv(1024)
    wait_for(lambda: sum_metric(gw.metrics(), "gateway_tls_handshake_failures_total") == 2,
             what="both handshake failures counted")
    page = gw.metrics()
    assert metric(page, "gateway_tls_handshake_failures_total", listener="as2",
                  reason="peer-did-not-return-a-certificate") == 1
    assert metric(page, "gateway_tls_handshake_failures_total", listener="as2",
                  reason="certificate-verify-failed") == 1
    assert [m["message_id"] for m in gw.messages()] == [out.message_id]


def sum_metric(page: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in page.splitlines()
               if line.startswith(name + "{"))


def expired_pair() -> tuple[object, bytes]:
    key_pem, _ = self_signed("unused", key_size=2048)
    key = load_pem_private_key(key_pem, None)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "partner (expired)")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=400))
            .not_valid_after(now - dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    return key, cert.public_bytes(serialization.Encoding.PEM)


@pytest.mark.parametrize("case, expected", [
    ("expired signer", "authentication-failed"),
    ("truncated cms", "decryption-failed"),
    ("garbage body", "decryption-failed"),
    ("garbage signature", "authentication-failed"),
    ("decompression bomb", "decompression-failed"),
    ("form submission", "insufficient-message-security"),   # not parsed as a form: refused
])
def test_broken_and_malicious_messages_get_their_disposition(gw, home, case, expected):
    peer = gw.peer
    headers = None
    if case == "expired signer":
        key, cert_pem = expired_pair()
        (home / "certs/partners/partner.pem").write_bytes(cert_pem)   # re-read on change
        out = peer.build(key=key, cert=x509.load_pem_x509_certificate(cert_pem))
        body = out.body
    elif case == "truncated cms":
        out = peer.build()
        body = out.body[: len(out.body) // 2]
    elif case == "garbage body":
        out = peer.build()
        body = os.urandom(4096)
    elif case == "garbage signature":
        out = peer.build(policy=SecurityPolicy(encrypt=False))
        boundary = mime.from_http(out.headers, out.body).param("boundary").encode()
        signed_part, _, _ = out.body.rpartition(b"--" + boundary)
        body = signed_part.rpartition(b"\r\n--" + boundary)[0] + (
            b"\r\n--" + boundary + b"\r\nContent-Type: application/pkcs7-signature\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\nZ2FyYmFnZQ==\r\n--" + boundary + b"--\r\n")
    elif case == "form submission":
        out = peer.build()
        headers = dict(out.headers, **{"Content-Type": "application/x-www-form-urlencoded"})
        body = b"order=1&sku=SKU-000001"
    else:
        bomb = b"\0" * (20 * 1024 * 1024)    # 20 MiB of zeros squeeze to ~20 KiB
        out = peer.build(payload=bomb, policy=SecurityPolicy(compress=True))
        body = out.body
        assert len(body) < 64 * 1024 and len(zlib.compress(bomb)) < 64 * 1024
    status, answer_headers, answer = peer.post(gw.as2_port, out, body=body, headers=headers)
    receipt = peer.mdn(answer_headers, answer)
    assert status == 200 and not receipt.ok and receipt.modifier == f"error: {expected}"
    assert "Traceback" not in receipt.text
    (message,) = gw.messages()
    assert message["status"] == "rejected" and message["disposition"] == \
        f"processed/error: {expected}"
    assert message["sha256"] == hashlib.sha256(body).hexdigest() and message["error"]
    assert receipt.text.strip().endswith(message["error"])
    page = gw.metrics()
    assert metric(page, "gateway_rejected_total", transport="as2", reason=expected) == 1
    assert metric(page, "gateway_as2_messages_total", partner="partner", direction="inbound",
                  disposition=expected) == 1
    assert metric(page, "gateway_as2_message_bytes_total", partner="partner",
                  direction="inbound", disposition=expected) == len(body)
    assert not (home / "out").exists()


def test_replayed_message_id_with_other_content_is_not_processed_again(gw, home):
    peer = gw.peer
    first = peer.build(message_id="<replay@partner>")
    status, headers, body = peer.post(gw.as2_port, first)
    assert status == 200 and peer.mdn(headers, body).ok
    wait_for(lambda: list((home / "out").glob("*_po.edi")), what="first delivered")
    replay = peer.build(payload=b"ISA*REPLAYED~", message_id="<replay@partner>")
    status, headers, body = peer.post(gw.as2_port, replay)
    receipt = peer.mdn(headers, body)
    assert status == 200 and receipt.modifier == "warning: duplicate-document"
    assert receipt.mic_matches(first.mic)   # the answer given before, for what was received then
    (message,) = gw.messages()
    assert message["payload_sha256"] == hashlib.sha256(PAYLOAD).hexdigest()
    (delivered,) = (home / "out").iterdir()
    assert delivered.read_bytes() == PAYLOAD
    page = gw.metrics()
    assert metric(page, "gateway_messages_total", partner="partner", direction="inbound",
                  status="duplicate") == 1
    assert metric(page, "gateway_as2_messages_total", partner="partner", direction="inbound",
                  disposition="duplicate-document") == 1


def test_oversized_chunked_body_is_refused_while_streaming(gw, home):
    out = gw.peer.build(payload=os.urandom(300 * 1024), policy=SecurityPolicy(encrypt=False))
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(out.body[i:i + 65536]), out.body[i:i + 65536])
                      for i in range(0, len(out.body), 65536)) + b"0\r\n\r\n"
    with socket.create_connection(("127.0.0.1", gw.as2_port), timeout=30) as sock:
        sock.sendall(b"POST /as2 HTTP/1.1\r\nHost: gateway\r\nTransfer-Encoding: chunked\r\n"
                     + head_bytes(out.headers) + b"\r\n")
        try:
            sock.sendall(chunks)
        except OSError:
            pass    # the gateway may close before the rest arrives
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413 ") and b"larger than this gateway accepts" in answer
    assert gw.messages() == [] and spool(home) == []
    assert metric(gw.metrics(), "gateway_rejected_total", transport="as2",
                  reason="too-large") == 1
