"""Partner overlays: a small YAML merged over the generic guide and map, in both directions."""

import shutil

import pytest

from gateway.edi.x12 import errors as E
from gateway.edi.x12.guide import MAPPING, find_guide
from gateway.edi.x12.overlay import OverlayError
from gateway.edi.x12.validate import Validator
from gateway.partners import Partner
from gateway.translate import MapError, find_map, render, translate
from gateway.x12flow import check_partner
from tests.unit.translate.support import content, one_set, read_back, x12

OVERLAY_850 = """\
# ACME always sends CUR, and only in eaches or cases.
guide:
  CUR: {usage: R}
  PO1/PO1: {elements: {PO103: {codes: [EA, CA]}}}
"""
OVERLAY_810 = """\
# ACME wants the shipment as REF*SI (the shipper's number), and always a REF.
guide:
  REF: {usage: R}
map:
  fields:
    shipment_id: "REF[SI,BM]02"
"""
ORDER = ["BEG*00*NE*PO1**20240105", "PO1*1*2*EA*3.5**UP*012345678905", "CTT*1"]
INVOICE = {"invoice_number": "INV1", "invoice_date": "2024-01-06", "currency": "USD",
           "shipment_id": "SHIP9",
           "lines": [{"line_number": "1", "quantity": 2, "unit": "EA", "unit_price": "3.5",
                      "product_ids": {"upc": "012345678905"}}],
           "total_amount": "7.00"}


@pytest.fixture
def root(tmp_path):
    """A copy of mapping/x12 with the overlay `acme`."""
    root = tmp_path / "mapping" / "x12"
    shutil.copytree(MAPPING, root)
    overlay = root / "004010" / "overlays" / "acme"
    overlay.mkdir(parents=True)
    (overlay / "850.yaml").write_text(OVERLAY_850)
    (overlay / "810.yaml").write_text(OVERLAY_810)
    return root


def problems(ts, root, overlay):
    guide = find_guide(ts.id, "004010", "acme", root, overlay)
    return [(p.segment_id, p.code) for p in Validator(guide).validate(ts)]


def test_overlay_makes_a_segment_required_inbound(root):
    ts = one_set("850", ORDER)
    assert problems(ts, root, "") == []
    assert problems(ts, root, "acme") == [("CUR", E.SEG_MANDATORY_MISSING)]
    ts = one_set("850", [ORDER[0], "CUR*BY*USD", "PO1*1*2*UN*3.5**UP*012345678905", "CTT*1"])
    assert problems(ts, root, "acme") == [("PO1", E.ELE_BAD_CODE)]


def test_overlay_maps_an_extra_ref_qualifier_both_ways(root):
    base = find_map("810", "004010", "acme", root)
    acme = find_map("810", "004010", "acme", root, "acme")
    assert base.guide.name == acme.guide.name == "Generic 810 Invoice (004010)"
    segments = render(INVOICE, acme, 1)
    assert ["REF", "SI", "SHIP9"] in segments
    assert ["REF", "BM", "SHIP9"] in render(INVOICE, base, 1)
    ts = read_back(x12(segments, "810"))
    assert Validator(acme.guide).validate(ts) == []
    assert content(translate(ts, acme)) == INVOICE
    # The base map does not know REF*SI.
    assert "shipment_id" not in translate(ts, base)


def test_overlay_required_segment_outbound(root):
    acme = find_map("810", "004010", "acme", root, "acme")
    without = {k: v for k, v in INVOICE.items() if k != "shipment_id"}
    ts = read_back(x12(render(without, acme, 1), "810"))
    assert [(p.segment_id, p.code) for p in Validator(acme.guide).validate(ts)] == [
        ("REF", E.SEG_MANDATORY_MISSING)]


@pytest.mark.parametrize("text, where", [
    ("guide:\n  TXX: {usage: R}\n", "810.yaml: guide.TXX: the guide has no segment or loop"),
    ("guide:\n  REF: {elements: {REF09: {usage: R}}}\n",
     "810.yaml: guide.REF.elements.REF09: REF has no element REF09"),
    ("guide:\n  REF: {usage: Q}\n", "810.yaml: guide.REF.usage: 'Q' is not R, S or N"),
    ("guide:\n  IT1: {repeat: 3}\n", "810.yaml: guide.IT1: unknown key(s) repeat"),
    ("guides: {}\n", "810.yaml: guides: unknown key"),
    ("map:\n  fields:\n    shipment_id: {at: REF02, as: money}\n",
     "810.yaml: map.fields.shipment_id: unknown conversion 'money'"),
    ("map:\n  fields:\n    shipment_id: TD502\n",
     "810.yaml: map.fields.shipment_id: segment TD5 is not in loop ROOT"),
])
def test_overlay_errors_name_file_and_key(root, text, where):
    (root / "004010" / "overlays" / "acme" / "810.yaml").write_text(text)
    with pytest.raises((OverlayError, MapError)) as info:
        find_map("810", "004010", "acme", root, "acme")
    assert where in str(info.value)


def test_gateway_check_reports_overlay_errors(root):
    partner = Partner.model_validate({
        "id": "acme", "name": "ACME",
        "x12": {"isa_qualifier": "ZZ", "isa_id": "ACME", "gs_id": "ACME", "ack": "none",
                "overlay": "acme"},
        "documents": [{"type": "850", "direction": "inbound"},
                      {"type": "810", "direction": "outbound"}]})
    assert check_partner(partner, root.parent) == []
    (root / "004010" / "overlays" / "broken").mkdir()
    (root / "004010" / "overlays" / "broken" / "850.yaml").write_text(
        "guide:\n  N1/N9: {usage: R}\n")
    (problem,) = check_partner(with_overlay(partner, "broken"), root.parent)
    assert problem.startswith("partner acme: ") and problem.endswith(
        "overlays/broken/850.yaml: guide.N1/N9: the guide has no segment or loop 'N9' there")
    missing = with_overlay(partner, "acne")
    assert check_partner(missing, root.parent) == [
        f"partner acme: x12.overlay 'acne': no directory {root}/<version>/overlays/acne/"]


def with_overlay(partner: Partner, name: str) -> Partner:
    return partner.model_copy(update={"x12": partner.x12.model_copy(update={"overlay": name})})
