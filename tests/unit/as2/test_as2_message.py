"""Building and unwrapping AS2 messages: every protection combination, policy and hostile input."""

import base64
import hashlib
import itertools
import zlib

import pytest
from asn1crypto import cms as acms

from gateway.as2 import (
    AuthenticationFailed,
    DecompressionFailed,
    DecryptionFailed,
    InsufficientSecurity,
    UnexpectedProcessingError,
    cms,
    message,
    mime,
)

PAYLOAD = b"ISA*00*          *00*          *ZZ*PARTNER~\nGS*PO*P*G~\nST*850*0001~\n"


def _build(ours, partner, policy, payload=PAYLOAD, **kwargs):
    return message.build(
        payload, "application/edi-x12", policy, partner.key, partner.cert, ours.cert,
        as2_from="Partner Co", as2_to="gateway", filename="po.edi", **kwargs,
    )  # fmt: skip


def _unwrap(ours, partner, out, policy):
    return message.unwrap(out.headers, out.body, ours.key, ours.cert, [partner.cert], policy)


COMBINATIONS = [
    dict(sign=sign, encrypt=encrypt, compress=compress, compress_before_sign=before)
    for sign, encrypt, (compress, before) in itertools.product(
        (False, True), (False, True), ((False, True), (True, True), (True, False))
    )
    if not (compress and not before and not sign)
]


@pytest.mark.parametrize(
    "options", COMBINATIONS, ids=lambda o: "-".join(k for k, v in o.items() if v)
)
def test_round_trip_every_layering(ours, partner, options):
    policy = message.SecurityPolicy(require_signature=False, require_encryption=False, **options)
    out = _build(ours, partner, policy)
    got = _unwrap(ours, partner, out, policy)
    assert got.payload == PAYLOAD
    assert (got.content_type, got.filename) == ("application/edi-x12", "po.edi")
    assert (got.signed, got.encrypted, got.compressed) == (
        options["sign"],
        options["encrypt"],
        options["compress"],
    )
    assert got.mic == out.mic
    assert got.digest_alg == ("sha256" if options["sign"] else None)


@pytest.mark.parametrize(
    ("sign_alg", "sign_padding", "encrypt_alg", "key_transport"),
    [
        *itertools.product(
            ("sha1", "sha-256", "sha384", "SHA512"), ("pkcs1v15", "pss"), ("aes256-cbc",), ("oaep",)
        ),
        *itertools.product(
            ("sha256",),
            ("pkcs1v15",),
            ("aes128-cbc", "aes192-cbc", "aes128-gcm", "aes256-gcm", "3des"),
            ("rsa-pkcs1v15", "oaep", "oaep-sha256"),
        ),
    ],
)  # fmt: skip
def test_round_trip_every_algorithm(
    ours, partner, sign_alg, sign_padding, encrypt_alg, key_transport
):
    policy = message.SecurityPolicy(
        sign_alg=sign_alg,
        sign_padding=sign_padding,
        encrypt_alg=encrypt_alg,
        key_transport=key_transport,
        compress=True,
    )
    out = _build(ours, partner, policy)
    got = _unwrap(ours, partner, out, policy)
    assert (got.payload, got.mic, got.digest_alg) == (PAYLOAD, out.mic, cms.digest_name(sign_alg))


def test_headers_of_built_message(ours, partner):
    policy = message.SecurityPolicy(mdn_mode="async", mdn_sign_alg="sha1")
    out = _build(
        ours, partner, policy, async_mdn_url="https://gw.example/mdn", message_id="<m1@partner>"
    )
    assert out.message_id == out.headers["Message-ID"] == "<m1@partner>"
    assert out.headers["AS2-From"] == '"Partner Co"'
    assert out.headers["Content-Type"].startswith(
        "application/pkcs7-mime; smime-type=enveloped-data"
    )
    assert out.headers["Receipt-Delivery-Option"] == "https://gw.example/mdn"
    assert out.headers["Disposition-Notification-Options"].endswith("micalg=optional, sha-1")
    assert out.mic.endswith(", sha-1")
    with pytest.raises(ValueError, match="async_mdn_url"):
        _build(ours, partner, policy)


def test_mic_is_over_signed_entity(ours, partner):
    policy = message.SecurityPolicy(encrypt=False, require_encryption=False, sign_alg="sha1")
    out = _build(ours, partner, policy)
    signed_part = mime.parts(mime.from_http(out.headers, out.body))[0].raw
    assert out.mic == base64.b64encode(hashlib.sha256(signed_part).digest()).decode() + ", sha-256"


def test_mic_of_plain_message_is_over_payload_and_follows_request(ours, partner):
    policy = message.SecurityPolicy(
        sign=False, encrypt=False, require_signature=False, require_encryption=False
    )
    out = _build(ours, partner, policy)
    headers = {
        **out.headers,
        "Disposition-Notification-Options": "signed-receipt-micalg=required, md5, SHA1",
    }
    got = message.unwrap(headers, out.body, ours.key, ours.cert, [partner.cert], policy)
    assert got.mic == base64.b64encode(hashlib.sha1(PAYLOAD).digest()).decode() + ", SHA1"


def test_policy_requires_encryption(ours, partner):
    out = _build(ours, partner, message.SecurityPolicy(encrypt=False))
    with pytest.raises(InsufficientSecurity, match="not encrypted.*multipart/signed"):
        _unwrap(ours, partner, out, message.SecurityPolicy())


def test_policy_requires_signature(ours, partner):
    out = _build(ours, partner, message.SecurityPolicy(sign=False))
    with pytest.raises(InsufficientSecurity, match="no signature"):
        _unwrap(ours, partner, out, message.SecurityPolicy())


def test_signature_by_unknown_certificate(ours, partner, stranger):
    out = message.build(
        PAYLOAD, "application/edi-x12", message.SecurityPolicy(), stranger.key, stranger.cert,
        ours.cert, as2_from="x", as2_to="y",
    )  # fmt: skip
    with pytest.raises(AuthenticationFailed, match="Name: stranger.*not a certificate configured"):
        _unwrap(ours, partner, out, message.SecurityPolicy())


def test_expired_partner_certificate(ours, expired):
    out = _build(ours, expired, message.SecurityPolicy())
    with pytest.raises(AuthenticationFailed, match="CN=expired.*valid only"):
        _unwrap(ours, expired, out, message.SecurityPolicy())
    policy = message.SecurityPolicy(allow_expired_certs=True)
    assert _unwrap(ours, expired, out, policy).payload == PAYLOAD


def test_tampered_payload(ours, partner):
    policy = message.SecurityPolicy(encrypt=False, require_encryption=False)
    out = _build(ours, partner, policy)
    tampered = out._replace(body=out.body.replace(b"ST*850", b"ST*855"))
    with pytest.raises(AuthenticationFailed, match="messageDigest.*does not match"):
        _unwrap(ours, partner, tampered, policy)


def test_truncated_signed_message(ours, partner):
    policy = message.SecurityPolicy(encrypt=False, require_encryption=False)
    out = _build(ours, partner, policy)
    truncated = out._replace(body=out.body[: len(out.body) // 2])
    with pytest.raises(AuthenticationFailed, match="multipart/signed body lacks the closing"):
        _unwrap(ours, partner, truncated, policy)


def test_encrypted_for_someone_else(ours, partner, stranger):
    out = message.build(
        PAYLOAD, "application/edi-x12", message.SecurityPolicy(), partner.key, partner.cert,
        stranger.cert, as2_from="x", as2_to="y",
    )  # fmt: skip
    with pytest.raises(DecryptionFailed, match="no KeyTransRecipientInfo"):
        _unwrap(ours, partner, out, message.SecurityPolicy())


@pytest.mark.parametrize(
    "mangle", [lambda b: b[: len(b) // 2], lambda b: b"garbage" * 20, lambda b: b""]
)
def test_broken_envelope(ours, partner, mangle):
    out = _build(ours, partner, message.SecurityPolicy())
    with pytest.raises(DecryptionFailed, match="enveloped-data"):
        _unwrap(ours, partner, out._replace(body=mangle(out.body)), message.SecurityPolicy())


def test_zip_bomb(ours, partner):
    packer = zlib.compressobj(9)
    packed = packer.compress(b"Content-Type: application/edi-x12\r\n\r\n")
    packed += b"".join(packer.compress(bytes(1 << 20)) for _ in range(32)) + packer.flush()
    compressed = acms.CompressedData(
        {
            "version": "v0",
            "compression_algorithm": {"algorithm": "zlib"},
            "encap_content_info": {"content_type": "data", "content": packed},
        }
    )
    der = acms.ContentInfo({"content_type": "compressed_data", "content": compressed}).dump()
    headers = {"Content-Type": "application/pkcs7-mime; smime-type=compressed-data"}
    policy = message.SecurityPolicy(require_signature=False, require_encryption=False)
    with pytest.raises(DecompressionFailed, match="compressed-data: content expands beyond 100:1"):
        message.unwrap(headers, der, ours.key, ours.cert, [partner.cert], policy)


def test_signature_part_encodings(ours, partner):
    """Binary DER, base64 and a missing Content-Transfer-Encoding on the signature part."""
    content = b"Content-Type: application/edi-x12\n\n" + PAYLOAD  # LF: signed exactly as sent
    signature = cms.sign(content, partner.key, partner.cert)
    policy = message.SecurityPolicy(require_encryption=False)
    for encoding, body in (
        (b"Content-Transfer-Encoding: binary\r\n", signature),
        (b"", signature),
        (b"Content-Transfer-Encoding: base64\r\n", base64.encodebytes(signature)),
    ):
        multipart = (
            b"--b\n" + content + b"\n--b\nContent-Type: application/pkcs7-signature\r\n"
            + encoding + b"\r\n" + body + b"\r\n--b--\r\n"
        )  # fmt: skip
        headers = {
            "Content-Type": 'multipart/signed; protocol="application/pkcs7-signature"; boundary=b'
        }
        got = message.unwrap(headers, multipart, ours.key, ours.cert, [partner.cert], policy)
        assert got.payload == PAYLOAD


def test_base64_payload_part(ours, partner):
    content = (
        b"Content-Type: application/EDI-X12; name=po.edi\r\n"
        b"Content-Transfer-Encoding: Base64\r\n\r\n"
        + base64.encodebytes(PAYLOAD).replace(b"\n", b"\r\n")
    )
    content_type, body = mime.signed(
        content, cms.sign(content, partner.key, partner.cert), "sha-256"
    )
    policy = message.SecurityPolicy(require_encryption=False)
    got = message.unwrap(
        {"Content-Type": content_type}, body, ours.key, ours.cert, [partner.cert], policy
    )
    assert (got.payload, got.content_type, got.filename) == (
        PAYLOAD,
        "application/edi-x12",
        "po.edi",
    )


def test_lf_transport_of_crlf_signed_content(ours, partner):
    """Signed over CRLF, delivered with LF line ends: verifies through the canonical form."""
    content = (
        b"Content-Type: application/edi-x12\r\n"
        b"Content-Disposition: attachment;\r\n\tfilename=x.edi\r\n\r\n"
        + PAYLOAD.replace(b"\n", b"\r\n")
    )
    signature = base64.encodebytes(cms.sign(content, partner.key, partner.cert, "sha1"))
    multipart = (
        b"--b\n" + content.replace(b"\r\n", b"\n")
        + b"\n--b\nContent-Type: application/x-pkcs7-signature\n"
        + b"Content-Transfer-Encoding: base64\n\n"
        + signature + b"\n--b--\n"
    )  # fmt: skip
    headers = {
        "content-type": 'multipart/signed; protocol="application/x-pkcs7-signature"; '
        'micalg=sha1;\r\n boundary="b"'
    }
    policy = message.SecurityPolicy(require_encryption=False)
    got = message.unwrap(headers, multipart, ours.key, ours.cert, [partner.cert], policy)
    assert (got.payload, got.filename, got.digest_alg) == (PAYLOAD, "x.edi", "sha1")
    assert got.mic == base64.b64encode(hashlib.sha1(content).digest()).decode() + ", sha-1"


def test_multipart_signed_with_wrong_shape(ours, partner):
    policy = message.SecurityPolicy(require_encryption=False)
    headers = {
        "Content-Type": 'multipart/signed; protocol="application/pkcs7-signature"; boundary=b'
    }
    one_part = b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--\r\n"
    with pytest.raises(AuthenticationFailed, match="1 body parts, expected 2"):
        message.unwrap(headers, one_part, ours.key, ours.cert, [partner.cert], policy)
    headers = {"Content-Type": 'multipart/signed; protocol="application/pgp-signature"; boundary=b'}
    with pytest.raises(AuthenticationFailed, match="application/pgp-signature"):
        message.unwrap(headers, one_part, ours.key, ours.cert, [partner.cert], policy)


def test_opaque_signed_data_without_content(ours, partner):
    der = cms.sign(b"x", partner.key, partner.cert)  # detached: nothing to unwrap
    headers = {"Content-Type": "application/pkcs7-mime; smime-type=signed-data"}
    policy = message.SecurityPolicy(require_encryption=False)
    with pytest.raises(AuthenticationFailed, match="signed-data: SignedData is detached"):
        message.unwrap(headers, der, ours.key, ours.cert, [partner.cert], policy)


def test_unexpected_cms_type(ours, partner):
    headers = {"Content-Type": "application/pkcs7-mime; smime-type=certs-only"}
    policy = message.SecurityPolicy(require_signature=False, require_encryption=False)
    with pytest.raises(UnexpectedProcessingError, match="CMS of unknown type"):
        message.unwrap(headers, b"junk", ours.key, ours.cert, [partner.cert], policy)


@pytest.mark.parametrize(
    "bad",
    [
        {"sign_padding": "raw"},
        {"key_transport": "rsa"},
        {"mdn_mode": "later"},
        {"sign_alg": "md5"},
        {"encrypt_alg": "rc2"},
    ],
)
def test_policy_validation(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        message.SecurityPolicy(**bad)


def test_mdn_request_parsing():
    request = message.mdn_request(
        {
            "disposition-notification-to": "as2@partner",
            "Disposition-Notification-Options": (
                "signed-receipt-protocol=optional, pkcs7-signature; "
                "signed-receipt-micalg=optional, sha-256, sha1"
            ),
        }
    )
    assert request == message.MdnRequest("as2@partner", None, True, ("sha-256", "sha1"))
    assert request.mic_alg == "sha-256"
    unsigned = message.mdn_request({"Disposition-Notification-To": "x"})
    assert (unsigned.signed, unsigned.mic_alg) == (False, None)
    assert message.mdn_request({}) is None
    terse = message.mdn_request(
        {
            "Disposition-Notification-To": "x",
            "Disposition-Notification-Options": (
                "signed-receipt-protocol=pkcs7-signature;signed-receipt-micalg = SHA1"
            ),
        }
    )
    assert (terse.signed, terse.mic_alg) == (True, "SHA1")
