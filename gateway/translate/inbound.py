"""Inbound translation: an X12 transaction set through its map into an internal JSON document,
checked against the document's schema.

Documents are built without bookkeeping; only when the schema refuses one is the set read a
second time, noting where each field came from, to name the segment and element at fault.
"""

from gateway.edi.x12.acks import read_functional_ack
from gateway.edi.x12.envelope import TransactionSet
from gateway.edi.x12.reader import Segment

from .errors import TranslationError
from .maps import INDEX, Address, Collect, Context, Map, Rows, Scalar, find_map
from .schemas import describe, first_error, json_path
from .tree import Node, assemble, descend
from .values import datetime_in

# json path -> (segment, element, address text): where a field was, or should have been, read
Trace = dict[tuple, tuple[Segment | None, int, str]]


def _split(node: Node, loop: str) -> list[Node]:
    """One view of `node` per instance of its child loop `loop`, holding that one instance (the
    node itself when it has none): a PO1 read once per ACK."""
    found = node.children.get(loop)
    if not found:
        return [node]
    views = []
    for child in found:
        view = Node(node.shape)
        view.segments, view.nested = node.segments, node.nested
        view.children = {**node.children, loop: [child]}
        views.append(view)
    return views


class _Reader:
    def __init__(self, ts: TransactionSet, trace: Trace | None = None):
        self.ts = ts
        self.component = ts.group.interchange.delimiters.component
        self.trace = trace

    def segment(self, node: Node, addr: Address) -> Segment | None:
        quals = addr.quals
        if not addr.steps:
            found = node.segments.get(addr.tag)
            if found and quals is None:
                return found[0]
        for n in descend(node, addr.steps) if addr.steps else (node,):
            for seg in n.segments.get(addr.tag, ()):
                if quals is None or seg.get(1) in quals:
                    return seg
        return None

    def text(self, seg: Segment, addr: Address) -> str:
        els = seg.elements
        value = els[addr.element] if addr.element < len(els) else ""
        if addr.component and value:
            parts = value.split(self.component)
            value = parts[addr.component - 1] if addr.component <= len(parts) else ""
        return value.strip()

    def fail(self, message: str, seg: Segment | None, addr: Address | None, field: tuple,
             value: str = "") -> TranslationError:
        return TranslationError(self.ts.id, self.ts.control_number, message,
                                seg or self.ts.segments[0], addr.element if addr and seg else 0,
                                addr.component if addr and seg else 0, json_path(field), value)

    def scalar(self, f: Scalar, node: Node, index: int, path: tuple):
        if len(f.at) == 1:
            addr = f.at[0]
            first = self.segment(node, addr)
            texts = [self.text(first, addr) if first is not None else ""]
        else:
            texts = []
            first = None
            for addr in f.at:
                seg = self.segment(node, addr)
                texts.append(self.text(seg, addr) if seg is not None else "")
                if first is None:
                    first = seg
        if self.trace is not None:
            addr = f.at[0]
            self.trace[path + (f.name,)] = (first or node.first,
                                            addr.element if first is not None else 0, addr.text)
        text = texts[0]
        if not text:
            return str(index + 1) if f.default == INDEX else f.default
        try:
            if f.codes is not None:
                if text not in f.codes:
                    raise ValueError(f"code {text!r} is not one of {', '.join(f.codes)}")
                value = f.codes[text]
            else:
                value = f.load(*texts) if len(texts) > 1 else f.load(text)
        except ValueError as exc:
            raise self.fail(str(exc), first, f.at[0], path + (f.name,), text) from None
        return value

    def collect(self, f: Collect, node: Node, path: tuple) -> list[str]:
        out = []
        for n in descend(node, f.at.steps):
            for seg in n.segments.get(f.at.tag, ()):
                els = seg.elements
                out.extend(els[e].strip() for e in f.elements if e < len(els) and els[e].strip())
        if self.trace is not None:
            self.trace[path + (f.name,)] = (node.first, 0, f.at.tag)
        return out

    def rows(self, f: Rows, node: Node, path: tuple) -> list[dict]:
        out = []
        for n in descend(node, f.at.steps) if f.at.steps else (node,):
            for seg in n.segments.get(f.at.tag, ()):
                view = Node(n.shape)   # the one segment, so each field reads it
                view.segments[f.at.tag] = [seg]
                where = path + (f.name, len(out))
                item = {}
                for field in f.fields:
                    value = self.scalar(field, view, len(out), where)
                    if value is not None:
                        item[field.name] = value
                out.append(item)
        return out

    def build(self, ctx: Context, node: Node, index: int, path: tuple) -> dict:
        obj: dict = {}
        trace = self.trace
        if trace is not None:
            trace[path] = (node.first or self.ts.segments[0], 0, "")
        for f in ctx.fields:
            name = f.name
            kind = type(f)
            if kind is Scalar:
                value = self.scalar(f, node, index, path)
                if value is not None:
                    obj[name] = value
                continue
            if kind is Collect or kind is Rows:
                value = (self.collect if kind is Collect else self.rows)(f, node, path)
                if value:
                    obj[name] = value
                continue
            if trace is not None:
                trace[path + (name,)] = (node.first, 0, "/".join(s.name for s in f.steps))
            if not f.steps and not f.choices:
                sub = self.build(f, node, index, path + (name,))
                if sub:
                    obj[name] = sub
                continue
            nodes = ([n for steps in f.choices for n in descend(node, steps)] if f.choices
                     else descend(node, f.steps))
            if f.many:
                items: list = []
                for i, n in enumerate(nodes):
                    for view in _split(n, f.split.loop) if f.split else (n,):
                        items.append(self.build(f, view, i, path + (name, len(items))))
                if items:
                    obj[name] = items
            elif nodes:
                sub = self.build(f, nodes[0], 0, path + (name,))
                if sub:
                    obj[name] = sub
        if ctx.ids is not None:
            self.ids(ctx, node, obj, path)
        return obj

    def ids(self, ctx: Context, node: Node, obj: dict, path: tuple) -> None:
        ids = ctx.ids
        seg = self.segment(node, ids.at)
        if seg is None:
            return
        els = seg.elements
        codes = ids.codes
        for i in range(ids.at.element, len(els) - 1, 2):
            key = codes.get(els[i])
            value = els[i + 1].strip()
            if key is not None and value and key not in obj:
                obj[key] = value
                if self.trace is not None:
                    self.trace[path + (key,)] = (seg, i + 1, f"{seg.elements[0]}{i + 1:02d}")


def body(ts: TransactionSet) -> list[Segment]:
    """The segments between ST and SE (SE may be missing from a broken set)."""
    segments = ts.segments
    end = len(segments) - (len(segments) > 1 and segments[-1].elements[0] == "SE")
    return segments[1:end]


def envelope(ts: TransactionSet) -> dict:
    """Where `ts` came from: its interchange (ISA), group (GS) and set (ST) identities, the
    `envelope` every document read from X12 carries (common.schema.json)."""
    group = ts.group
    ic = group.interchange
    gs = group.header
    out = {
        "sender": {"qualifier": ic.sender_qualifier, "id": ic.sender_id,
                   "application_id": group.sender_id},
        "receiver": {"qualifier": ic.receiver_qualifier, "id": ic.receiver_id,
                     "application_id": group.receiver_id},
        "interchange_control_number": ic.control_number,
        "group_control_number": group.control_number,
        "set_control_number": ts.control_number,
        "functional_id": group.functional_id,
        "version": group.version,
        "test_indicator": ic.usage,
    }
    if gs.get(4):
        try:
            out["date"] = datetime_in(gs.get(4), gs.get(5))
        except ValueError as exc:
            raise TranslationError(ts.id, ts.control_number, f"group date/time: {exc}", gs,
                                   4 if not gs.get(4).isdigit() or len(gs.get(4)) != 8 else 5,
                                   field="envelope/date", value=gs.get(4)) from None
    for party in (out["sender"], out["receiver"]):
        for key in [k for k, v in party.items() if not v]:
            del party[key]
    return {k: v for k, v in out.items() if v != ""}


def translate(ts: TransactionSet, map: Map | None = None, *, check: bool = True) -> dict:
    """The internal document of `ts` through `map` (by default the Amazon Vendor Central map of
    its set id and version), with its `envelope`. Raises TranslationError, positioned, for a
    value that does not convert or, unless `check` is false, a document its schema refuses."""
    if map is None:
        map = find_map(ts.id, ts.group.version)
    tree = assemble(body(ts), map.shape)
    doc = _Reader(ts).build(map.root, tree, 0, ())
    doc["envelope"] = envelope(ts)
    error = first_error(doc, map.document) if check else None
    if error is not None:
        trace: Trace = {("envelope",): (ts.group.header, 0, "GS")}
        _Reader(ts, trace).build(map.root, tree, 0, ())
        raise _locate(ts, error, trace)
    return doc


def translate_ack(ts: TransactionSet) -> dict:
    """The functional_ack document of a received 997 or 999, with its envelope, checked against
    its schema (TranslationError names the field)."""
    doc = read_functional_ack(ts)
    doc["envelope"] = envelope(ts)
    error = first_error(doc, "functional_ack")
    if error is not None:
        value = str(error.instance) if isinstance(error.instance, str | int) else ""
        raise TranslationError(ts.id, ts.control_number, describe(error), ts.segments[0],
                               field=json_path(error.absolute_path), value=value)
    return doc


def _locate(ts: TransactionSet, error, trace: Trace) -> TranslationError:
    path = tuple(error.absolute_path)
    value = ""
    if error.validator == "required":
        path += (next(n for n in error.validator_value if n not in error.instance),)
    elif isinstance(error.instance, str | int | float):
        value = str(error.instance)
    key = path
    while key not in trace and key:
        key = key[:-1]
    seg, element, where = trace.get(key, (ts.segments[0], 0, ""))
    message = describe(error)
    if error.validator == "required" and where:
        message += f" (nothing at {where})"
    return TranslationError(ts.id, ts.control_number, message, seg or ts.segments[0],
                            element, 0, json_path(path), value)
