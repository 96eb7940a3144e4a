"""Outbound: documents rendered as X12 validate against the Amazon guides (ours and pyx12) and
read back through the inbound map into the same document."""

import copy
import logging

import pytest

from gateway.edi.x12.validate import validate
from gateway.edi.x12.writer import write_segments
from gateway.translate import RenderError, find_map, render, translate
from tests.unit.edi.pyx12_oracle import map_directory, pyx12_findings
from tests.unit.translate import documents
from tests.unit.translate.support import DELIMITERS, FUNCTIONAL_IDS, content, read_back, x12

CASES = {
    "855": documents.PO_ACKNOWLEDGMENT,
    "856": documents.SHIP_NOTICE,
    "810": documents.INVOICE,
    "850": documents.PURCHASE_ORDER,
    "820": documents.REMITTANCE,
}


@pytest.mark.parametrize("set_id", list(CASES))
def test_round_trip_and_guide(set_id):
    m = find_map(set_id)
    segments = render(CASES[set_id], m, 17)
    assert segments[0] == ["ST", set_id, "0017"]
    assert segments[-1] == ["SE", str(len(segments)), "0017"]
    ts = read_back(x12(segments, set_id))
    assert ts.accepted, ts.problems
    assert [str(p) for p in validate(ts, m.guide)] == []
    assert content(translate(ts, m)) == CASES[set_id]


# Not the 856: in pyx12's map made from the guide the HL loops are flat siblings that cannot come
# back (a second pack after an item is "not found"), which flags the tests' own ASN samples too.
@pytest.mark.parametrize("set_id", ["855", "810", "850"])
def test_pyx12_agrees(set_id, tmp_path):
    logging.getLogger("pyx12").setLevel(logging.CRITICAL)
    m = find_map(set_id)
    path = map_directory(m.guide, FUNCTIONAL_IDS[set_id], tmp_path)
    assert pyx12_findings(x12(render(CASES[set_id], m, 1), set_id), path) == (set(), set())


def text(set_id: str, doc: dict) -> list[str]:
    return write_segments(render(doc, find_map(set_id), 1), DELIMITERS).split("~")[:-1]


def test_855_segments():
    assert text("855", documents.PO_ACKNOWLEDGMENT) == [
        "ST*855*0001",
        "BAK*00*AC*T82Y2VBDX*20240105",
        "CUR*SE*USD",
        "N1*ST**92*RNO1",
        "N1*SF*ACME*92*VENDOR1", "N3*1 Main St*Unit 2", "N3*Dock 3", "N4*Reno*NV*89501*US",
        "PO1*1*10*EA*12.50**BP*B00TEST123*UP*012345678905",
        "ACK*IA*8*EA", "DTM*068*20240109",
        "ACK*IB*2*EA",
        "PO1*2*3*CA***EN*4006381333931",
        "ACK*IA*0*CA",
        "ACK*IR*3*CA",
        "CTT*2",
        "SE*17*0001",
    ]


def test_856_hierarchy():
    segments = text("856", documents.SHIP_NOTICE)
    hl = [s for s in segments if s.startswith(("HL", "MAN", "PRF", "CTT"))]
    assert hl == [
        "HL*1**S",
        "HL*2*1*O", "PRF*T82Y2VBDX",
        "HL*3*2*P", "MAN*GM*000012345600000018", "HL*4*3*I", "HL*5*3*I",
        "HL*6*2*P", "MAN*GM*000012345600000025", "HL*7*6*I",
        "HL*8*1*O", "PRF*Q1234567",
        "HL*9*8*P", "MAN*GM*000012345600000032", "HL*10*9*I",
        "CTT*10",
    ]
    assert "BSN*00*ASN0001*20240105*1200*0001" in segments
    assert "DTM*011*20240105*1630" in segments
    assert "TD1******G*12.5*KG" in segments
    assert "TD5**2*UPSN*U" in segments


def test_810_amounts():
    segments = text("810", documents.INVOICE)
    assert "TDS*15850" in segments
    assert "SAC*C*D240***1500**********Freight" in segments
    assert "SAC*A*C310***250" in segments
    assert "ITD***2**10**30" in segments


def test_schema_checked_before_rendering():
    doc = copy.deepcopy(documents.INVOICE)
    del doc["lines"][0]["quantity"]
    with pytest.raises(RenderError) as info:
        render(doc, find_map("810"), 1)
    assert info.value.field == "lines/0"
    assert "quantity" in str(info.value)


def test_value_without_x12_form():
    doc = copy.deepcopy(documents.SHIP_NOTICE)
    doc["ship_date"] = "2024-01-05T16:30+02:00"
    with pytest.raises(RenderError) as info:
        render(doc, find_map("856"), 1, check=False)
    assert info.value.field == "ship_date"
    doc = copy.deepcopy(documents.PO_ACKNOWLEDGMENT)
    doc["lines"][0]["status"] = "pending"
    with pytest.raises(RenderError, match="lines/0/status: 'pending' has no X12 code"):
        render(doc, find_map("855"), 1, check=False)
