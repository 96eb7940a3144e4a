"""Writer: segment serialisation, envelopes, and reader -> writer -> reader round trips."""

from datetime import datetime

import pytest

from gateway.edi.x12 import Delimiters
from gateway.edi.x12.writer import format_segment, gs, interchange, isa, transaction_set
from tests.unit.edi.x12_samples import CORPUS_FILES, parse

WHEN = datetime(2024, 3, 1, 9, 30)
STAR = Delimiters("*", ">", "~", "^")


def test_format_segment_drops_trailing_empties_and_joins_composites():
    assert format_segment(["REF", "DP", "1", "", ""], STAR) == "REF*DP*1~"
    assert format_segment(["AK4", ("3", "1"), "", "7"], STAR) == "AK4*3>1**7~"
    assert format_segment(["AK4", ("3", ""), "353"], STAR) == "AK4*3*353~"


def test_isa_is_fixed_width():
    elements = isa(("ZZ", "ME"), ("12", "YOU"), 42, STAR, version="00501", when=WHEN)
    text = format_segment(elements, STAR)
    assert len(text) == 106
    assert text == ("ISA*00*          *00*          *ZZ*ME             *12*YOU            "
                    "*240301*0930*^*00501*000000042*0*P*>~")
    with pytest.raises(ValueError):
        isa(("ZZ", "X" * 16), ("ZZ", "Y"), 1, STAR)


def test_envelope_counts_and_control_numbers():
    body = [["BEG", "00", "SA", "PO1", "", "20240101"], ["REF", "DP", "1"]]
    sets = [transaction_set("850", 1, body), transaction_set("850", 2, body)]
    text = interchange(isa(("ZZ", "ME"), ("ZZ", "YOU"), 7, STAR, when=WHEN),
                       [(gs("PO", "ME", "YOU", 3, when=WHEN), sets)], STAR, newline=True)
    lines = text.splitlines()
    assert lines[1] == "GS*PO*ME*YOU*20240301*0930*3*X*004010~"
    assert lines[2:6] == ["ST*850*0001~", "BEG*00*SA*PO1**20240101~", "REF*DP*1~",
                          "SE*4*0001~"]
    assert lines[-2:] == ["GE*2*3~", "IEA*1*000000007~"]
    (ic,) = parse(text.encode())
    assert ic.accepted and not ic.groups[0].problems
    assert all(ts.accepted for ts in ic.groups[0].sets)


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
@pytest.mark.parametrize("delims", [None, Delimiters("|", "}", "\n", "")])
def test_round_trip(path, delims):
    first = parse(path.read_bytes())
    text = "".join(
        interchange(ic.header.elements[:16] + [(delims or ic.delimiters).component],
                    [(g.header.elements, [[s.elements for s in ts.segments] for ts in g.sets])
                     for g in ic.groups], delims or ic.delimiters)
        for ic in first)
    second = parse(text.encode(first[0].encoding if delims is None else "utf-8"))
    assert [[[[s.elements for s in ts.segments] for ts in g.sets] for g in ic.groups]
            for ic in second] == [[[[s.elements for s in ts.segments] for ts in g.sets]
                                   for g in ic.groups] for ic in first]
    # Envelope problems come from the content, not from the writer.
    assert ([[p.code for p in ic.problems] for ic in second]
            == [[p.code for p in ic.problems] for ic in first])


def test_transaction_set_control_number_padding():
    assert transaction_set("997", 5, [])[0] == ["ST", "997", "0005"]
    assert transaction_set("997", 5, [])[-1] == ["SE", "2", "0005"]


def test_empty_interchange():
    (ic,) = parse(interchange(isa(("ZZ", "A"), ("ZZ", "B"), 1, STAR), [], STAR).encode())
    assert ic.accepted and ic.trailer.elements == ["IEA", "0", "000000001"]
