"""Hostile input: every failure is a TranslationError naming the set, segment and element."""

import random

import pytest

from gateway.edi.x12.reader import Segment
from gateway.translate import TranslationError, translate
from tests.unit.translate.support import CORPUS, MAPPED, corpus_sets, one_set

PO = ["BEG*00*NE*T82Y2VBDX**20240105", "N1*ST**92*RNO1", "PO1*1*10*EA*12.5**UP*012345678905",
      "PO1*2*3*CA*7**BP*B00TEST123", "CTT*2"]


def error(set_id: str, body: list[str]) -> TranslationError:
    with pytest.raises(TranslationError) as info:
        translate(one_set(set_id, body))
    return info.value


def test_clean_order():
    doc = translate(one_set("850", PO))
    assert doc["po_number"] == "T82Y2VBDX" and len(doc["lines"]) == 2


def test_missing_beg():
    e = error("850", PO[1:])
    assert (e.segment_id, e.segment_no, e.element) == ("ST", 1, 0)
    assert e.field == "po_number"
    assert str(e).startswith("transaction set 850 0001, segment ST #1 in set (#3 in interchange)")
    assert "required 'po_number' missing (nothing at BEG03)" in str(e)


def test_non_numeric_quantity():
    e = error("850", PO[:3] + ["PO1*2*3X*CA*7**BP*B00TEST123", "CTT*2"])
    assert (e.segment_id, e.segment_no, e.interchange_segment_no, e.element) == ("PO1", 5, 7, 2)
    assert e.field == "lines/1/quantity" and e.value == "3X"
    assert "element PO102" in str(e) and "'3X' is not a number" in str(e)


def test_bad_date():
    e = error("850", ["BEG*00*NE*T82Y2VBDX**20240230"] + PO[1:])
    assert (e.segment_id, e.segment_no, e.element, e.field) == ("BEG", 2, 5, "po_date")
    assert "not a valid calendar date" in e.reason


def test_bad_code():
    e = error("850", ["BEG*07*NE*T82Y2VBDX**20240105"] + PO[1:])
    assert (e.segment_id, e.element, e.field) == ("BEG", 1, "purpose")
    assert "code '07' is not one of" in e.reason


def test_zero_quantity_refused_by_schema():
    e = error("850", PO[:2] + ["PO1*1*0*EA*12.5**UP*012345678905", "CTT*1"])
    assert (e.segment_id, e.segment_no, e.element, e.field) == ("PO1", 4, 2, "lines/0/quantity")


def test_no_lines():
    e = error("850", PO[:2])
    assert e.field == "lines" and "required 'lines' missing" in e.reason


def test_bad_ack_date_in_a_loop():
    body = ["BAK*00*AD*PO1*20240105", "PO1*1*10*EA*12.5**UP*012345678905", "ACK*IA*10*EA",
            "DTM*068*2024010", "CTT*1"]
    e = error("855", body)
    assert (e.segment_id, e.segment_no, e.element) == ("DTM", 5, 2)
    assert e.field == "lines/0/dates/scheduled_ship"


def test_unknown_and_misplaced_segments_are_tolerated():
    body = ["ZZZ*1", "BEG*00*NE*T82Y2VBDX**20240105", "N1*BY*SOMEONE", "N3*NOT SHIP-TO",
            "N1*ST**92*RNO1", "PO1*1*10*EA*12.5**UP*012345678905", "REF*XX*late", "CTT*1"]
    doc = translate(one_set("850", body))
    assert doc["parties"] == [{"role": "ship_to", "id": "RNO1", "id_qualifier": "92"}]


def test_hl_with_unknown_parent():
    body = ["BSN*00*ASN1*20240105*1200*0001", "HL*1**S", "DTM*011*20240105",
            "HL*2*9*O", "PRF*PO1", "CTT*2"]
    e = error("856", body)
    # The orphan order level is not under the shipment, so the shipment has no orders.
    assert e.field == "orders" and (e.segment_id, e.segment_no) == ("ST", 1)
    assert "nothing at HL_S/HL_O" in e.reason


def mutants(ts, rng: random.Random, count: int):
    """Copies of a set with segments dropped, repeated or swapped and elements garbled."""
    for _ in range(count):
        segments = [Segment(list(s.elements), s.offset, s.number) for s in ts.segments]
        body = segments[1:-1]
        for _ in range(rng.randint(1, 4)):
            if not body:
                break
            i = rng.randrange(len(body))
            action = rng.randrange(4)
            if action == 0:
                del body[i]
            elif action == 1:
                body.insert(rng.randrange(len(body) + 1), body[i])
            elif action == 2:
                j = rng.randrange(len(body))
                body[i], body[j] = body[j], body[i]
            else:
                els = body[i].elements
                n = rng.randrange(1, len(els)) if len(els) > 1 else 0
                if n:
                    els[n] = rng.choice(["", "X", "-1", "99999999999999999999", "20241340",
                                         "1.2.3", "ABC>DEF", els[n] * 3])
        segments[1:-1] = body
        for n, seg in enumerate(segments, 1):
            seg.set_number = n
        clone = type(ts)(ts.group, segments)
        yield clone


@pytest.mark.parametrize("set_id", MAPPED)
def test_mutated_corpus_never_crashes(set_id):
    rng = random.Random(int(set_id))
    sets = [ts for p in sorted(CORPUS.glob("*.x12")) for ts in corpus_sets(p.name)
            if ts.id == set_id]
    outcomes = {"ok": 0, "error": 0}
    for ts in sets:
        for clone in mutants(ts, rng, max(5, 400 // len(sets))):
            try:
                translate(clone)
                outcomes["ok"] += 1
            except TranslationError as exc:
                assert exc.segment_id and exc.segment_no >= 1
                outcomes["error"] += 1
    assert outcomes["error"] > 0
