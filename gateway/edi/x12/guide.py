"""Implementation guides: YAML under mapping/x12/ compiled into the structures validate.py walks.

A guide names its transaction set and version and lays out loops and segments; the segment
dictionary (mapping/x12/<version>/segments.yaml) gives each segment's elements and syntax rules,
and the element dictionary (mapping/x12/elements.yaml, then pyx12's dataele.xml) their types and
lengths. See mapping/x12/README.md for the format.
"""

import copy
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

from ruamel.yaml import YAML

from .overlay import Overlay, apply_guide, load_overlay, overlay_path

MAPPING = Path(__file__).resolve().parents[3] / "mapping" / "x12"
UNBOUNDED = 1 << 30
GENERIC = "generic"  # the profile of the X12 standard's own structure
RULE = re.compile(r"^([PRCEL])((?:\d\d){2,})$")


class GuideError(ValueError):
    """A guide or dictionary that cannot be compiled (names the file and the entry)."""


@dataclass(slots=True)
class ElementDef:
    """One element (or component) position of a segment, with the guide's overrides applied."""

    ref: str  # data element reference number, or the composite id
    mandatory: bool
    usage: str  # R required, S situational, N not used
    type: str = "AN"
    min: int = 1
    max: int = UNBOUNDED
    codes: frozenset[str] | None = None
    components: list["ElementDef"] | None = None  # for a composite
    rules: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)  # composite's own
    # Results of checking values already seen, for the element types whose values repeat
    # (all but free text): the validator's fast path.
    memo: dict[str, tuple[str, ...]] | None = None


@dataclass(slots=True)
class SegmentDef:
    """A segment as used at one place of a guide."""

    tag: str
    elements: list[ElementDef]
    rules: list[tuple[str, tuple[int, ...]]]
    usage: str = "S"
    max: int = 1
    match: tuple[int, frozenset[str]] | None = None  # (element position, values) telling siblings
    rank: int = 0  # children sharing a rank are alternatives at the same position
    mandatory: tuple[int, ...] = ()  # positions of the mandatory elements


@dataclass(slots=True)
class LoopDef:
    """A loop: its first child is the segment that starts it."""

    id: str  # the X12 loop identifier reported in AK303/IK303
    name: str
    usage: str
    max: int
    children: list["SegmentDef | LoopDef"]
    match: tuple[int, frozenset[str]] | None = None
    rank: int = 0
    # segment id -> child positions; a loop's own first segment is left out (but for the root
    # loop) since meeting it again starts a new occurrence, found in the parent
    index: dict[str, list[int]] = field(default_factory=dict)
    required: list[int] = field(default_factory=list)  # positions of the usage R children

    @property
    def tag(self) -> str:
        return self.children[0].tag


@dataclass(slots=True)
class Guide:
    transaction_set: str
    version: str
    name: str
    root: LoopDef
    known_segments: frozenset[str]  # every segment id of the dictionary
    guide_segments: frozenset[str]  # the segment ids this guide places


def _yaml(path: Path):
    try:
        with path.open() as fh:
            return YAML(typ="safe").load(fh)
    except OSError as exc:
        raise GuideError(f"{path}: {exc}") from exc


@cache
def _pyx12_elements() -> dict[str, tuple[str, int, int]]:
    with resources.files("pyx12").joinpath("map/dataele.xml").open("rb") as fh:
        root = ET.parse(fh).getroot()
    return {e.get("ele_num"): (e.get("data_type"), int(e.get("min_len")), int(e.get("max_len")))
            for e in root.iter("data_ele")}


@cache
def pyx12_codes(codeset: str) -> frozenset[str]:
    """A code list of pyx12's codes.xml by id (currency, country, states...)."""
    with resources.files("pyx12").joinpath("map/codes.xml").open("rb") as fh:
        root = ET.parse(fh).getroot()
    for node in root.iter("codeset"):
        if node.findtext("id") == codeset:
            return frozenset(code.text for code in node.iter("code"))
    raise GuideError(f"pyx12 has no code set {codeset!r}")


@cache
def element_dictionary(version: str, root: Path = MAPPING) -> dict[str, tuple[str, int, int]]:
    """Data element number -> (type, min, max) for `version`: ours, over pyx12's as fallback."""
    data = _yaml(root / "elements.yaml")
    table = dict(_pyx12_elements())
    table.update({str(k): tuple(v) for k, v in data["elements"].items()})
    for ver, overrides in sorted((data.get("versions") or {}).items()):
        if version >= ver:
            table.update({str(k): tuple(v) for k, v in overrides.items()})
    return table


def parse_rule(text: str) -> tuple[str, tuple[int, ...]]:
    """'P0304' -> ('P', (3, 4))."""
    m = RULE.match(str(text))
    if not m:
        raise GuideError(f"bad syntax rule {text!r}")
    digits = m.group(2)
    return m.group(1), tuple(int(digits[i:i + 2]) for i in range(0, len(digits), 2))


def _rule_list(texts) -> list[tuple[str, tuple[int, ...]]]:
    # R rules first, then by first position: the validator stops at the first rule that starts
    # past the last element present.
    return sorted((parse_rule(t) for t in texts), key=lambda rule: (rule[0] != "R", rule[1][0]))


def _expand(entries) -> list[str]:
    out = []
    for entry in entries:
        if isinstance(entry, dict):
            out.extend(_expand(entry["elements"]) * int(entry["repeat"]))
        else:
            out.append(str(entry))
    return out


def _element(spec: str, elements, composites, where: str) -> ElementDef:
    ref, _, req = spec.partition(" ")
    req = req or "O"
    if req not in ("M", "O", "X"):
        raise GuideError(f"{where}: bad requirement in {spec!r}")
    if ref in composites:
        comp = composites[ref]
        parts = [_element(s, elements, composites, f"{where} {ref}")
                 for s in _expand(comp["elements"])]
        return ElementDef(ref, req == "M", "R" if req == "M" else "S", "COMPOSITE", 1, UNBOUNDED,
                          None, parts, _rule_list(comp.get("rules", ())))
    if ref not in elements:
        raise GuideError(f"{where}: unknown data element {ref}")
    kind, lo, hi = elements[ref]
    return ElementDef(ref, req == "M", "R" if req == "M" else "S", kind, lo, hi)


def _version_dirs(root: Path, version: str) -> list[str]:
    """The version directories under `root` at or below `version`, oldest first."""
    return sorted(p.name for p in root.iterdir() if p.name.isdigit() and p.name <= version[:6])


@cache
def segment_dictionary(version: str, root: Path = MAPPING) -> dict[str, SegmentDef]:
    """Segment id -> SegmentDef for `version`: the dictionaries of every version directory at or
    below it, a later one's segments replacing an earlier one's (005010 restates only what
    changed)."""
    dirs = [d for d in _version_dirs(root, version) if (root / d / "segments.yaml").exists()]
    if not dirs:
        raise GuideError(f"no segment dictionary for version {version}")
    elements = element_dictionary(version, root)
    table, composites = {}, {}
    for name in dirs:
        path = root / name / "segments.yaml"
        data = _yaml(path)
        composites.update(data.get("composites") or {})
        for tag, spec in data["segments"].items():
            where = f"{path}: {tag}"
            table[tag] = SegmentDef(tag, [_element(e, elements, composites, where)
                                          for e in _expand(spec["elements"])],
                                    _rule_list(spec.get("rules", ())))
    return table


def _max(value) -> int:
    return UNBOUNDED if str(value).startswith(">") else int(value)


def _position(tag: str, key, where: str) -> int:
    key = str(key)
    if key.startswith(tag) and key[len(tag):].isdigit():
        return int(key[len(tag):])
    if key.isdigit():
        return int(key)
    raise GuideError(f"{where}: bad element reference {key!r}")


def _match(tag: str, spec, where: str) -> tuple[int, frozenset[str]] | None:
    if not spec:
        return None
    if len(spec) != 1:
        raise GuideError(f"{where}: match names exactly one element")
    ((key, values),) = spec.items()
    return _position(tag, key, where), frozenset(str(v) for v in values)


def _segment(spec, segments: dict[str, SegmentDef], where: str) -> SegmentDef:
    if isinstance(spec, str):
        parts = spec.split()
        spec = {"seg": parts[0], "usage": parts[1] if len(parts) > 1 else "S",
                "max": parts[2] if len(parts) > 2 else 1}
    tag = spec["seg"]
    if tag not in segments:
        raise GuideError(f"{where}: segment {tag} is not in the dictionary")
    seg = copy.deepcopy(segments[tag])
    seg.usage = _usage(spec.get("usage", "S"), where)
    seg.max = _max(spec.get("max", 1))
    for key, over in (spec.get("elements") or {}).items():
        pos = _position(tag, key, where)
        if not 0 < pos <= len(seg.elements):
            raise GuideError(f"{where}: {tag} has no element {pos}")
        ele = seg.elements[pos - 1]
        if "usage" in over:
            ele.usage = _usage(over["usage"], where)
            ele.mandatory = ele.usage == "R"
        codes = over.get("codes")
        if isinstance(codes, dict):
            ele.codes = pyx12_codes(codes["pyx12"])
        elif codes is not None:
            ele.codes = frozenset(str(c) for c in codes)
        ele.min = int(over.get("min", ele.min))
        ele.max = int(over.get("max", ele.max))
    _qualify(seg, _match(tag, spec.get("match"), where), where)
    return seg


def _usage(value, where: str) -> str:
    if value not in ("R", "S", "N"):
        raise GuideError(f"{where}: usage {value!r} is not R, S or N")
    return value


def _qualify(seg: SegmentDef, match: tuple[int, frozenset[str]] | None, where: str) -> None:
    """Set the qualifier telling `seg` from its siblings (its values become the code list
    unless the guide gives one), then the derived fields."""
    if match is not None:
        if not 0 < match[0] <= len(seg.elements):
            raise GuideError(f"{where}: {seg.tag} has no element {match[0]}")
        seg.match = match
        qualifier = seg.elements[match[0] - 1]
        qualifier.codes = qualifier.codes or match[1]
    seg.mandatory = tuple(n for n, e in enumerate(seg.elements, 1) if e.mandatory)
    for ele in seg.elements:
        for sub in [ele] + (ele.components or []):
            sub.memo = {} if sub.type != "AN" else None


def _loop(spec, segments, where: str, root: bool = False) -> LoopDef:
    body = spec.get("body") or []
    if not body:
        raise GuideError(f"{where}: loop {spec.get('loop')} is empty")
    children: list[SegmentDef | LoopDef] = []
    for i, child in enumerate(body):
        cwhere = f"{where}/{spec.get('loop', '')}[{i}]"
        if isinstance(child, dict) and "loop" in child:
            children.append(_loop(child, segments, cwhere))
        else:
            children.append(_segment(child, segments, cwhere))
    first = children[0]
    if not isinstance(first, SegmentDef):
        raise GuideError(f"{where}: loop {spec.get('loop')} must start with a segment")
    name = str(spec.get("loop", "ROOT"))
    loop = LoopDef(str(spec.get("id", first.tag)), name, _usage(spec.get("usage", "S"), where),
                   _max(spec.get("max", 1)), children)
    loop.match = _match(first.tag, spec.get("match"), where) or first.match
    if first.match is None and loop.match is not None:
        _qualify(first, loop.match, where)
    # Consecutive children starting with the same segment id are alternatives told apart by
    # qualifier (N1*ST / N1*BT, HL by level code): they share one position and may come in any order.
    for i, child in enumerate(children):
        prev = children[i - 1] if i else None
        child.rank = prev.rank if prev is not None and prev.tag == child.tag else i
        if i or root:
            loop.index.setdefault(child.tag, []).append(i)
        if child.usage == "R":
            loop.required.append(i)
    return loop


def guide_root(path: Path) -> Path:
    """The mapping/x12 directory holding the guide at `path` (the parent of its version
    directory), for the dictionaries."""
    for parent in path.resolve().parents:
        if parent.name.isdigit() and len(parent.name) == 6:
            return parent.parent
    return MAPPING


def load_guide(path: Path | str, root: Path | None = None, overlay: Overlay | None = None
               ) -> Guide:
    """Compile the guide at `path`, with a partner overlay's changes if given."""
    path = Path(path)
    root = guide_root(path) if root is None else root
    data = _yaml(path)
    version = str(data["version"])
    segments = segment_dictionary(version, root)
    structure = data["structure"]
    if overlay is not None:
        structure = apply_guide(overlay, structure, segments)
    rootloop = _loop({"loop": "ROOT", "id": "", "usage": "R", "max": 1,
                      "body": structure}, segments, str(path), root=True)
    placed: set[str] = set()

    def collect(loop: LoopDef) -> None:
        for child in loop.children:
            placed.add(child.tag)
            if isinstance(child, LoopDef):
                collect(child)

    collect(rootloop)
    return Guide(str(data["transaction_set"]), version, str(data.get("name", "")), rootloop,
                 frozenset(segments), frozenset(placed))


def guide_path(set_id: str, version: str, profile: str = "", root: Path = MAPPING) -> Path:
    """Where the guide for a set and GS08 version is: from the nearest version directory at or
    below GS08 that has one, <profile>/<set>.yaml, else generic/<set>.yaml (the X12 standard's
    structure), else <set>.yaml (the acknowledgments)."""
    for ver in reversed(_version_dirs(root, version)):
        base = root / ver
        for path in ([base / profile / f"{set_id}.yaml"] if profile else []) + [
                base / GENERIC / f"{set_id}.yaml", base / f"{set_id}.yaml"]:
            if path.exists():
                return path
    raise GuideError(f"no guide for {set_id} version {version} profile {profile or '-'}")


@cache
def find_guide(set_id: str, version: str, profile: str = "", root: Path = MAPPING,
               overlay: str = "") -> Guide:
    """The guide for a transaction set and GS08 version (see guide_path), with the partner
    overlay `overlay` merged over it when it has a file for this set. Compiled once."""
    path = guide_path(set_id, version, profile, root)
    found = overlay_path(overlay, set_id, version, root) if overlay else None
    return load_guide(path, root, load_overlay(found) if found else None)
