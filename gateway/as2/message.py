"""AS2 messages (RFC 4130, RFC 5402): wrap a payload as a partner's SecurityPolicy says, unwrap one.

Both directions compute the Received-Content-MIC by the same rule (RFC 4130 §7.3.1): over the
signed entity when signed, else over the decrypted entity when encrypted, else over the payload.
"""

import email.utils
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway.archive import Archive
from gateway.as2 import (
    AuthenticationFailed,
    InsufficientSecurity,
    UnexpectedProcessingError,
    cms,
    mime,
    stream,
)
from gateway.as2.stream import Span

_PKCS7_MIME = ("application/pkcs7-mime", "application/x-pkcs7-mime")
_PKCS7_SIGNATURE = ("application/pkcs7-signature", "application/x-pkcs7-signature")
_SMIME_TYPES = {
    "signed-data": "signed_data",
    "enveloped-data": "enveloped_data",
    "authenveloped-data": "authenticated_enveloped_data",
    "compressed-data": "compressed_data",
}
# Sign, compress and encrypt give at most three layers; allow one more for odd but valid orders.
_MAX_LAYERS = 4
# A detached signature is a few KB (more with a certificate chain); it is read into memory.
MAX_SIGNATURE_BYTES = 1 << 20


@dataclass(frozen=True)
class SecurityPolicy:
    """How we protect messages to a partner and what we demand of messages from it."""

    sign: bool = True
    sign_alg: str = "sha256"
    sign_padding: str = "pkcs1v15"
    encrypt: bool = True
    encrypt_alg: str = "aes256-cbc"
    key_transport: str = "rsa-pkcs1v15"
    compress: bool = False
    compress_before_sign: bool = True
    require_signature: bool = True
    require_encryption: bool = True
    allow_expired_certs: bool = False
    mdn_mode: str = "sync"
    mdn_signed: bool = True
    mdn_sign_alg: str = "sha256"
    max_decompressed_bytes: int = 256 << 20
    max_ratio: int = 100

    def __post_init__(self) -> None:
        choices = {
            "sign_padding": ("pkcs1v15", "pss"),
            "key_transport": ("rsa-pkcs1v15", "oaep", "oaep-sha256"),
            "mdn_mode": ("sync", "async", "none"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}")
        for name, check in (
            ("sign_alg", cms.digest_name),
            ("mdn_sign_alg", cms.digest_name),
            ("encrypt_alg", cms.cipher_name),
        ):
            try:
                check(getattr(self, name))
            except UnexpectedProcessingError as exc:
                raise ValueError(f"{name}: {exc}") from exc


class Outgoing(NamedTuple):
    headers: dict[str, str]
    body: bytes
    mic: str
    message_id: str


@dataclass(frozen=True)
class Unwrapped:
    """A received message opened: the payload is a span of a scratch file (or of the body)."""

    payload_span: Span
    content_type: str
    filename: str | None
    signed: bool
    encrypted: bool
    compressed: bool
    mic: str
    digest_alg: str | None

    @property
    def payload(self) -> bytes:
        """The payload in memory: for messages known to be small."""
        return self.payload_span.read()


@dataclass(frozen=True)
class MdnRequest:
    """The receipt a sender asked for (Disposition-Notification-*, Receipt-Delivery-Option)."""

    to: str
    async_url: str | None
    signed: bool
    micalgs: tuple[str, ...]

    @property
    def mic_alg(self) -> str | None:
        """The first requested MIC algorithm we support, spelled as requested."""
        for alg in self.micalgs:
            try:
                cms.digest_name(alg)
            except UnexpectedProcessingError:
                continue
            return alg
        return None


def mdn_request(headers: Mapping[str, str]) -> MdnRequest | None:
    """Parse the MDN request of a received message; None when it asks for no MDN.

    Options look like `signed-receipt-protocol=optional, pkcs7-signature;
    signed-receipt-micalg=optional, sha-256, sha1`: each value list starts with its importance,
    which some products leave out.
    """
    to = mime.field(headers, "Disposition-Notification-To")
    if to is None:
        return None
    options: dict[str, list[str]] = {}
    for option in (mime.field(headers, "Disposition-Notification-Options") or "").split(";"):
        name, _, text = option.partition("=")
        values = [v.strip() for v in text.split(",") if v.strip()]
        if values and values[0].lower() in ("optional", "required"):
            values = values[1:]
        options[name.strip().lower()] = values
    protocols = [p.lower() for p in options.get("signed-receipt-protocol", [])]
    return MdnRequest(
        to=to,
        async_url=mime.field(headers, "Receipt-Delivery-Option"),
        signed="pkcs7-signature" in protocols,
        micalgs=tuple(options.get("signed-receipt-micalg", [])),
    )


def _compressed(fields: mime.Headers, body: bytes) -> tuple[mime.Headers, bytes]:
    return mime.smime("compressed-data"), cms.compress(mime.entity(fields, body))


def build(
    payload: bytes,
    content_type: str,
    policy: SecurityPolicy,
    our_key: rsa.RSAPrivateKey,
    our_cert: x509.Certificate,
    partner_cert: x509.Certificate,
    *,
    as2_from: str,
    as2_to: str,
    filename: str | None = None,
    subject: str = "AS2 message",
    receipt_to: str | None = None,
    async_mdn_url: str | None = None,
    message_id: str | None = None,
    domain: str = "localhost",
) -> Outgoing:
    """Wrap `payload` for `partner_cert` per `policy`: HTTP headers, body, MIC, Message-ID."""
    fields: mime.Headers = [("Content-Type", content_type), ("Content-Transfer-Encoding", "binary")]
    if filename:
        fields.append(("Content-Disposition", f"attachment; filename={mime.quoted(filename)}"))
    body = payload
    mic_data = None
    if policy.compress and (policy.compress_before_sign or not policy.sign):
        fields, body = _compressed(fields, body)
    if policy.sign:
        mic_data = mime.entity(fields, body)
        signature = cms.sign(mic_data, our_key, our_cert, policy.sign_alg, policy.sign_padding)
        signed_type, body = mime.signed(mic_data, signature, cms.micalg(policy.sign_alg))
        fields = [("Content-Type", signed_type)]
        if policy.compress and not policy.compress_before_sign:
            fields, body = _compressed(fields, body)
    if policy.encrypt:
        inner = mime.entity(fields, body)
        if mic_data is None:
            mic_data = mime.canonical(inner)
        body = cms.encrypt(inner, partner_cert, policy.encrypt_alg, policy.key_transport)
        fields = mime.smime("enveloped-data")
    mic_alg = cms.micalg(policy.mdn_sign_alg)
    message_id = message_id or f"<{uuid.uuid4().hex}@{domain}>"
    headers = {
        "AS2-Version": "1.2",
        "AS2-From": mime.as2_name(as2_from),
        "AS2-To": mime.as2_name(as2_to),
        "Message-ID": message_id,
        "MIME-Version": "1.0",
        "Date": email.utils.formatdate(usegmt=True),
        "Subject": subject,
        **dict(fields),
    }
    if policy.mdn_mode != "none":
        # Over HTTP receivers only test for its presence; the address itself is informational.
        headers["Disposition-Notification-To"] = receipt_to or f"as2@{domain}"
        if policy.mdn_signed:
            headers["Disposition-Notification-Options"] = (
                "signed-receipt-protocol=optional, pkcs7-signature; "
                f"signed-receipt-micalg=optional, {mic_alg}"
            )
    if policy.mdn_mode == "async":
        if not async_mdn_url:
            raise ValueError("mdn_mode 'async' needs async_mdn_url")
        headers["Receipt-Delivery-Option"] = async_mdn_url
    mic = cms.mic(payload if mic_data is None else mic_data, mic_alg)
    return Outgoing(headers, body, mic, message_id)


def open_signed(
    entity: mime.Entity, trusted: Sequence[x509.Certificate], allow_expired: bool
) -> tuple[mime.Entity, Callable[[str], bytes], str]:
    """Verify a multipart/signed entity; return its content part, the digests (by algorithm
    name) of the bytes that verified, and the digest algorithm of the signature.

    Products disagree on canonical forms, so the exact received bytes are tried first and then
    their CRLF-canonical form.
    """
    protocol = (entity.param("protocol") or "").lower()
    if protocol not in _PKCS7_SIGNATURE:
        raise AuthenticationFailed(
            f"multipart/signed protocol is {protocol or 'missing'!r}, "
            "not application/pkcs7-signature"
        )
    # A signed entity we cannot take apart (truncated, bad base64) cannot be authenticated.
    try:
        found = mime.parts(entity)
        if len(found) != 2:
            raise AuthenticationFailed(f"multipart/signed has {len(found)} body parts, expected 2")
        content, signature_part = found
        if signature_part.content_type not in _PKCS7_SIGNATURE:
            raise AuthenticationFailed(
                f"second part of multipart/signed is {signature_part.content_type}, "
                "not application/pkcs7-signature"
            )
        if signature_part.content.size > MAX_SIGNATURE_BYTES:
            raise AuthenticationFailed(
                f"application/pkcs7-signature part is {signature_part.content.size} bytes, "
                f"more than the {MAX_SIGNATURE_BYTES} a signature may have"
            )
        signature = signature_part.decoded()
    except UnexpectedProcessingError as exc:
        raise AuthenticationFailed(str(exc)) from exc
    digests = stream.Digests(content.whole, cms.hash_algorithm)
    try:
        return (
            content,
            digests.exact,
            cms.verify_detached(digests.exact, signature, trusted, allow_expired),
        )
    except AuthenticationFailed:
        if not digests.canonical_differs:
            raise
    return (
        content,
        digests.canonical,
        cms.verify_detached(digests.canonical, signature, trusted, allow_expired),
    )


def _inner(span: Span, where: str) -> mime.Entity:
    try:
        return mime.parse_span(span)
    except UnexpectedProcessingError as exc:
        raise UnexpectedProcessingError(f"content of {where}: {exc}") from exc


def unwrap(
    headers: Mapping[str, str],
    body: bytes | BinaryIO,
    our_key: rsa.RSAPrivateKey,
    our_cert: x509.Certificate,
    partner_certs: Sequence[x509.Certificate],
    policy: SecurityPolicy,
    scratch: Path | None = None,
) -> Unwrapped:
    """Decrypt, decompress and verify a received AS2 message in whatever order it was wrapped.

    The body (bytes, or a seekable binary file) is read in chunks; each layer it unwraps to is
    written to a scratch file in ``scratch``, so memory stays flat whatever the message size.
    """
    source = Span.of(body) if isinstance(body, bytes) else Span(body)
    entity = mime.from_http(headers, source)
    signed: Callable[[str], bytes] | None = None
    decrypted: Span | None = None
    digest_alg = None
    compressed = False
    for _ in range(_MAX_LAYERS):
        if entity.content_type == "multipart/signed":
            if signed is not None:
                raise UnexpectedProcessingError("signed content is itself signed")
            entity, signed, digest_alg = open_signed(
                entity, partner_certs, policy.allow_expired_certs
            )
        elif entity.content_type in _PKCS7_MIME:
            # The DER says what it is; smime-type parameters are missing or misspelled in the wild.
            # Only when the DER is unreadable does smime-type pick the layer (and its error).
            der = entity.decoded_span(scratch)
            smime_type = (entity.param("smime-type") or "").lower()
            kind = cms.content_type(der) or _SMIME_TYPES.get(smime_type)
            out = stream.scratch(scratch)
            if kind == "signed_data" and signed is None:
                signers = cms.signed_content(der, out)
                content = stream.Digests(Span(out), cms.hash_algorithm)
                digest_alg = cms.verify_signers(
                    signers, content.exact, partner_certs, policy.allow_expired_certs
                )
                signed = content.exact
                entity = _inner(content.span, "signed-data")
            elif kind in ("enveloped_data", "authenticated_enveloped_data") and decrypted is None:
                cms.decrypt_to(der, out, our_key, our_cert)
                decrypted = Span(out)
                entity = _inner(decrypted, "enveloped-data")
            elif kind == "compressed_data":
                compressed = True
                cms.decompress_to(der, out, policy.max_decompressed_bytes, policy.max_ratio)
                entity = _inner(Span(out), "compressed-data")
            else:
                raise UnexpectedProcessingError(
                    f"application/pkcs7-mime part holds CMS {kind or 'of unknown type'}, "
                    "unexpected at this layer"
                )
        else:
            break
    else:
        raise UnexpectedProcessingError(f"message nests more than {_MAX_LAYERS} S/MIME layers")
    if policy.require_encryption and decrypted is None:
        raise InsufficientSecurity(
            f"message is not encrypted (outer Content-Type {mime.field(headers, 'Content-Type')}) "
            "but the partner policy requires encryption"
        )
    if policy.require_signature and signed is None:
        raise InsufficientSecurity(
            "message carries no signature but the partner policy requires one"
        )
    payload = entity.decoded_span(scratch)
    request = mdn_request(headers)
    mic_alg = (request and request.mic_alg) or cms.micalg(digest_alg or "sha256")
    if signed is not None:
        mic_digest = signed
    elif decrypted is not None:
        mic_digest = stream.Digests(decrypted, cms.hash_algorithm).canonical
    else:
        mic_digest = stream.Digests(payload, cms.hash_algorithm).exact
    return Unwrapped(
        payload_span=payload,
        content_type=entity.content_type,
        filename=entity.filename,
        signed=signed is not None,
        encrypted=decrypted is not None,
        compressed=compressed,
        mic=cms.mic_of(mic_digest, mic_alg),
        digest_alg=digest_alg,
    )


def unwrap_archived(
    archive: Archive,
    sha256: str,
    headers: Mapping[str, str],
    our_key: rsa.RSAPrivateKey,
    our_cert: x509.Certificate,
    partner_certs: Sequence[x509.Certificate],
    policy: SecurityPolicy,
    just_written: bool = False,
) -> tuple[Unwrapped, str]:
    """`unwrap` a body kept in the archive and archive its payload: (result, payload sha256).

    The body's hash is checked first, unless ``just_written`` (committed moments ago by this
    process, which hashed it as it wrote it). Scratch files go to the archive's spool directory,
    on the same disk as the bodies."""
    path = archive.path(sha256) if just_written else archive.verify(sha256)
    with open(path, "rb") as body:
        result = unwrap(headers, body, our_key, our_cert, partner_certs, policy, archive.spool)
        payload_sha256, _ = archive.put_chunks(result.payload_span.chunks())
    return result, payload_sha256
