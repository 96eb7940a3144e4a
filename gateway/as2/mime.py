"""MIME entities as AS2 exchanges them: byte-exact parsing of received ones, building of ours.

Signatures cover the exact bytes of a MIME part, so parts are sliced out of the received body
rather than re-serialised; the stdlib email package only interprets header fields.
"""

import base64
import binascii
import email.parser
import email.policy
import email.utils
import re
import secrets
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from email.message import Message
from functools import cached_property
from pathlib import Path, PurePosixPath

from gateway.as2 import UnexpectedProcessingError, stream
from gateway.as2.stream import Span

Headers = list[tuple[str, str]]

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_FOLD = re.compile(r"\r?\n[ \t]+")
_HEADER_PARSER = email.parser.BytesHeaderParser(policy=email.policy.compat32)
# A header block longer than this is not read: no AS2 product writes one.
MAX_HEADER_BYTES = 1 << 20
# Content-* fields of an HTTP request that describe the AS2 body as a MIME entity.
_ENTITY_FIELDS = ("Content-Type", "Content-Transfer-Encoding", "Content-Disposition")


@dataclass(frozen=True)
class Entity:
    """A MIME entity: header block and blank line as received, and the still-encoded body.

    The body is a span of a file (or of bytes in memory); `whole` is the entity as received
    when it lies in one file, which is what a signature over it covers.
    """

    header_bytes: bytes
    separator: bytes
    content: Span
    whole: Span | None = None

    @cached_property
    def fields(self) -> Message:
        return _HEADER_PARSER.parsebytes(self.header_bytes)

    @property
    def body(self) -> bytes:
        return self.content.read()

    @property
    def raw(self) -> bytes:
        """The entity byte for byte: what a signature over this part covers."""
        return self.header_bytes + self.separator + self.body

    def header(self, name: str) -> str | None:
        value = self.fields.get(name)
        return None if value is None else _FOLD.sub(" ", str(value)).strip()

    @property
    def content_type(self) -> str:
        return self.fields.get_content_type()

    def param(self, name: str, header: str = "content-type") -> str | None:
        value = self.fields.get_param(name, header=header)
        return None if value is None else email.utils.collapse_rfc2231_value(value).strip()

    @property
    def filename(self) -> str | None:
        """Content-Disposition filename without any directory part a sender may have put there."""
        name = self.param("filename", "content-disposition") or self.param("name")
        if not name:
            return None
        return PurePosixPath(name.replace("\\", "/")).name or None

    def decoded_span(self, directory: Path | None = None) -> Span:
        """The body with its Content-Transfer-Encoding (base64, quoted-printable or none) undone;
        decoded bodies are written to a scratch file in ``directory``."""
        encoding = (self.header("Content-Transfer-Encoding") or "binary").lower()
        if encoding == "base64":
            decode = stream.base64_decode
        elif encoding == "quoted-printable":
            decode = stream.quoted_printable_decode
        else:
            return self.content
        out = stream.scratch(directory)
        try:
            stream.write_all(decode(self.content.chunks()), out)
        except binascii.Error as exc:
            out.close()
            raise UnexpectedProcessingError(
                f"{self.content_type} part: invalid base64 body ({exc})"
            ) from exc
        return Span(out)

    def decoded(self) -> bytes:
        """The decoded body in memory: for parts known to be small."""
        return self.decoded_span().read()


def parse(raw: bytes) -> Entity:
    """Split a MIME entity at the first empty line; a missing header block means no headers."""
    return parse_span(Span.of(raw))


def parse_span(span: Span) -> Entity:
    """`parse` for an entity in a file: only its header block is read."""
    head = span.read(0, MAX_HEADER_BYTES + 4)
    if head.startswith((b"\r\n", b"\n")):
        split = head.index(b"\n") + 1
        return Entity(b"", head[:split], span.sub(split), span)
    end = _HEADER_END.search(head)
    if end is None:
        if len(head) > MAX_HEADER_BYTES:
            raise UnexpectedProcessingError(
                f"MIME entity has no blank line ending its headers in its first "
                f"{MAX_HEADER_BYTES} bytes"
            )
        raise UnexpectedProcessingError("MIME entity has no blank line ending its headers")
    # Keep the line end of the last header so header_bytes is a sequence of complete lines.
    line_end = head.index(b"\n", end.start()) + 1
    return Entity(head[:line_end], head[line_end : end.end()], span.sub(end.end()), span)


def field(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive lookup in a mapping of HTTP headers."""
    lowered = name.lower()
    return next((v.strip() for k, v in headers.items() if k.lower() == lowered), None)


def from_http(headers: Mapping[str, str], body: bytes | Span) -> Entity:
    """The entity an AS2 HTTP request or response carries: its Content-* headers and body."""
    if field(headers, "Content-Type") is None:
        raise UnexpectedProcessingError("HTTP message has no Content-Type header")
    fields = [(name, field(headers, name)) for name in _ENTITY_FIELDS]
    if isinstance(body, bytes):
        body = Span.of(body)
    return Entity(header_block((n, v) for n, v in fields if v is not None), b"\r\n", body)


def header_block(fields: Iterable[tuple[str, str]]) -> bytes:
    return b"".join(f"{name}: {value}\r\n".encode() for name, value in fields)


def entity(fields: Headers, body: bytes) -> bytes:
    """Serialise a MIME entity with CRLF line ends in its header block."""
    return header_block(fields) + b"\r\n" + body


def canonical(raw: bytes) -> bytes:
    """RFC 5751 canonical form for signing: every line ends in CRLF."""
    return stream.Canonical()(raw)


def parts(multipart: Entity) -> list[Entity]:
    """The body parts of a multipart entity, each a byte-exact span of the body.

    The line end before a delimiter belongs to the delimiter (RFC 2046 §5.1.1), so it is not
    part of the preceding body part; LF-only line ends are accepted as well as CRLF.
    """
    boundary = multipart.param("boundary")
    if not boundary:
        raise UnexpectedProcessingError(f"{multipart.content_type} has no boundary parameter")
    body = multipart.content
    found: list[Entity] = []
    start = None
    for begin, end, closing in _delimiters(body, b"--" + boundary.encode()):
        if start is not None:
            found.append(parse_span(body.sub(start, begin)))
        if closing:
            return found
        start = end
    raise UnexpectedProcessingError(
        f"{multipart.content_type} body lacks the closing boundary --{boundary}--"
    )


def _delimiters(body: Span, dash_boundary: bytes) -> Iterator[tuple[int, int, bool]]:
    """(start, end, closing) of each delimiter line: the regular expression
    ``(?:^|\\r?\\n)--boundary(--)?[ \\t]*(?:\\r?\\n|$)`` matched left to right without overlaps,
    over a body that is read in chunks."""
    previous_end = 0
    for at in body.find(dash_boundary):
        if at == 0:
            start = 0
        else:
            before = body.read(max(at - 2, 0), min(at, 2))
            if not before.endswith(b"\n") or at - 1 < previous_end:
                continue
            crlf = before == b"\r\n" and at - 2 >= previous_end
            start = at - 2 if crlf else at - 1
        end = at + len(dash_boundary)
        closing = body.read(end, 2) == b"--"
        if closing:
            end += 2
        end = _line_end(body, end)
        if end is None:
            continue
        previous_end = end
        yield start, end, closing


def _line_end(body: Span, at: int) -> int | None:
    """The offset after ``[ \\t]*(?:\\r?\\n|$)`` at ``at``, None when that does not match there."""
    while True:
        ahead = body.read(at, 256)
        rest = ahead.lstrip(b" \t")
        at += len(ahead) - len(rest)
        if rest or len(ahead) < 256:
            break
    if rest.startswith(b"\r\n"):
        return at + 2
    if rest.startswith(b"\n"):
        return at + 1
    return at if not rest else None


def quoted(value: str) -> str:
    """`value` as an RFC 822 quoted-string."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def as2_name(as2_id: str) -> str:
    """An AS2-From/AS2-To value (RFC 4130 §6.2), quoted if it has spaces, quotes or controls."""
    if as2_id and all(33 <= ord(c) <= 126 and c not in '"\\' for c in as2_id):
        return as2_id
    return quoted(as2_id)


def unquote(value: str) -> str:
    """Undo `quoted` when the value is a quoted-string; plain values are returned stripped."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def multipart(bodies: Iterable[bytes]) -> tuple[str, bytes]:
    """A multipart body of serialised entities under a fresh boundary: (boundary, body)."""
    boundary = "----=_Part_" + secrets.token_hex(12)
    delimiter = f"--{boundary}".encode()
    chunks = [delimiter + b"\r\n"]
    for index, body in enumerate(bodies):
        if index:
            chunks.append(b"\r\n" + delimiter + b"\r\n")
        chunks.append(body)
    chunks.append(b"\r\n" + delimiter + b"--\r\n")
    return boundary, b"".join(chunks)


def signed(content: bytes, signature: bytes, digest_alg: str) -> tuple[str, bytes]:
    """multipart/signed (RFC 5751) of an entity and its detached signature: (Content-Type, body)."""
    signature_part = entity(
        [
            ("Content-Type", 'application/pkcs7-signature; name="smime.p7s"'),
            ("Content-Transfer-Encoding", "base64"),
            ("Content-Disposition", 'attachment; filename="smime.p7s"'),
        ],
        canonical(base64.encodebytes(signature)),
    )
    boundary, body = multipart((content, signature_part))
    content_type = (
        f'multipart/signed; protocol="application/pkcs7-signature"; micalg={digest_alg}; '
        f'boundary="{boundary}"'
    )
    return content_type, body


def smime(smime_type: str) -> Headers:
    """Header fields of an application/pkcs7-mime entity whose DER body is sent binary."""
    filename = "smime.p7z" if smime_type == "compressed-data" else "smime.p7m"
    return [
        ("Content-Type", f'application/pkcs7-mime; smime-type={smime_type}; name="{filename}"'),
        ("Content-Transfer-Encoding", "binary"),
        ("Content-Disposition", f'attachment; filename="{filename}"'),
    ]
