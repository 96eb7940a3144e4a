"""MDNs (RFC 4130 §7, RFC 3798): build our receipt for a received message, read a partner's receipt.

A receipt is multipart/report (report-type=disposition-notification), signed as multipart/signed
when the sender asked for a signed receipt in Disposition-Notification-Options.
"""

import email.parser
import email.policy
import email.utils
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway.as2 import InsufficientSecurity, UnexpectedProcessingError, cms, mime
from gateway.as2.message import mdn_request, open_signed

_ACTION_MODE = "automatic-action/MDN-sent-automatically"
_NOTIFICATION = "message/disposition-notification"
_FIELD_PARSER = email.parser.BytesHeaderParser(policy=email.policy.compat32)
# Control characters and everything str.splitlines() breaks at (NEL, U+2028, U+2029 included).
_LINE_BREAKING = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


class OutgoingMdn(NamedTuple):
    headers: dict[str, str]
    body: bytes
    message_id: str


@dataclass(frozen=True)
class ReceivedMdn:
    """A partner's receipt for a message we sent."""

    original_message_id: str | None
    disposition: str
    disposition_type: str
    modifier: str | None
    mic: str | None
    signed: bool
    digest_alg: str | None
    text: str

    @property
    def ok(self) -> bool:
        """Processed, perhaps with a warning (e.g. duplicate-document), but without error."""
        kind = (self.modifier or "").partition(":")[0].strip().lower()
        return self.disposition_type == "processed" and kind in ("", "warning")

    @property
    def mic_alg(self) -> str | None:
        """The algorithm the Received-Content-MIC names, as the partner wrote it ('sha-256')."""
        return mic_parts(self.mic)[1] if self.mic is not None else None

    def mic_matches(self, sent_mic: str) -> bool:
        """Whether the receipt's Received-Content-MIC is ``sent_mic`` (the same digest by the
        same algorithm, however each spells it)."""
        return self.mic is not None and _mic_key(self.mic) == _mic_key(sent_mic)


def mic_parts(mic: str) -> tuple[str, str]:
    """A Received-Content-MIC as (base64 digest, algorithm as written): 'q1w2=, sha-256'."""
    digest, _, alg = mic.partition(",")
    return "".join(digest.split()), alg.strip()


def _mic_key(mic: str) -> tuple[str, str] | None:
    digest, alg = mic_parts(mic)
    try:
        return digest, cms.digest_name(alg)
    except UnexpectedProcessingError:
        return None


def build(
    request_headers: Mapping[str, str],
    mic: str | None,
    *,
    error: str | None = None,
    warning: str | None = None,
    explanation: str = "",
    our_key: rsa.RSAPrivateKey | None = None,
    our_cert: x509.Certificate | None = None,
    reporting_ua: str = "gateway",
    domain: str = "localhost",
) -> OutgoingMdn:
    """Receipt for a message with `request_headers`; `error`/`warning` are RFC 4130 modifiers
    such as 'decryption-failed' or 'duplicate-document'.

    Signed when the request asked for a signed receipt and we have a key, with the first
    requested digest we support.
    """
    original_id = _one_line(mime.field(request_headers, "Message-ID") or "<unknown>")
    recipient = _one_line(mime.field(request_headers, "AS2-To") or "")
    disposition = f"{_ACTION_MODE}; processed"
    if error:
        disposition += f"/error: {error}"
        summary = f"could not be processed: {error}."
    elif warning:
        disposition += f"/warning: {warning}"
        summary = f"was received with a warning: {warning}."
    else:
        summary = "was received and processed successfully."
    notification = [
        ("Reporting-UA", reporting_ua),
        ("Original-Recipient", f"rfc822; {recipient}"),
        ("Final-Recipient", f"rfc822; {recipient}"),
        ("Original-Message-ID", original_id),
    ]
    if mic:
        notification.append(("Received-Content-MIC", mic))
    notification.append(("Disposition", disposition))
    text = f"The AS2 message {original_id} {summary}\r\n"
    if explanation:
        text += f"\r\n{explanation}\r\n"
    boundary, report = mime.multipart(
        (
            mime.entity(
                [
                    ("Content-Type", "text/plain; charset=utf-8"),
                    ("Content-Transfer-Encoding", "8bit"),
                ],
                text.encode(),
            ),
            mime.entity(
                [("Content-Type", _NOTIFICATION), ("Content-Transfer-Encoding", "7bit")],
                mime.header_block(notification),
            ),
        )
    )
    fields = [
        (
            "Content-Type",
            f'multipart/report; report-type=disposition-notification; boundary="{boundary}"',
        )
    ]
    request = mdn_request(request_headers)
    if request and request.signed and our_key is not None and our_cert is not None:
        alg = cms.digest_name(request.mic_alg or "sha256")
        content = mime.entity(fields, report)
        signed_type, report = mime.signed(
            content, cms.sign(content, our_key, our_cert, alg), cms.micalg(alg)
        )
        fields = [("Content-Type", signed_type)]
    message_id = f"<{uuid.uuid4().hex}@{domain}>"
    headers = {
        "AS2-Version": "1.2",
        "AS2-From": recipient,
        "AS2-To": _one_line(mime.field(request_headers, "AS2-From") or ""),
        "Message-ID": message_id,
        "MIME-Version": "1.0",
        "Date": email.utils.formatdate(usegmt=True),
        "Subject": "Message Disposition Notification",
        **dict(fields),
    }
    return OutgoingMdn(headers, report, message_id)


def _one_line(value: str) -> str:
    """A sender's header value made safe to repeat in a field of ours: each run of control or
    line-breaking characters becomes one space, so the value cannot start a field of its own."""
    return _LINE_BREAKING.sub(" ", value).strip()


def parse(
    headers: Mapping[str, str],
    body: bytes,
    partner_certs: Sequence[x509.Certificate],
    *,
    require_signature: bool = False,
    allow_expired: bool = False,
) -> ReceivedMdn:
    """Read a partner's receipt, verifying its signature when it is signed."""
    entity = mime.from_http(headers, body)
    digest_alg = None
    if entity.content_type == "multipart/signed":
        entity, _, digest_alg = open_signed(entity, partner_certs, allow_expired)
    elif require_signature:
        raise InsufficientSecurity(f"MDN is {entity.content_type}, not a signed receipt")
    if entity.content_type != "multipart/report":
        raise UnexpectedProcessingError(
            f"MDN content is {entity.content_type}, not multipart/report"
        )
    found = mime.parts(entity)
    notification = next((p for p in found if p.content_type == _NOTIFICATION), None)
    if notification is None:
        raise UnexpectedProcessingError(f"MDN multipart/report has no {_NOTIFICATION} part")
    report = _FIELD_PARSER.parsebytes(notification.decoded())
    disposition = " ".join(str(report.get("Disposition", "")).split())
    if not disposition:
        raise UnexpectedProcessingError(f"MDN {_NOTIFICATION} part has no Disposition field")
    # "automatic-action/MDN-sent-automatically; processed/error: decryption-failed"
    outcome = disposition.partition(";")[2] or disposition
    kind, _, modifier = outcome.partition("/")
    text_part = next((p for p in found if p.content_type == "text/plain"), None)
    mic = report.get("Received-Content-MIC")
    original_id = report.get("Original-Message-ID")
    return ReceivedMdn(
        original_message_id=" ".join(str(original_id).split()) if original_id else None,
        disposition=disposition,
        disposition_type=kind.strip().lower(),
        modifier=modifier.strip() or None,
        mic=" ".join(str(mic).split()) if mic else None,
        signed=digest_alg is not None,
        digest_alg=digest_alg,
        text=text_part.decoded().decode("utf-8", "replace") if text_part else "",
    )
