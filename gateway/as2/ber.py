"""A BER/DER reader over a seekable binary file: one header at a time, small values whole; and
`tlv`, the DER encoding of one value, for structures we assemble from pre-encoded parts.

CMS messages carry their content in one OCTET STRING that may be as large as the message; this
reader walks the structure around it without reading it (primitive contents are skipped by
seeking), hands small elements whole to asn1crypto, and streams the large content in chunks,
whether it is one primitive value or a constructed string of chunks with indefinite lengths as
streaming encoders write it. Every length is checked against the value that encloses it and
against the end of the input before anything is read, so memory stays bounded on any input.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

CHUNK = 1 << 20
MAX_ELEMENT = 1 << 20  # recipient infos, algorithm identifiers, signer infos: a few KB in practice
MAX_DEPTH = 32

UNIVERSAL, CONTEXT = 0, 2
INTEGER, OCTET_STRING, OID, SEQUENCE, SET = 2, 4, 6, 16, 17
_CLASSES = ("universal", "application", "context", "private")


def tlv(identifier: int, content: bytes) -> bytes:
    """The DER encoding of one value: identifier octet, definite length, content."""
    size = len(content)
    if size < 0x80:
        return bytes((identifier, size)) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((identifier, 0x80 | len(length))) + length + content


class BerError(ValueError):
    """The input is not the BER structure expected; the message says what and at which offset."""


@dataclass(frozen=True)
class Header:
    offset: int  # of the identifier octet
    cls: int
    constructed: bool
    tag: int
    length: int | None  # None: indefinite
    raw: bytes  # the identifier and length octets

    @property
    def end(self) -> int | None:
        return None if self.length is None else self.offset + len(self.raw) + self.length

    def describe(self) -> str:
        form = "constructed" if self.constructed else "primitive"
        return f"{_CLASSES[self.cls]} tag {self.tag} ({form}) at offset {self.offset}"


@dataclass(frozen=True)
class Location:
    """Where an OCTET STRING's content lies, found without reading it: stream it with `octets`."""

    header: Header
    limit: int
    size: int


class Reader:
    """Reads ``file[start:end]`` as BER. Offsets in messages are relative to ``start``."""

    def __init__(self, file: BinaryIO, start: int = 0, end: int | None = None):
        if end is None:
            end = file.seek(0, 2)
        self.file, self.start, self.pos = file, start, start
        # Each open constructed value: (its header, the offset nothing inside may pass).
        self.stack: list[tuple[Header, int]] = []
        self.limit = end

    # -- reading --------------------------------------------------------------------------

    def _read(self, n: int) -> bytes:
        if self.pos + n > self.limit:
            raise BerError(
                f"{self._bound()} ends at offset {self.limit - self.start}, inside the value "
                f"being read at offset {self.pos - self.start} ({n} bytes needed)"
            )
        self.file.seek(self.pos)
        data = self.file.read(n)
        if len(data) != n:
            raise BerError(f"input is truncated at offset {self.pos - self.start + len(data)}")
        self.pos += n
        return data

    def header(self) -> Header:
        """The next header; its definite length must fit in the enclosing value and the input."""
        offset = self.pos
        first = self._read(1)[0]
        raw = bytearray([first])
        tag = first & 0x1F
        if tag == 0x1F:
            tag = 0
            for _ in range(4):
                octet = self._read(1)[0]
                raw.append(octet)
                tag = (tag << 7) | (octet & 0x7F)
                if not octet & 0x80:
                    break
            else:
                raise BerError(f"tag number at offset {offset - self.start} is too long")
        octet = self._read(1)[0]
        raw.append(octet)
        length: int | None
        if octet == 0x80:
            length = None
            if not first & 0x20:
                raise BerError(
                    f"primitive value at offset {offset - self.start} has an indefinite length"
                )
        elif octet & 0x80:
            count = octet & 0x7F
            if count > 8:
                raise BerError(
                    f"length at offset {offset - self.start} has {count} octets (at most 8)"
                )
            encoded = self._read(count)
            raw += encoded
            length = int.from_bytes(encoded, "big")
        else:
            length = octet
        header = Header(offset - self.start, first >> 6, bool(first & 0x20), tag, length,
                        bytes(raw))  # fmt: skip
        if length is not None and self.pos + length > self.limit:
            raise BerError(
                f"length {length} of {header.describe()} runs past the end of {self._bound()} "
                f"(offset {self.limit - self.start})"
            )
        return header

    def _bound(self) -> str:
        """What ends where the current limit is."""
        definite = any(header.length is not None for header, _ in self.stack)
        return "its enclosing value" if definite else "the input"

    def expect(self, cls: int, tag: int, constructed: bool | None = None, what: str = "") -> Header:
        header = self.header()
        if header.cls != cls or header.tag != tag or constructed not in (None, header.constructed):
            raise BerError(
                f"expected {what or f'{_CLASSES[cls]} tag {tag}'}, found {header.describe()}"
            )
        return header

    def at_end(self) -> bool:
        """Whether the open constructed value has no more elements."""
        header, _ = self.stack[-1]
        if header.length is not None:
            return self.pos >= self.limit
        self.file.seek(self.pos)
        return self.pos + 2 <= self.limit and self.file.read(2) == b"\x00\x00"

    def enter(self, header: Header) -> None:
        if not header.constructed:
            raise BerError(f"expected a constructed value, found {header.describe()}")
        if len(self.stack) >= MAX_DEPTH:
            raise BerError(f"values nest deeper than {MAX_DEPTH} levels at offset {header.offset}")
        self.stack.append((header, self.limit))
        if header.end is not None:
            self.limit = self.start + header.end

    def leave(self) -> None:
        """Close the open constructed value, which must have no elements left."""
        header, outer = self.stack[-1]
        if not self.at_end():
            raise BerError(
                f"unexpected content at offset {self.pos - self.start} at the end of "
                f"{header.describe()}"
            )
        if header.length is None:
            self.pos += 2  # the end-of-contents octets
        self.stack.pop()
        self.limit = outer

    def skip(self, header: Header) -> None:
        """Move past the value whose header was just read, without reading primitive contents."""
        if header.length is not None:
            self.pos = self.start + header.end
            return
        self.enter(header)
        while not self.at_end():
            self.skip(self.header())
        self.leave()

    def element(self, header: Header) -> bytes:
        """The whole encoding (header included) of the value whose header was just read."""
        begin = self.start + header.offset
        self.skip(header)
        size = self.pos - begin
        if size > MAX_ELEMENT:
            raise BerError(f"{header.describe()} is {size} bytes, more than {MAX_ELEMENT} allowed")
        self.file.seek(begin)
        return self.file.read(size)

    # -- large OCTET STRING contents ----------------------------------------------------------

    def locate(self, header: Header) -> Location:
        """Check the shape of an OCTET STRING (any tag) and move past it; count its content."""
        limit = self.limit
        return Location(header, limit, sum(self._pieces(header, read=False)))

    def octets(self, location: Location) -> Iterator[bytes]:
        """The content of a located OCTET STRING, in chunks of at most CHUNK bytes."""
        self.pos = self.start + location.header.offset + len(location.header.raw)
        self.limit, self.stack = location.limit, []
        return self._pieces(location.header, read=True)

    def _pieces(self, header: Header, read: bool) -> Iterator:
        if not header.constructed:
            end = self.start + header.end
            if not read:
                yield header.length
                self.pos = end
                return
            while self.pos < end:
                yield self._read(min(CHUNK, end - self.pos))
            return
        self.enter(header)
        while not self.at_end():
            yield from self._pieces(
                self.expect(UNIVERSAL, OCTET_STRING, what="an OCTET STRING segment"), read
            )
        self.leave()
