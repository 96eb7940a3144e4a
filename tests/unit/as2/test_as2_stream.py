"""Streaming unwrap: the same results whatever the chunk size and whether layers spill to disk,
and the same content as the whole-value readers (asn1crypto, regular expressions) give."""

import base64
import itertools
import random
import re
import shutil
import subprocess
import zlib

import pytest
from asn1crypto import cms as acms
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import padding as block_padding
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.as2 import ber, cms, message, mime, stream

PAYLOAD = b"ISA*00*          *00*          *ZZ*PARTNER~\nGS*PO*P*G~\nST*850*0001~\n" * 30


@pytest.fixture(params=["default", "tiny-chunks"])
def chunking(request, monkeypatch):
    """Default buffers, or 7-byte chunks with every layer spilled to a file."""
    if request.param == "tiny-chunks":
        for module in (ber, stream):
            monkeypatch.setattr(module, "CHUNK", 7)
        monkeypatch.setattr(stream, "SPILL_BYTES", 0)
    return request.param


def _outcome(got: message.Unwrapped) -> tuple:
    return (got.payload, got.content_type, got.filename, got.signed, got.encrypted,
            got.compressed, got.mic, got.digest_alg)  # fmt: skip


POLICIES = [
    message.SecurityPolicy(sign=sign, encrypt=encrypt, compress=compress,
                           compress_before_sign=before, sign_alg=digest, encrypt_alg=cipher,
                           require_signature=False, require_encryption=False)
    for (sign, encrypt, compress, before), digest, cipher in itertools.product(
        [(True, True, False, True), (True, True, True, True), (True, True, True, False),
         (False, True, True, True), (True, False, False, True)],
        ["sha1", "sha256", "sha512"],
        ["aes128-cbc", "aes256-gcm", "3des"],
    )
]  # fmt: skip


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: f"{p.sign_alg}-{p.encrypt_alg}")
def test_built_messages_unwrap_the_same_in_any_chunking(ours, partner, chunking, policy):
    out = message.build(
        PAYLOAD, "application/edi-x12", policy, partner.key, partner.cert, ours.cert,
        as2_from="p", as2_to="g", filename="po.edi",
    )  # fmt: skip
    got = message.unwrap(out.headers, out.body, ours.key, ours.cert, [partner.cert], policy)
    assert _outcome(got)[:1] + _outcome(got)[6:7] == (PAYLOAD, out.mic)
    assert got.signed == policy.sign and got.compressed == policy.compress


def _signed_multipart(partner, content: bytes, eol: bytes, signature_encoding: str) -> bytes:
    signature = cms.sign(content.replace(eol, b"\r\n"), partner.key, partner.cert)
    if signature_encoding == "base64":
        encoded = b"Content-Transfer-Encoding: base64" + eol + eol + base64.encodebytes(signature)
    else:
        encoded = eol + signature
    return (
        b"preamble" + eol + b"--b" + eol + content + eol + b"--b" + eol
        + b"Content-Type: application/pkcs7-signature" + eol + encoded + eol + b"--b--" + eol
    )  # fmt: skip


@pytest.mark.parametrize("eol", [b"\r\n", b"\n"], ids=["crlf", "lf"])
@pytest.mark.parametrize("payload_encoding", ["binary", "base64", "quoted-printable"])
@pytest.mark.parametrize("signature_encoding", ["binary", "base64"])
def test_signed_parts_in_every_encoding(
    ours, partner, chunking, eol, payload_encoding, signature_encoding
):
    if payload_encoding == "base64":
        body = base64.encodebytes(PAYLOAD).replace(b"\n", eol)
    elif payload_encoding == "quoted-printable":
        body = PAYLOAD.replace(b"*", b"=2A").replace(b"\n", eol)
    else:
        body = PAYLOAD.replace(b"\n", eol)
    content = (
        b"Content-Type: application/edi-x12; name=po.edi" + eol
        + b"Content-Transfer-Encoding: " + payload_encoding.encode() + eol + eol + body
    )  # fmt: skip
    body = _signed_multipart(partner, content, eol, signature_encoding)
    headers = {
        "Content-Type": 'multipart/signed; protocol="application/pkcs7-signature"; boundary=b',
        "Disposition-Notification-To": "x",
        "Disposition-Notification-Options": "signed-receipt-micalg=optional, sha1",
    }
    policy = message.SecurityPolicy(require_encryption=False)
    got = message.unwrap(headers, body, ours.key, ours.cert, [partner.cert], policy)
    assert got.payload == (PAYLOAD if payload_encoding == "base64" else PAYLOAD.replace(b"\n", eol))
    assert got.filename == "po.edi" and got.digest_alg == "sha256"
    assert got.mic == cms.mic(content.replace(eol, b"\r\n"), "sha1")


def _reference_decrypt(der: bytes, key) -> bytes:
    """Whole-value decryption as asn1crypto reads the envelope."""
    envelope = acms.ContentInfo.load(der)["content"]
    ktri = envelope["recipient_infos"][0].chosen
    cek = key.decrypt(ktri["encrypted_key"].native, padding.PKCS1v15())
    if isinstance(envelope, acms.AuthEnvelopedData):
        info = envelope["auth_encrypted_content_info"]
        nonce = cms._GcmParameters.load(info["content_encryption_algorithm"]["parameters"].dump())
        return AESGCM(cek).decrypt(
            nonce["aes_nonce"].native,
            info["encrypted_content"].native + envelope["mac"].native,
            None,
        )
    info = envelope["encrypted_content_info"]
    alg = info["content_encryption_algorithm"]
    block = TripleDES(cek) if len(cek) == 24 and "des" in alg["algorithm"].native else None
    block = block or algorithms.AES(cek)
    decryptor = Cipher(block, modes.CBC(alg["parameters"].native)).decryptor()
    unpadder = block_padding.PKCS7(block.block_size).unpadder()
    plain = decryptor.update(info["encrypted_content"].native) + decryptor.finalize()
    return unpadder.update(plain) + unpadder.finalize()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
@pytest.mark.parametrize("cipher", ["-aes128", "-aes256", "-des3", "-aes-256-gcm"])
@pytest.mark.parametrize("stream_ber", [False, True], ids=["der", "ber"])
def test_streamed_decryption_matches_asn1crypto(ours, tmp_path, chunking, cipher, stream_ber):
    data = tmp_path / "data"
    data.write_bytes(random.Random(cipher).randbytes(50_000))
    der = subprocess.run(
        ["openssl", "cms", "-encrypt", "-binary", cipher, "-in", data, "-outform", "DER",
         "-recip", ours.cert_path, *(["-stream"] if stream_ber else [])],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    assert (der[1] == 0x80) == stream_ber
    assert cms.decrypt(der, ours.key, ours.cert) == _reference_decrypt(der, ours.key)
    assert cms.decrypt(der, ours.key, ours.cert) == data.read_bytes()


@pytest.mark.parametrize("size", [0, 1, 1000, 300_000])
def test_streamed_decompression_matches_zlib(chunking, size):
    payload = random.Random(size).randbytes(size // 2) + bytes(size - size // 2)
    der = cms.compress(payload)
    packed = acms.ContentInfo.load(der)["content"]["encap_content_info"]["content"].native
    assert cms.decompress(der, 1 << 30, 1000) == zlib.decompress(packed) == payload


def _regex_delimiters(body: bytes, boundary: bytes) -> list[tuple[int, int, bool]]:
    """RFC 2046 delimiters found by one regular expression over the whole body."""
    delimiter = re.compile(rb"(?:^|\r?\n)--" + re.escape(boundary) + rb"(--)?[ \t]*(?:\r?\n|$)")
    return [(m.start(), m.end(), bool(m.group(1))) for m in delimiter.finditer(body)]


def test_multipart_scanning_matches_the_regular_expression(monkeypatch):
    pieces = [b"--b", b"--b--", b"\r\n", b"\n", b"\r", b" ", b"\t", b"-", b"x", b"\r\n\r\n"]
    generator = random.Random(5)
    for chunk in (3, 1 << 20):
        monkeypatch.setattr(stream, "CHUNK", chunk)
        for _ in range(3000):
            body = b"".join(generator.choice(pieces) for _ in range(generator.randint(0, 14)))
            got = list(mime._delimiters(stream.Span.of(body), b"--b"))
            assert got == _regex_delimiters(body, b"b"), body


def test_parts_of_a_multipart_in_a_file(tmp_path, monkeypatch):
    monkeypatch.setattr(stream, "CHUNK", 5)
    first = b"Content-Type: a/b\n\n" + PAYLOAD
    body = b"--b \r\n" + first + b"\r\n--b\nContent-Type: c/d\r\n\r\nx\n--b--\n"
    path = tmp_path / "body"
    path.write_bytes(b"junk before" + body + b"junk after")
    with open(path, "rb") as f:
        span = stream.Span(f, len(b"junk before"), len(b"junk before") + len(body))
        entity = mime.from_http({"Content-Type": "multipart/mixed; boundary=b"}, span)
        parts = mime.parts(entity)
        assert [p.raw for p in parts] == [first, b"Content-Type: c/d\r\n\r\nx"]
        assert parts[0].content.read() == PAYLOAD and parts[0].whole.read() == first


def test_canonical_form_in_any_chunking():
    generator = random.Random(9)
    for _ in range(2000):
        data = bytes(generator.choice(b"\r\nab") for _ in range(generator.randint(0, 30)))
        size = generator.randint(1, 5)
        canon = stream.Canonical()
        got = b"".join(canon(data[i : i + size]) for i in range(0, len(data), size))
        assert got == re.sub(rb"\r?\n", b"\r\n", data)
        assert canon.changed == (got != data)


def test_digests_of_the_exact_and_the_canonical_form(monkeypatch):
    data = b"a\nb\r\nc\n"
    digests = stream.Digests(stream.Span.of(data), cms.hash_algorithm)
    passes = []
    chunks = stream.Span.chunks
    monkeypatch.setattr(stream.Span, "chunks", lambda span: passes.append(1) or chunks(span))
    assert digests.exact("sha256") == cms.digest(data, "sha256")
    assert len(passes) == 1   # no canonical pass until one is asked for
    assert digests.canonical_differs
    assert digests.canonical("sha256") == cms.digest(b"a\r\nb\r\nc\r\n", "sha256")
    assert digests.exact("sha256") == cms.digest(data, "sha256") and len(passes) == 3
    assert not stream.Digests(stream.Span.of(b"a\r\n"), cms.hash_algorithm).canonical_differs
