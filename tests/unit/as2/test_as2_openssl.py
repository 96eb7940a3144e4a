"""Interop with an independent CMS/S/MIME implementation: the `openssl` command-line tool."""

import base64
import email
import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
from asn1crypto import cms as acms

from gateway.as2 import cms, message

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")

DATA = b"ISA*00*          *00*          *ZZ*SENDER~\r\nGS*PO*S*R~\r\n"
# The payload entity as a partner's tool writes it: LF line ends and a folded header.
ENTITY = (
    b'Content-Type: application/edi-x12\nContent-Disposition: attachment;\n filename="po 1.edi"\n'
    b"\nISA*00~\nGS*PO~\n"
)
LENIENT = message.SecurityPolicy(require_encryption=False)


def openssl(*args: object, stdin: bytes | None = None) -> bytes:
    done = subprocess.run(
        ["openssl", *map(str, args)], input=stdin, capture_output=True, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.write_bytes(DATA)
    return path


def _cms_sign(partner, path: Path, *options: str) -> bytes:
    return openssl(
        "cms", "-sign", "-binary", "-in", path, "-signer", partner.cert_path,
        "-inkey", partner.key_path, "-outform", "DER", *options,
    )  # fmt: skip


@pytest.mark.parametrize("md", ["sha1", "sha256", "sha384", "sha512"])
@pytest.mark.parametrize(
    "options",
    [(), ("-stream",), ("-keyid",), ("-keyopt", "rsa_padding_mode:pss")],
    ids=["pkcs1", "stream-ber", "ski-signer-id", "pss"],
)
def test_openssl_signature_verifies(partner, ours, data_file, md, options):
    signature = _cms_sign(partner, data_file, "-md", md, *options)
    signer = acms.ContentInfo.load(signature)["content"]["signer_infos"][0]
    assert signer["sid"].name == (
        "subject_key_identifier" if "-keyid" in options else "issuer_and_serial_number"
    )
    assert signer["signature_algorithm"].signature_algo == (
        "rsassa_pss" if "-keyopt" in options else "rsassa_pkcs1v15"
    )
    assert (signature[1] == 0x80) == ("-stream" in options)  # BER indefinite length
    assert cms.verify(DATA, signature, [ours.cert, partner.cert]) == md


@pytest.mark.parametrize("alg", ["sha1", "sha256", "sha384", "sha512"])
@pytest.mark.parametrize("rsa_padding", ["pkcs1v15", "pss"])
def test_our_signature_verifies_in_openssl(ours, data_file, tmp_path, alg, rsa_padding):
    signature = tmp_path / "sig.der"
    signature.write_bytes(cms.sign(DATA, ours.key, ours.cert, alg, rsa_padding))
    openssl(
        "cms", "-verify", "-binary", "-inform", "DER", "-in", signature, "-content", data_file,
        "-CAfile", ours.cert_path, "-purpose", "any", "-out", "/dev/null",
    )  # fmt: skip


@pytest.mark.parametrize("cipher", ["-aes128", "-aes256", "-des3", "-aes-128-gcm", "-aes-256-gcm"])
@pytest.mark.parametrize("oaep", [False, True], ids=["pkcs1", "oaep"])
@pytest.mark.parametrize("stream", [False, True], ids=["der", "stream-ber"])
def test_openssl_encryption_decrypts(ours, data_file, cipher, oaep, stream):
    options = ["-keyopt", "rsa_padding_mode:oaep"] if oaep else []
    if stream:
        options.append("-stream")
    der = openssl(
        "cms", "-encrypt", "-binary", cipher, "-in", data_file, "-outform", "DER",
        "-recip", ours.cert_path, *options,
    )  # fmt: skip
    if stream:
        assert der[1] == 0x80  # indefinite length
    assert cms.decrypt(der, ours.key, ours.cert) == DATA


def test_openssl_multi_recipient_envelope(ours, stranger, data_file):
    der = openssl(
        "cms", "-encrypt", "-binary", "-aes256", "-in", data_file, "-outform", "DER",
        "-recip", stranger.cert_path, "-recip", ours.cert_path,
    )  # fmt: skip
    assert cms.decrypt(der, ours.key, ours.cert) == DATA


@pytest.mark.parametrize("cipher", ["aes128-cbc", "aes192-cbc", "aes256-cbc", "aes128-gcm", "3des"])
@pytest.mark.parametrize("key_transport", ["rsa-pkcs1v15", "oaep", "oaep-sha256"])
def test_our_encryption_decrypts_in_openssl(partner, tmp_path, cipher, key_transport):
    envelope = tmp_path / "enc.der"
    envelope.write_bytes(cms.encrypt(DATA, partner.cert, cipher, key_transport))
    plain = openssl(
        "cms", "-decrypt", "-binary", "-inform", "DER", "-in", envelope,
        "-inkey", partner.key_path, "-recip", partner.cert_path,
    )  # fmt: skip
    assert plain == DATA


def _split(smime: bytes) -> tuple[dict[str, str], bytes]:
    head, _, body = smime.partition(b"\n\n")
    return dict(email.message_from_bytes(head + b"\n\n").items()), body


AS2_HEADERS = {
    "AS2-From": '"Partner Co"',
    "AS2-To": "gateway",
    "Message-ID": "<openssl-1@partner>",
    "Disposition-Notification-To": "as2@partner",
    "Disposition-Notification-Options": (
        "signed-receipt-protocol=optional, pkcs7-signature; signed-receipt-micalg=optional, sha1"
    ),
}


def _expected_mic(signed_bytes: bytes) -> str:
    return base64.b64encode(hashlib.sha1(signed_bytes).digest()).decode() + ", sha1"


@pytest.mark.parametrize(
    ("command", "signer_options"),
    [
        (("smime", "-sign"), ()),  # text mode: signs the CRLF-canonical form, sends it canonical
        (("cms", "-sign", "-binary"), ()),  # signs and sends the exact LF bytes
        (("cms", "-sign", "-binary", "-stream"), ()),
        (("cms", "-sign", "-binary"), ("-keyopt", "rsa_padding_mode:pss")),
    ],
    ids=["smime-text", "cms-binary", "cms-binary-stream", "cms-pss"],
)
@pytest.mark.parametrize("encrypt", [False, True], ids=["signed", "signed-encrypted"])
def test_openssl_as2_message_unwraps(ours, partner, tmp_path, command, signer_options, encrypt):
    entity = tmp_path / "entity"
    entity.write_bytes(ENTITY)
    signed = openssl(
        *command, "-in", entity, "-signer", partner.cert_path, *signer_options,
        "-inkey", partner.key_path,
    )  # fmt: skip
    if encrypt:
        signed_file = tmp_path / "signed.eml"
        signed_file.write_bytes(signed)
        body = openssl(
            "cms", "-encrypt", "-binary", "-aes256", "-in", signed_file, "-outform", "DER",
            "-recip", ours.cert_path,
        )  # fmt: skip
        headers = {"Content-Type": "application/pkcs7-mime; smime-type=enveloped-data"}
    else:
        headers, body = _split(signed)
    policy = message.SecurityPolicy(require_encryption=encrypt)
    got = message.unwrap(
        {**AS2_HEADERS, **headers}, body, ours.key, ours.cert, [partner.cert], policy
    )
    binary = "-binary" in command
    assert got.payload.replace(b"\r\n", b"\n") == b"ISA*00~\nGS*PO~\n"
    assert (got.signed, got.encrypted, got.filename) == (True, encrypt, "po 1.edi")
    signed_entity = ENTITY if binary else ENTITY.replace(b"\n", b"\r\n")
    assert got.mic == _expected_mic(signed_entity)


@pytest.mark.parametrize(
    "policy",
    [
        message.SecurityPolicy(),
        message.SecurityPolicy(sign_alg="sha512", sign_padding="pss", encrypt_alg="aes128-gcm"),
        message.SecurityPolicy(encrypt_alg="3des", key_transport="oaep", sign_alg="sha1"),
    ],
    ids=["default", "pss-gcm", "3des-oaep"],
)
def test_our_as2_message_opens_in_openssl(ours, partner, tmp_path, policy):
    out = message.build(
        DATA, "application/edi-x12", policy, ours.key, ours.cert, partner.cert,
        as2_from="gateway", as2_to="Partner Co", filename="po.edi",
    )  # fmt: skip
    envelope = tmp_path / "body.der"
    envelope.write_bytes(out.body)
    decrypted = tmp_path / "decrypted.eml"
    decrypted.write_bytes(
        openssl(
            "cms", "-decrypt", "-binary", "-inform", "DER", "-in", envelope,
            "-inkey", partner.key_path, "-recip", partner.cert_path,
        )
    )  # fmt: skip
    # Not -binary: openssl's binary multipart reader keeps the CR of the CRLF that RFC 2046
    # assigns to the delimiter. Our signed entity is CRLF already, so text mode changes nothing.
    content = openssl(
        "cms", "-verify", "-in", decrypted, "-CAfile", ours.cert_path, "-purpose", "any",
    )  # fmt: skip
    assert content.endswith(b"\r\n\r\n" + DATA)
    assert b'filename="po.edi"' in content
    digest = hashlib.new(cms.digest_name(policy.mdn_sign_alg), content).digest()
    assert out.mic == base64.b64encode(digest).decode() + ", " + cms.micalg(policy.mdn_sign_alg)


@pytest.mark.parametrize(
    "command",
    [("smime", "-sign", "-nodetach"), ("cms", "-sign", "-nodetach", "-binary", "-stream")],
    ids=["smime-base64", "cms-binary-stream"],
)
def test_openssl_opaque_signed_data_unwraps(ours, partner, tmp_path, command):
    """application/pkcs7-mime; smime-type=signed-data: the content travels inside the CMS."""
    entity = tmp_path / "entity"
    entity.write_bytes(ENTITY)
    headers, body = _split(
        openssl(*command, "-in", entity, "-signer", partner.cert_path, "-inkey", partner.key_path)
    )
    assert headers["Content-Type"].startswith("application/")  # x-pkcs7-mime or pkcs7-mime
    policy = message.SecurityPolicy(require_encryption=False)
    got = message.unwrap(
        {**AS2_HEADERS, **headers}, body, ours.key, ours.cert, [partner.cert], policy
    )
    assert got.payload.replace(b"\r\n", b"\n") == b"ISA*00~\nGS*PO~\n"
    assert (got.signed, got.digest_alg, got.filename) == (True, "sha256", "po 1.edi")
    signed_entity = ENTITY if "-binary" in command else ENTITY.replace(b"\n", b"\r\n")
    assert got.mic == _expected_mic(signed_entity)


def test_unsigned_plain_message_from_openssl_tools(ours, partner, tmp_path):
    """An encrypted-only message: MIC is over the decrypted entity (RFC 4130 §7.3.1)."""
    entity = tmp_path / "entity"
    entity.write_bytes(ENTITY)
    body = openssl(
        "cms", "-encrypt", "-binary", "-aes-128-gcm", "-in", entity, "-outform", "DER",
        "-recip", ours.cert_path,
    )  # fmt: skip
    headers = {**AS2_HEADERS, "Content-Type": "application/pkcs7-mime; smime-type=enveloped-data"}
    policy = message.SecurityPolicy(require_signature=False)
    got = message.unwrap(headers, body, ours.key, ours.cert, [partner.cert], policy)
    assert (got.signed, got.encrypted, got.payload) == (False, True, b"ISA*00~\nGS*PO~\n")
    assert got.mic == _expected_mic(ENTITY.replace(b"\n", b"\r\n"))
