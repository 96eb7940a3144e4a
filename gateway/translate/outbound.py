"""Outbound translation: an internal JSON document through its map, in reverse, into the
segments of one X12 transaction set (ST..SE) laid out in the order of the map's guide."""

from gateway.edi.x12.reader import Segment
from gateway.edi.x12.writer import transaction_set

from .errors import RenderError
from .maps import Address, Collect, Context, Count, FieldRef, Map, Rows, Scalar, Step
from .schemas import DocumentError, json_path, validate_document
from .tree import HL, Node, descend, emit


def _set(els: list, pos: int, component: int, value) -> None:
    if len(els) <= pos:
        els.extend([""] * (pos + 1 - len(els)))
    if component:
        current = els[pos]
        parts = list(current) if isinstance(current, tuple) else ([current] if current else [])
        parts.extend([""] * (component - len(parts)))
        parts[component - 1] = value
        value = tuple(parts)
    els[pos] = value


def _is_set(els: list, addr: Address) -> bool:
    value = els[addr.element] if addr.element < len(els) else ""
    if addr.component:
        parts = value if isinstance(value, tuple) else (value,)
        value = parts[addr.component - 1] if addr.component <= len(parts) else ""
    return value != ""


def _matching(node: Node, addr: Address) -> list[Segment]:
    """The segments of `node` itself that `addr` names; a loop's own first segment takes the
    address's qualifier if it has none yet (RMR[IV] starting an RMR loop)."""
    quals = addr.quals
    if addr.tag == node.shape.tag:
        first = node.first
        if quals and not first.get(1):
            _set(first.elements, 1, 0, quals[0])
        return [first] if quals is None or first.get(1) in quals else []
    return [s for s in node.segments.get(addr.tag, ()) if quals is None or s.get(1) in quals]


class _Writer:
    def __init__(self):
        self.counts: list[tuple[list, int, str]] = []  # (elements, position, segment id)

    def open(self, node: Node, step: Step) -> Node:
        child = node.open(step.shape)
        if step.shape.tag == HL and node.shape.tag == HL:
            node.nested.append(child)
        seg = Segment([step.shape.tag])
        if step.quals:
            _set(seg.elements, step.qual_pos, 0, step.quals[0])
        child.add(seg)
        return child

    def node_at(self, node: Node, steps, new: bool = False) -> Node:
        """The loop instance at the end of `steps`, made where missing (the last one always
        when `new`)."""
        for i, step in enumerate(steps):
            found = None
            if not (new and i == len(steps) - 1):
                found = next((c for c in node.children.get(step.name, ())
                              if step.quals is None or c.first.get(step.qual_pos) in step.quals),
                             None)
            node = found or self.open(node, step)
        return node

    def segment(self, node: Node, addr: Address) -> Segment:
        """The segment at `addr`, made (with its loops) if missing."""
        if addr.steps:
            node = self.node_at(node, addr.steps)
        found = _matching(node, addr)
        if found:
            return found[0]
        seg = Segment([addr.tag])
        if addr.quals:
            _set(seg.elements, 1, 0, addr.quals[0])
        node.add(seg)
        return seg

    def put(self, node: Node, addr: Address, value) -> None:
        seg = self.segment(node, addr)
        _set(seg.elements, addr.element, addr.component, value)
        if isinstance(value, Count):
            self.counts.append((seg.elements, addr.element, value.tag))

    def text(self, f: Scalar, value, path: tuple) -> tuple[str, ...]:
        try:
            if f.codes_out is not None:
                if value not in f.codes_out:
                    raise ValueError(f"{value!r} has no X12 code in the map")
                text = f.codes_out[value]
            else:
                text = f.dump(value)
        except ValueError as exc:
            raise RenderError(json_path(path + (f.name,)), str(exc)) from None
        return text if isinstance(text, tuple) else (text,)

    def scalar(self, f: Scalar, node: Node, value, path: tuple) -> None:
        for addr, text in zip(f.at, self.text(f, value, path), strict=False):
            if text:
                self.put(node, addr, text)

    def collect(self, f: Collect, node: Node, values: list) -> None:
        target = self.node_at(node, f.at.steps) if f.at.steps else node
        size = len(f.elements)
        for i in range(0, len(values), size):
            seg = Segment([f.at.tag])
            for pos, value in zip(f.elements, values[i:i + size], strict=False):
                _set(seg.elements, pos, 0, str(value))
            target.add(seg)

    def rows(self, f: Rows, node: Node, items: list, path: tuple) -> None:
        target = self.node_at(node, f.at.steps) if f.at.steps else node
        for i, item in enumerate(items):
            seg = Segment([f.at.tag])
            for field in f.fields:
                value = item.get(field.name)
                if value is None:
                    continue
                texts = self.text(field, value, path + (f.name, i))
                for addr, text in zip(field.at, texts, strict=False):
                    if text:
                        _set(seg.elements, addr.element, addr.component, text)
            target.add(seg)

    def build(self, ctx: Context, node: Node, obj: dict, path: tuple) -> None:
        for f in ctx.fields:
            value = obj.get(f.name)
            if value is None:
                continue
            kind = type(f)
            if kind is Scalar:
                self.scalar(f, node, value, path)
            elif kind is Collect:
                self.collect(f, node, value)
            elif kind is Rows:
                self.rows(f, node, value, path)
            elif f.many:
                target, same = None, None
                for i, item in enumerate(value):
                    where = path + (f.name, i)
                    if f.split is not None and same is not None and \
                            item.get(f.split.same) == same:
                        self.extend(f, target, item, where)
                    else:
                        steps = self.choose(f, item, where)
                        if steps is None:
                            continue
                        target = self.node_at(node, steps, new=True)
                        self.build(f, target, item, where)
                    same = item.get(f.split.same) if f.split is not None else None
            elif value:
                self.build(f, self.node_at(node, f.steps), value, path + (f.name,))
        if ctx.ids is not None:
            self.ids(ctx, node, obj)
        for addr, value in ctx.always:
            if not _is_set(self.segment(node, addr).elements, addr):
                self.put(node, addr, self.resolve(ctx, obj, value, path))
        for addr, value in ctx.fixed:
            for n in descend(node, addr.steps):
                for seg in _matching(n, addr):
                    if not _is_set(seg.elements, addr):
                        _set(seg.elements, addr.element, addr.component,
                             self.resolve(ctx, obj, value, path))

    def choose(self, ctx: Context, item: dict, path: tuple) -> tuple[Step, ...] | None:
        """The loop an item goes to: of several alternatives, the one whose qualifiers hold the
        X12 code of the item's chooser field; None when the guide has no loop for it (a buyer
        party where the guide has only ship-to and bill-to): not written, like any value the map
        has no place for."""
        if not ctx.choices:
            return ctx.steps
        f = ctx.chooser
        if f.name not in item:
            raise RenderError(json_path(path + (f.name,)), "required to choose the X12 loop")
        code = self.text(f, item[f.name], path)[0]
        return next((steps for steps in ctx.choices
                     if steps[-1].quals is None or code in steps[-1].quals), None)

    def extend(self, ctx: Context, node: Node, item: dict, path: tuple) -> None:
        """An item continuing the previous one's loop instance: written into it with a new
        instance of the split loop (another ACK of the same PO1)."""
        loop = ctx.split.loop
        kept = node.children.pop(loop, [])
        self.build(ctx, node, item, path)
        node.children[loop] = kept + node.children.get(loop, [])

    def resolve(self, ctx: Context, obj: dict, value, path: tuple):
        if isinstance(value, FieldRef):
            f = next(f for f in ctx.fields if f.name == value.name)
            return self.text(f, obj[value.name], path)[0] if value.name in obj else ""
        return value

    def ids(self, ctx: Context, node: Node, obj: dict) -> None:
        ids = ctx.ids
        seg = self.segment(node, ids.at)
        pos = ids.at.element
        for key, code in ids.codes_out.items():
            if key in obj:
                _set(seg.elements, pos, 0, code)
                _set(seg.elements, pos + 1, 0, str(obj[key]))
                pos += 2


def render(document: dict, map: Map, control_number: int | str, *,
           check: bool = True) -> list[list]:
    """The ST..SE segments (element lists) of `document` through `map`. The document is first
    checked against its schema unless `check` is false; RenderError names the field at fault."""
    if check:
        try:
            validate_document(document, map.document)
        except DocumentError as exc:
            raise RenderError(exc.path, str(exc)) from None
    writer = _Writer()
    root = Node(map.shape)
    writer.build(map.root, root, document, ())
    segments = emit(root)
    if writer.counts:
        tally: dict[str, int] = {}
        for els in segments:
            tally[els[0]] = tally.get(els[0], 0) + 1
        for els, pos, tag in writer.counts:
            els[pos] = str(tally.get(tag, 0))
    return transaction_set(map.transaction_set, control_number, segments)
