"""Acknowledgments: 997 (4010) and 999 (5010) for a functional group, TA1 for an interchange.

The builders return segment element lists for writer.transaction_set / writer.interchange; control
numbers are the caller's (it keeps per-partner counters).
"""

from collections.abc import Sequence
from datetime import datetime

from . import errors as E
from .delimiters import Delimiters
from .envelope import FunctionalGroup, Interchange, TransactionSet
from .errors import (
    ELEMENT_MEANINGS,
    GROUP_MEANINGS,
    SEGMENT_MEANINGS,
    SET_MEANINGS,
    Problem,
)
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


def _codes(values, meanings: dict[str, str]) -> list[dict]:
    return [{"code": c, "meaning": meanings.get(c, "code not in the X12 code list")}
            for c in values if c]


def _int_or_none(value: str) -> int | None:
    return int(value) if value.isdigit() else None


def _status(code: str, partial: bool = False) -> str:
    if code in ("A", "E"):
        return "accepted"
    return "partially_accepted" if partial and code == "P" else "rejected"


def read_functional_ack(ts: TransactionSet) -> dict:
    """The content of a received 997 or 999 (the functional_ack document but its envelope):
    the group it acknowledges, its verdict, and each set's verdict with the segments and
    elements in error, every code with its meaning."""
    doc: dict = {"ack_type": ts.id, "sets": []}
    current = segment = None
    component = ts.group.interchange.delimiters.component
    for seg in ts.segments[1:]:
        tag, get = seg.elements[0], seg.get
        if tag == "AK1":
            doc["functional_id"] = get(1)
            doc["group_control_number"] = get(2)
            if get(3):
                doc["group_version"] = get(3)
        elif tag == "AK2":
            current = {"set_id": get(1), "control_number": get(2), "errors": [],
                       "segments": []}
            if get(3):
                current["implementation"] = get(3)
            doc["sets"].append(current)
            segment = None
        elif tag in ("AK3", "IK3") and current is not None:
            segment = {"segment_id": get(1), "position": _int_or_none(get(2)),
                       "loop": get(3), "code": get(4),
                       "meaning": SEGMENT_MEANINGS.get(get(4), "code not in the X12 code list"),
                       "elements": []}
            current["segments"].append({k: v for k, v in segment.items()
                                        if v not in ("", None)})
            segment = current["segments"][-1]
        elif tag in ("AK4", "IK4") and segment is not None:
            position, _, sub = get(1).partition(component)
            element = {"position": _int_or_none(position), "component": _int_or_none(sub),
                       "element_ref": get(2), "code": get(3),
                       "meaning": ELEMENT_MEANINGS.get(get(3), "code not in the X12 code list"),
                       "value": get(4)}
            segment["elements"].append({k: v for k, v in element.items()
                                        if v not in ("", None)})
        elif tag in ("AK5", "IK5") and current is not None:
            current["status"] = _status(get(1))
            current["status_code"] = get(1)
            current["errors"] = _codes(seg.elements[2:], SET_MEANINGS)
            segment = None
        elif tag == "AK9":
            doc["status"] = _status(get(1), partial=True)
            doc["status_code"] = get(1)
            for key, n in (("sets_included", 2), ("sets_received", 3), ("sets_accepted", 4)):
                if _int_or_none(get(n)) is not None:
                    doc[key] = int(get(n))
            doc["errors"] = _codes(seg.elements[5:], GROUP_MEANINGS)
    for item in doc["sets"]:
        for segment in item["segments"]:
            if not segment["elements"]:
                del segment["elements"]
        for key in ("errors", "segments"):
            if not item[key]:
                del item[key]
    if not doc.get("errors"):
        doc.pop("errors", None)
    return doc
