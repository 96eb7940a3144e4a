"""AS2 transport (RFC 4130): CMS, MIME, message wrapping and MDNs, plus the error types they raise.

Each error carries the RFC 4130 disposition modifier a receiver answers with in its MDN, so the
server can turn any failure into a negative MDN without a lookup table of its own.
"""


class As2Error(Exception):
    """A message could not be processed; `disposition` is the MDN error modifier."""

    disposition = "unexpected-processing-error"


class UnexpectedProcessingError(As2Error):
    """Malformed or unsupported structure that fits none of the more specific dispositions."""


class AuthenticationFailed(As2Error):
    """Signature missing, invalid, by an unknown or expired certificate, or content tampered."""

    disposition = "authentication-failed"


class DecryptionFailed(As2Error):
    """The enveloped content could not be decrypted with our key."""

    disposition = "decryption-failed"


class DecompressionFailed(As2Error):
    """CompressedData was malformed or exceeded the size or ratio caps."""

    disposition = "decompression-failed"


class InsufficientSecurity(As2Error):
    """The message lacks the signature or encryption the partner's policy requires."""

    disposition = "insufficient-message-security"
