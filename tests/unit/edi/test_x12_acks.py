"""997/999/TA1 content, element by element."""

from datetime import datetime

from gateway.edi.x12 import Delimiters, Problem
from gateway.edi.x12.acks import functional_ack, needs_ta1, reply_gs, reply_isa, ta1
from gateway.edi.x12.errors import ELEMENT, SEGMENT
from gateway.edi.x12.writer import format_segment
from gateway.edi.x12.writer import interchange as write_interchange
from tests.unit.edi.x12_samples import ISA, interchange, parse, po

WHEN = datetime(2024, 3, 1, 9, 30)


def text(segments):
    return [format_segment(s, Delimiters("*", ">", "~")) for s in segments]


def group_and_sets(data):
    (ic,) = parse(data)
    return ic, ic.groups[0], ic.groups[0].sets


def test_997_all_accepted():
    _, group, sets = group_and_sets(interchange(po("0001"), po("0002")))
    ack = functional_ack(group, [(ts, []) for ts in sets], 12)
    assert text(ack) == ["ST*997*0012~", "AK1*PO*7~", "AK2*850*0001~", "AK5*A~",
                         "AK2*850*0002~", "AK5*A~", "AK9*A*2*2*2~", "SE*8*0012~"]


def test_997_partial_with_segment_and_element_errors():
    _, group, sets = group_and_sets(interchange(po("0001", count=9), po("0002"), po("0003")))
    problems = [
        Problem(SEGMENT, "3", "missing", "PO1", 3, 0, -1, loop_id="PO1"),
        Problem(ELEMENT, "7", "bad code", "BEG", 2, 0, -1, element=1, element_ref="353",
                value="ZZ"),
        Problem(ELEMENT, "1", "missing", "BEG", 2, 0, -1, element=3, element_ref="324"),
        Problem(ELEMENT, "5", "too long", "N1", 4, 0, -1, element=2, component=1,
                element_ref="93", value="X" * 70),
    ]
    ack = functional_ack(group, [(sets[0], []), (sets[1], problems), (sets[2], [])], 13)
    assert text(ack) == [
        "ST*997*0013~", "AK1*PO*7~",
        "AK2*850*0001~", "AK5*R*4~",
        "AK2*850*0002~",
        "AK3*BEG*2**8~", "AK4*1*353*7*ZZ~", "AK4*3*324*1~",
        "AK3*PO1*3*PO1*3~",
        "AK3*N1*4**8~", "AK4*2>1*93*5*" + "X" * 70 + "~",
        "AK5*R*5~",
        "AK2*850*0003~", "AK5*A~",
        "AK9*P*3*3*1~", "SE*16*0013~"]


def test_997_lenient_accepts_with_errors():
    _, group, sets = group_and_sets(interchange(po("0001")))
    problem = Problem(ELEMENT, "6", "bad char", "BEG", 2, element=3, element_ref="324", value="é")
    ack = functional_ack(group, [(sets[0], [problem])], 1, lenient=True)
    assert text(ack)[4:7] == ["AK4*3*324*6*é~", "AK5*E*5~", "AK9*E*1*1*1~"]


def test_997_group_errors_reject_group():
    _, group, sets = group_and_sets(interchange(po("0001"), ge="GE*3*7~"))
    ack = functional_ack(group, [(ts, []) for ts in sets], 1)
    assert text(ack)[-2] == "AK9*R*3*1*1*5~"


def test_999_for_5010_group():
    data = interchange(po("0001")).replace(b"*X*004010~", b"*X*005010X220A1~")
    data = data.replace(b"ST*850*0001~", b"ST*850*0001*005010X220A1~")
    _, group, sets = group_and_sets(data)
    problem = Problem(ELEMENT, "I10", "not used", "BEG", 2, element=4, element_ref="328",
                      value="x")
    ack = functional_ack(group, [(sets[0], [problem])], 21)
    assert text(ack) == ["ST*999*0021~", "AK1*PO*7*005010X220A1~",
                         "AK2*850*0001*005010X220A1~", "IK3*BEG*2**8~", "IK4*4*328*I10~",
                         "IK5*R*5~", "AK9*R*1*1*0~", "SE*8*0021~"]


def test_reply_envelope_mirrors_inbound():
    ic, group, sets = group_and_sets(interchange(po("0001")))
    isa = reply_isa(ic, 55, when=WHEN)
    assert isa[5:9] == ["ZZ", "RECEIVER       ", "ZZ", "SENDER         "]
    assert isa[12:16] == ["00401", "000000055", "0", "P"]
    gs = reply_gs(group, 9, when=WHEN)
    assert gs == ["GS", "FA", "RECEIVER", "SENDER", "20240301", "0930", "9", "X", "004010"]
    out = write_interchange(isa, [(gs, [functional_ack(group, [(sets[0], [])], 1)])],
                            ic.delimiters)
    (reply,) = parse(out.encode())
    assert reply.accepted and reply.groups[0].sets[0].id == "997"


def test_ta1_accepted_and_rejected():
    ic, _, _ = group_and_sets(interchange(po()))
    assert not needs_ta1(ic)
    assert ta1(ic.header, ic.problems) == ["TA1", "000000101", "240101", "1200", "A", "000"]
    ic, _, _ = group_and_sets(interchange(po(), isa=ISA.replace("*0*P*", "*1*P*"),
                                          iea="IEA*1*000000999~"))
    assert needs_ta1(ic)
    assert ta1(ic.header, ic.problems) == ["TA1", "000000101", "240101", "1200", "R", "001"]


def test_ta1_reply_interchange_round_trips():
    ic, _, _ = group_and_sets(interchange(po(), isa=ISA.replace("*0*P*", "*1*P*")))
    text = write_interchange(reply_isa(ic, 77, when=WHEN), [], ic.delimiters,
                             ta1=[ta1(ic.header, ic.problems)])
    assert text.endswith("~TA1*000000101*240101*1200*A*000~IEA*0*000000077~")
    (reply,) = parse(text.encode())
    assert reply.accepted and [s.elements[4] for s in reply.ta1] == ["A"]


def test_999_we_write_reads_back_as_a_functional_ack_document():
    from gateway.translate.inbound import translate_ack
    from gateway.translate.schemas import validate_document

    data = interchange(po("0001"), po("0002"), isa=ISA.replace("*00401*", "*00501*"))
    _, group, sets = group_and_sets(data.replace(b"*X*004010~", b"*X*005010~"))
    problems = [Problem(SEGMENT, "I4", "not used", "TD5", 4, 0, -1, loop_id=""),
                Problem(ELEMENT, "7", "bad code", "PO1", 5, 0, -1, element=3, component=0,
                        element_ref="355", loop_id="PO1", value="XX")]
    ack = functional_ack(group, [(sets[0], problems), (sets[1], [])], 3)
    data = write_interchange(reply_isa(group.interchange, 9, when=WHEN),
                             [(reply_gs(group, 4, WHEN), [ack])], Delimiters("*", ">", "~"))
    (ic,) = parse(data.encode())
    doc = translate_ack(ic.groups[0].sets[0])
    validate_document(doc, "functional_ack")
    assert doc["envelope"]["functional_id"] == "FA"
    assert doc["envelope"]["version"] == "005010"
    assert {k: v for k, v in doc.items() if k != "envelope"} == {
        "ack_type": "999", "functional_id": "PO", "group_control_number": "7",
        "group_version": "005010", "status": "partially_accepted", "status_code": "P",
        "sets_included": 2, "sets_received": 2, "sets_accepted": 1,
        "sets": [
            {"set_id": "850", "control_number": "0001", "status": "rejected",
             "status_code": "R",
             "errors": [{"code": "5", "meaning": "one or more segments in error"}],
             "segments": [
                 {"segment_id": "TD5", "position": 4, "code": "I4",
                  "meaning": 'implementation "not used" segment present'},
                 {"segment_id": "PO1", "position": 5, "loop": "PO1", "code": "8",
                  "meaning": "segment has data element errors",
                  "elements": [{"position": 3, "element_ref": "355", "code": "7",
                                "meaning": "invalid code value", "value": "XX"}]}]},
            {"set_id": "850", "control_number": "0002", "status": "accepted",
             "status_code": "A"}]}
