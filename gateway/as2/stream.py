"""Message bodies as windows of files, read in chunks: AS2 layers are never held whole in memory.

A `Span` is a byte range of a seekable file (a received body, a decrypted layer in a scratch
file, or bytes in memory); digests, canonical forms and transfer decodings are computed over it
chunk by chunk.
"""

from __future__ import annotations

import binascii
import io
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from cryptography.hazmat.primitives import hashes

CHUNK = 1 << 20
# Layers smaller than this stay in memory; larger ones spill to a file in the scratch directory.
SPILL_BYTES = 1 << 20

_BARE_LF = re.compile(rb"(?<!\r)\n")
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/=]+")


def scratch(directory: Path | None = None) -> BinaryIO:
    """A temporary file for one unwrapped layer, removed when closed or collected."""
    return tempfile.SpooledTemporaryFile(max_size=SPILL_BYTES, dir=directory)


class Span:
    """The bytes ``file[start:end]``. Several spans may share a file: each read seeks first."""

    def __init__(self, file: BinaryIO, start: int = 0, end: int | None = None):
        self.file = file
        self.start = start
        self.end = file.seek(0, 2) if end is None else end

    @classmethod
    def of(cls, data: bytes) -> Span:
        return cls(io.BytesIO(data))

    @property
    def size(self) -> int:
        return self.end - self.start

    def sub(self, start: int, end: int | None = None) -> Span:
        """The part from ``start`` to ``end``, both relative to this span."""
        return Span(self.file, self.start + start, self.end if end is None else self.start + end)

    def chunks(self) -> Iterator[bytes]:
        pos = self.start
        while pos < self.end:
            self.file.seek(pos)
            chunk = self.file.read(min(CHUNK, self.end - pos))
            if not chunk:
                raise OSError(f"file ends at offset {pos}, before the expected {self.end}")
            pos += len(chunk)
            yield chunk

    def read(self, offset: int = 0, size: int | None = None) -> bytes:
        """``size`` bytes from ``offset`` (all the rest by default): for small reads only."""
        start = self.start + offset
        stop = self.end if size is None else min(self.end, start + size)
        if stop <= start:
            return b""
        self.file.seek(start)
        return self.file.read(stop - start)

    def find(self, needle: bytes, start: int = 0) -> Iterator[int]:
        """Offsets (relative to the span) of every occurrence of ``needle``, in order."""
        keep = len(needle) - 1
        carry, base = b"", start
        for chunk in self.sub(start).chunks():
            window = carry + chunk
            at = window.find(needle)
            while at != -1:
                yield base + at
                at = window.find(needle, at + 1)
            cut = max(len(window) - keep, 0)
            base, carry = base + cut, window[cut:]


class Canonical:
    """RFC 5751 canonical form, incrementally: every bare LF becomes CRLF."""

    def __init__(self) -> None:
        self.after_cr = False
        self.changed = False

    def __call__(self, chunk: bytes) -> bytes:
        head = b""
        if self.after_cr and chunk.startswith(b"\n"):
            head, chunk = b"\n", chunk[1:]
        # Counting first spares the regex scan (slow, under the GIL) when every LF has its CR.
        bare = chunk.count(b"\n") - chunk.count(b"\r\n")
        out = _BARE_LF.sub(b"\r\n", chunk) if bare else chunk
        self.changed = self.changed or len(out) != len(chunk)
        if head or chunk:
            self.after_cr = (head + chunk).endswith(b"\r")
        return head + out


class Digests:
    """Digests of a span and of its canonical form, by algorithm, each computed when first
    asked for: a signature that verifies over the exact bytes needs no canonical pass."""

    def __init__(self, span: Span, new_hash: Callable[[str], hashes.HashAlgorithm]):
        self.span, self._new_hash = span, new_hash
        self._done: dict[tuple[str, bool], bytes] = {}
        self._canonical_differs: bool | None = None

    def _compute(self, name: str, canonical: bool) -> bytes:
        if (name, canonical) not in self._done:
            digest = hashes.Hash(self._new_hash(name))
            canon = Canonical() if canonical else None
            for chunk in self.span.chunks():
                digest.update(canon(chunk) if canon else chunk)
            if canon:
                self._canonical_differs = canon.changed
            self._done[name, canonical] = digest.finalize()
        return self._done[name, canonical]

    def exact(self, name: str) -> bytes:
        return self._compute(name, False)

    def canonical(self, name: str) -> bytes:
        return self._compute(name, True)

    @property
    def canonical_differs(self) -> bool:
        """Whether the canonical form differs from the exact bytes."""
        if self._canonical_differs is None:
            canon = Canonical()
            for chunk in self.span.chunks():
                canon(chunk)
            self._canonical_differs = canon.changed
        return self._canonical_differs


def write_all(chunks: Iterable[bytes], out: BinaryIO) -> int:
    size = 0
    for chunk in chunks:
        out.write(chunk)
        size += len(chunk)
    return size


def base64_decode(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Decode base64 as `base64.b64decode` does (characters outside the alphabet are skipped,
    decoding stops at the padding that ends a group), raising its `binascii.Error`s."""
    carry = b""
    decoded = 0
    for chunk in chunks:
        data = carry + _NOT_BASE64.sub(b"", chunk)
        stop = _padding_end(data)
        if stop is not None:
            yield binascii.a2b_base64(data[:stop])
            return
        # '=' that ends no group is skipped; a trailing run may still end one with what follows.
        body = data.rstrip(b"=")
        pads = data[len(body) :]
        body = body.replace(b"=", b"")
        cut = len(body) - len(body) % 4
        carry = body[cut:] + pads
        if cut:
            out = binascii.a2b_base64(body[:cut])
            decoded += len(out)
            yield out
    if len(carry.replace(b"=", b"")) == 1:
        # binascii's message, counting the data characters of the whole body.
        raise binascii.Error(
            "Invalid base64-encoded string: number of data characters "
            f"({decoded // 3 * 4 + 1}) cannot be 1 more than a multiple of 4"
        )
    if carry:
        yield binascii.a2b_base64(carry)  # "Incorrect padding" when it is


def _padding_end(data: bytes) -> int | None:
    """The end of the padding that ends base64 ``data`` (which starts a group), if it has one.

    As binascii reads it: '=' in the third or fourth place of a group pads it, and enough of
    them end the data; '=' anywhere else is skipped.
    """
    pads, previous, seen = 0, -2, 0
    for match in re.finditer(rb"=", data):
        at = match.start()
        if at != previous + 1:
            pads = 0  # a data character came between
        place = (at - seen) % 4
        previous, seen = at, seen + 1
        if place >= 2:
            pads += 1
            if place + pads >= 4:
                return at + 1
    return None


def quoted_printable_decode(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Decode quoted-printable line by line, as `quopri.decodestring` does for the whole."""
    carry = b""
    for chunk in chunks:
        data = carry + chunk
        cut = data.rfind(b"\n") + 1
        if not cut and len(data) > CHUNK:
            # A line this long is cut anywhere but inside an "=XX" escape.
            escape = data.find(b"=", len(data) - 2)
            cut = len(data) if escape == -1 else escape
        carry = data[cut:]
        if cut:
            yield binascii.a2b_qp(data[:cut])
    if carry:
        yield binascii.a2b_qp(carry)
