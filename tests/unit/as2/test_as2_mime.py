"""MIME parsing and building: byte-exact parts, canonical forms, header quirks of real products."""

import base64

import pytest

from gateway.as2 import UnexpectedProcessingError, mime


def test_parse_keeps_exact_bytes_with_lf_and_crlf():
    for raw in (b"Content-Type: text/plain\n\nbody\nline\n", b"Content-Type: a/b\r\n\r\nx\r\n"):
        entity = mime.parse(raw)
        assert entity.raw == raw


def test_parse_without_headers():
    entity = mime.parse(b"\r\nbody")
    assert (entity.header_bytes, entity.body, entity.content_type) == (b"", b"body", "text/plain")


def test_parse_requires_header_end():
    with pytest.raises(UnexpectedProcessingError, match="no blank line"):
        mime.parse(b"Content-Type: text/plain")


def test_folded_and_quoted_headers():
    entity = mime.parse(
        b"Content-Type: application/EDI-X12;\r\n"
        b'\tname="order; 1.edi"\r\n'
        b"Content-Disposition: attachment;\n"
        b' filename="C:\\\\in\\\\order \\"1\\".edi"\n'
        b"Subject: a\r\n  folded subject\r\n\r\nx"
    )
    assert entity.content_type == "application/edi-x12"
    assert entity.param("name") == "order; 1.edi"
    assert entity.filename == 'order "1".edi'  # directories a sender put there are dropped
    assert entity.header("Subject") == "a folded subject"


@pytest.mark.parametrize(
    ("fields", "body"),
    [
        (b"Content-Transfer-Encoding: base64\r\n", base64.encodebytes(b"\x00\x01payload\r\n")),
        (b"Content-Transfer-Encoding: BINARY\r\n", b"\x00\x01payload\r\n"),
        (b"", b"\x00\x01payload\r\n"),
        (b"Content-Transfer-Encoding: quoted-printable\r\n", b"=00=01payload=0D=0A"),
    ],
    ids=["base64", "binary", "missing", "quoted-printable"],
)
def test_transfer_encodings(fields, body):
    entity = mime.parse(b"Content-Type: application/octet-stream\r\n" + fields + b"\r\n" + body)
    assert entity.decoded() == b"\x00\x01payload\r\n"


def test_invalid_base64_is_a_typed_error():
    entity = mime.parse(b"Content-Type: a/b\r\nContent-Transfer-Encoding: base64\r\n\r\nabc")
    with pytest.raises(UnexpectedProcessingError, match="a/b part: invalid base64"):
        entity.decoded()


ODD_BOUNDARY = "=_Part (1)+'odd',./:?"


@pytest.mark.parametrize("eol", [b"\r\n", b"\n"], ids=["crlf", "lf"])
def test_parts_are_sliced_exactly(eol):
    first = b"Content-Type: text/plain" + eol + eol + b"one" + eol + eol
    second = b"Content-Type: a/b" + eol + eol + b"two"
    delimiter = b"--" + ODD_BOUNDARY.encode()
    body = (
        b"preamble" + eol + delimiter + b"  " + eol + first + eol + delimiter + eol + second
        + eol + delimiter + b"--" + eol + b"epilogue"
    )  # fmt: skip
    multipart = mime.parse(
        b'Content-Type: multipart/mixed;\r\n boundary="'
        + ODD_BOUNDARY.encode()
        + b'"\r\n\r\n'
        + body
    )
    assert [p.raw for p in mime.parts(multipart)] == [first, second]


def test_parts_need_closing_boundary_and_boundary_parameter():
    with pytest.raises(UnexpectedProcessingError, match="lacks the closing boundary --b--"):
        mime.parts(mime.parse(b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nx"))
    with pytest.raises(UnexpectedProcessingError, match="no boundary parameter"):
        mime.parts(mime.parse(b"Content-Type: multipart/mixed\r\n\r\n--b--\r\n"))


def test_canonical_form():
    assert mime.canonical(b"a\nb\r\nc\n") == b"a\r\nb\r\nc\r\n"


def test_from_http_uses_content_fields_case_insensitively():
    entity = mime.from_http(
        {
            "content-type": "application/edi-x12",
            "AS2-From": "x",
            "CONTENT-TRANSFER-ENCODING": "binary",
        },
        b"ISA~",
    )
    assert entity.raw == (
        b"Content-Type: application/edi-x12\r\nContent-Transfer-Encoding: binary\r\n\r\nISA~"
    )
    with pytest.raises(UnexpectedProcessingError, match="no Content-Type"):
        mime.from_http({"AS2-From": "x"}, b"")


@pytest.mark.parametrize(
    ("as2_id", "header"),
    [
        ("GATEWAY", "GATEWAY"),
        ("acme@as2", "acme@as2"),
        ("Acme Corp", '"Acme Corp"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
    ],
)
def test_as2_name_quoting(as2_id, header):
    assert mime.as2_name(as2_id) == header
    assert mime.unquote(header) == as2_id


def test_signed_entity_layout():
    content_type, body = mime.signed(b"Content-Type: a/b\r\n\r\nx", b"\x30\x00", "sha-256")
    multipart = mime.from_http({"Content-Type": content_type}, body)
    assert multipart.param("protocol") == "application/pkcs7-signature"
    assert multipart.param("micalg") == "sha-256"
    content, signature = mime.parts(multipart)
    assert content.raw == b"Content-Type: a/b\r\n\r\nx"
    assert signature.content_type == "application/pkcs7-signature"
    assert signature.decoded() == b"\x30\x00"
