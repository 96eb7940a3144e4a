"""Delimiters and character encoding of an interchange, detected from its ISA segment."""

from dataclasses import dataclass

from .errors import (
    INTERCHANGE,
    TA1_COMPONENT_SEPARATOR,
    TA1_CONTENT,
    TA1_ELEMENT_SEPARATOR,
    TA1_END_OF_FILE,
    Problem,
    X12Error,
)

BOM = b"\xef\xbb\xbf"
EBCDIC_ISA = b"\xc9\xe2\xc1"  # "ISA" in every EBCDIC code page
# An ISA is 106 characters; a few more allow for line wrapping inside it (80-column records).
ISA_SCAN = 200
NEWLINES = "\r\n"


@dataclass(frozen=True, slots=True)
class Delimiters:
    """The four X12 separators of one interchange (repetition empty before version 00403)."""

    element: str = "*"
    component: str = ":"
    segment: str = "~"
    repetition: str = ""

    @property
    def strip_newlines(self) -> bool:
        """True when CR/LF are line wrapping, not the terminator, and are dropped everywhere."""
        return self.segment not in NEWLINES


def sniff_encoding(head: bytes) -> str:
    """Single-byte codec to read a stream starting with `head` (BOM already removed).

    Every candidate maps one byte to one character, so character offsets are byte offsets.
    """
    head = head.lstrip(b"\r\n\t @\x15\x25")
    if head[:3] != EBCDIC_ISA:
        return "latin-1"
    # cp037 and cp500 differ in a few punctuation marks; delimiters that read as cent or not
    # signs under cp037 are cp500's ^ and [ (where ISA16 and the terminator sit unwrapped).
    delimiters = (head[3:4] + head[104:106]).decode("cp037")
    return "cp500" if "¢" in delimiters or "¬" in delimiters else "cp037"


def detect(text: str, offset: int = 0, at_eof: bool = True) -> Delimiters:
    """Delimiters of the ISA at the start of `text` (at least ISA_SCAN characters unless at EOF)."""

    def fail(code: str, message: str) -> X12Error:
        return X12Error(Problem(INTERCHANGE, code, message, "ISA", 0, 1, offset))

    if not text.startswith("ISA"):
        raise fail(TA1_CONTENT, f"interchange does not start with ISA: {text[:20]!r}")
    if len(text) < 4:
        raise fail(TA1_END_OF_FILE, "file ends inside the ISA segment")
    sep = text[3]
    if sep.isalnum() or sep in " \r\n":
        raise fail(TA1_ELEMENT_SEPARATOR, f"invalid element separator {sep!r}")
    pos = 3
    for _ in range(15):
        pos = text.find(sep, pos + 1, ISA_SCAN)
        if pos < 0:
            if len(text) < ISA_SCAN and at_eof:
                raise fail(TA1_END_OF_FILE, "file ends inside the ISA segment")
            raise fail(TA1_ELEMENT_SEPARATOR, "ISA does not have 16 elements")
    wrapped = text[pos + 1 : pos + 4].lstrip(NEWLINES)
    if len(wrapped) < 2:
        raise fail(TA1_END_OF_FILE, "file ends inside the ISA segment")
    component, terminator = wrapped[0], wrapped[1]
    if component.isalnum() or component in (sep, " "):
        raise fail(TA1_COMPONENT_SEPARATOR, f"invalid component separator {component!r}")
    if terminator.isalnum() or terminator in (sep, component, " "):
        raise fail(TA1_CONTENT, f"invalid segment terminator {terminator!r}")
    fields = text[:pos].replace("\r", "").replace("\n", "").split(sep)
    repetition = ""
    if len(fields) > 12 and fields[12] >= "00403":
        rep = fields[11]
        if len(rep) == 1 and not rep.isalnum() and rep not in (sep, component, terminator, " "):
            repetition = rep
    return Delimiters(sep, component, terminator, repetition)
