"""CMS (RFC 5652) as AS2 uses it: detached SignedData, (Auth)EnvelopedData and CompressedData.

asn1crypto builds the structures and reads their small parts (recipient and signer infos,
algorithm identifiers); received structures are walked with `ber.Reader`, so their content,
which may be as large as the message, streams from a file to a file in chunks, in DER or the
BER indefinite-length encodings that `openssl cms -stream` and many AS2 products emit. Every
cryptographic operation is `cryptography`.
"""

import base64
import contextlib
import datetime as dt
import functools
import io
import os
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from asn1crypto import algos, cms, core
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives import padding as block_padding
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.as2 import (
    AuthenticationFailed,
    DecompressionFailed,
    DecryptionFailed,
    UnexpectedProcessingError,
    ber,
)
from gateway.as2.ber import CONTEXT, INTEGER, OCTET_STRING, OID, SEQUENCE, SET, UNIVERSAL
from gateway.as2.stream import Span

_HASHES = {
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}

# Our cipher names -> (asn1crypto algorithm name, key length in bytes).
_CIPHERS = {
    "aes128-cbc": ("aes128_cbc", 16),
    "aes192-cbc": ("aes192_cbc", 24),
    "aes256-cbc": ("aes256_cbc", 32),
    "aes128-gcm": ("aes128_gcm", 16),
    "aes192-gcm": ("aes192_gcm", 24),
    "aes256-gcm": ("aes256_gcm", 32),
    "3des": ("tripledes_3key", 24),
}
_CIPHER_ALIASES = {"des3": "3des", "desede3cbc": "3des", "tripledes": "3des"}
_CIPHER_ALIASES.update({name.replace("-", ""): name for name in _CIPHERS})
_CIPHER_BY_ASN1 = {asn1_name: name for name, (asn1_name, _) in _CIPHERS.items()}
_GCM_TAG_BYTES = 16

# Compression ratios only mean something once the output is large: a small document full of
# padding legitimately compresses far beyond any sensible bomb threshold.
_RATIO_FLOOR_BYTES = 1 << 20


class _GcmParameters(core.Sequence):
    """GCMParameters of RFC 5084, which asn1crypto does not define."""

    _fields = [
        ("aes_nonce", core.OctetString),
        ("aes_icvlen", core.Integer, {"default": 12}),
    ]


def digest_name(alg: str) -> str:
    """Normalise a digest spelling ('SHA-256', 'sha256', 'sha_256') to 'sha256'."""
    name = alg.strip().lower().replace("-", "").replace("_", "")
    if name not in _HASHES:
        raise UnexpectedProcessingError(f"unsupported digest algorithm {alg!r}")
    return name


def micalg(alg: str) -> str:
    """The RFC 5751 `micalg` parameter for a digest: 'sha-256'."""
    return "sha-" + digest_name(alg)[3:]


def hash_algorithm(alg: str) -> hashes.HashAlgorithm:
    return _HASHES[digest_name(alg)]()


def digest(data: bytes, alg: str) -> bytes:
    h = hashes.Hash(hash_algorithm(alg))
    h.update(data)
    return h.finalize()


def mic(data: bytes, alg: str) -> str:
    """RFC 4130 §7.3.1 Received-Content-MIC, naming the algorithm as the requester spelled it."""
    return mic_of(lambda name: digest(data, name), alg)


def mic_of(content_digest: Callable[[str], bytes], alg: str) -> str:
    """`mic` of content known by its digests: ``content_digest('sha256')``."""
    return f"{base64.b64encode(content_digest(digest_name(alg))).decode('ascii')}, {alg.strip()}"


def cipher_name(alg: str) -> str:
    """Normalise a content-encryption spelling ('AES256-CBC', 'des3') to one of ours."""
    name = alg.strip().lower().replace("_", "-")
    name = _CIPHER_ALIASES.get(name.replace("-", ""), name)
    if name not in _CIPHERS:
        raise UnexpectedProcessingError(f"unsupported content encryption algorithm {alg!r}")
    return name


# asn1crypto parses lazily, so malformed input surfaces as these on any field access.
_PARSE_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError)


@contextlib.contextmanager
def _structure(error: type, where: str) -> Iterator[None]:
    """Turn asn1crypto's parse errors inside the block into `error`, saying where."""
    try:
        yield
    except _PARSE_ERRORS as exc:
        raise error(f"{where}: malformed or truncated ASN.1 ({exc})") from exc


def _content_info(
    reader: ber.Reader, expected: Sequence[str] | None, error: type, where: str
) -> str:
    """Check the whole ContentInfo's framing, then enter it up to its content; its type.

    `expected` None takes any type."""
    start = reader.pos
    reader.skip(reader.expect(UNIVERSAL, SEQUENCE, True, "a ContentInfo SEQUENCE"))
    reader.pos = start
    reader.enter(reader.header())
    ctype = cms.ContentType.load(reader.element(reader.expect(UNIVERSAL, OID))).native
    if expected is not None and ctype not in expected:
        raise error(f"{where}: CMS content type is {ctype}, expected {' or '.join(expected)}")
    reader.enter(reader.expect(CONTEXT, 0, True, "the [0] content of the ContentInfo"))
    return ctype


def _leave_content_info(reader: ber.Reader) -> None:
    reader.leave()  # [0]
    reader.leave()  # ContentInfo


def _reader(source: bytes | Span) -> ber.Reader:
    if isinstance(source, bytes):
        source = Span.of(source)
    return ber.Reader(source.file, source.start, source.end)


def content_type(source: bytes | Span) -> str | None:
    """The content type of a CMS ContentInfo ('enveloped_data', ...), None if unreadable."""
    try:
        return _content_info(_reader(source), None, ValueError, "")
    except ValueError:
        return None


def _asn1_cert(cert: x509.Certificate) -> ax509.Certificate:
    return ax509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _issuer_and_serial(cert: ax509.Certificate) -> cms.IssuerAndSerialNumber:
    return cms.IssuerAndSerialNumber({"issuer": cert.issuer, "serial_number": cert.serial_number})


@dataclass(frozen=True)
class _CertId:
    """How SignerIdentifiers and RecipientIdentifiers may name a certificate."""

    issuer: bytes  # the issuer Name, DER
    serial: int
    key_ids: tuple[bytes, ...]  # its subject key identifier, the SHA-1 of its public key

    def describe(self) -> str:
        return f"issuer '{ax509.Name.load(self.issuer).human_friendly}', serial {self.serial}"


@functools.lru_cache(maxsize=256)
def _cert_id(cert: x509.Certificate) -> _CertId:
    """Computed once per certificate: every received message is checked against them."""
    acert = _asn1_cert(cert)
    key_ids = tuple(k for k in (acert.key_identifier, acert.public_key.sha1) if k is not None)
    return _CertId(acert.issuer.dump(), acert.serial_number, key_ids)


def _identifies(identifier: core.Choice, cert: _CertId) -> bool:
    """Whether a SignerIdentifier or RecipientIdentifier names `cert` (issuer+serial or SKI)."""
    chosen = identifier.chosen
    if identifier.name == "issuer_and_serial_number":
        if chosen["serial_number"].native != cert.serial:
            return False
        issuer = chosen["issuer"]
        # The same DER is the same name; only a different encoding needs the X.520 comparison.
        return issuer.dump() == cert.issuer or issuer == ax509.Name.load(cert.issuer)
    if identifier.name == "subject_key_identifier":
        return chosen.native in cert.key_ids
    return False


def _describe(identifier: core.Choice) -> str:
    if identifier.name == "issuer_and_serial_number":
        chosen = identifier.chosen
        return (
            f"issuer '{chosen['issuer'].human_friendly}', serial {chosen['serial_number'].native}"
        )
    return f"subject key identifier {identifier.chosen.native.hex()}"


def _pss(params: algos.RSASSAPSSParams) -> tuple[padding.PSS, hashes.HashAlgorithm]:
    mgf = params["mask_gen_algorithm"]["algorithm"].native
    if mgf != "mgf1":
        raise UnexpectedProcessingError(f"unsupported RSASSA-PSS mask generation function {mgf}")
    hash_alg = hash_algorithm(params["hash_algorithm"]["algorithm"].native)
    mgf_hash = hash_algorithm(params["mask_gen_algorithm"]["parameters"]["algorithm"].native)
    return padding.PSS(
        mgf=padding.MGF1(mgf_hash), salt_length=params["salt_length"].native
    ), hash_alg


@dataclass(frozen=True)
class _Signer:
    """The parts of our SignedData that depend only on the certificate, digest and padding,
    DER-encoded once by asn1crypto; `sign` wraps the signed attributes and signature in them."""

    digest_algorithm: bytes  # AlgorithmIdentifier
    sid: bytes  # IssuerAndSerialNumber
    signature_algorithm: bytes  # AlgorithmIdentifier
    certificate: bytes
    padding: padding.AsymmetricPadding
    hash: hashes.HashAlgorithm


@functools.lru_cache(maxsize=64)
def _signer(cert: x509.Certificate, name: str, rsa_padding: str) -> _Signer:
    hash_alg = hash_algorithm(name)
    if rsa_padding == "pss":
        params = algos.RSASSAPSSParams(
            {
                "hash_algorithm": {"algorithm": name},
                "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": name}},
                "salt_length": hash_alg.digest_size,
            }
        )
        pad, _ = _pss(params)
        sig_alg = {"algorithm": "rsassa_pss", "parameters": params}
    elif rsa_padding == "pkcs1v15":
        pad = padding.PKCS1v15()
        sig_alg = {"algorithm": "rsassa_pkcs1v15"}
    else:
        raise UnexpectedProcessingError(f"unsupported RSA signature padding {rsa_padding!r}")
    return _Signer(
        digest_algorithm=algos.DigestAlgorithm({"algorithm": name}).dump(),
        sid=_issuer_and_serial(_asn1_cert(cert)).dump(),
        signature_algorithm=algos.SignedDigestAlgorithm(sig_alg).dump(),
        certificate=cert.public_bytes(serialization.Encoding.DER),
        padding=pad,
        hash=hash_alg,
    )


_VERSION_1 = core.Integer(1).dump()
_DATA = cms.ContentType("data").dump()
_SIGNED_DATA = cms.ContentType("signed_data").dump()
_ATTRIBUTE_TYPES = {
    name: cms.CMSAttributeType(name).dump()
    for name in ("content_type", "signing_time", "message_digest")
}


def _attribute(name: str, value: bytes) -> bytes:
    """A CMSAttribute of one value: SEQUENCE { type, SET { value } }."""
    return ber.tlv(0x30, _ATTRIBUTE_TYPES[name] + ber.tlv(0x31, value))


def sign(
    data: bytes,
    key: rsa.RSAPrivateKey,
    cert: x509.Certificate,
    digest_alg: str = "sha256",
    rsa_padding: str = "pkcs1v15",
) -> bytes:
    """Detached SignedData (DER) over `data`, with contentType, signingTime and messageDigest.

    Only the signed attributes and the signature change from one call to the next, so the
    structure is assembled around them from parts encoded once (see `_signer`)."""
    name = digest_name(digest_alg)
    signer = _signer(cert, name, rsa_padding)
    signing_time = dt.datetime.now(dt.UTC).strftime("%y%m%d%H%M%SZ").encode()
    attrs = b"".join(
        sorted(  # DER orders a SET OF by the encodings of its elements
            (
                _attribute("content_type", _DATA),
                _attribute("signing_time", ber.tlv(0x17, signing_time)),  # UTCTime
                _attribute("message_digest", ber.tlv(0x04, digest(data, name))),
            )
        )
    )
    # The signature covers the attributes as a DER SET OF, not their [0] tagging in SignerInfo.
    signature = key.sign(ber.tlv(0x31, attrs), signer.padding, signer.hash)
    signer_info = ber.tlv(
        0x30,
        _VERSION_1
        + signer.sid
        + signer.digest_algorithm
        + ber.tlv(0xA0, attrs)  # [0] IMPLICIT signedAttrs
        + signer.signature_algorithm
        + ber.tlv(0x04, signature),
    )
    signed = ber.tlv(
        0x30,
        _VERSION_1
        + ber.tlv(0x31, signer.digest_algorithm)  # digestAlgorithms
        + ber.tlv(0x30, _DATA)  # encapContentInfo, detached
        + ber.tlv(0xA0, signer.certificate)  # [0] IMPLICIT certificates
        + ber.tlv(0x31, signer_info),  # signerInfos
    )
    return ber.tlv(0x30, _SIGNED_DATA + ber.tlv(0xA0, signed))


@dataclass(frozen=True)
class _Encapsulated:
    """A received CMS structure walked to its end: its small parts and where its content is."""

    reader: ber.Reader
    content: ber.Location | None
    parts: dict

    def stream(self) -> Iterator[bytes]:
        return self.reader.octets(self.content) if self.content is not None else iter(())


def _encapsulated_content(reader: ber.Reader) -> ber.Location | None:
    """EncapsulatedContentInfo: eContentType and the optional [0] EXPLICIT OCTET STRING."""
    reader.enter(reader.expect(UNIVERSAL, SEQUENCE, True, "an EncapsulatedContentInfo"))
    reader.skip(reader.expect(UNIVERSAL, OID, False, "an eContentType OID"))
    content = None
    if not reader.at_end():
        reader.enter(reader.expect(CONTEXT, 0, True, "[0] eContent"))
        content = reader.locate(reader.expect(UNIVERSAL, OCTET_STRING, what="an OCTET STRING"))
        reader.leave()
    reader.leave()
    return content


def _version(reader: ber.Reader) -> None:
    reader.enter(reader.expect(UNIVERSAL, SEQUENCE, True, "a SEQUENCE"))
    reader.skip(reader.expect(UNIVERSAL, INTEGER, False, "a version INTEGER"))


def _signed_data(source: bytes | Span, where: str) -> _Encapsulated:
    reader = _reader(source)
    _content_info(reader, ("signed_data",), AuthenticationFailed, where)
    _version(reader)
    reader.skip(reader.expect(UNIVERSAL, SET, True, "a digestAlgorithms SET"))
    content = _encapsulated_content(reader)
    header = reader.header()
    for optional in (0, 1):  # certificates, crls
        if header.cls == CONTEXT and header.tag == optional:
            reader.skip(header)
            header = reader.header()
    if (header.cls, header.tag) != (UNIVERSAL, SET):
        raise ber.BerError(f"expected a signerInfos SET, found {header.describe()}")
    signers = list(cms.SignerInfos.load(reader.element(header)))
    reader.leave()
    _leave_content_info(reader)
    return _Encapsulated(reader, content, {"signers": signers})


def signed_content(source: Span, out: BinaryIO) -> list[cms.SignerInfo]:
    """Write the content of an opaque (not detached) SignedData to ``out``; return its
    SignerInfos, to be checked with `verify_signers` against the digests of what was written."""
    where = "application/pkcs7-mime signed-data"
    with _structure(AuthenticationFailed, where):
        signed = _signed_data(source, where)
        if signed.content is None:
            raise AuthenticationFailed(f"{where}: SignedData is detached, it carries no content")
        for chunk in signed.stream():
            out.write(chunk)
        return signed.parts["signers"]


def _check_validity(cert: x509.Certificate, allow_expired: bool) -> None:
    now = dt.datetime.now(dt.UTC)
    if allow_expired or cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        return
    raise AuthenticationFailed(
        f"signer certificate '{cert.subject.rfc4514_string()}' is valid only from "
        f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M} "
        f"to {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
    )


def verify(
    data: bytes,
    signature: bytes,
    trusted: Sequence[x509.Certificate],
    allow_expired: bool = False,
) -> str:
    """Check a detached SignedData over `data` by one of `trusted`; return the digest name used."""
    return verify_detached(lambda name: digest(data, name), signature, trusted, allow_expired)


def verify_detached(
    content_digest: Callable[[str], bytes],
    signature: bytes,
    trusted: Sequence[x509.Certificate],
    allow_expired: bool = False,
) -> str:
    """`verify` for content known by its digests: ``content_digest('sha256')``."""
    where = "application/pkcs7-signature SignedData"
    with _structure(AuthenticationFailed, where):
        signed = _signed_data(signature, where)
    return verify_signers(signed.parts["signers"], content_digest, trusted, allow_expired)


def verify_signers(
    signers: Sequence[cms.SignerInfo],
    content_digest: Callable[[str], bytes],
    trusted: Sequence[x509.Certificate],
    allow_expired: bool,
) -> str:
    """Check that one of the SignerInfos is by one of `trusted` and signs the content.

    Certificates embedded in the signature are ignored: only the partner's configured
    certificates can vouch for a message.
    """
    where = "application/pkcs7-signature SignedData"
    with _structure(AuthenticationFailed, where):
        if not signers:
            raise AuthenticationFailed(f"{where}: no SignerInfo")
        candidates = [(c, _cert_id(c)) for c in trusted]
        for signer in signers:
            cert = next((c for c, cid in candidates if _identifies(signer["sid"], cid)), None)
            if cert is not None:
                return _verify_signer(content_digest, signer, cert, allow_expired, where)
        raise AuthenticationFailed(
            f"{where}: signer ({_describe(signers[0]['sid'])}) is not a certificate configured "
            "for this partner"
        )


def _verify_signer(
    content_digest: Callable[[str], bytes],
    signer: cms.SignerInfo,
    cert: x509.Certificate,
    allow_expired: bool,
    where: str,
) -> str:
    _check_validity(cert, allow_expired)
    alg = signer["digest_algorithm"]["algorithm"].native
    try:
        name = digest_name(alg)
    except UnexpectedProcessingError as exc:
        raise AuthenticationFailed(f"{where}: SignerInfo digestAlgorithm {exc}") from exc
    attrs = signer["signed_attrs"]
    signed_bytes = None
    if not isinstance(attrs, core.Void):  # present (.native would decode every attribute)
        digests = [a["values"][0].native for a in attrs if a["type"].native == "message_digest"]
        if digests != [content_digest(name)]:
            raise AuthenticationFailed(
                f"{where}: messageDigest signed attribute does not match the signed MIME part "
                "(content altered or wrongly canonicalised)"
            )
        # Verify over the attributes exactly as received, retagged from [0] IMPLICIT to SET OF.
        signed_bytes = b"\x31" + attrs.dump()[1:]
    sig_alg = signer["signature_algorithm"]
    scheme = sig_alg.signature_algo
    pss_defaults = False
    if scheme == "rsassa_pss":
        params = sig_alg["parameters"]
        # RFC 4055 §3.1: every field has a default; absent parameters are read as all of them
        # (SHA-1, MGF1 with SHA-1, a 20-byte salt), as some products write them.
        pss_defaults = isinstance(params, core.Void)
        try:
            pad, hash_alg = _pss(algos.RSASSAPSSParams() if pss_defaults else params)
        except UnexpectedProcessingError as exc:
            raise AuthenticationFailed(f"{where}: {exc}") from exc
    elif scheme == "rsassa_pkcs1v15":
        pad, hash_alg = padding.PKCS1v15(), hash_algorithm(name)
    else:
        raise AuthenticationFailed(f"{where}: unsupported signatureAlgorithm {scheme}")
    public_key = cert.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise AuthenticationFailed(f"{where}: signer certificate key is not RSA")
    try:
        if signed_bytes is None:  # no signed attributes: the signature is over the content
            public_key.verify(
                signer["signature"].native,
                content_digest(hash_alg.name),
                pad,
                utils.Prehashed(hash_alg),
            )
        else:
            public_key.verify(signer["signature"].native, signed_bytes, pad, hash_alg)
    except InvalidSignature as exc:
        subject = cert.subject.rfc4514_string()
        if pss_defaults:
            raise AuthenticationFailed(
                f"{where}: RSASSA-PSS signature with default (SHA-1) parameters does not verify "
                f"with certificate '{subject}'; the signer may have omitted its parameters"
            ) from exc
        raise AuthenticationFailed(
            f"{where}: signature does not verify with certificate '{subject}'"
        ) from exc
    return name


def encrypt(
    data: bytes,
    recipient: x509.Certificate,
    cipher: str = "aes256-cbc",
    key_transport: str = "rsa-pkcs1v15",
) -> bytes:
    """EnvelopedData (AuthEnvelopedData for GCM) of `data` for `recipient`, as DER.

    key_transport: 'rsa-pkcs1v15', 'oaep' (SHA-1, the RFC 8017 default most products expect)
    or 'oaep-sha256'.
    """
    name = cipher_name(cipher)
    oid_name, key_len = _CIPHERS[name]
    cek = os.urandom(key_len)
    if name.endswith("-gcm"):
        nonce = os.urandom(12)
        sealed = AESGCM(cek).encrypt(nonce, data, None)
        ciphertext, tag = sealed[:-_GCM_TAG_BYTES], sealed[-_GCM_TAG_BYTES:]
        params = _GcmParameters({"aes_nonce": nonce, "aes_icvlen": _GCM_TAG_BYTES})
    else:
        block = _block_cipher(name, cek)
        iv = os.urandom(block.block_size // 8)
        padder = block_padding.PKCS7(block.block_size).padder()
        encryptor = Cipher(block, modes.CBC(iv)).encryptor()
        ciphertext = (
            encryptor.update(padder.update(data) + padder.finalize()) + encryptor.finalize()
        )
        params = core.OctetString(iv)
    key_alg, pad = _key_transport(key_transport)
    recipient_info = cms.RecipientInfo(
        name="ktri",
        value={
            "version": "v0",
            "rid": {"issuer_and_serial_number": _issuer_and_serial(_asn1_cert(recipient))},
            "key_encryption_algorithm": key_alg,
            "encrypted_key": recipient.public_key().encrypt(cek, pad),
        },
    )
    content_info = {
        "content_type": "data",
        "content_encryption_algorithm": {"algorithm": oid_name, "parameters": params},
        "encrypted_content": ciphertext,
    }
    if name.endswith("-gcm"):
        envelope = cms.AuthEnvelopedData(
            {
                "version": "v0",
                "recipient_infos": [recipient_info],
                "auth_encrypted_content_info": content_info,
                "mac": tag,
            }
        )
        ctype = "authenticated_enveloped_data"
    else:
        envelope = cms.EnvelopedData(
            {
                "version": "v0",
                "recipient_infos": [recipient_info],
                "encrypted_content_info": content_info,
            }
        )
        ctype = "enveloped_data"
    return cms.ContentInfo({"content_type": ctype, "content": envelope}).dump()


def _block_cipher(name: str, cek: bytes) -> algorithms.BlockCipherAlgorithm:
    return TripleDES(cek) if name == "3des" else algorithms.AES(cek)


def _oaep(hash_name: str, mgf_hash_name: str) -> padding.OAEP:
    return padding.OAEP(
        mgf=padding.MGF1(hash_algorithm(mgf_hash_name)),
        algorithm=hash_algorithm(hash_name),
        label=None,
    )


def _key_transport(name: str) -> tuple[dict, padding.AsymmetricPadding]:
    if name == "rsa-pkcs1v15":
        return {"algorithm": "rsaes_pkcs1v15"}, padding.PKCS1v15()
    oaep_hashes = {"oaep": "sha1", "oaep-sha256": "sha256"}
    if name not in oaep_hashes:
        raise UnexpectedProcessingError(f"unsupported key transport {name!r}")
    hash_name = oaep_hashes[name]
    params = algos.RSAESOAEPParams(
        {
            "hash_algorithm": {"algorithm": hash_name},
            "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": hash_name}},
        }
    )
    return {"algorithm": "rsaes_oaep", "parameters": params}, _oaep(hash_name, hash_name)


def _envelope(source: Span, where: str) -> _Encapsulated:
    """Walk an EnvelopedData or AuthEnvelopedData to its end, locating the encrypted content."""
    reader = _reader(source)
    ctype = _content_info(
        reader, ("enveloped_data", "authenticated_enveloped_data"), DecryptionFailed, where
    )
    _version(reader)
    header = reader.header()
    if header.cls == CONTEXT and header.tag == 0:  # originatorInfo
        reader.skip(header)
        header = reader.header()
    if (header.cls, header.tag) != (UNIVERSAL, SET):
        raise ber.BerError(f"expected a recipientInfos SET, found {header.describe()}")
    parts = {"recipients": cms.RecipientInfos.load(reader.element(header))}
    reader.enter(reader.expect(UNIVERSAL, SEQUENCE, True, "an EncryptedContentInfo"))
    reader.skip(reader.expect(UNIVERSAL, OID, False, "a contentType OID"))
    parts["algorithm"] = cms.EncryptionAlgorithm.load(
        reader.element(reader.expect(UNIVERSAL, SEQUENCE, True, "a contentEncryptionAlgorithm"))
    )
    content = None
    if not reader.at_end():
        content = reader.locate(reader.expect(CONTEXT, 0, what="[0] encryptedContent"))
    reader.leave()
    authenticated = ctype == "authenticated_enveloped_data"
    parts["auth_attrs"] = parts["mac"] = None
    optional = {1: "auth_attrs", 2: None} if authenticated else {1: None}
    while not reader.at_end():
        header = reader.header()
        kind = (header.cls, header.tag)
        if authenticated and parts["mac"] is None and kind == (UNIVERSAL, OCTET_STRING):
            parts["mac"] = core.OctetString.load(reader.element(header)).native
            optional.pop(1, None)
        elif header.cls == CONTEXT and header.tag in optional:
            name = optional.pop(header.tag)
            if name is None:
                reader.skip(header)
            else:
                parts[name] = reader.element(header)
        else:
            raise ber.BerError(f"unexpected {header.describe()} in the envelope")
    if authenticated and parts["mac"] is None:
        raise ber.BerError("AuthEnvelopedData has no mac")
    reader.leave()
    _leave_content_info(reader)
    return _Encapsulated(reader, content, parts)


def decrypt_to(source: Span, out: BinaryIO, key: rsa.RSAPrivateKey, cert: x509.Certificate) -> None:
    """Decrypt EnvelopedData or AuthEnvelopedData (DER or BER) addressed to `cert` into ``out``.

    The structure is checked to its end before anything is decrypted; then the content streams.
    """
    where = "application/pkcs7-mime enveloped-data"
    with _structure(DecryptionFailed, where):
        envelope = _envelope(source, where)
        ours = _cert_id(cert)
        recipients = [ri.chosen for ri in envelope.parts["recipients"] if ri.name == "ktri"]
        ktri = next((r for r in recipients if _identifies(r["rid"], ours)), None)
        if ktri is None:
            listed = "; ".join(_describe(r["rid"]) for r in recipients) or "none usable"
            raise DecryptionFailed(
                f"{where}: no KeyTransRecipientInfo is addressed to our certificate "
                f"({ours.describe()}); "
                f"recipients: {listed}"
            )
        cek = _unwrap_key(ktri, key, where)
        alg = envelope.parts["algorithm"]
        alg_name = alg["algorithm"].native
        if alg_name not in _CIPHER_BY_ASN1:
            raise DecryptionFailed(f"{where}: unsupported contentEncryptionAlgorithm {alg_name}")
        name = _CIPHER_BY_ASN1[alg_name]
        if len(cek) != _CIPHERS[name][1]:
            raise DecryptionFailed(
                f"{where}: decrypted content key has {len(cek)} bytes, {name} needs "
                f"{_CIPHERS[name][1]} (wrong private key?)"
            )
        if name.endswith("-gcm"):
            _gcm_decrypt(envelope, cek, out, where)
        else:
            _cbc_decrypt(envelope, name, cek, out, where)


def _gcm_decrypt(envelope: _Encapsulated, cek: bytes, out: BinaryIO, where: str) -> None:
    params = _GcmParameters.load(envelope.parts["algorithm"]["parameters"].dump())
    mac = envelope.parts["mac"]
    attrs = envelope.parts["auth_attrs"]
    decryptor = Cipher(algorithms.AES(cek), modes.GCM(params["aes_nonce"].native)).decryptor()
    if attrs is not None:
        # RFC 5083: the authenticated attributes, DER-encoded as a SET OF, are the AAD.
        decryptor.authenticate_additional_data(b"\x31" + attrs[1:])
    for chunk in envelope.stream():
        out.write(decryptor.update(chunk))
    try:
        if len(mac) != _GCM_TAG_BYTES:
            raise InvalidTag
        out.write(decryptor.finalize_with_tag(mac))
    except InvalidTag as exc:
        raise DecryptionFailed(
            f"{where}: AES-GCM authentication tag does not match (content altered)"
        ) from exc


def _cbc_decrypt(envelope: _Encapsulated, name: str, cek: bytes, out: BinaryIO, where: str) -> None:
    block = _block_cipher(name, cek)
    decryptor = Cipher(block, modes.CBC(envelope.parts["algorithm"]["parameters"].native))
    decryptor = decryptor.decryptor()
    unpadder = block_padding.PKCS7(block.block_size).unpadder()
    try:
        for chunk in envelope.stream():
            out.write(unpadder.update(decryptor.update(chunk)))
        out.write(unpadder.update(decryptor.finalize()) + unpadder.finalize())
    except ValueError as exc:
        raise DecryptionFailed(
            f"{where}: {name} decryption produced invalid padding (wrong key or altered content)"
        ) from exc


def decrypt(der: bytes, key: rsa.RSAPrivateKey, cert: x509.Certificate) -> bytes:
    """`decrypt_to` for an envelope in memory."""
    out = io.BytesIO()
    decrypt_to(Span.of(der), out, key, cert)
    return out.getvalue()


def _unwrap_key(ktri: cms.KeyTransRecipientInfo, key: rsa.RSAPrivateKey, where: str) -> bytes:
    alg = ktri["key_encryption_algorithm"]
    alg_name = alg["algorithm"].native
    if alg_name == "rsaes_pkcs1v15":
        pad = padding.PKCS1v15()
    elif alg_name == "rsaes_oaep":
        params = alg["parameters"]
        pad = _oaep(
            params["hash_algorithm"]["algorithm"].native,
            params["mask_gen_algorithm"]["parameters"]["algorithm"].native,
        )
    else:
        raise DecryptionFailed(f"{where}: unsupported keyEncryptionAlgorithm {alg_name}")
    try:
        return key.decrypt(ktri["encrypted_key"].native, pad)
    except ValueError as exc:
        raise DecryptionFailed(
            f"{where}: encryptedKey of the RecipientInfo cannot be decrypted with our private key"
        ) from exc


def compress(data: bytes) -> bytes:
    """CompressedData (RFC 3274, zlib) of `data`, as DER."""
    compressed = cms.CompressedData(
        {
            "version": "v0",
            "compression_algorithm": {"algorithm": "zlib"},
            "encap_content_info": {"content_type": "data", "content": zlib.compress(data)},
        }
    )
    return cms.ContentInfo({"content_type": "compressed_data", "content": compressed}).dump()


def decompress_to(source: Span, out: BinaryIO, max_bytes: int, max_ratio: int) -> None:
    """Expand CompressedData into ``out``, refusing output beyond `max_bytes` or `max_ratio`
    times the input (the caps hold while it streams: nothing beyond them is written)."""
    where = "application/pkcs7-mime compressed-data"
    with _structure(DecompressionFailed, where):
        reader = _reader(source)
        _content_info(reader, ("compressed_data",), DecompressionFailed, where)
        _version(reader)
        alg = cms.CompressionAlgorithm.load(
            reader.element(reader.expect(UNIVERSAL, SEQUENCE, True, "a compressionAlgorithm"))
        )
        content = _encapsulated_content(reader)
        reader.leave()
        _leave_content_info(reader)
        alg = alg["algorithm"].native
        if alg != "zlib":
            raise DecompressionFailed(f"{where}: unsupported compressionAlgorithm {alg}")
        packed = _Encapsulated(reader, content, {})
        size = 0 if content is None else content.size
        by_ratio = max(max_ratio * size, _RATIO_FLOOR_BYTES)
        limit = min(max_bytes, by_ratio)
        inflater = zlib.decompressobj()
        written = 0

        def inflate(data: bytes) -> bytes:
            try:
                return inflater.decompress(data, min(ber.CHUNK, limit + 1 - written))
            except zlib.error as exc:
                raise DecompressionFailed(f"{where}: corrupt zlib stream ({exc})") from exc

        for chunk in packed.stream():
            while not inflater.eof:
                expanded = inflate(chunk)
                written += len(expanded)
                if written > limit:
                    if limit == max_bytes:
                        reason = f"the {max_bytes}-byte size cap"
                    else:
                        reason = f"{max_ratio}:1 of its {size} compressed bytes"
                    raise DecompressionFailed(f"{where}: content expands beyond {reason}")
                out.write(expanded)
                chunk = inflater.unconsumed_tail
                if not chunk and not expanded:
                    break
        if not inflater.eof:
            raise DecompressionFailed(f"{where}: zlib stream is truncated")


def decompress(der: bytes, max_bytes: int, max_ratio: int) -> bytes:
    """`decompress_to` for CompressedData in memory."""
    out = io.BytesIO()
    decompress_to(Span.of(der), out, max_bytes, max_ratio)
    return out.getvalue()
