"""Map loading: the shipped maps compile, mistakes are reported at load time with the entry."""

import pytest

from gateway.edi.x12.guide import MAPPING
from gateway.translate import render, translate
from gateway.translate.maps import Count, FieldRef, MapError, find_map, load_map
from tests.unit.translate.support import content, one_set

GUIDE_850 = MAPPING / "004010" / "amazon-vc" / "850.yaml"


@pytest.mark.parametrize("set_id", ["850", "855", "856", "810", "820"])
def test_shipped_maps_compile(set_id):
    m = find_map(set_id)
    assert m.transaction_set == set_id
    assert m.guide.transaction_set == set_id
    assert m is find_map(set_id)  # compiled once


def test_later_version_uses_nearest_map():
    assert find_map("820", "004030") is find_map("820", "004010")


def test_unknown_map():
    with pytest.raises(MapError, match="no map for 999"):
        find_map("999")


def test_compiled_addresses():
    m = find_map("855")
    lines = next(f for f in m.root.fields if f.name == "lines")
    accepted = next(f for f in lines.fields if f.name == "quantity_accepted")
    (addr,) = accepted.at
    assert [(s.name, s.quals) for s in addr.steps] == [("ACK", ("IA",))]
    assert (addr.tag, addr.element) == ("ACK", 2)
    assert lines.fixed[0][1] == FieldRef("unit_of_measure")
    assert m.root.always[0][1] == Count("PO1")
    assert lines.ids.codes_out["asin"] == "BP"


def write(tmp_path, fields: str, extra: str = "") -> str:
    path = tmp_path / "850.yaml"
    path.write_text(f'transaction_set: "850"\ndocument: order\nguide: {GUIDE_850}\n'
                    f"fields:\n{fields}\n{extra}")
    return path


@pytest.mark.parametrize(("fields", "message"), [
    ("  po_number: BEG33X", "bad element address 'BEG33X'"),
    ("  po_number: BAK03", "segment BAK is not in loop ROOT"),
    ("  lines: {each: NOPE, fields: {q: PO102}}", "loop NOPE is not in loop ROOT"),
    ("  lines: {each: PO1, fields: {d: PID05}}", "segment PID is not in loop PO1 (it starts loop "
                                                "PID)"),
    ("  po_number: {at: BEG03, as: roman}", "unknown conversion 'roman'"),
    ("  p: {use: nothing, loop: N1_ST}", "no template 'nothing'"),
    ("  po_number: {at: BEG03, defualt: X}", "fields.po_number: unknown key(s) defualt"),
    ("  lines: {each: PO1, fields: {q: PO102}, ids: {at: PO106}}", "an entry lacks 'codes'"),
    ("  ship_to: {loop: N1_SF, fields: {id: N104}}", "loop N1_SF is not in loop ROOT"),
])
def test_mistakes_name_the_entry(tmp_path, fields, message):
    with pytest.raises(MapError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_map(write(tmp_path, fields))


def test_templates_are_shared(tmp_path):
    (tmp_path / "common.yaml").write_text("templates:\n  party: {fields: {id: N104}}\n")
    m = load_map(write(tmp_path, "  ship_to: {use: party, loop: N1_ST}"))
    (ship_to,) = m.root.fields
    assert [f.name for f in ship_to.fields] == ["id"]
    assert ship_to.steps[0].name == "N1_ST"


def test_guide_of_another_set(tmp_path):
    path = tmp_path / "855.yaml"
    path.write_text(f'transaction_set: "855"\ndocument: order_ack\nguide: {GUIDE_850}\n')
    with pytest.raises(MapError, match="is for 850"):
        load_map(path)


def test_components_both_ways(tmp_path):
    m = load_map(write(tmp_path, '  po_number: BEG03\n  promo: "REF[PD]04-2"'))
    ts = one_set("850", ["BEG*00*NE*PO1**20240105", "REF*PD*X**ZZ>PROMO7"])
    doc = translate(ts, m, check=False)
    assert content(doc) == {"po_number": "PO1", "promo": "PROMO7"}
    segments = render(doc, m, 1, check=False)
    assert ["REF", "PD", "", "", ("", "PROMO7")] in segments
