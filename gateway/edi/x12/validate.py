"""Guide-driven validation of a transaction set: positioned problems with the 997/999 codes."""

import re
from calendar import monthrange
from functools import cache

from . import errors as E
from .delimiters import Delimiters
from .envelope import TransactionSet
from .errors import Problem
from .guide import UNBOUNDED, ElementDef, Guide, LoopDef, SegmentDef
from .reader import Segment

DECIMAL = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:E-?\d+)?")
INTEGER = re.compile(r"-?\d+")
MEMO_SIZE = 4096


@cache
def _valid_date(value: str) -> bool:
    if not value.isdigit() or len(value) not in (6, 8):
        return False
    if len(value) == 6:
        value = "20" + value
    year, month, day = int(value[:4]), int(value[4:6]), int(value[6:])
    return 1 <= month <= 12 and 1 <= day <= monthrange(year, month)[1]


@cache
def _valid_time(value: str) -> bool:
    return (value.isdigit() and len(value) >= 4 and int(value[:2]) < 24 and int(value[2:4]) < 60
            and (len(value) < 6 or int(value[4:6]) < 60))


def check_value(ele: ElementDef, value: str) -> tuple[str, ...]:
    """The AK403 codes for a non-empty simple element value: empty when it is valid.

    A value can be wrong twice over (a code too short and not in the list), and is reported so,
    as pyx12 does."""
    kind = ele.type
    size = len(value)
    if (kind == "R" or kind[0] == "N") and not value.isdigit():
        if not (DECIMAL if kind == "R" else INTEGER).fullmatch(value):
            return (E.ELE_BAD_CHARACTER,)
        size -= value.startswith("-") + ("." in value)
    found = ()
    if size < ele.min:
        found = (E.ELE_TOO_SHORT,)
    elif size > ele.max:
        found = (E.ELE_TOO_LONG,)
    if kind == "ID":
        if ele.codes is not None and value not in ele.codes:
            found += (E.ELE_BAD_CODE,)
    elif kind == "DT":
        if not _valid_date(value):
            found += (E.ELE_BAD_DATE,)
    elif kind == "TM":
        if not _valid_time(value):
            found += (E.ELE_BAD_TIME,)
    elif not value.isprintable():
        found += (E.ELE_BAD_CHARACTER,)
    return found


class _Plan:
    """A guide loop compiled for placing segments, once per guide: per child its rank, maximum
    and compiled elements, the candidates for each segment id, and for each position the lowest
    rank of a required child at or after it (so a move past nothing required costs no scan)."""

    __slots__ = ("loop", "id", "ranks", "maxes", "inner", "index", "need", "elements")

    def __init__(self, loop: LoopDef):
        children = loop.children
        self.loop = loop
        self.id = loop.id
        self.ranks = [child.rank for child in children]
        self.maxes = [child.max for child in children]
        self.inner = [_Plan(child) if isinstance(child, LoopDef) else None for child in children]
        # segment id -> (child position, rank, qualifier match, the child's plan if a loop)
        self.index = {tag: tuple((i, children[i].rank, children[i].match, self.inner[i])
                                 for i in positions)
                      for tag, positions in loop.index.items()}
        # need[r + 1]: the lowest rank where a required child may be missing once rank r was
        # reached: after r, or r itself when a required child has alternatives there (N1*ST and
        # N1*BT), since reaching r means only that one of them was seen
        required = [self.ranks[j] for j in loop.required]
        shared = {r for r in required if self.ranks.count(r) > 1}
        self.need = [min((rank for rank in required if rank > r or rank in shared and rank == r),
                         default=UNBOUNDED)
                     for r in range(-1, len(children) + 1)]
        self.elements = [_Elements(child) if isinstance(child, SegmentDef) else
                         self.inner[i].elements[0] for i, child in enumerate(children)]


class _Elements:
    """A segment's element definitions laid out for the validator's loop."""

    __slots__ = ("segment", "checks", "size", "mandatory", "rules", "used")

    def __init__(self, sdef: SegmentDef):
        self.segment = sdef
        # (position, definition, memo of checked values, min, max, used by the guide)
        self.checks = tuple((n, ele, ele.memo, ele.min, ele.max, ele.usage != "N")
                            for n, ele in enumerate(sdef.elements, 1))
        self.size = len(sdef.elements) + 1  # elements at this position and beyond are too many
        self.mandatory = sdef.mandatory
        self.rules = sdef.rules
        self.used = sdef.usage != "N"


class _Frame:
    __slots__ = ("plan", "rank", "counts")

    def __init__(self, plan: _Plan):
        self.plan = plan
        self.rank = -1
        self.counts = [0] * len(plan.ranks)


class Validator:
    """Validates transaction sets against one guide; reusable across sets and threads."""

    def __init__(self, guide: Guide):
        self.guide = guide
        self.plan = _Plan(guide.root)

    def validate(self, ts: TransactionSet, delimiters: Delimiters | None = None) -> list[Problem]:
        """Problems of `ts` against the guide (envelope problems stay on ts.problems)."""
        run = _Run(self.guide, delimiters or ts.group.interchange.delimiters)
        stack = [_Frame(self.plan)]
        segments = ts.segments
        place = run.place
        for seg, following in zip(segments, segments[1:] + [None], strict=True):
            place(stack, seg, following)
        while stack:
            run.close(stack.pop(), segments[-1])
        return run.problems


class _Run:
    """The state of validating one transaction set."""

    def __init__(self, guide: Guide, delimiters: Delimiters):
        self.guide = guide
        five = guide.version >= "005010"
        self.not_used_segment = E.SEG_NOT_USED if five else E.SEG_UNEXPECTED
        self.not_used_element = E.ELE_NOT_USED if five else E.ELE_EXCLUSION
        self.component = delimiters.component
        self.repetition = delimiters.repetition or None
        self.problems: list[Problem] = []

    # -- structure ---------------------------------------------------------------------------

    def _segment_problem(self, seg: Segment, code: str, message: str, loop_id: str,
                         tag: str = "") -> None:
        self.problems.append(Problem(E.SEGMENT, code, message, tag or seg.elements[0],
                                     seg.set_number, seg.number, seg.offset, loop_id=loop_id))

    def place(self, stack: list[_Frame], seg: Segment, following: Segment | None) -> None:
        # Innermost frame where the segment and its qualifier fit; failing that, the innermost
        # where its id fits (then the qualifier is reported as an invalid code). Where only the
        # id fits, the candidate loop that the following segment fits in is preferred, so that
        # one bad qualifier does not derail the rest of the loop.
        els = seg.elements
        tag = els[0]
        depth = len(stack) - 1
        fallback = None
        while depth >= 0:
            frame = stack[depth]
            candidates = frame.plan.index.get(tag)
            if candidates is not None:
                rank = frame.rank
                for position, child_rank, match, _ in candidates:
                    if child_rank >= rank and (match is None or (
                            els[match[0]] if match[0] < len(els) else "") in match[1]):
                        i = position
                        break
                else:
                    if fallback is None:
                        fallback = self._fallback(frame, candidates, depth, following)
                    depth -= 1
                    continue
                break
            depth -= 1
        if depth < 0:
            if fallback is None:
                self._stray(stack, seg)
                return
            depth, i = fallback
        while len(stack) - 1 > depth:
            self.close(stack.pop(), seg)
        frame = stack[-1]
        plan = frame.plan
        self._advance(frame, i, seg)
        inner = plan.inner[i]
        if inner is not None:
            frame = _Frame(inner)
            stack.append(frame)
            self._advance(frame, 0, seg)
            plan = inner
            i = 0
        checks = plan.elements[i]
        if not checks.used:
            self._segment_problem(seg, self.not_used_segment, "segment not used by this guide",
                                  plan.id)
        self._elements(checks, seg, plan.id)

    @staticmethod
    def _fallback(frame: _Frame, candidates, depth: int, following: Segment | None
                  ) -> tuple[int, int] | None:
        """(depth, child position) of the candidate whose segment id fits but not its qualifier,
        preferring a loop the following segment fits in; None when no candidate is left."""
        best, best_fits = -1, False
        for i, child_rank, _, inner in candidates:
            if child_rank < frame.rank:
                continue
            fits = (inner is not None and following is not None
                    and following.elements[0] in inner.index)
            if best < 0 or (fits and not best_fits):
                best, best_fits = i, fits
        return (depth, best) if best >= 0 else None

    def _advance(self, frame: _Frame, i: int, seg: Segment) -> None:
        plan = frame.plan
        rank = plan.ranks[i]
        if rank != frame.rank:
            if plan.need[frame.rank + 1] < rank:
                self._missing(frame, rank, seg)
            frame.rank = rank
        counts = frame.counts
        counts[i] += 1
        if counts[i] > plan.maxes[i]:
            child = plan.loop.children[i]
            if isinstance(child, LoopDef):
                self._segment_problem(seg, E.SEG_LOOP_OVER_MAX,
                                      f"loop {child.name} occurs over {child.max} times", child.id)
            else:
                self._segment_problem(seg, E.SEG_OVER_MAX_USE,
                                      f"segment occurs over {child.max} times", plan.id)

    def _missing(self, frame: _Frame, upto: int, seg: Segment) -> None:
        """Report required children not seen from the frame's position up to rank `upto`."""
        loop = frame.plan.loop
        for j in loop.required:
            child = loop.children[j]
            if frame.rank <= child.rank < upto and not frame.counts[j]:
                name = child.name if isinstance(child, LoopDef) else child.tag
                self._segment_problem(seg, E.SEG_MANDATORY_MISSING,
                                      f"required {name} missing before {seg.elements[0]}",
                                      loop.id, child.tag)

    def close(self, frame: _Frame, seg: Segment) -> None:
        end = len(frame.counts)
        if frame.plan.need[frame.rank + 1] < end:
            self._missing(frame, end, seg)

    def _stray(self, stack: list[_Frame], seg: Segment) -> None:
        tag = seg.elements[0]
        if tag in self.guide.guide_segments:
            code, message = E.SEG_OUT_OF_SEQUENCE, "segment not in proper sequence"
        elif tag in self.guide.known_segments:
            code, message = E.SEG_NOT_IN_SET, "segment not in this transaction set"
        else:
            code, message = E.SEG_UNRECOGNIZED, "unrecognized segment id"
        self._segment_problem(seg, code, message, stack[-1].plan.id)

    # -- elements ----------------------------------------------------------------------------

    def _element_problem(self, seg: Segment, loop_id: str, n: int, ele: ElementDef | None,
                         code: str, message: str, value: str = "", component: int = 0) -> None:
        self.problems.append(Problem(
            E.ELEMENT, code, message, seg.elements[0], seg.set_number, seg.number, seg.offset,
            n, component, ele.ref if ele is not None and ele.components is None else "",
            loop_id, value))

    def _elements(self, checks: _Elements, seg: Segment, loop_id: str) -> None:
        els = seg.elements
        size = len(els)
        comp, rep = self.component, self.repetition
        for value, (n, ele, memo, least, most, used) in zip(els[1:], checks.checks,
                                                            strict=False):
            if not value:
                continue
            if memo is None:
                # Fast path for free text: the common valid case without a call.
                if (used and least <= len(value) <= most and value.isprintable()
                        and comp not in value and (rep is None or rep not in value)):
                    continue
                self._value(seg, loop_id, n, ele, value)
            elif used:
                # Fast path: a value of a code, date or time element seen before.
                codes = memo.get(value)
                if codes is None:
                    if comp in value or (rep is not None and rep in value):
                        self._value(seg, loop_id, n, ele, value)
                        continue
                    codes = check_value(ele, value)
                    if len(memo) < MEMO_SIZE:
                        memo[value] = codes
                for code in codes:
                    self._element_problem(seg, loop_id, n, ele, code, _MESSAGES[code], value)
            else:
                self._value(seg, loop_id, n, ele, value)
        for n in range(checks.size, size):
            if els[n]:
                self._element_problem(seg, loop_id, n, None, E.ELE_TOO_MANY,
                                      "too many data elements", els[n])
        defs = checks.segment.elements
        for n in checks.mandatory:
            if n >= size or not els[n]:
                self._element_problem(seg, loop_id, n, defs[n - 1], E.ELE_MANDATORY_MISSING,
                                      "mandatory data element missing")
        if checks.rules:
            self._rules(seg, loop_id, checks.rules, els, defs)

    def _value(self, seg: Segment, loop_id: str, n: int, ele: ElementDef, value: str) -> None:
        if ele.usage == "N":
            self._element_problem(seg, loop_id, n, ele, self.not_used_element,
                                  "data element not used by this guide", value)
            return
        if self.repetition is not None and self.repetition in value:
            self._element_problem(seg, loop_id, n, ele, E.ELE_TOO_MANY_REPEATS,
                                  "data element repeated but not repeatable", value)
            return
        if ele.components is not None:
            self._composite(seg, loop_id, n, ele, value.split(self.component))
            return
        if self.component in value:
            self._element_problem(seg, loop_id, n, ele, E.ELE_TOO_MANY_COMPONENTS,
                                  "components in a simple data element", value)
            return
        for code in check_value(ele, value):
            self._element_problem(seg, loop_id, n, ele, code, _MESSAGES[code], value)

    def _composite(self, seg: Segment, loop_id: str, n: int, ele: ElementDef,
                   parts: list[str]) -> None:
        comps = ele.components
        if len(parts) > len(comps):
            self._element_problem(seg, loop_id, n, ele, E.ELE_TOO_MANY_COMPONENTS,
                                  "too many components", self.component.join(parts))
        for c, sub in enumerate(comps, 1):
            value = parts[c - 1] if c <= len(parts) else ""
            if not value:
                if sub.mandatory:
                    self._element_problem(seg, loop_id, n, sub, E.ELE_MANDATORY_MISSING,
                                          "mandatory component missing", "", c)
                continue
            for code in check_value(sub, value):
                self._element_problem(seg, loop_id, n, sub, code, _MESSAGES[code], value, c)
        if ele.rules:
            self._rules(seg, loop_id, ele.rules, [""] + parts, comps, n)

    def _rules(self, seg: Segment, loop_id: str, rules, values: list[str],
               defs: list[ElementDef], composite: int = 0) -> None:
        size = len(values)
        for kind, positions in rules:
            if positions[0] >= size and kind != "R":
                break  # nothing of this rule or the next is present: only R could fail
            if kind in "PC" and len(positions) == 2:
                # Fast path for the commonest rules, a pair.
                first, second = positions
                a = values[first] != ""
                if a == (second < size and values[second] != "") or (kind == "C" and not a):
                    continue
            hits = [p for p in positions if p < size and values[p]]
            if kind == "P":
                target = [p for p in positions if p not in hits][:1] if hits else []
            elif kind == "R":
                target = [] if hits else positions[:1]
            elif kind == "E":
                target = hits[1:2]
            elif positions[0] not in hits:
                continue
            elif kind == "C":
                target = [p for p in positions[1:] if p not in hits][:1]
            else:  # L: if the first is present, at least one of the others
                target = positions[1:2] if len(hits) == 1 else []
            code = E.ELE_EXCLUSION if kind == "E" else E.ELE_CONDITIONAL_MISSING
            for p in target:
                if (p >= size or not values[p]) and defs[p - 1].mandatory:
                    continue  # already reported as a missing mandatory element
                message = f"syntax rule {kind}{''.join(f'{x:02d}' for x in positions)} violated"
                value = values[p] if p < size else ""
                if composite:
                    self._element_problem(seg, loop_id, composite, defs[p - 1], code, message,
                                          value, p)
                else:
                    self._element_problem(seg, loop_id, p, defs[p - 1], code, message, value)


_MESSAGES = {
    E.ELE_TOO_SHORT: "data element too short",
    E.ELE_TOO_LONG: "data element too long",
    E.ELE_BAD_CHARACTER: "invalid character in data element",
    E.ELE_BAD_CODE: "invalid code value",
    E.ELE_BAD_DATE: "invalid date",
    E.ELE_BAD_TIME: "invalid time",
}


def validate(ts: TransactionSet, guide: Guide) -> list[Problem]:
    """Problems of one transaction set against `guide`."""
    return Validator(guide).validate(ts)
