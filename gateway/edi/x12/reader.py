"""Streaming X12 tokenizer: a binary file object in, positioned segments out, in bounded memory."""

from collections.abc import Iterator
from typing import BinaryIO

from .delimiters import BOM, ISA_SCAN, Delimiters, detect, sniff_encoding
from .errors import INTERCHANGE, TA1_CONTENT, Problem, X12Error

CHUNK = 1 << 16
# A longer run without a terminator is not X12 (and would otherwise grow the buffer unbounded).
MAX_SEGMENT = 1 << 20
# Padding around segments: newlines after terminators, blanks of fixed-length records, DOS EOF.
PAD = " \t\r\n\x85\x1a"


class Segment:
    """One segment: `elements[0]` is the segment id, so element n is `elements[n]`."""

    __slots__ = ("elements", "offset", "number", "set_number")

    def __init__(self, elements: list[str], offset: int = -1, number: int = 0):
        self.elements = elements
        self.offset = offset  # byte offset of the segment id in the file
        self.number = number  # position in the interchange, ISA = 1
        self.set_number = 0  # position in the transaction set, ST = 1; set by the envelope layer

    @property
    def tag(self) -> str:
        return self.elements[0]

    def get(self, n: int, default: str = "") -> str:
        """Element n (1-based), or `default` when absent."""
        els = self.elements
        return els[n] if n < len(els) else default

    def __repr__(self) -> str:
        return f"Segment({'*'.join(self.elements)!r}, number={self.number})"


def _fix_text(text: str) -> str:
    # Bytes were decoded one-to-one to keep offsets; non-ASCII data is most often UTF-8.
    try:
        return text.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return text


class SegmentReader:
    """Iterates over the segments of every interchange in a file, re-detecting delimiters at
    each ISA. `delimiters` holds those of the interchange being read."""

    def __init__(self, fp: BinaryIO, chunk_size: int = CHUNK, encoding: str | None = None):
        self.fp = fp
        self.chunk_size = chunk_size
        self.encoding = encoding
        self.delimiters: Delimiters | None = None
        self.codec = encoding or ""  # "latin-1" (ASCII family, UTF-8 content) or an EBCDIC one

    def __iter__(self) -> Iterator[Segment]:
        first = self.fp.read(self.chunk_size)
        base = 0
        if first.startswith(BOM):
            first, base = first[3:], 3
        codec = self.codec = self.encoding or sniff_encoding(first)
        unicode_fix = codec == "latin-1"
        read = self.fp.read
        size = self.chunk_size
        buf = first.decode(codec)
        eof = len(first) == 0
        number = 0
        delims: Delimiters | None = None
        while True:
            if delims is None:
                # Between interchanges: skip padding, then the next thing must be an ISA.
                stripped = buf.lstrip(PAD)
                base += len(buf) - len(stripped)
                buf = stripped
                while len(buf) < ISA_SCAN and not eof:
                    more = read(size)
                    eof = not more
                    buf += more.decode(codec)
                    stripped = buf.lstrip(PAD)
                    base += len(buf) - len(stripped)
                    buf = stripped
                if not buf:
                    return
                if not buf.startswith("ISA"):
                    raise X12Error(Problem(INTERCHANGE, TA1_CONTENT,
                                           f"expected ISA, found {buf[:20]!r}", "", 0, 0, base))
                delims = self.delimiters = detect(buf, base, eof)
                term, sep, strip = delims.segment, delims.element, delims.strip_newlines
                number = 0
            pieces = buf.split(term)
            # Unless at EOF the last piece may be an incomplete segment, kept for the next read.
            if eof:
                tail = ""
                pieces[-1] = pieces[-1].rstrip(PAD)
            else:
                tail = pieces.pop()
            # What is rare is looked for once per buffer, not once per segment.
            wrapped = strip and ("\n" in buf or "\r" in buf)
            unicode = unicode_fix and not buf.isascii()
            for i, piece in enumerate(pieces):
                offset = base
                base += len(piece) + 1
                text = piece.lstrip(PAD)
                if not text:
                    continue
                offset += len(piece) - len(text)
                if wrapped and ("\n" in text or "\r" in text):
                    text = text.replace("\r", "").replace("\n", "")
                if unicode and not text.isascii():
                    text = _fix_text(text)
                number += 1
                elements = text.split(sep)
                yield Segment(elements, offset, number)
                if elements[0] == "IEA":
                    # What follows belongs to the next interchange, whose delimiters may differ.
                    if eof:
                        pieces[-1] = buf.rsplit(term, 1)[-1]
                    buf = term.join(pieces[i + 1 :] + ([] if eof else [tail]))
                    delims = None
                    break
            else:
                if eof:
                    return
                if len(tail) > MAX_SEGMENT:
                    raise X12Error(Problem(INTERCHANGE, TA1_CONTENT,
                                           f"no segment terminator {term!r} in {len(tail)} bytes",
                                           "", 0, number + 1, base))
                more = read(size)
                eof = not more
                buf = tail + more.decode(codec)


def read_segments(fp: BinaryIO, chunk_size: int = CHUNK) -> Iterator[Segment]:
    """Segments of every interchange in `fp` (see SegmentReader)."""
    return iter(SegmentReader(fp, chunk_size))
