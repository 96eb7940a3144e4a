"""The streaming BER reader: content streamed as asn1crypto reads it, and hostile input refused
with a clear error (never a crash, a hang or unbounded memory)."""

import io

import pytest
from asn1crypto import cms as acms
from asn1crypto import core

from gateway.as2 import DecompressionFailed, DecryptionFailed, ber, cms

OCTETS = bytes(range(256)) * 40


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _length(len(content)) + content


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    encoded = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(encoded)]) + encoded


def _chunked(data: bytes, size: int, nested: bool = False) -> bytes:
    """A constructed, indefinite-length OCTET STRING of `size`-byte primitive segments."""
    segments = b"".join(_tlv(0x04, data[i : i + size]) for i in range(0, len(data), size))
    if nested:  # segments grouped into constructed segments, as some encoders write them
        segments = b"\x24\x80" + segments + b"\x00\x00"
    return b"\x24\x80" + segments + b"\x00\x00"


def _stream(encoded: bytes) -> bytes:
    reader = ber.Reader(io.BytesIO(encoded))
    location = reader.locate(reader.header())
    assert location.size == len(OCTETS)
    return b"".join(reader.octets(location))


@pytest.mark.parametrize(
    "encoded",
    [
        _tlv(0x04, OCTETS),
        _chunked(OCTETS, 1000),
        _chunked(OCTETS, 1, nested=True),
    ],
    ids=["der", "ber-chunks", "ber-nested"],
)
@pytest.mark.parametrize("chunk", [1, 7, 1 << 20])
def test_octets_stream_as_asn1crypto_reads_them(monkeypatch, encoded, chunk):
    monkeypatch.setattr(ber, "CHUNK", chunk)
    assert core.OctetString.load(encoded).native == OCTETS
    assert _stream(encoded) == OCTETS


def test_constructed_definite_length_octets():
    """Valid BER that asn1crypto refuses: segments inside a definite length."""
    segments = _tlv(0x04, OCTETS[:100]) + _tlv(0x04, OCTETS[100:])
    assert _stream(b"\x24" + _length(len(segments)) + segments) == OCTETS


def test_primitive_contents_are_skipped_not_read(tmp_path):
    """A 4 GiB value (a sparse file) is located by seeking over it, and a length beyond the
    input is refused before anything is read."""
    header = b"\x04\x85\x01\x00\x00\x00\x00"
    path = tmp_path / "sparse.der"
    with open(path, "wb") as f:
        f.write(header)
        f.truncate(len(header) + (1 << 32))
    with open(path, "rb") as f:
        reader = ber.Reader(f)
        assert reader.locate(reader.header()).size == 1 << 32
        assert reader.pos == len(header) + (1 << 32)
    reader = ber.Reader(io.BytesIO(header + b"x" * 10))
    with pytest.raises(ber.BerError, match="length 4294967296 .* past the end of the input"):
        reader.header()


@pytest.mark.parametrize(
    ("encoded", "message"),
    [
        (b"\x04\x89" + b"\x01" * 9 + b"x", "has 9 octets"),
        (b"\x30\x03\x04\x05abcde", "runs past the end of its enclosing value"),
        (b"\x04\x80abc\x00\x00", "primitive value at offset 0 has an indefinite length"),
        (b"\x24\x80\x02\x01\x00\x00\x00", "expected an OCTET STRING segment, found universal tag 2"),
        (b"\x24\x80\x04\x01a", "the input ends at offset 5"),
        (b"\x3f\xff\xff\xff\xff\xff\x01\x00", "tag number at offset 0 is too long"),
        (b"\x30\x05\x04\x01a\x05\x00", "unexpected content at offset 5"),
        (b"\x24\x04\x04\x01ab", "enclosing value ends at offset 6"),
    ],
    ids=["absurd-length", "past-enclosing", "indefinite-primitive", "wrong-segment",
         "truncated-chunks", "long-tag", "trailing-inside", "header-past-enclosing"],
)  # fmt: skip
def test_hostile_framing(encoded, message):
    reader = ber.Reader(io.BytesIO(encoded))
    with pytest.raises(ber.BerError, match=message):
        header = reader.header()
        reader.enter(header) if header.tag == 16 else None
        reader.locate(reader.header() if header.tag == 16 else header)
        if reader.stack:
            reader.leave()


def test_nesting_bomb_is_refused_at_a_fixed_depth():
    bomb = b"\x24\x80" * 100_000 + b"\x00\x00" * 100_000
    reader = ber.Reader(io.BytesIO(bomb))
    with pytest.raises(ber.BerError, match="nest deeper than 32 levels"):
        reader.locate(reader.header())
    with pytest.raises(DecryptionFailed, match="malformed or truncated ASN.1 .*deeper than 32"):
        cms.decrypt(b"\x30\x80" * 100_000, None, None)


def test_small_parts_have_a_size_cap(ours):
    envelope = cms.encrypt(b"x", ours.cert)
    info = acms.ContentInfo.load(envelope)
    # A recipientInfos SET of 2 MB: far beyond any real list of recipients.
    huge = _tlv(0x31, _tlv(0x04, bytes(2 << 20)))
    content = info["content"]
    enveloped = content["version"].dump() + huge + content["encrypted_content_info"].dump()
    der = _tlv(0x30, info["content_type"].dump() + _tlv(0xA0, _tlv(0x30, enveloped)))
    with pytest.raises(DecryptionFailed, match=r"is \d+ bytes, more than 1048576 allowed"):
        cms.decrypt(der, ours.key, ours.cert)


@pytest.mark.parametrize("kind", ["enveloped", "compressed"])
def test_truncated_at_every_offset(ours, kind):
    """Every prefix of a message is refused with the disposition's error, never another one."""
    if kind == "enveloped":
        der, error = cms.encrypt(b"ISA*00~" * 10, ours.cert, "aes128-gcm"), DecryptionFailed
        run = lambda data: cms.decrypt(data, ours.key, ours.cert)  # noqa: E731
    else:
        der, error = cms.compress(b"ISA*00~" * 10), DecompressionFailed
        run = lambda data: cms.decompress(data, 1 << 20, 100)  # noqa: E731
    for cut in range(len(der)):
        with pytest.raises(error):
            run(der[:cut])


def test_lengths_pointing_past_the_end_at_every_header(ours):
    """Raise each definite length in turn to point past the end: refused before any crypto."""
    der = cms.encrypt(b"ISA*00~", ours.cert)
    offsets = list(_der_headers(der, 0, len(der)))
    assert len(offsets) > 20
    for offset in offsets:
        header = ber.Reader(io.BytesIO(der[offset:])).header()
        forged = der[:offset] + header.raw[:1] + b"\x84\x7f\xff\xff\xff"
        forged += der[offset + len(header.raw) :]
        with pytest.raises(DecryptionFailed, match="malformed or truncated ASN.1"):
            cms.decrypt(forged, ours.key, ours.cert)


def _der_headers(der: bytes, start: int, end: int):
    """Offsets of every header in DER (definite lengths, single-octet tags), depth first."""
    while start < end:
        yield start
        size = der[start + 1]
        content = start + 2
        if size & 0x80:
            content += size & 0x7F
            size = int.from_bytes(der[start + 2 : content], "big")
        if der[start] & 0x20:
            yield from _der_headers(der, content, content + size)
        start = content + size
