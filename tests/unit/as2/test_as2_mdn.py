"""MDN build/parse round trips, signed and unsigned, and receipts as other products write them."""

import base64

import pytest

from gateway.as2 import (
    AuthenticationFailed,
    DecryptionFailed,
    InsufficientSecurity,
    UnexpectedProcessingError,
    cms,
    mdn,
    message,
)

REQUEST = {
    "AS2-From": '"Partner Co"',
    "AS2-To": "gateway",
    "Message-ID": "<order-1@partner>",
    "Disposition-Notification-To": "as2@partner",
    "Disposition-Notification-Options": (
        "signed-receipt-protocol=optional, pkcs7-signature; "
        "signed-receipt-micalg=optional, sha-256, sha1"
    ),
}
MIC = "7v7F++fQaNB1sVLFtMRp+dF+eG4=, sha-256"


@pytest.mark.parametrize("signed", [True, False], ids=["signed", "unsigned"])
def test_round_trip(ours, partner, signed):
    request = REQUEST if signed else {**REQUEST, "Disposition-Notification-Options": ""}
    out = mdn.build(request, MIC, our_key=ours.key, our_cert=ours.cert, reporting_ua="gw 1.0")
    assert (out.headers["AS2-From"], out.headers["AS2-To"]) == ("gateway", '"Partner Co"')
    expected_type = "multipart/signed" if signed else "multipart/report"
    assert out.headers["Content-Type"].startswith(expected_type)
    got = mdn.parse(out.headers, out.body, [partner.cert, ours.cert])
    assert got.original_message_id == "<order-1@partner>"
    assert got.disposition == "automatic-action/MDN-sent-automatically; processed"
    assert (got.disposition_type, got.modifier, got.ok) == ("processed", None, True)
    assert (got.signed, got.digest_alg) == (signed, "sha256" if signed else None)
    assert got.mic == MIC
    assert got.mic_matches("7v7F++fQaNB1sVLFtMRp+dF+eG4=, SHA256")
    assert not got.mic_matches("AAAA++fQaNB1sVLFtMRp+dF+eG4=, sha-256")
    assert not got.mic_matches("7v7F++fQaNB1sVLFtMRp+dF+eG4=, sha1")
    assert "<order-1@partner>" in got.text


def test_signed_with_requested_algorithm(ours):
    request = {
        **REQUEST,
        "Disposition-Notification-Options": (
            "signed-receipt-protocol=required, pkcs7-signature; "
            "signed-receipt-micalg=required, sha1"
        ),
    }
    out = mdn.build(request, MIC, our_key=ours.key, our_cert=ours.cert)
    assert "micalg=sha-1" in out.headers["Content-Type"]
    assert mdn.parse(out.headers, out.body, [ours.cert]).digest_alg == "sha1"


def test_error_disposition(ours):
    error = DecryptionFailed("no KeyTransRecipientInfo is addressed to our certificate")
    out = mdn.build(
        REQUEST,
        None,
        error=error.disposition,
        explanation=str(error),
        our_key=ours.key,
        our_cert=ours.cert,
    )
    got = mdn.parse(out.headers, out.body, [ours.cert])
    assert got.disposition.endswith("; processed/error: decryption-failed")
    assert (got.modifier, got.ok, got.mic) == ("error: decryption-failed", False, None)
    assert not got.mic_matches(MIC)
    assert "no KeyTransRecipientInfo" in got.text


def test_duplicate_warning_is_still_ok(ours):
    out = mdn.build(REQUEST, MIC, warning="duplicate-document")
    got = mdn.parse(out.headers, out.body, [ours.cert])
    assert (got.modifier, got.ok, got.signed) == ("warning: duplicate-document", True, False)


def test_full_exchange_mic_matches(ours, partner):
    policy = message.SecurityPolicy(compress=True)
    sent = message.build(
        b"ISA~", "application/edi-x12", policy, partner.key, partner.cert, ours.cert,
        as2_from="Partner Co", as2_to="gateway",
    )  # fmt: skip
    received = message.unwrap(sent.headers, sent.body, ours.key, ours.cert, [partner.cert], policy)
    receipt = mdn.build(sent.headers, received.mic, our_key=ours.key, our_cert=ours.cert)
    got = mdn.parse(receipt.headers, receipt.body, [ours.cert], require_signature=True)
    assert got.original_message_id == sent.message_id
    assert got.ok and got.mic_matches(sent.mic)


def test_signed_mdn_from_unknown_signer(ours, stranger):
    out = mdn.build(REQUEST, MIC, our_key=stranger.key, our_cert=stranger.cert)
    with pytest.raises(AuthenticationFailed, match="not a certificate configured"):
        mdn.parse(out.headers, out.body, [ours.cert])


def test_tampered_signed_mdn(ours):
    out = mdn.build(REQUEST, MIC, our_key=ours.key, our_cert=ours.cert)
    body = out.body.replace(b"; processed", b"; processed/error: authentication-failed")
    with pytest.raises(AuthenticationFailed, match="messageDigest"):
        mdn.parse(out.headers, body, [ours.cert])


def test_unsigned_mdn_when_signature_required(ours):
    out = mdn.build(REQUEST, MIC)
    with pytest.raises(InsufficientSecurity, match="multipart/report, not a signed receipt"):
        mdn.parse(out.headers, out.body, [ours.cert], require_signature=True)


def test_not_a_report():
    with pytest.raises(UnexpectedProcessingError, match="text/plain, not multipart/report"):
        mdn.parse({"Content-Type": "text/plain"}, b"hello", [])
    report = {"Content-Type": "multipart/report; report-type=disposition-notification; boundary=b"}
    with pytest.raises(UnexpectedProcessingError, match="no message/disposition-notification"):
        mdn.parse(report, b"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--\r\n", [])


def test_foreign_signed_mdn_with_lf_and_folding(ours):
    """A receipt as other products write it: LF line ends, folded fields, mixed case, base64 sig."""
    report = (
        b'Content-Type: multipart/report; report-type="disposition-notification";\n'
        b'\tboundary="----=_Part_7_1"\n\n'
        b"------=_Part_7_1\nContent-Type: text/plain\n\nThank you.\n"
        b"------=_Part_7_1\nContent-Type: message/disposition-notification\n"
        b"Content-Transfer-Encoding: 7bit\n\n"
        b'Reporting-UA: OtherAS2\nOriginal-Recipient: rfc822; "Partner Co"\n'
        b'Final-Recipient: rfc822; "Partner Co"\nOriginal-Message-ID: <order-1@partner>\n'
        b"Received-Content-MIC: 7v7F++fQaNB1sVLFtMRp+dF+eG4=,\n sha1\n"
        b"Disposition: automatic-action/MDN-sent-automatically;\n Processed\n\n"
        b"------=_Part_7_1--\n"
    )
    signature = base64.encodebytes(
        cms.sign(report.replace(b"\n", b"\r\n"), ours.key, ours.cert, "sha1")
    )
    body = (
        b"------=_Part_8_2\n" + report + b"\n------=_Part_8_2\n"
        b"Content-Type: application/pkcs7-signature; name=smime.p7s\n"
        b"Content-Transfer-Encoding: base64\n\n" + signature + b"\n------=_Part_8_2--\n"
    )
    headers = {
        "Content-Type": 'multipart/signed; protocol="application/pkcs7-signature"; '
        'micalg=sha1; boundary="----=_Part_8_2"'
    }
    got = mdn.parse(headers, body, [ours.cert], require_signature=True)
    assert (got.ok, got.signed, got.original_message_id) == (True, True, "<order-1@partner>")
    assert got.mic == "7v7F++fQaNB1sVLFtMRp+dF+eG4=, sha1"
    assert got.mic_matches("7v7F++fQaNB1sVLFtMRp+dF+eG4=, sha-1")
    assert got.text == "Thank you."
