"""Maps: YAML files pairing a guide's loops, segments and elements with the fields of an internal
JSON document (format in mapping/x12/MAPS.md), compiled once against the guide they name.

Every address is checked against the guide when the map is loaded, so a map that names a loop or
segment the guide does not have fails at load time, not on the first document.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from ruamel.yaml import YAML

from gateway.edi.x12.guide import GENERIC, MAPPING, Guide, load_guide
from gateway.edi.x12.overlay import Overlay, load_overlay, merge_map, overlay_path

from .tree import HL, Shape
from .values import CONVERSIONS

ADDRESS = re.compile(r"^([A-Z][A-Z0-9]{1,2})(?:\[([A-Z0-9, ]+)\])?(\d{2})(?:-(\d+))?$")
STEP = re.compile(r"^([A-Za-z0-9_]+)(?:\[([A-Z0-9, ]+)\])?$")
TEMPLATES = "common.yaml"  # shared specs next to the maps, used by name (`use: party`)
INDEX = "$index"  # a default: the item's position in its array, from 1


class MapError(ValueError):
    """A map that cannot be compiled (names the file and the entry)."""


@dataclass(slots=True)
class Step:
    """One loop on the way to a segment, optionally narrowed to instances whose qualifier
    element (the guide's match position, else element 1) holds one of `quals`."""

    name: str
    shape: Shape
    quals: tuple[str, ...] | None
    qual_pos: int


@dataclass(slots=True)
class Address:
    """Where a value lives: loops, segment id (+ qualifier in element 1), element, component."""

    text: str
    steps: tuple[Step, ...]
    tag: str
    quals: tuple[str, ...] | None
    element: int
    component: int = 0


@dataclass(slots=True)
class Count:
    """An outbound value: how many segments with this id the transaction set holds."""

    tag: str


@dataclass(slots=True)
class FieldRef:
    """An outbound value: the X12 form of another field of the same object."""

    name: str


@dataclass(slots=True)
class Scalar:
    name: str
    at: tuple[Address, ...]
    load: Callable
    dump: Callable
    codes: dict[str, object] | None = None
    codes_out: dict[object, str] | None = None
    default: object = None


@dataclass(slots=True)
class Collect:
    """Non-empty values of some elements over every segment with one id: a list."""

    name: str
    at: Address
    elements: tuple[int, ...]


@dataclass(slots=True)
class Rows:
    """One object per segment with one id (TXI, repeated within its loop): fields read from
    that segment alone; outbound, one segment per item."""

    name: str
    at: Address
    fields: tuple[Scalar, ...]


@dataclass(slots=True)
class Ids:
    """(qualifier, value) element pairs from `at` on (PO106/PO107, PO108/PO109...): one field
    per qualifier the codes name; outbound the first qualifier listed for a field is used."""

    at: Address
    codes: dict[str, str]
    codes_out: dict[str, str]


@dataclass(slots=True)
class Split:
    """An array item per instance of a child loop (ACK under PO1): consecutive items with the
    same value of `same` are one instance of the parent loop when written."""

    loop: str
    same: str


@dataclass(slots=True)
class Context:
    """An object of the document and the loop instance(s) it is read from. `choices`: the
    alternative loops of an array over several sibling loops (`each: [N1_ST, N1_BT]`), the one an
    item is written to chosen by the X12 code of `chooser`, the field at the loops' qualifier."""

    name: str
    shape: Shape
    steps: tuple[Step, ...] = ()
    many: bool = False
    fields: list = field(default_factory=list)
    ids: Ids | None = None
    choices: tuple[tuple[Step, ...], ...] = ()
    chooser: Scalar | None = None
    split: Split | None = None
    fixed: list[tuple[Address, object]] = field(default_factory=list)
    always: list[tuple[Address, object]] = field(default_factory=list)


@dataclass(slots=True)
class Map:
    """A compiled map: the document type, its guide and the root object's spec."""

    transaction_set: str
    document: str
    guide: Guide
    shape: Shape  # the guide's loops, for tree building
    root: Context
    path: Path


def _quals(text: str | None) -> tuple[str, ...] | None:
    return tuple(q.strip() for q in text.split(",")) if text else None


def _reverse(codes: dict) -> dict:
    """JSON value -> X12 code: the first code listed for a value is the one written."""
    out: dict = {}
    for code, value in codes.items():
        out.setdefault(value, code)
    return out


# The keys each kind of spec may have: anything else is a typo, reported at load time.
SCALAR_KEYS = {"at", "as", "codes", "default"}
CONTEXT_KEYS = {"fields", "loop", "each", "ids", "fixed", "always", "split"}
MAP_KEYS = CONTEXT_KEYS | {"transaction_set", "document", "guide"}


class _Compiler:
    def __init__(self, path: Path, guide: Guide, templates: dict):
        self.path = path
        self.root = Shape(guide.root)
        self.templates = templates

    def expand(self, spec, where: str):
        """A spec with `use: <template>` is the template with the spec's own keys over it."""
        if not isinstance(spec, dict) or "use" not in spec:
            return spec
        name = spec["use"]
        if name not in self.templates:
            raise self.error(where, f"no template {name!r} in {TEMPLATES}")
        return {**self.templates[name], **{k: v for k, v in spec.items() if k != "use"}}

    def error(self, where: str, message: str) -> MapError:
        return MapError(f"{self.path}: {where}: {message}")

    def steps(self, shape: Shape, parts: list[str], where: str) -> tuple[tuple[Step, ...], Shape]:
        steps = []
        for part in parts:
            m = STEP.match(part)
            if not m:
                raise self.error(where, f"bad loop reference {part!r}")
            name = m.group(1)
            child = shape.loops.get(name)
            if child is None and shape.tag == HL:
                # HL loops nest by parent id, not by the guide's flat layout.
                child = self.root.loops.get(name)
                if child is not None and child.tag != HL:
                    child = None
            if child is None:
                raise self.error(where, f"loop {name} is not in loop {shape.name} of the guide")
            quals = _quals(m.group(2))
            if quals is None and child.match:
                if len(child.match[1]) > 1:
                    # Outbound must know which qualifier to write.
                    raise self.error(where, f"loop {name} needs a qualifier, e.g. "
                                            f"{name}[{sorted(child.match[1])[0]}]")
                quals = tuple(child.match[1])
            steps.append(Step(name, child, quals, child.match[0] if child.match else 1))
            shape = child
        return tuple(steps), shape

    def address(self, shape: Shape, text, where: str) -> Address:
        text = str(text)
        *loops, last = text.split("/")
        steps, shape = self.steps(shape, loops, where)
        m = ADDRESS.match(last)
        if not m:
            raise self.error(where, f"bad element address {text!r}")
        tag = m.group(1)
        if tag not in shape.segments and tag != shape.tag:
            hint = f" (it starts loop {shape.starts[tag][0].name})" if tag in shape.starts else ""
            raise self.error(where, f"segment {tag} is not in loop {shape.name}{hint}")
        return Address(text, steps, tag, _quals(m.group(2)), int(m.group(3)),
                       int(m.group(4) or 0))

    def keys(self, spec: dict, allowed: set, where: str) -> None:
        unknown = set(spec) - allowed
        if unknown:
            raise self.error(where, f"unknown key(s) {', '.join(sorted(unknown))}")

    def scalar(self, shape: Shape, name: str, spec, where: str) -> Scalar:
        if not isinstance(spec, dict):
            spec = {"at": spec}
        self.keys(spec, SCALAR_KEYS, where)
        at = spec["at"] if isinstance(spec["at"], list) else [spec["at"]]
        kind = spec.get("as", "text")
        if kind not in CONVERSIONS:
            raise self.error(where, f"unknown conversion {kind!r}")
        load, dump = CONVERSIONS[kind]
        codes = spec.get("codes")
        if codes is not None:
            codes = {str(k): v for k, v in codes.items()}
        return Scalar(name, tuple(self.address(shape, a, where) for a in at), load, dump, codes,
                      None if codes is None else _reverse(codes), spec.get("default"))

    def rows(self, shape: Shape, name: str, spec: dict, where: str) -> Rows:
        self.keys(spec, {"rows", "fields"}, where)
        at = self.address(shape, f"{spec['rows']}01", where)
        fields = tuple(self.scalar(shape, key, sub, f"{where}.{key}")
                       for key, sub in (spec.get("fields") or {}).items())
        for f in fields:
            if any(a.tag != at.tag or a.steps != at.steps for a in f.at):
                raise self.error(f"{where}.{f.name}", f"a field of `rows: {spec['rows']}` "
                                                      f"reads that segment only")
        return Rows(name, at, fields)

    def value(self, spec):
        if isinstance(spec, dict) and "count" in spec:
            return Count(str(spec["count"]))
        if isinstance(spec, dict) and "field" in spec:
            return FieldRef(str(spec["field"]))
        return str(spec)

    def context(self, shape: Shape, name: str, spec: dict, where: str,
                allowed: set = CONTEXT_KEYS) -> Context:
        spec = self.expand(spec, where)
        self.keys(spec, allowed, where)
        loop = spec.get("each", spec.get("loop"))
        steps: tuple[Step, ...] = ()
        choices = []
        if isinstance(loop, list):
            choices = [self.steps(shape, str(p).split("/"), where) for p in loop]
            shape = choices[0][1]
            if any(s.order != shape.order for _, s in choices):
                raise self.error(where, "the loops of `each` must have the same segments")
        elif loop is not None:
            steps, shape = self.steps(shape, str(loop).split("/"), where)
        ctx = Context(name, shape, steps, "each" in spec)
        for key, sub in (spec.get("fields") or {}).items():
            sub_where = f"{where}.{key}"
            sub = self.expand(sub, sub_where)
            if isinstance(sub, dict) and "rows" in sub:
                ctx.fields.append(self.rows(shape, key, sub, sub_where))
            elif isinstance(sub, dict) and ("fields" in sub or "ids" in sub):
                ctx.fields.append(self.context(shape, key, sub, sub_where))
            elif isinstance(sub, dict) and "collect" in sub:
                self.keys(sub, {"collect", "elements"}, sub_where)
                ctx.fields.append(Collect(key, self.address(shape, f"{sub['collect']}01",
                                                            sub_where),
                                          tuple(int(e) for e in sub["elements"])))
            else:
                ctx.fields.append(self.scalar(shape, key, sub, sub_where))
        ids = self.expand(spec.get("ids"), f"{where}.ids")
        if ids is not None:
            self.keys(ids, {"at", "codes"}, f"{where}.ids")
            codes = {str(k): str(v) for k, v in ids["codes"].items()}
            ctx.ids = Ids(self.address(shape, ids["at"], f"{where}.ids"), codes, _reverse(codes))
        for key in ("fixed", "always"):
            for addr, value in (spec.get(key) or {}).items():
                getattr(ctx, key).append((self.address(shape, addr, f"{where}.{key}"),
                                          self.value(value)))
        if choices:
            ctx.choices = tuple(s for s, _ in choices)
            pos = ctx.choices[0][-1].qual_pos
            ctx.chooser = next((f for f in ctx.fields if type(f) is Scalar and f.codes
                                and not f.at[0].steps and f.at[0].tag == shape.tag
                                and f.at[0].element == pos), None)
            if ctx.chooser is None:
                raise self.error(where, f"`each` over several loops needs a field with codes at "
                                        f"{shape.tag}{pos:02d} to choose the loop written")
        split = spec.get("split")
        if split is not None:
            self.keys(split, {"loop", "same"}, f"{where}.split")
            if split["loop"] not in shape.loops:
                raise self.error(f"{where}.split", f"loop {split['loop']} is not in loop "
                                                   f"{shape.name} of the guide")
            ctx.split = Split(str(split["loop"]), str(split["same"]))
        return ctx


def _yaml(path: Path) -> dict:
    try:
        with path.open() as fh:
            return YAML(typ="safe").load(fh)
    except OSError as exc:
        raise MapError(f"{path}: {exc}") from exc


def load_map(path: Path | str, overlay: Overlay | None = None) -> Map:
    """Compile the map at `path` against the guide it names, with a partner overlay's fields
    and guide changes merged over both if given."""
    path = Path(path)
    data = _yaml(path)
    common = path.parent / TEMPLATES
    templates = (_yaml(common).get("templates") or {}) if common.exists() else {}
    guide = load_guide(path.parent / data["guide"], overlay=overlay)
    if guide.transaction_set != str(data["transaction_set"]):
        raise MapError(f"{path}: guide {data['guide']} is for {guide.transaction_set}")
    where = "fields"
    if overlay is not None:
        data = merge_map(overlay, data)
        path, where = overlay.path, "map.fields"
    compiler = _Compiler(path, guide, templates)
    try:
        root = compiler.context(compiler.root, "", data, where, MAP_KEYS)
    except KeyError as exc:
        raise MapError(f"{path}: an entry lacks {exc}") from None
    return Map(str(data["transaction_set"]), str(data["document"]), guide, compiler.root, root,
               path)


def map_path(set_id: str, version: str = "004010", profile: str = "amazon-vc",
             root: Path = MAPPING) -> Path:
    """Where the map for a set is: <version>/<profile>/maps/<set>.yaml, else
    <version>/generic/maps/<set>.yaml, from the nearest version directory at or below GS08's
    that has one (a 004030 remittance is read with the 004010 map)."""
    for ver in sorted((p.name for p in root.iterdir() if p.name.isdigit()), reverse=True):
        if ver > version[:6]:
            continue
        for name in dict.fromkeys(filter(None, (profile, GENERIC))):
            path = root / ver / name / "maps" / f"{set_id}.yaml"
            if path.exists():
                return path
    raise MapError(f"no map for {set_id} version {version} profile {profile}")


@cache
def find_map(set_id: str, version: str = "004010", profile: str = "amazon-vc",
             root: Path = MAPPING, overlay: str = "") -> Map:
    """The map for a transaction set (see map_path), with the partner overlay `overlay` merged
    over it and its guide when the overlay has a file for this set. Compiled once per process."""
    found = overlay_path(overlay, set_id, version, root) if overlay else None
    return _compiled(map_path(set_id, version, profile, root), found)


@cache
def _compiled(path: Path, overlay: Path | None) -> Map:
    return load_map(path, load_overlay(overlay) if overlay else None)
