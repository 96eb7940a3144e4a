"""CMS sign/verify, encrypt/decrypt and compress/decompress round trips and hostile input."""

import zlib

import pytest
from asn1crypto import cms as acms

from gateway.as2 import (
    AuthenticationFailed,
    DecompressionFailed,
    DecryptionFailed,
    UnexpectedProcessingError,
    cms,
)

DATA = b"Content-Type: application/edi-x12\r\n\r\nISA*00*          *00*~GS*PO~\r\n"


@pytest.mark.parametrize("alg", ["sha1", "SHA-1", "sha256", "sha-256", "sha384", "sha-512"])
@pytest.mark.parametrize("rsa_padding", ["pkcs1v15", "pss"])
def test_sign_verify_round_trip(ours, partner, alg, rsa_padding):
    signature = cms.sign(DATA, ours.key, ours.cert, alg, rsa_padding)
    assert cms.verify(DATA, signature, [partner.cert, ours.cert]) == cms.digest_name(alg)


def test_signed_attributes_present(ours):
    signed = acms.ContentInfo.load(cms.sign(DATA, ours.key, ours.cert))["content"]
    signer = signed["signer_infos"][0]
    names = {attr["type"].native for attr in signer["signed_attrs"]}
    assert names == {"content_type", "signing_time", "message_digest"}
    assert signed["encap_content_info"]["content"].native is None  # detached


@pytest.mark.parametrize("alg", ["sha1", "sha256", "sha512"])
@pytest.mark.parametrize("rsa_padding", ["pkcs1v15", "pss"])
def test_signed_data_is_der_as_asn1crypto_writes_it(ours, alg, rsa_padding):
    der = cms.sign(DATA, ours.key, ours.cert, alg, rsa_padding)
    info = acms.ContentInfo.load(der)
    assert info.dump(force=True) == der   # re-encoded from its values: the same DER
    signer = info["content"]["signer_infos"][0]
    attrs = {a["type"].native: a["values"].native for a in signer["signed_attrs"]}
    assert attrs["message_digest"] == [cms.digest(DATA, alg)]
    assert signer["signature_algorithm"].signature_algo == f"rsassa_{rsa_padding}"
    assert info["content"]["certificates"][0].dump() == cms._asn1_cert(ours.cert).dump()


def test_verify_rejects_untrusted_signer(ours, partner):
    signature = cms.sign(DATA, ours.key, ours.cert)
    with pytest.raises(AuthenticationFailed, match="not a certificate configured"):
        cms.verify(DATA, signature, [partner.cert])


def test_verify_rejects_tampered_content(ours):
    signature = cms.sign(DATA, ours.key, ours.cert)
    with pytest.raises(AuthenticationFailed, match="messageDigest"):
        cms.verify(DATA.replace(b"PO", b"IN"), signature, [ours.cert])


def test_verify_rejects_tampered_signature(ours):
    signature = bytearray(cms.sign(DATA, ours.key, ours.cert))
    signature[-5] ^= 0x01  # inside the RSA signature value, the last field of SignerInfo
    with pytest.raises(AuthenticationFailed, match="does not verify"):
        cms.verify(DATA, bytes(signature), [ours.cert])


def test_verify_rejects_expired_signer_unless_allowed(expired):
    signature = cms.sign(DATA, expired.key, expired.cert)
    with pytest.raises(AuthenticationFailed, match="CN=expired.*valid only"):
        cms.verify(DATA, signature, [expired.cert])
    assert cms.verify(DATA, signature, [expired.cert], allow_expired=True) == "sha256"


@pytest.mark.parametrize("der", [b"", b"garbage that is not DER", b"\x30\x82\x01"])
def test_verify_rejects_garbage(ours, der):
    with pytest.raises(AuthenticationFailed, match="SignedData"):
        cms.verify(DATA, der, [ours.cert])


def test_verify_rejects_truncated_signature(ours):
    signature = cms.sign(DATA, ours.key, ours.cert)
    with pytest.raises(AuthenticationFailed, match="malformed or truncated"):
        cms.verify(DATA, signature[: len(signature) // 2], [ours.cert])


def test_verify_rejects_wrong_content_type(ours):
    with pytest.raises(AuthenticationFailed, match="compressed_data, expected signed_data"):
        cms.verify(DATA, cms.compress(DATA), [ours.cert])


CIPHERS = ["aes128-cbc", "aes192-cbc", "aes256-cbc", "aes128-gcm", "aes256-gcm", "3des"]


@pytest.mark.parametrize("cipher", CIPHERS)
@pytest.mark.parametrize("key_transport", ["rsa-pkcs1v15", "oaep", "oaep-sha256"])
def test_encrypt_decrypt_round_trip(ours, cipher, key_transport):
    der = cms.encrypt(DATA, ours.cert, cipher, key_transport)
    expected = "authenticated_enveloped_data" if cipher.endswith("gcm") else "enveloped_data"
    assert cms.content_type(der) == expected
    assert cms.decrypt(der, ours.key, ours.cert) == DATA


@pytest.mark.parametrize("spelling", ["AES256-CBC", "aes256cbc", "des3", "DES-EDE3-CBC"])
def test_cipher_spellings(ours, spelling):
    assert cms.decrypt(cms.encrypt(b"x", ours.cert, spelling), ours.key, ours.cert) == b"x"


def test_decrypt_for_someone_else(ours, partner):
    der = cms.encrypt(DATA, partner.cert)
    with pytest.raises(
        DecryptionFailed, match="no KeyTransRecipientInfo.*Name: gateway.*Name: partner"
    ):
        cms.decrypt(der, ours.key, ours.cert)


def test_decrypt_with_wrong_private_key(ours, partner):
    der = cms.encrypt(DATA, ours.cert)
    with pytest.raises(DecryptionFailed, match="enveloped-data"):
        cms.decrypt(der, partner.key, ours.cert)


def test_decrypt_detects_tampered_gcm(ours):
    der = bytearray(cms.encrypt(DATA, ours.cert, "aes128-gcm"))
    der[-30] ^= 0x01  # inside the ciphertext, just before the 16-byte mac
    with pytest.raises(DecryptionFailed, match="authentication tag"):
        cms.decrypt(bytes(der), ours.key, ours.cert)


@pytest.mark.parametrize("der", [b"", b"\x00\x01garbage", b"\x30\x80\x06\x09"])
def test_decrypt_rejects_garbage(ours, der):
    with pytest.raises(DecryptionFailed, match="enveloped-data"):
        cms.decrypt(der, ours.key, ours.cert)


def test_decrypt_rejects_truncated(ours):
    der = cms.encrypt(DATA, ours.cert)
    with pytest.raises(DecryptionFailed, match="malformed or truncated"):
        cms.decrypt(der[:-10], ours.key, ours.cert)


def test_compress_round_trip():
    der = cms.compress(DATA * 100)
    assert cms.content_type(der) == "compressed_data"
    assert cms.decompress(der, 1 << 20, 100) == DATA * 100


def _ber_compressed(payload: bytes) -> bytes:
    """CompressedData as a streaming encoder writes it: indefinite lengths, chunked content."""
    packed = zlib.compress(payload)
    chunks = b"".join(
        b"\x04" + bytes([len(packed[i : i + 100])]) + packed[i : i + 100]
        for i in range(0, len(packed), 100)
    )
    oid_compressed = bytes.fromhex("060b2a864886f70d0109100109")
    oid_zlib = bytes.fromhex("060b2a864886f70d0109100308")
    oid_data = bytes.fromhex("06092a864886f70d010701")
    eoc = b"\x00\x00"
    return (
        b"\x30\x80" + oid_compressed + b"\xa0\x80"
        + b"\x30\x80\x02\x01\x00" + b"\x30\x0d" + oid_zlib
        + b"\x30\x80" + oid_data + b"\xa0\x80\x24\x80" + chunks + eoc + eoc + eoc
        + eoc + eoc + eoc
    )  # fmt: skip


def test_decompress_ber_indefinite_length():
    payload = bytes(range(256)) * 20
    assert cms.decompress(_ber_compressed(payload), 1 << 20, 100) == payload


def _bomb(megabytes: int) -> bytes:
    packer = zlib.compressobj(9)
    packed = b"".join(packer.compress(bytes(1 << 20)) for _ in range(megabytes)) + packer.flush()
    compressed = acms.CompressedData(
        {
            "version": "v0",
            "compression_algorithm": {"algorithm": "zlib"},
            "encap_content_info": {"content_type": "data", "content": packed},
        }
    )
    return acms.ContentInfo({"content_type": "compressed_data", "content": compressed}).dump()


def test_decompress_ratio_cap_stops_zip_bomb():
    with pytest.raises(DecompressionFailed, match=r"compressed-data.*beyond 100:1 of its \d+"):
        cms.decompress(_bomb(64), 1 << 30, 100)


def test_decompress_size_cap():
    with pytest.raises(DecompressionFailed, match="beyond the 1000000-byte size cap"):
        cms.decompress(_bomb(2), 1_000_000, 10_000)


def test_decompress_rejects_corrupt_and_truncated_streams():
    der = cms.compress(DATA * 50)
    packed = acms.ContentInfo.load(der)["content"]["encap_content_info"]["content"].native
    with pytest.raises(DecompressionFailed, match="corrupt zlib stream"):
        cms.decompress(der.replace(packed, b"\xff" + packed[1:]), 1 << 20, 100)
    with pytest.raises(DecompressionFailed, match="truncated"):
        cms.decompress(der[:-20], 1 << 20, 100)


def test_decompress_rejects_garbage():
    with pytest.raises(DecompressionFailed, match="compressed-data: malformed"):
        cms.decompress(b"not der at all", 1 << 20, 100)


def test_digest_and_mic_names():
    assert [cms.digest_name(a) for a in ("SHA1", "sha-1", "sha_256", " sha512 ")] == [
        "sha1",
        "sha1",
        "sha256",
        "sha512",
    ]
    assert cms.micalg("sha256") == "sha-256"
    assert cms.mic(b"abc", "sha1") == "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=, sha1"
    with pytest.raises(UnexpectedProcessingError, match="md5"):
        cms.digest_name("md5")
