"""pyx12 as an oracle: our Amazon 850 guide turned into a pyx12 map; both engines must agree.

Known, deliberate differences, left out of the comparison: pyx12 reports a segment whose
qualifier (first coded element) matches no sibling as "not found" (AK304 1), where we place it
and report the code (AK403 7); and pyx12 calls any unplaceable segment "not found" (1), where we
tell 6 (not in the set) and 7 (out of sequence) apart; pyx12 rejects text outside the X12
extended character set (e.g. "ü"), which we accept as partners do send UTF-8 names. Elements are compared on the segments
that neither engine reports at segment level. pyx12 writes no AK4 for segment-wide element
errors (too many elements, syntax rules), only the AK3 with code 8: those are compared at the
AK3 level.
"""

import logging

import pytest

from gateway.edi.x12.guide import find_guide
from gateway.edi.x12.validate import Validator
from tests.unit.edi.pyx12_oracle import map_directory, pyx12_findings
from tests.unit.edi.test_x12_validate import PO_BODY, replace, transaction
from tests.unit.edi.x12_samples import CORPUS_FILES, interchange, parse

GUIDE = find_guide("850", "004010", "amazon-vc")


@pytest.fixture(scope="module")
def map_path(tmp_path_factory):
    logging.getLogger("pyx12").setLevel(logging.CRITICAL)  # it logs every finding
    return map_directory(GUIDE, "PO", tmp_path_factory.mktemp("pyx12map"))


def ours(data: bytes) -> tuple[set, set]:
    """Our problems in the shape of pyx12_findings (AK3 code 8 for element errors)."""
    (ic,) = parse(data)
    problems = Validator(GUIDE).validate(ic.groups[0].sets[0])
    segments = {(p.segment_no, p.code if p.level == "segment" else "8") for p in problems}
    elements = {(p.segment_no, p.element, p.code) for p in problems if p.level == "element"}
    return segments, elements


def with_ak4(elements: set, theirs: set) -> set:
    positions = {e[0] for e in theirs}
    return {e for e in elements if e[0] in positions}


MUTATIONS = {
    "clean": PO_BODY,
    "too long": replace(PO_BODY, 0, "BEG*00*NE*" + "X" * 23 + "**20240105"),
    "too short": replace(PO_BODY, 1, "CUR*BY*US"),
    "bad date": replace(PO_BODY, 0, "BEG*00*NE*T82Y2VBDX**20240230"),
    "bad time": replace(PO_BODY, 4, "DTM*064*20240110*2561"),
    "short date": replace(PO_BODY, 4, "DTM*064*2024011"),
    "bad currency": replace(PO_BODY, 1, "CUR*BY*XYZ"),
    "bad composite": replace(PO_BODY, 2, "REF*PD*PROMO1**PD>" + "Y" * 31),
    "bad qualifier code": replace(PO_BODY, 6, "N1*ST**ZZ*RNO1"),
    "missing element": replace(PO_BODY, 1, "CUR*BY"),
    "bad number": replace(PO_BODY, 7, "PO1*1*10*EA*12.5X*NT*UP*012345678905"),
    "bad code": replace(PO_BODY, 7, "PO1*1*10*XX*12.5*NT*UP*012345678905"),
    "paired rule": replace(PO_BODY, 5, "DTM*063*20240120*1200*ZZ*D8"),
    "too many elements": replace(PO_BODY, 3, "FOB*CC*********X"),
    "missing segment": PO_BODY[1:],
    "over max use": PO_BODY[:2] + ["CUR*BY*USD"] + PO_BODY[2:],
    "missing loop": PO_BODY[:7] + PO_BODY[10:],
}


@pytest.mark.parametrize("name", MUTATIONS)
def test_mutations_agree_with_pyx12(name, map_path):
    data = interchange(transaction("850", MUTATIONS[name]))
    our_segments, our_elements = ours(data)
    their_segments, their_elements = pyx12_findings(data, map_path)
    assert our_segments == their_segments
    assert with_ak4(our_elements, their_elements) == their_elements


def comparable_corpus():
    for path in CORPUS_FILES:
        data = path.read_bytes()
        if data.startswith(b"ISA") and b"*00401*" in data[:110]:
            ics = parse(data)
            sets = [ts for ic in ics for g in ic.groups if g.version == "004010"
                    for ts in g.sets if ts.id == "850"]
            if len(ics) == 1 and len(sets) == 1 and len(ics[0].groups) == 1:
                yield path


@pytest.mark.parametrize("path", list(comparable_corpus()), ids=lambda p: p.name)
def test_corpus_elements_agree_with_pyx12(path, map_path):
    data = path.read_bytes()
    our_segments, our_elements = ours(data)
    their_segments, their_elements = pyx12_findings(data, map_path)
    unplaced = {n for n, code in our_segments | their_segments if code != "8"}
    ours_placed = {e for e in our_elements if e[0] not in unplaced}
    theirs_placed = {e for e in their_elements if e[0] not in unplaced}
    assert with_ak4(ours_placed, theirs_placed) == theirs_placed
    assert ({n for n, code in our_segments if code == "8" and n not in unplaced}
            == {n for n, code in their_segments if code == "8" and n not in unplaced})


def test_corpus_comparison_covers_files():
    assert len(list(comparable_corpus())) >= 5
