"""Reading a received X12 payload for a partner: envelopes, validation against the partner's
guides, the 997/999/TA1 to send back, and translation of each accepted transaction set.

Runs in a worker thread on the archived payload, streaming one transaction set at a time; the
result is plain data for the ``process`` job to record in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gateway.documents import reference
from gateway.edi.x12 import (
    FunctionalGroup,
    GroupEnd,
    Interchange,
    InterchangeEnd,
    Problem,
    TransactionSet,
    X12Error,
    find_guide,
    functional_ack,
    interchange,
    load_guide,
    read_units,
    reply_gs,
    reply_isa,
    ta1,
)
from gateway.edi.x12.acks import set_status
from gateway.edi.x12.errors import TA1_SENDER_ID
from gateway.edi.x12.guide import GuideError, guide_path
from gateway.edi.x12.overlay import OVERLAYS, OverlayError, overlay_names
from gateway.edi.x12.validate import Validator
from gateway.partners import Partner
from gateway.translate.inbound import translate as translate_set
from gateway.translate.inbound import translate_ack
from gateway.translate.maps import MapError, find_map, load_map, map_path

DOC_TYPES = {"850": "purchase_order", "855": "po_acknowledgment", "856": "ship_notice",
             "810": "invoice", "820": "remittance", "180": "return", "812": "credit_memo",
             "997": "functional_ack", "999": "functional_ack"}
ACK_SETS = ("997", "999")
TA1_DUPLICATE = "025"   # TA105: duplicate interchange control number


@dataclass
class SetOutcome:
    group_control: str
    set_id: str
    control_number: str
    status: str                       # A, E or R as the 997 says
    problems: list[Problem]
    doc_type: str | None = None
    reference: str | None = None
    document: dict | None = None
    error: str | None = None          # translation failure
    ack: tuple[str, str] | None = None   # a 997/999: (AK102 group control, AK901 status), from
                                         # its functional_ack document

    def summary(self) -> str:
        first = "; ".join(f"segment {p.segment_no} {p.segment_id}"
                          f"{f' element {p.element}' if p.element else ''}: {p.message}"
                          for p in self.problems[:3])
        return f"ST {self.set_id} #{self.control_number}: {first or self.error}"


@dataclass
class InterchangeOutcome:
    header: list[str]
    key: tuple[str, str, str]
    problems: list[Problem]
    want_ta1: bool
    interchange: Interchange
    foreign: bool = False             # ISA sender is not the partner: only a TA1 answers it
    duplicate: bool = False           # this ISA13 came before: only a TA1 answers it
    groups: list[tuple[FunctionalGroup, list]] = field(default_factory=list)
    sets: list[SetOutcome] = field(default_factory=list)


class Examination:
    """The outcome of reading one payload."""

    def __init__(self):
        self.interchanges: list[InterchangeOutcome] = []
        self.fatal: str | None = None    # the payload could not be read past this point


def is_x12(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(512).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head[:3] == b"ISA" or head[:3] == "ISA".encode("cp037")


class Guides:
    """Validators per (set, version), from the partner's documents or its profile folder."""

    def __init__(self, partner: Partner, mapping_dir: Path):
        self.partner = partner
        self.mapping_dir = mapping_dir
        self._cache: dict[tuple[str, str], Validator | None] = {}
        self.explicit = {d.type: d.guide for d in partner.documents
                         if d.direction == "inbound" and d.guide}

    def validator(self, set_id: str, version: str) -> Validator | None:
        key = (set_id, version[:6])
        if key not in self._cache:
            try:
                if set_id in self.explicit:
                    guide = load_guide(self.mapping_dir / self.explicit[set_id],
                                       root=self.mapping_dir / "x12")
                else:
                    guide = find_guide(set_id, version[:6], profile=self.partner.x12_profile,
                                       root=self.mapping_dir / "x12",
                                       overlay=self.partner.x12.overlay or "")
            except (GuideError, FileNotFoundError):
                guide = None
            self._cache[key] = Validator(guide) if guide else None
        return self._cache[key]


def translator(partner: Partner, mapping_dir: Path):
    """``ts -> (reference, document)`` through the partner's maps: a ``map`` named in its
    documents, else the one of its profile or the generic one (maps.map_path), with its overlay
    merged; a 997/999 becomes a functional_ack document."""
    explicit = {d.type: d.map for d in partner.documents if d.direction == "inbound" and d.map}
    compiled: dict = {}
    overlay = (partner.x12 and partner.x12.overlay) or ""

    def translate(ts: TransactionSet) -> tuple[str | None, dict]:
        if ts.id in ACK_SETS:
            document = translate_ack(ts)
            return document["group_control_number"], document
        if ts.id in explicit:
            if ts.id not in compiled:
                compiled[ts.id] = load_map(mapping_dir / explicit[ts.id])
            map = compiled[ts.id]
        else:
            key = (ts.id, ts.group.version)
            if key not in compiled:
                compiled[key] = find_map(ts.id, ts.group.version, profile=partner.x12_profile,
                                         root=mapping_dir / "x12", overlay=overlay)
            map = compiled[key]
        document = translate_set(ts, map)
        return reference(map.document, document), document

    return translate


def check_partner(partner: Partner, mapping_dir: Path) -> list[str]:
    """Problems with a partner's guides, maps and overlay, each naming the file and the key:
    every set it exchanges (its documents, and the sets its overlay changes) is compiled in
    each of its versions, as processing would."""
    if partner.x12 is None:
        return []
    root = mapping_dir / "x12"
    overlay = partner.x12.overlay or ""
    problems = []
    if overlay and overlay not in overlay_names(root):
        problems.append(f"partner {partner.id}: x12.overlay {overlay!r}: no directory "
                        f"{root}/<version>/{OVERLAYS}/{overlay}/")
    profile = partner.x12_profile
    for version in partner.x12.versions:
        sets = {d.type for d in partner.documents if d.type in DOC_TYPES and not (d.guide or d.map)}
        changed = {p.stem for p in root.glob(f"*/{OVERLAYS}/{overlay}/*.yaml")} if overlay else set()
        for set_id in sorted(sets | changed):
            try:
                if set_id in changed or _has(guide_path, set_id, version, profile, root):
                    find_guide(set_id, version, profile=profile, root=root, overlay=overlay)
                if set_id not in ACK_SETS and (
                        set_id in changed or _has(map_path, set_id, version, profile, root)):
                    find_map(set_id, version, profile=profile, root=root, overlay=overlay)
            except (GuideError, MapError, OverlayError) as e:
                problems.append(f"partner {partner.id}: {e}")
    for d in partner.documents:
        try:
            if d.guide:
                load_guide(mapping_dir / d.guide, root=root)
            if d.map:
                load_map(mapping_dir / d.map)
        except (GuideError, MapError, OSError) as e:
            problems.append(f"partner {partner.id}: {e}")
    return list(dict.fromkeys(problems))


def _has(locate, *args) -> bool:
    try:
        locate(*args)
    except (GuideError, MapError):
        return False
    return True


def examine(partner: Partner, path: Path, mapping_dir: Path, translate) -> Examination:
    """Read ``path``; ``translate(ts) -> (reference, document)`` for accepted business sets."""
    result = Examination()
    guides = Guides(partner, mapping_dir)
    current: InterchangeOutcome | None = None
    try:
        with open(path, "rb") as f:
            for unit in read_units(f):
                if isinstance(unit, Interchange):
                    foreign = _foreign_sender(partner, unit)
                    if foreign:
                        unit.problems.append(foreign)
                    current = InterchangeOutcome(list(unit.header.elements), unit.key,
                                                 unit.problems, False, unit, foreign=bool(foreign))
                elif isinstance(unit, FunctionalGroup):
                    current.groups.append((unit, []))
                elif isinstance(unit, TransactionSet):
                    outcome = (SetOutcome(unit.group.control_number, unit.id, unit.control_number,
                                          "R", [], error="the interchange is not from this partner")
                               if current.foreign else _examine_set(unit, guides, translate))
                    current.sets.append(outcome)
                    # Keep only the ST for the acknowledgment: memory stays bounded per set.
                    current.groups[-1][1].append(
                        (TransactionSet(unit.group, unit.segments[:1]), outcome.problems))
                elif isinstance(unit, InterchangeEnd):
                    current.want_ta1 = _want_ta1(partner, unit.interchange)
                    result.interchanges.append(current)
                    current = None
                elif isinstance(unit, GroupEnd):
                    pass
    except X12Error as e:
        result.fatal = f"{e}"
        if current is not None:
            current.want_ta1 = partner.x12.ta1 != "never"
            result.interchanges.append(current)
    return result


def _foreign_sender(partner: Partner, ic: Interchange) -> Problem | None:
    """A problem when the ISA sender is not the partner the payload came from."""
    expected = (partner.x12.isa_qualifier, partner.x12.isa_id.strip())
    if (ic.sender_qualifier, ic.sender_id) == expected:
        return None
    return Problem("interchange", TA1_SENDER_ID,
                   f"ISA05/ISA06 {ic.sender_qualifier}/{ic.sender_id} is not the interchange id "
                   f"of {partner.id} ({expected[0]}/{expected[1]})", "ISA", 0, ic.header.number,
                   ic.header.offset, 6)


def mark_duplicate(partner: Partner, ic: InterchangeOutcome) -> None:
    """An interchange whose control number the partner used before: TA1 note 025, nothing else."""
    ic.duplicate = True
    header = ic.interchange.header
    ic.problems.append(Problem("interchange", TA1_DUPLICATE,
                               f"interchange control number {ic.key[2]} was received before",
                               "ISA", 0, header.number, header.offset, 13))
    ic.want_ta1 = partner.x12.ta1 != "never"


def _want_ta1(partner: Partner, ic: Interchange) -> bool:
    policy = partner.x12.ta1
    return policy == "always" or (policy == "on-request" and (ic.ack_requested or not ic.accepted))


def _examine_set(ts: TransactionSet, guides: Guides, translate) -> SetOutcome:
    problems = list(ts.problems)
    if ts.accepted:
        validator = guides.validator(ts.id, ts.group.version)
        if validator is not None:
            problems += validator.validate(ts, ts.group.interchange.delimiters)
    status = set_status(ts, problems)
    outcome = SetOutcome(ts.group.control_number, ts.id, ts.control_number, status, problems,
                         DOC_TYPES.get(ts.id))
    if status != "R" and outcome.doc_type:
        try:
            outcome.reference, outcome.document = translate(ts)
        except Exception as e:   # a clear, positioned error from the map, never a traceback
            outcome.error = str(e)
    if outcome.document is not None and ts.id in ACK_SETS:
        outcome.ack = (outcome.document["group_control_number"], outcome.document["status_code"])
    return outcome


def acknowledgment(partner: Partner, ic: InterchangeOutcome, isa_control: int,
                   gs_control: int) -> str | None:
    """The interchange answering ``ic`` (997/999 per group, TA1 when wanted), or None."""
    want_fa = partner.x12.ack != "none" and not ic.foreign and not ic.duplicate
    groups = []
    if want_fa:
        for n, (group, results) in enumerate(ic.groups):
            if group.functional_id == "FA":
                continue   # acknowledgments are never acknowledged
            groups.append((reply_gs(group, gs_control + n),
                           [functional_ack(group, results, 1)]))
    ta1s = [ta1(ic.interchange.header, ic.problems)] if ic.want_ta1 else []
    if not groups and not ta1s:
        return None
    return interchange(reply_isa(ic.interchange, isa_control), groups, ic.interchange.delimiters,
                       ta1=ta1s)


def problem_text(partner_id: str, ic: InterchangeOutcome, outcome: SetOutcome | None,
                 p: Problem) -> str:
    """One problem, positioned for a person: partner, interchange, set, segment, element."""
    where = [f"partner {partner_id}", f"interchange {ic.key[2]}"]
    if outcome is not None:
        where.append(f"set {outcome.set_id} #{outcome.control_number}")
    if p.segment_id:
        where.append(f"segment {p.segment_no or p.interchange_segment_no} {p.segment_id}")
    if p.element:
        where.append(f"element {p.element}")
    value = f" {p.value!r}" if p.value else ""
    return f"{', '.join(where)}: {p.message}{value} (code {p.code})"


def summary(partner: Partner, exam: Examination) -> tuple[dict, list[str]]:
    """(what the payload is, as JSON, with the acknowledgments it gets) and its problems."""
    problems = [f"partner {partner.id}: {exam.fatal}"] if exam.fatal else []
    out = []
    for ic in exam.interchanges:
        problems += [problem_text(partner.id, ic, None, p) for p in ic.problems]
        sets = []
        for outcome in ic.sets:
            problems += [problem_text(partner.id, ic, outcome, p) for p in outcome.problems]
            if outcome.error:
                problems.append(f"partner {partner.id}, interchange {ic.key[2]}, set "
                                f"{outcome.set_id} #{outcome.control_number}: {outcome.error}")
            sets.append({"group": outcome.group_control, "set": outcome.set_id,
                         "control_number": outcome.control_number, "status": outcome.status,
                         "document_type": outcome.doc_type, "document": outcome.document})
        out.append({"sender": f"{ic.key[0]}/{ic.key[1]}", "control_number": ic.key[2],
                    "groups": [{"functional_id": g.functional_id, "control_number":
                                g.control_number, "version": g.version} for g, _ in ic.groups],
                    "sets": sets, "acknowledgment": acknowledgment(partner, ic, 1, 1)})
    return {"partner": partner.id, "interchanges": out}, problems
