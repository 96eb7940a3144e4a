"""Reader: delimiter detection, encodings, positions, streaming and hostile input."""

import io
import tracemalloc

import pytest

from gateway.edi.x12 import Delimiters, SegmentReader, X12Error, read_units
from gateway.edi.x12.delimiters import detect
from tests.unit.edi.x12_samples import CORPUS_FILES, ISA, interchange, parse, po


def segments(data: bytes, chunk_size: int = 1 << 16):
    reader = SegmentReader(io.BytesIO(data), chunk_size)
    return [s.elements for s in reader], reader


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_corpus_file_parses_or_fails_with_position(path):
    data = path.read_bytes()
    try:
        interchanges = parse(data)
    except X12Error as exc:  # a clear, positioned error is an acceptable outcome
        assert exc.problem.offset >= 0 and exc.problem.code
        return
    assert interchanges
    for ic in interchanges:
        assert ic.trailer is not None
        for group in ic.groups:
            for ts in group.sets:
                assert ts.segments[0].tag == "ST"
                for seg in ts.segments:
                    assert seg.tag.isalnum() and 2 <= len(seg.tag) <= 3, seg
    # Chunk boundaries never change the result.
    assert segments(data, 7)[0] == segments(data)[0]


def test_corpus_size():
    assert len(CORPUS_FILES) == 42


@pytest.mark.parametrize("name, delims", [
    ("850-004010-ascii-lf.x12", Delimiters("*", ">", "\n")),
    ("850-004010.13.x12", Delimiters("*", ">", "\r")),
    ("850-004010VICS-01.x12", Delimiters("\x7f", ">", "\x15")),
    ("850-004010.15.x12", Delimiters("|", ">", "~")),
    ("810_1.x12", Delimiters("*", ">", "~", "^")),
    ("850-004010-06.x12", Delimiters("*", "^", "~")),
    ("ebcdic.x12", Delimiters("*", ">", "\x85")),
])
def test_delimiters_detected(name, delims):
    path = next(p for p in CORPUS_FILES if p.name == name)
    _, reader = segments(path.read_bytes())
    assert reader.delimiters == delims


def test_ebcdic_decoded_like_its_ascii_twin():
    by_name = {p.name: p for p in CORPUS_FILES}
    ebcdic, _ = segments(by_name["ebcdic.x12"].read_bytes())
    ascii_, _ = segments(by_name["850-004010-ascii-lf.x12"].read_bytes())
    assert ebcdic == ascii_


def test_ebcdic_cp500_recognised():
    text = interchange(po()).decode().replace(">~", "^~")
    _, reader = segments(text.encode("cp500"))
    assert (reader.codec, reader.delimiters.component) == ("cp500", "^")
    assert segments(text.encode("cp500"))[0] == segments(text.encode())[0]


def test_wrapped_lines_are_joined():
    by_name = {p.name: p for p in CORPUS_FILES}
    wrapped, _ = segments(by_name["850-004010-08.x12"].read_bytes())
    flat, _ = segments(by_name["850-004010-07.x12"].read_bytes())
    assert wrapped == flat
    assert wrapped[0][9:11] == ["050718", "1700"]


def test_bom_blank_lines_and_crlf():
    data = b"\xef\xbb\xbf" + interchange(po()).replace(b"~", b"~\r\n\r\n")
    (ic,) = parse(data)
    assert ic.accepted and ic.groups[0].sets[0].accepted
    assert ic.header.offset == 3


def test_repetition_separator_only_from_00403():
    isa = ISA.replace("*U*00401*", "*^*00403*")
    _, reader = segments(interchange(po(), isa=isa))
    assert reader.delimiters.repetition == "^"
    isa = ISA.replace("*U*00401*", "*U*00403*")
    _, reader = segments(interchange(po(), isa=isa))
    assert reader.delimiters.repetition == ""


def test_positions():
    data = interchange(po(body="BEG*00*SA*PO1**20240101~REF*DP*1~"))
    (ic,) = parse(data)
    ts = ic.groups[0].sets[0]
    ref = ts.segments[2]
    assert (ref.tag, ref.number, ref.set_number) == ("REF", 5, 3)
    assert data[ref.offset:ref.offset + 7] == b"REF*DP*"


def test_utf8_content_decoded():
    data = interchange(po(body="BEG*00*SA*PO1**20240101~N1*ST*Müller~"))
    (ic,) = parse(data)
    assert ic.groups[0].sets[0].segments[2].elements[2] == "Müller"


def test_several_interchanges_with_different_delimiters():
    first = interchange(po())
    second = interchange(po()).replace(b"*", b"|").replace(b"~", b"\n")
    ics = parse(first + b"\r\n" + second + b"\x1a")
    assert [ic.delimiters.element for ic in ics] == ["*", "|"]
    assert all(ic.accepted for ic in ics)


@pytest.mark.parametrize("data, code, offset", [
    (ISA[:50].encode(), "023", 0),
    (b"\x00\xffgarbage" * 10, "024", 0),
    (interchange(po()) + b"GARBAGE*1~", "024", len(interchange(po()))),
    (ISA.replace("*", "A").encode(), "026", 0),
])
def test_unreadable_input_raises_positioned_error(data, code, offset):
    with pytest.raises(X12Error) as info:
        parse(data)
    assert (info.value.problem.code, info.value.problem.offset) == (code, offset)


def test_missing_terminator_does_not_grow_the_buffer_without_bound():
    data = interchange(po()).replace(b"IEA*1*000000101~", b"REF*" + b"X" * (3 << 20))
    with pytest.raises(X12Error) as info:
        parse(data)
    assert info.value.problem.code == "024"
    assert info.value.problem.interchange_segment_no == 7


def test_detect_rejects_alphanumeric_component_separator():
    with pytest.raises(X12Error) as info:
        detect(ISA.replace(">~", "A~"))
    assert info.value.problem.code == "027"


class CountingFile(io.RawIOBase):
    """A large synthetic interchange produced on demand, recording the biggest read."""

    def __init__(self, sets: int):
        self.parts = [interchange()[:-len("GE*0*7~IEA*1*000000101~")]]
        body = po(body="BEG*00*SA*PO1**20240101~" + "PO1*1*1*EA*9.99**UP*012345678905~" * 50)
        self.remaining = sets
        self.body = body.encode()
        self.trailer = f"GE*{sets}*7~IEA*1*000000101~".encode()
        self.pending = self.parts[0]
        self.biggest = 0
        self.total = 0

    def read(self, size=-1):
        assert size > 0, "the reader must never read the whole file"
        self.biggest = max(self.biggest, size)
        while len(self.pending) < size and (self.remaining or self.trailer):
            if self.remaining:
                self.pending += self.body
                self.remaining -= 1
            else:
                self.pending += self.trailer
                self.trailer = b""
        out, self.pending = self.pending[:size], self.pending[size:]
        self.total += len(out)
        return out


def test_streaming_in_bounded_memory():
    fp = CountingFile(sets=1500)  # about 2.7 MB
    tracemalloc.start()
    count = 0
    for unit in read_units(fp):
        count += unit.__class__.__name__ == "TransactionSet"
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert count == 1500
    assert fp.total > 2_500_000
    # One chunk, one transaction set and their decoded copies: far below the input size.
    assert peak < 1_000_000
