"""Acknowledgments: 997 (4010) and 999 (5010) for a functional group, TA1 for an interchange.

The builders return segment element lists for writer.transaction_set / writer.interchange; control
numbers are the caller's (it keeps per-partner counters).
"""

from collections.abc import Sequence
from datetime import datetime

from . import errors as E
from .delimiters import Delimiters
from .envelope import FunctionalGroup, Interchange, TransactionSet
from .errors import Problem
from .reader import Segment
from .writer import Elements, gs, isa, transaction_set

# Problems whose offending value is echoed in AK404/IK404.
ECHO_VALUE = {E.ELE_TOO_SHORT, E.ELE_TOO_LONG, E.ELE_BAD_CHARACTER, E.ELE_BAD_CODE,
              E.ELE_BAD_DATE, E.ELE_BAD_TIME, E.ELE_TOO_MANY_REPEATS}
MAX_CODES = 5  # AK502..AK506 and AK905..AK909


def _is_5010(version: str) -> bool:
    return version[:6] >= "005010"


def set_status(ts: TransactionSet, problems: Sequence[Problem], lenient: bool = False) -> str:
    """A (accepted), E (accepted, errors noted) or R (rejected) for one transaction set."""
    if ts.problems:
        return "R"
    if problems:
        return "E" if lenient else "R"
    return "A"


def _set_codes(ts: TransactionSet, problems: Sequence[Problem]) -> list[str]:
    codes = [p.code for p in ts.problems]
    if problems and E.SET_SEGMENTS_IN_ERROR not in codes:
        codes.append(E.SET_SEGMENTS_IN_ERROR)
    return list(dict.fromkeys(codes))[:MAX_CODES]


def _segment_loops(problems: Sequence[Problem], five: bool) -> list[Elements]:
    """AK3/AK4 (IK3/IK4) segments, one AK3 per segment in error, in segment order."""
    seg3, seg4 = ("IK3", "IK4") if five else ("AK3", "AK4")
    by_segment: dict[int, list[Problem]] = {}
    for p in problems:
        by_segment.setdefault(p.segment_no, []).append(p)
    out: list[Elements] = []
    for number in sorted(by_segment):
        items = by_segment[number]
        element_items = [p for p in items if p.level == E.ELEMENT]
        for p in items:
            if p.level == E.SEGMENT:
                out.append([seg3, p.segment_id, str(p.segment_no), p.loop_id, p.code])
        if element_items:
            first = element_items[0]
            out.append([seg3, first.segment_id, str(first.segment_no), first.loop_id,
                        E.SEG_ELEMENT_ERRORS])
            for p in element_items[:99]:
                position = (str(p.element), str(p.component)) if p.component else str(p.element)
                value = p.value[:99] if p.code in ECHO_VALUE else ""
                out.append([seg4, position, p.element_ref, p.code, value])
    return out


def functional_ack(group: FunctionalGroup,
                   results: Sequence[tuple[TransactionSet, Sequence[Problem]]],
                   control_number: int | str, lenient: bool = False) -> list[Elements]:
    """The 997 (group version before 005010) or 999 transaction set acknowledging `group`.

    `results` pairs each transaction set received in the group with its validation problems.
    """
    five = _is_5010(group.version)
    ak1 = ["AK1", group.functional_id, group.control_number] + ([group.version] if five else [])
    body: list[Elements] = [ak1]
    accepted = 0
    statuses = []
    for ts, problems in results:
        ak2 = ["AK2", ts.id, ts.control_number] + ([ts.implementation] if five else [])
        body.append(ak2)
        body.extend(_segment_loops(problems, five))
        status = set_status(ts, problems, lenient)
        statuses.append(status)
        accepted += status != "R"
        body.append(["IK5" if five else "AK5", status] + _set_codes(ts, problems))
    group_codes = list(dict.fromkeys(p.code for p in group.problems))[:MAX_CODES]
    if group_codes or not accepted:
        overall = "R"
    elif accepted < len(results):
        overall = "P"
    else:
        overall = "E" if "E" in statuses else "A"
    trailer = group.trailer
    included = trailer.get(1) if trailer is not None and trailer.get(1).isdigit() else str(
        len(results))
    body.append(["AK9", overall, included, str(len(results)), str(accepted)] + group_codes)
    return transaction_set("999" if five else "997", control_number, body)


def ta1(header: Segment, problems: Sequence[Problem] = ()) -> list[str]:
    """TA1 for the interchange whose ISA is `header`; the first interchange problem is noted."""
    codes = [p.code for p in problems if p.level == E.INTERCHANGE]
    status = "R" if codes else "A"
    return ["TA1", header.get(13), header.get(9), header.get(10), status,
            codes[0] if codes else E.TA1_NO_ERROR]


def needs_ta1(ic: Interchange) -> bool:
    """True when the sender asked for a TA1 (ISA14=1) or the interchange has envelope problems."""
    return ic.ack_requested or not ic.accepted


def reply_isa(ic: Interchange, control_number: int | str, delimiters: Delimiters | None = None,
              when: datetime | None = None) -> list[str]:
    """ISA answering `ic`: sender and receiver swapped, same version and usage indicator."""
    return isa((ic.receiver_qualifier, ic.receiver_id), (ic.sender_qualifier, ic.sender_id),
               control_number, delimiters or ic.delimiters, version=ic.version,
               usage=ic.usage, when=when)


def reply_gs(group: FunctionalGroup, control_number: int | str,
             when: datetime | None = None) -> list[str]:
    """GS of the FA group answering `group`: application ids swapped, GS08 mirrored."""
    return gs("FA", group.receiver_id, group.sender_id, control_number, group.version, when)
