"""Envelope checks: ISA widths, trailers, counts and control numbers, per-set results."""

import pytest

from tests.unit.edi.x12_samples import ISA, interchange, parse, po


def only(problems):
    return [(p.level, p.code, p.segment_id, p.segment_no, p.interchange_segment_no, p.element)
            for p in problems]


def test_good_interchange_has_no_problems():
    (ic,) = parse(interchange(po("0001"), po("0002")))
    assert ic.accepted and not ic.groups[0].problems
    assert [ts.control_number for ts in ic.groups[0].sets] == ["0001", "0002"]
    assert ic.key == ("ZZ", "SENDER", "000000101")


def test_wrong_se_count_rejects_only_that_set():
    (ic,) = parse(interchange(po("0001", count=5), po("0002")))
    bad, good = ic.groups[0].sets
    assert only(bad.problems) == [("set", "4", "SE", 3, 5, 1)]
    assert good.accepted and ic.accepted and not ic.groups[0].problems


def test_st_se_control_mismatch():
    (ic,) = parse(interchange(po("0001", se_control="0009")))
    assert only(ic.groups[0].sets[0].problems) == [("set", "3", "SE", 3, 5, 2)]


def test_missing_se():
    (ic,) = parse(interchange("ST*850*0001~BEG*00*SA*PO1**20240101~", po("0002")))
    first, second = ic.groups[0].sets
    assert only(first.problems) == [("set", "2", "BEG", 2, 4, 0)]
    assert second.accepted and len(first.segments) == 2


def test_duplicate_set_control_number():
    (ic,) = parse(interchange(po("0001"), po("0001")))
    assert [only(ts.problems) for ts in ic.groups[0].sets] == [
        [], [("set", "23", "ST", 1, 6, 2)]]


def test_bad_set_identifier_and_control():
    (ic,) = parse(interchange("ST*85X*01~SE*2*01~"))
    assert [p.code for p in ic.groups[0].sets[0].problems] == ["6", "7"]


def test_group_trailer_checks():
    (ic,) = parse(interchange(po(), ge="GE*2*8~"))
    assert only(ic.groups[0].problems) == [("group", "5", "GE", 0, 6, 1),
                                           ("group", "4", "GE", 0, 6, 2)]
    (ic,) = parse(interchange(po(), ge=""))
    assert only(ic.groups[0].problems) == [("group", "3", "SE", 0, 5, 0)]
    (ic,) = parse(interchange(po(), gs_control="X1"))
    assert only(ic.groups[0].problems) == [("group", "6", "GS", 0, 2, 6)]


def test_interchange_control_number_mismatch():
    (ic,) = parse(interchange(po(), iea="IEA*1*000000102~"))
    assert only(ic.problems) == [("interchange", "001", "IEA", 0, 7, 2)]


def test_interchange_group_count():
    (ic,) = parse(interchange(po(), iea="IEA*2*000000101~"))
    assert only(ic.problems) == [("interchange", "021", "IEA", 0, 7, 1)]


def test_missing_iea():
    (ic,) = parse(interchange(po(), iea=""))
    assert only(ic.problems) == [("interchange", "023", "GE", 0, 6, 0)]
    assert ic.groups[0].sets[0].accepted


def test_missing_iea_before_next_interchange():
    first, second = parse(interchange(po(), iea="") + interchange(po()))
    assert [p.code for p in first.problems] == ["023"] and second.accepted


@pytest.mark.parametrize("old, new, code, element", [
    ("*ZZ*SENDER         *", "*ZZ*SENDER        *", "006", 6),
    ("*240101*", "*24010A*", "014", 9),
    ("*1200*", "*120*", "015", 10),
    ("*00401*", "*0040A*", "017", 12),
    ("*000000101*", "*00000101*", "018", 13),
    ("*0*P*", "*2*P*", "019", 14),
    ("*0*P*", "*0*X*", "020", 15),
])
def test_isa_fixed_width_fields(old, new, code, element):
    isa = ISA.replace(old, new)
    iea = "IEA*1*00000101~" if code == "018" else None
    (ic,) = parse(interchange(po(), isa=isa, iea=iea))
    assert only(ic.problems) == [("interchange", code, "ISA", 0, 1, element)]


def test_segment_between_groups():
    data = interchange(po()).replace(b"GE*1*7~", b"GE*1*7~REF*XX*1~")
    (ic,) = parse(data)
    assert only(ic.problems) == [("interchange", "022", "REF", 0, 7, 0)]


def test_transaction_set_outside_a_group_is_one_problem():
    data = interchange(po()).replace(b"GE*1*7~", b"GE*1*7~" + po("0002").encode())
    (ic,) = parse(data)
    assert only(ic.problems) == [("interchange", "022", "ST", 0, 7, 0)]
