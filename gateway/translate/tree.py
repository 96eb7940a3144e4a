"""Transaction sets as trees of loop instances, laid out by the guide's loops: built from
segments (inbound, tolerant of what the guide does not expect) and written back out (outbound).

HL loops are nested by their parent id (HL02) rather than by the guide's flat layout, so a
shipment holds its orders, an order its packs, a pack its items.
"""

from collections.abc import Iterable

from gateway.edi.x12.guide import LoopDef, SegmentDef
from gateway.edi.x12.reader import Segment

HL = "HL"


class Shape:
    """A guide loop compiled for tree building: which segment ids it holds itself and which
    ids start its child loops."""

    __slots__ = ("name", "tag", "match", "order", "segments", "starts", "loops", "route")

    def __init__(self, loop: LoopDef):
        self.name = loop.name
        self.tag = loop.tag
        self.match = loop.match
        self.order: list[tuple[bool, str]] = []  # (is_loop, segment id or loop name) in order
        self.segments: set[str] = set()
        self.starts: dict[str, list[Shape]] = {}  # segment id -> child loops it starts
        self.loops: dict[str, Shape] = {}  # loop name -> child loop
        for i, child in enumerate(loop.children):
            if isinstance(child, SegmentDef):
                self.order.append((False, child.tag))
                if i or loop.name == "ROOT":
                    self.segments.add(child.tag)
            else:
                shape = Shape(child)
                self.order.append((True, shape.name))
                self.loops[shape.name] = shape
                self.starts.setdefault(shape.tag, []).append(shape)
        # segment id -> True when it starts a child loop, False when this loop holds it
        self.route = {**dict.fromkeys(self.segments, False), **dict.fromkeys(self.starts, True)}

    def pick(self, seg: Segment) -> "Shape | None":
        """The child loop `seg` starts: the one whose qualifier it carries."""
        for shape in self.starts[seg.elements[0]]:
            if shape.match is None or seg.get(shape.match[0]) in shape.match[1]:
                return shape
        return None


class Node:
    """One loop instance: its segments by id, its child loop instances by loop name, and for an
    HL loop the HL loops under it in order of appearance."""

    __slots__ = ("shape", "segments", "children", "nested")

    def __init__(self, shape: Shape):
        self.shape = shape
        self.segments: dict[str, list[Segment]] = {}
        self.children: dict[str, list[Node]] = {}
        self.nested: list[Node] = []

    @property
    def first(self) -> Segment | None:
        found = self.segments.get(self.shape.tag)
        return found[0] if found else None

    def add(self, seg: Segment) -> None:
        self.segments.setdefault(seg.elements[0], []).append(seg)

    def open(self, shape: Shape, name: str | None = None) -> "Node":
        child = Node(shape)
        self.children.setdefault(shape.name if name is None else name, []).append(child)
        return child


def descend(node: Node, steps) -> list[Node]:
    """The loop instances reached from `node` through `steps` (maps.Step: a loop name and the
    qualifiers its instances must carry, if any)."""
    found = [node]
    for step in steps:
        quals, pos = step.quals, step.qual_pos
        found = [c for n in found for c in n.children.get(step.name, ())
                 if quals is None or c.first.get(pos) in quals]
    return found


# A loop whose start segment carries a qualifier none of the guide's alternatives accept (N1*SE
# where the guide has N1*ST and N1*BT): kept, so its N3/N4 do not land elsewhere, under a name no
# map uses.
UNMATCHED = ""


def assemble(segments: Iterable[Segment], shape: Shape) -> Node:
    """The tree of a transaction set's body (ST and SE left out). Segments the guide does not
    place where they stand stay with the innermost open loop: validation reports them, the
    translation reads what it can."""
    root = Node(shape)
    stack = [root]
    hl_ids: dict[str, Node] = {}
    for seg in segments:
        els = seg.elements
        tag = els[0]
        depth = len(stack) - 1
        node = stack[depth]
        starts = node.shape.route.get(tag)
        while starts is None and depth:
            depth -= 1
            node = stack[depth]
            starts = node.shape.route.get(tag)
        if starts is None:
            node = stack[-1]
        elif starts:
            shape = node.shape
            child_shape = shape.pick(seg)
            del stack[depth + 1:]
            if child_shape is None:
                node = node.open(shape.starts[tag][0], UNMATCHED)
            elif tag == HL:
                # Nest under the HL named by HL02 where there is one.
                parent = hl_ids.get(els[2] if len(els) > 2 else "")
                child = Node(child_shape)
                if parent is None:
                    node.children.setdefault(child_shape.name, []).append(child)
                else:
                    parent.children.setdefault(child_shape.name, []).append(child)
                    parent.nested.append(child)
                hl_ids[els[1] if len(els) > 1 else ""] = child
                node = child
            else:
                node = node.open(child_shape)
            stack.append(node)
        else:
            del stack[depth + 1:]
        held = node.segments.get(tag)
        if held is None:
            node.segments[tag] = [seg]
        else:
            held.append(seg)
    return root


def emit(root: Node) -> list[list]:
    """The segments of a tree in guide order (ST and SE left out), numbering HL loops."""
    out: list[list] = []
    counter = [0]

    def walk(node: Node, hl_parent: str) -> None:
        if node.shape.tag == HL:
            counter[0] += 1
            hl = node.first.elements
            hl[1:3] = [str(counter[0]), hl_parent]
            hl_parent = hl[1]
        is_hl = node.shape.tag == HL
        for is_loop, key in node.shape.order:
            if is_loop:
                if is_hl and node.shape.loops[key].tag == HL:
                    continue  # written in order of appearance below
                for child in node.children.get(key, ()):
                    walk(child, hl_parent)
            elif key not in ("ST", "SE"):
                out.extend(seg.elements for seg in node.segments.get(key, ()))
        for child in node.nested:
            walk(child, hl_parent)

    walk(root, "")
    return out
