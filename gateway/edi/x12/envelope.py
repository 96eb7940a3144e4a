"""Interchange, functional group and transaction set units with their envelope checks.

`read_units` streams a file as events: an Interchange at its ISA, a FunctionalGroup at its GS, a
complete TransactionSet at its SE, then GroupEnd and InterchangeEnd once the trailers (or their
absence) are known. Problems are recorded on the unit they concern, so one bad transaction set
does not stop the good ones next to it.
"""

from collections.abc import Iterator
from typing import BinaryIO

from . import errors as E
from .delimiters import Delimiters
from .errors import Problem
from .reader import CHUNK, Segment, SegmentReader

# ISA element widths and the TA105 code reporting a bad value in each (index 0: the segment id).
ISA_FIELDS = (
    (3, E.TA1_CONTENT), (2, E.TA1_AUTH_QUALIFIER), (10, E.TA1_AUTH_VALUE),
    (2, E.TA1_SECURITY_QUALIFIER), (10, E.TA1_SECURITY_VALUE),
    (2, E.TA1_SENDER_QUALIFIER), (15, E.TA1_SENDER_ID), (2, E.TA1_RECEIVER_QUALIFIER),
    (15, E.TA1_RECEIVER_ID),
    (6, E.TA1_DATE), (4, E.TA1_TIME), (1, E.TA1_STANDARDS_ID), (5, E.TA1_VERSION),
    (9, E.TA1_CONTROL_NUMBER), (1, E.TA1_ACK_REQUESTED), (1, E.TA1_TEST_INDICATOR),
    (1, E.TA1_COMPONENT_SEPARATOR),
)
# The segments that end a transaction set's body.
ENVELOPE_TAGS = frozenset(("SE", "ST", "GE", "GS", "IEA", "ISA"))


def _problem(level: str, code: str, message: str, seg: Segment, element: int = 0,
             in_set: bool = False) -> Problem:
    return Problem(level, code, message, seg.tag, seg.set_number if in_set else 0, seg.number,
                   seg.offset, element)


class Interchange:
    """An ISA..IEA envelope (header and trailer only; its groups stream past)."""

    def __init__(self, header: Segment, delimiters: Delimiters, encoding: str = "latin-1"):
        self.header = header
        self.delimiters = delimiters
        self.encoding = "utf-8" if encoding == "latin-1" else encoding  # to encode replies
        self.trailer: Segment | None = None
        self.problems: list[Problem] = []
        self.group_count = 0
        self.groups: list[FunctionalGroup] = []  # filled by load() only
        self.ta1: list[Segment] = []  # interchange acknowledgments carried by this interchange

    sender_qualifier = property(lambda self: self.header.get(5))
    sender_id = property(lambda self: self.header.get(6).rstrip())
    receiver_qualifier = property(lambda self: self.header.get(7))
    receiver_id = property(lambda self: self.header.get(8).rstrip())
    control_number = property(lambda self: self.header.get(13))
    version = property(lambda self: self.header.get(12))
    ack_requested = property(lambda self: self.header.get(14) == "1")
    usage = property(lambda self: self.header.get(15))

    @property
    def key(self) -> tuple[str, str, str]:
        """(sender qualifier, sender id, ISA13): what a duplicate-interchange store keys on."""
        return self.sender_qualifier, self.sender_id, self.control_number

    @property
    def accepted(self) -> bool:
        return not self.problems


class FunctionalGroup:
    """A GS..GE envelope (header and trailer only)."""

    def __init__(self, header: Segment, interchange: Interchange):
        self.header = header
        self.interchange = interchange
        self.trailer: Segment | None = None
        self.problems: list[Problem] = []
        self.set_count = 0
        self.control_numbers: set[str] = set()
        self.sets: list[TransactionSet] = []  # filled by load() only

    functional_id = property(lambda self: self.header.get(1))
    sender_id = property(lambda self: self.header.get(2))
    receiver_id = property(lambda self: self.header.get(3))
    control_number = property(lambda self: self.header.get(6))
    version = property(lambda self: self.header.get(8))


class TransactionSet:
    """A complete ST..SE transaction set with its envelope problems."""

    def __init__(self, group: FunctionalGroup, segments: list[Segment]):
        self.group = group
        self.segments = segments
        self.problems: list[Problem] = []

    id = property(lambda self: self.segments[0].get(1))
    control_number = property(lambda self: self.segments[0].get(2))
    implementation = property(lambda self: self.segments[0].get(3))

    @property
    def accepted(self) -> bool:
        return not self.problems


class GroupEnd:
    """Emitted once a group's trailer has been read or found missing."""

    def __init__(self, group: FunctionalGroup):
        self.group = group


class InterchangeEnd:
    """Emitted once an interchange's trailer has been read or found missing."""

    def __init__(self, interchange: Interchange):
        self.interchange = interchange


Unit = Interchange | FunctionalGroup | TransactionSet | GroupEnd | InterchangeEnd


def check_isa(isa: Segment) -> list[Problem]:
    """Fixed-width and value checks of an ISA segment."""
    problems = []
    els = isa.elements
    if len(els) != 17:
        return [_problem(E.INTERCHANGE, E.TA1_CONTENT,
                         f"ISA has {len(els) - 1} elements, expected 16", isa)]
    for n in range(1, 17):
        width, code = ISA_FIELDS[n]
        value = els[n]
        if len(value) != width:
            problems.append(_problem(E.INTERCHANGE, code,
                                     f"ISA{n:02d} is {len(value)} characters, expected {width}",
                                     isa, n))
    for n in (9, 10, 12, 13):
        if len(els[n]) == ISA_FIELDS[n][0] and not els[n].isdigit():
            problems.append(_problem(E.INTERCHANGE, ISA_FIELDS[n][1],
                                     f"ISA{n:02d} {els[n]!r} is not numeric", isa, n))
    if els[14] not in ("0", "1"):
        problems.append(_problem(E.INTERCHANGE, E.TA1_ACK_REQUESTED,
                                 f"ISA14 {els[14]!r} is not 0 or 1", isa, 14))
    if els[15] not in ("P", "T", "I"):
        problems.append(_problem(E.INTERCHANGE, E.TA1_TEST_INDICATOR,
                                 f"ISA15 {els[15]!r} is not P, T or I", isa, 15))
    return problems


def _int(value: str) -> int | None:
    return int(value) if value.isdigit() else None


def _close_set(ts: TransactionSet, se: Segment | None, last: Segment) -> None:
    st = ts.segments[0]
    group = ts.group
    if not st.get(1).isdigit() or len(st.get(1)) != 3:
        ts.problems.append(_problem(E.SET, E.SET_ID_INVALID,
                                    f"invalid transaction set identifier {st.get(1)!r}", st, 1, True))
    control = st.get(2)
    if not 4 <= len(control) <= 9:
        ts.problems.append(_problem(E.SET, E.SET_CONTROL_INVALID,
                                    f"invalid transaction set control number {control!r}",
                                    st, 2, True))
    elif control in group.control_numbers:
        ts.problems.append(_problem(E.SET, E.SET_CONTROL_NOT_UNIQUE,
                                    f"transaction set control number {control} repeated in group",
                                    st, 2, True))
    group.control_numbers.add(control)
    if se is None:
        ts.problems.append(_problem(E.SET, E.SET_TRAILER_MISSING,
                                    f"transaction set {control} has no SE trailer", last, 0, True))
        return
    count = _int(se.get(1))
    if count != len(ts.segments):
        ts.problems.append(_problem(E.SET, E.SET_SEGMENT_COUNT,
                                    f"SE01 {se.get(1)!r} but the set has {len(ts.segments)} segments",
                                    se, 1, True))
    if se.get(2) != control:
        ts.problems.append(_problem(E.SET, E.SET_CONTROL_MISMATCH,
                                    f"SE02 {se.get(2)!r} does not match ST02 {control!r}", se, 2, True))


def _close_group(group: FunctionalGroup, ge: Segment | None, last: Segment) -> None:
    if not group.control_number.isdigit():
        group.problems.append(_problem(E.GROUP, E.GROUP_CONTROL_SYNTAX,
                                       f"GS06 {group.control_number!r} is not numeric",
                                       group.header, 6))
    if ge is None:
        group.problems.append(_problem(E.GROUP, E.GROUP_TRAILER_MISSING,
                                       f"group {group.control_number} has no GE trailer", last))
        return
    group.trailer = ge
    if _int(ge.get(1)) != group.set_count:
        group.problems.append(_problem(E.GROUP, E.GROUP_SET_COUNT,
                                       f"GE01 {ge.get(1)!r} but the group has {group.set_count} "
                                       "transaction sets", ge, 1))
    if ge.get(2) != group.control_number:
        group.problems.append(_problem(E.GROUP, E.GROUP_CONTROL_MISMATCH,
                                       f"GE02 {ge.get(2)!r} does not match GS06 "
                                       f"{group.control_number!r}", ge, 2))


def _close_interchange(ic: Interchange, iea: Segment | None, last: Segment) -> None:
    if iea is None:
        ic.problems.append(_problem(E.INTERCHANGE, E.TA1_END_OF_FILE,
                                    f"interchange {ic.control_number} has no IEA trailer", last))
        return
    ic.trailer = iea
    if _int(iea.get(1)) != ic.group_count:
        ic.problems.append(_problem(E.INTERCHANGE, E.TA1_GROUP_COUNT,
                                    f"IEA01 {iea.get(1)!r} but the interchange has "
                                    f"{ic.group_count} groups", iea, 1))
    if iea.get(2) != ic.control_number:
        ic.problems.append(_problem(E.INTERCHANGE, E.TA1_CONTROL_MISMATCH,
                                    f"IEA02 {iea.get(2)!r} does not match ISA13 "
                                    f"{ic.control_number!r}", iea, 2))


def read_units(fp: BinaryIO, chunk_size: int = CHUNK, encoding: str | None = None
               ) -> Iterator[Unit]:
    """Stream the envelope units of every interchange in `fp` (see module docstring); the
    encoding is detected unless given (a single-byte codec).

    Raises X12Error only when the input cannot be read on (no ISA, unusable delimiters).
    """
    reader = SegmentReader(fp, chunk_size, encoding)
    ic: Interchange | None = None
    group: FunctionalGroup | None = None
    ts: TransactionSet | None = None
    last: Segment | None = None
    for seg in reader:
        tag = seg.elements[0]
        if ts is not None:
            seg.set_number = len(ts.segments) + 1
            if tag not in ENVELOPE_TAGS:
                ts.segments.append(seg)
                last = seg
                continue
            if tag == "SE":
                ts.segments.append(seg)
                _close_set(ts, seg, seg)
                yield ts
                ts, last = None, seg
                continue
            seg.set_number = 0
            _close_set(ts, None, last)
            yield ts
            ts = None
        if tag == "ISA":
            if group is not None:
                _close_group(group, None, last)
                yield GroupEnd(group)
                group = None
            if ic is not None:
                _close_interchange(ic, None, last)
                yield InterchangeEnd(ic)
            ic = Interchange(seg, reader.delimiters, reader.codec)
            ic.problems.extend(check_isa(seg))
            yield ic
        elif ic is None:
            raise E.X12Error(_problem(E.INTERCHANGE, E.TA1_CONTENT, "segment outside any "
                                      "interchange", seg))
        elif tag == "GS":
            if group is not None:
                _close_group(group, None, last)
                yield GroupEnd(group)
            ic.group_count += 1
            group = FunctionalGroup(seg, ic)
            yield group
        elif tag == "ST" and group is not None:
            group.set_count += 1
            seg.set_number = 1
            ts = TransactionSet(group, [seg])
        elif tag == "GE" and group is not None:
            _close_group(group, seg, seg)
            yield GroupEnd(group)
            group = None
        elif tag == "TA1" and group is None:
            ic.ta1.append(seg)
        elif tag == "IEA":
            if group is not None:
                _close_group(group, None, last)
                yield GroupEnd(group)
                group = None
            _close_interchange(ic, seg, seg)
            yield InterchangeEnd(ic)
            ic = None
        elif not ic.problems or ic.problems[-1].code != E.TA1_CONTROL_STRUCTURE:
            # One problem for a run of stray segments (e.g. a transaction set without GS).
            ic.problems.append(_problem(E.INTERCHANGE, E.TA1_CONTROL_STRUCTURE,
                                        f"unexpected {tag} segment in the envelope", seg))
        last = seg
    if ts is not None:
        _close_set(ts, None, last)
        yield ts
    if group is not None:
        _close_group(group, None, last)
        yield GroupEnd(group)
    if ic is not None:
        _close_interchange(ic, None, last)
        yield InterchangeEnd(ic)


def load(fp: BinaryIO) -> list[Interchange]:
    """Whole file as a tree (interchange.groups[].sets[]): for small files and tests."""
    interchanges = []
    for unit in read_units(fp):
        if isinstance(unit, Interchange):
            interchanges.append(unit)
        elif isinstance(unit, FunctionalGroup):
            unit.interchange.groups.append(unit)
        elif isinstance(unit, TransactionSet):
            unit.group.sets.append(unit)
    return interchanges
