"""Test oracle: one of our guides as a pyx12 XML map, and pyx12's 997 for a file under it.

pyx12's envelope loops (ISA/GS/GE/IEA) are taken from a map it ships; the transaction set part
and the data element dictionary are generated from our guide, so both engines check the same
rules.
"""

import io
import shutil
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path

import pyx12.params
import pyx12.x12n_document

from gateway.edi.x12 import load
from gateway.edi.x12.guide import (
    UNBOUNDED,
    ElementDef,
    Guide,
    LoopDef,
    SegmentDef,
    element_dictionary,
)

PYX12_MAPS = resources.files("pyx12").joinpath("map")
ENVELOPE = {"ISA", "GS", "GE", "IEA"}


def _text(parent: ET.Element, tag: str, value: str) -> None:
    ET.SubElement(parent, tag).text = value


def _usage(ele: ElementDef) -> str:
    return "N" if ele.usage == "N" else "R" if ele.mandatory else "S"


def _element(parent: ET.Element, tag: str, n: int, ele: ElementDef) -> None:
    if ele.components is not None:
        node = ET.SubElement(parent, "composite")
        for key, value in (("data_ele", ele.ref), ("name", ele.ref), ("usage", _usage(ele)),
                           ("seq", f"{n:02d}"), ("refdes", f"{tag}{n:02d}")):
            _text(node, key, value)
        for c, sub in enumerate(ele.components, 1):
            _simple(node, f"{tag}{n:02d}-{c:02d}", c, sub)
        return
    _simple(parent, f"{tag}{n:02d}", n, ele)


def _simple(parent: ET.Element, xid: str, n: int, ele: ElementDef) -> None:
    node = ET.SubElement(parent, "element", xid=xid)
    for key, value in (("data_ele", ele.ref), ("name", xid), ("usage", _usage(ele)),
                       ("seq", f"{n:02d}")):
        _text(node, key, value)
    if ele.codes is not None:
        codes = ET.SubElement(node, "valid_codes")
        for code in sorted(ele.codes):
            _text(codes, "code", code)


def _repeat(value: int) -> str:
    return ">1" if value >= UNBOUNDED else str(value)


def _segment(parent: ET.Element, seg: SegmentDef, pos: int) -> None:
    node = ET.SubElement(parent, "segment", xid=seg.tag)
    for key, value in (("name", seg.tag), ("usage", seg.usage), ("pos", f"{pos:03d}"),
                       ("max_use", _repeat(seg.max))):
        _text(node, key, value)
    for kind, positions in seg.rules:
        _text(node, "syntax", kind + "".join(f"{p:02d}" for p in positions))
    for n, ele in enumerate(seg.elements, 1):
        _element(node, seg.tag, n, ele)


def _loop(parent: ET.Element, loop: LoopDef, pos: int) -> None:
    node = ET.SubElement(parent, "loop", xid=loop.name, type="explicit")
    for key, value in (("name", loop.name), ("usage", loop.usage), ("pos", f"{pos:03d}"),
                       ("repeat", _repeat(loop.max))):
        _text(node, key, value)
    _children(node, loop.children)


def _children(parent: ET.Element, children) -> None:
    for i, child in enumerate(children, 1):
        (_loop if isinstance(child, LoopDef) else _segment)(parent, child, i * 10)


def pyx12_map(guide: Guide, functional_id: str) -> str:
    """The XML map of `guide`, inside the envelope loops of a map pyx12 ships."""
    with PYX12_MAPS.joinpath("830.4010.PS.xml").open("rb") as fh:
        tree = ET.parse(fh)
    root = tree.getroot()
    root.set("xid", guide.transaction_set)
    for codes in root.findall(".//element[@xid='GS01']/valid_codes"):
        for code in list(codes):
            codes.remove(code)
        _text(codes, "code", functional_id)
    st_loop = root.find(".//loop[@xid='ST_LOOP']")
    for child in list(st_loop):
        if child.tag in ("segment", "loop"):
            st_loop.remove(child)
    _children(st_loop, guide.root.children)
    return ET.tostring(root, encoding="unicode")


def _dataele(version: str) -> str:
    with PYX12_MAPS.joinpath("dataele.xml").open("rb") as fh:
        tree = ET.parse(fh)
    root = tree.getroot()
    known = {e.get("ele_num"): e for e in root.iter("data_ele")}
    for ref, (kind, lo, hi) in element_dictionary(version).items():
        node = known.get(ref)
        if node is None:
            node = ET.SubElement(root, "data_ele", ele_num=ref, name=ref)
        node.set("data_type", kind)
        node.set("min_len", str(lo))
        node.set("max_len", str(hi))
    return ET.tostring(root, encoding="unicode")


def map_directory(guide: Guide, functional_id: str, path: Path) -> Path:
    """A pyx12 map_path holding the map of `guide` for GS01 `functional_id`."""
    path.mkdir(parents=True, exist_ok=True)
    for name in ("x12.control.00401.xml", "codes.xml"):
        with PYX12_MAPS.joinpath(name).open("rb") as src, (path / name).open("wb") as dst:
            shutil.copyfileobj(src, dst)
    (path / "guide.xml").write_text(pyx12_map(guide, functional_id))
    (path / "dataele.xml").write_text(_dataele(guide.version))
    (path / "maps.xml").write_text(
        f'<maps><version icvn="00401"><map vriic="{guide.version}" fic="{functional_id}" '
        f'abbr="{guide.transaction_set}">guide.xml</map>'
        '<map vriic="" fic="" abbr="X12">x12.control.00401.xml</map></version></maps>')
    return path


def pyx12_findings(data: bytes, map_path: Path) -> tuple[set, set]:
    """pyx12's 997 for `data` as ({(AK302, AK304)}, {(AK302, AK401, AK403)}), leaving out the
    envelope segments (the borrowed envelope map asks for a GS after the last group)."""
    param = pyx12.params.params()
    out = io.StringIO()
    pyx12.x12n_document.x12n_document(param, io.StringIO(data.decode()), out, None,
                                      map_path=str(map_path))
    segments, elements = set(), set()
    for ic in load(io.BytesIO(out.getvalue().encode())):
        for group in ic.groups:
            for ts in group.sets:
                position = 0
                for seg in ts.segments:
                    if seg.tag == "AK3" and seg.get(1) not in ENVELOPE:
                        position = int(seg.get(2))
                        segments.add((position, seg.get(4)))
                    elif seg.tag == "AK4":
                        element = int(seg.get(1).split(ic.delimiters.component)[0])
                        elements.add((position, element, seg.get(3)))
    return segments, elements
