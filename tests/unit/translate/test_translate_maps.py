"""Map loading: the shipped maps compile, mistakes are reported at load time with the entry."""

import pytest

from gateway.edi.x12.guide import MAPPING
from gateway.translate import RenderError, render, translate
from gateway.translate.maps import Count, FieldRef, MapError, find_map, load_map
from tests.unit.translate.documents import PURCHASE_ORDER
from tests.unit.translate.support import content, one_set, read_back, x12

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
    quantity = next(f for f in lines.fields if f.name == "quantity")
    (addr,) = quantity.at
    assert [(s.name, s.quals) for s in addr.steps] == [("ACK", None)]
    assert (addr.tag, addr.element) == ("ACK", 2)
    assert (lines.split.loop, lines.split.same) == ("ACK", "line_number")
    assert lines.fixed[0][1] == FieldRef("unit")
    assert m.root.always[0][1] == Count("PO1")
    product_ids = next(f for f in lines.fields if f.name == "product_ids")
    assert product_ids.ids.codes_out["buyer_part"] == "BP"
    parties = next(f for f in m.root.fields if f.name == "parties")
    assert [[s.name for s in steps] for steps in parties.choices] == [["N1_ST"], ["N1_SF"]]
    assert parties.chooser.name == "role"


def write(tmp_path, fields: str, extra: str = "") -> str:
    path = tmp_path / "850.yaml"
    path.write_text(f'transaction_set: "850"\ndocument: purchase_order\nguide: {GUIDE_850}\n'
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
    ("  parties: {each: [N1_ST, N1_BT], fields: {id: N104}}",
     "fields.parties: `each` over several loops needs a field with codes at N101"),
    ("  parties: {each: [N1_ST, PO1], fields: {role: {at: N101, codes: {ST: ship_to}}}}",
     "fields.parties: the loops of `each` must have the same segments"),
    ("  lines: {each: PO1, split: {loop: ACK, same: line_number}, fields: {q: PO102}}",
     "fields.lines.split: loop ACK is not in loop PO1"),
    ("  refs: {rows: REF, fields: {kind: REF01, po: BEG03}}",
     "fields.refs.po: a field of `rows: REF` reads that segment only"),
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
    path.write_text(f'transaction_set: "855"\ndocument: po_acknowledgment\nguide: {GUIDE_850}\n')
    with pytest.raises(MapError, match="is for 850"):
        load_map(path)


def test_each_over_several_loops_chooses_by_code(tmp_path):
    m = load_map(write(tmp_path, "  parties:\n    each: [N1_ST, N1_BT]\n    fields:\n"
                                 "      role: {at: N101, codes: {ST: ship_to, BT: bill_to}}\n"
                                 "      id: N104"))
    doc = {"parties": [{"role": "bill_to", "id": "B1"}, {"role": "ship_to", "id": "S1"}]}
    segments = render(doc, m, 1, check=False)
    # Written in the guide's order of the loops, each loop with its own qualifier.
    assert [s for s in segments if s[0] == "N1"] == [["N1", "ST", "", "", "S1"],
                                                       ["N1", "BT", "", "", "B1"]]
    with pytest.raises(RenderError, match="parties/0/role: 'vendor' has no X12 code"):
        render({"parties": [{"role": "vendor", "id": "V"}]}, m, 1, check=False)


def test_an_item_no_loop_takes_is_not_written():
    # The Amazon 850 has N1 loops for ship-to and bill-to only: a buyer party has no place.
    doc = {**PURCHASE_ORDER, "parties": [{"role": "buyer", "id": "AMAZON"},
                                         *PURCHASE_ORDER["parties"]]}
    segments = render(doc, find_map("850"), 1)
    assert [s for s in segments if s[0] == "N1"] == [["N1", "ST", "", "92", "RNO1"]]


def test_components_both_ways(tmp_path):
    m = load_map(write(tmp_path, '  po_number: BEG03\n  promo: "REF[PD]04-2"'))
    ts = one_set("850", ["BEG*00*NE*PO1**20240105", "REF*PD*X**ZZ>PROMO7"])
    doc = translate(ts, m, check=False)
    assert content(doc) == {"po_number": "PO1", "promo": "PROMO7"}
    segments = render(doc, m, 1, check=False)
    assert ["REF", "PD", "", "", ("", "PROMO7")] in segments


def test_rows_one_item_per_repeated_segment_both_ways():
    # The generic 810's taxes: one object per summary TXI, read and written back in order.
    ts = one_set("810", ["BIG*20240105*INV1**PO1", "CUR*SE*USD", "IT1*1*2*EA*10.00**VN*ABC",
                         "TDS*2150", "TXI*ST*1.50*7.5", "TXI*CT*0", "CTT*1"])
    m = find_map("810", profile="generic")
    doc = translate(ts, m)
    assert doc["taxes"] == [{"type": "ST", "amount": "1.50", "rate": 7.5},
                            {"type": "CT", "amount": "0"}]
    segments = render(doc, m, 1)
    assert [s for s in segments if s[0] == "TXI"] == [["TXI", "ST", "1.50", "7.5"],
                                                      ["TXI", "CT", "0"]]
    assert content(translate(read_back(x12(segments, "810")), m)) == content(doc)
