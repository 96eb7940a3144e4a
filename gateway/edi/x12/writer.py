"""X12 serialisation: segments with chosen delimiters, and ISA/GS/ST envelopes around them."""

from collections.abc import Iterable, Sequence
from datetime import datetime

from .delimiters import Delimiters
from .reader import Segment

# Widths of ISA01..ISA16; every ISA element is fixed width.
ISA_WIDTHS = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)

# An element value is a string, or a tuple of component strings for a composite element.
Elements = Sequence[str | tuple[str, ...]]


def _elements(seg: Segment | Elements) -> Elements:
    return seg.elements if isinstance(seg, Segment) else seg


def format_segment(seg: Segment | Elements, delimiters: Delimiters) -> str:
    """One segment with its terminator; trailing empty elements are dropped."""
    comp = delimiters.component
    els = [v if isinstance(v, str) else comp.join(v).rstrip(comp) for v in _elements(seg)]
    while len(els) > 1 and els[-1] == "":
        els.pop()
    return delimiters.element.join(els) + delimiters.segment


def write_segments(segments: Iterable[Segment | Elements], delimiters: Delimiters,
                   newline: bool = False) -> str:
    """Segments serialised one after the other, optionally one per line."""
    end = "\n" if newline and delimiters.segment != "\n" else ""
    return "".join(format_segment(s, delimiters) + end for s in segments)


def isa(sender: tuple[str, str], receiver: tuple[str, str], control_number: int | str,
        delimiters: Delimiters, *, version: str = "00401", ack_requested: bool = False,
        usage: str = "P", when: datetime | None = None) -> list[str]:
    """ISA elements, padded to their fixed widths. Sender/receiver are (qualifier, id)."""
    when = when or datetime.now()
    standards = delimiters.repetition if version >= "00403" and delimiters.repetition else "U"
    values = ["00", "", "00", "", sender[0], sender[1], receiver[0], receiver[1],
              when.strftime("%y%m%d"), when.strftime("%H%M"), standards, version,
              f"{int(control_number):09d}", "1" if ack_requested else "0", usage,
              delimiters.component]
    for n, (value, width) in enumerate(zip(values, ISA_WIDTHS, strict=True), 1):
        if len(value) > width:
            raise ValueError(f"ISA{n:02d} {value!r} is longer than {width} characters")
    return ["ISA"] + [v.ljust(w) for v, w in zip(values, ISA_WIDTHS, strict=True)]


def gs(functional_id: str, sender: str, receiver: str, control_number: int | str,
       version: str = "004010", when: datetime | None = None) -> list[str]:
    """GS elements for a functional group."""
    when = when or datetime.now()
    return ["GS", functional_id, sender, receiver, when.strftime("%Y%m%d"),
            when.strftime("%H%M"), str(int(control_number)), "X", version]


def transaction_set(set_id: str, control_number: int | str, body: Iterable[Segment | Elements],
                    implementation: str = "") -> list[Elements]:
    """ST, the body and an SE carrying the segment count (ST and SE included)."""
    control = f"{int(control_number):04d}"
    st = ["ST", set_id, control] + ([implementation] if implementation else [])
    segments = [st] + [list(_elements(s)) for s in body]
    segments.append(["SE", str(len(segments) + 1), control])
    return segments


Group = tuple[list[str], Sequence[Sequence[Elements]]]  # (GS elements, transaction sets)


def interchange(isa_elements: list[str], groups: Sequence[Group], delimiters: Delimiters,
                newline: bool = False, ta1: Sequence[Elements] = ()) -> str:
    """A whole interchange: ISA, any TA1 segments, then each (GS elements, transaction sets)
    with its GE, then IEA. Trailer counts and control numbers are derived from the headers.
    """
    segments: list[Elements] = [isa_elements, *ta1]
    for gs_elements, sets in groups:
        segments.append(gs_elements)
        for ts in sets:
            segments.extend(ts)
        segments.append(["GE", str(len(sets)), gs_elements[6]])
    segments.append(["IEA", str(len(groups)), isa_elements[13]])
    return write_segments(segments, delimiters, newline)
