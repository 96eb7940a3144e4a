"""Guide-driven validation: exact codes and positions for each kind of error."""

import io

import pytest

from gateway.edi.x12 import Delimiters, load
from gateway.edi.x12.acks import functional_ack
from gateway.edi.x12.guide import find_guide, load_guide
from gateway.edi.x12.validate import Validator
from gateway.edi.x12.writer import gs, isa, write_segments
from gateway.edi.x12.writer import interchange as write_interchange
from tests.unit.edi.x12_samples import CORPUS_FILES, interchange, parse

PO_BODY = [
    "BEG*00*NE*T82Y2VBDX**20240105",
    "CUR*BY*USD",
    "REF*PD*PROMO1",
    "FOB*CC",
    "DTM*064*20240110",
    "DTM*063*20240120",
    "N1*ST**92*RNO1",
    "PO1*1*10*EA*12.5*NT*UP*012345678905",
    "CTP**RES*19.99",
    "PO1*2*3*CA*7**EN*4006381333931",
    "CTT*2*13",
]
ASN_BODY = [
    "BSN*00*ASN0001*20240105*1200*0001",
    "HL*1**S", "TD1*CTN*2****G*12.5*LB", "TD5**2*UPSN", "REF*BM*1Z999", "DTM*011*20240105",
    "N1*ST**92*RNO1", "N1*SF*ACME*92*VENDOR1",
    "HL*2*1*O", "PRF*T82Y2VBDX",
    "HL*3*2*P", "MAN*GM*00001234560000000018",
    "HL*4*3*I", "LIN**UP*012345678905", "SN1**10*EA",
    "HL*5*2*P", "MAN*GM*00001234560000000025",
    "HL*6*5*I", "LIN**UP*012345678912", "SN1**3*EA",
    "CTT*6",
]
INVOICE_BODY = [
    "BIG*20240105*INV1**T82Y2VBDX", "CUR*SE*USD",
    "N1*ST**92*RNO1", "N1*RI*ACME", "N1*BT*AMAZON", "N1*SF*ACME*92*VENDOR1",
    "IT1*1*10*EA*12.5*NT*UP*012345678905", "TDS*12500", "CTT*1",
]


def transaction(set_id: str, body: list[str], control: str = "0001") -> str:
    segments = [f"ST*{set_id}*{control}"] + body + [f"SE*{len(body) + 2}*{control}"]
    return "~".join(segments) + "~"


def check(set_id: str, body: list[str], profile: str = "amazon-vc"):
    (ic,) = parse(interchange(transaction(set_id, body)))
    ts = ic.groups[0].sets[0]
    assert ts.accepted, ts.problems
    return Validator(find_guide(set_id, "004010", profile)).validate(ts)


def codes(problems):
    return [(p.code, p.segment_id, p.segment_no, p.element, p.component, p.element_ref)
            for p in problems]


@pytest.mark.parametrize("set_id, body", [
    ("850", PO_BODY), ("856", ASN_BODY), ("810", INVOICE_BODY),
    ("855", ["BAK*00*AC*T82Y2VBDX*20240105", "PO1*1*10*EA*12.5**UP*012345678905",
             "ACK*IA*10*EA", "CTT*1"]),
    ("820", ["BPR*I*125*C*ACH*CTX*01*123456789*DA*1234*1234567890**01*987654321*DA*5678*"
             "20240105",
             "TRN*1*PAY1", "N1*PR*AMAZON", "N1*PE*ACME", "ENT*1",
             "RMR*IV*INV1**125*125"]),
])
def test_good_documents_have_no_problems(set_id, body):
    assert check(set_id, body) == []


def replace(body, index, segment):
    return body[:index] + [segment] + body[index + 1:]


@pytest.mark.parametrize("body, expected", [
    # element over max length (BEG03 is AN 1/22)
    (replace(PO_BODY, 0, "BEG*00*NE*" + "X" * 23 + "**20240105"),
     [("5", "BEG", 2, 3, 0, "324")]),
    # invalid code
    (replace(PO_BODY, 0, "BEG*99*NE*T82Y2VBDX**20240105"), [("7", "BEG", 2, 1, 0, "353")]),
    # invalid date and time
    (replace(PO_BODY, 0, "BEG*00*NE*T82Y2VBDX**20240230"), [("8", "BEG", 2, 5, 0, "373")]),
    (replace(PO_BODY, 4, "DTM*064*20240110*2561"), [("9", "DTM", 6, 3, 0, "337")]),
    # mandatory element missing, element too short, invalid character in a number
    (replace(PO_BODY, 1, "CUR*BY"), [("1", "CUR", 3, 2, 0, "100")]),
    (replace(PO_BODY, 1, "CUR*BY*US"), [("4", "CUR", 3, 2, 0, "100"),
                                        ("7", "CUR", 3, 2, 0, "100")]),
    (replace(PO_BODY, 7, "PO1*1*10*EA*12.5X*NT*UP*012345678905"),
     [("6", "PO1", 9, 4, 0, "212")]),
    # too many elements, components in a simple element
    (replace(PO_BODY, 3, "FOB*CC*********X"), [("3", "FOB", 5, 10, 0, "")]),
    (replace(PO_BODY, 3, "FOB*C>C"), [("13", "FOB", 5, 1, 0, "146")]),
    # syntax rules: P0304 on N1, C0302 on PO1
    # (a rule is not reported again for a mandatory element already reported missing)
    (replace(PO_BODY, 5, "DTM*063*20240120*1200*ZZ*D8"), [("2", "DTM", 7, 6, 0, "1251")]),
    (replace(PO_BODY, 6, "N1*ST**92"), [("1", "N1", 8, 4, 0, "67")]),
    (replace(PO_BODY, 9, "PO1*2**CA*7**EN*4006381333931"), [("1", "PO1", 11, 2, 0, "330")]),
    # composite: component too long, too many components
    (replace(PO_BODY, 2, "REF*PD*PROMO1**PD>" + "Y" * 31), [("5", "REF", 4, 4, 2, "127")]),
    (replace(PO_BODY, 2, "REF*PD*PROMO1**PD>1>PD>2>PD>3>X"), [("13", "REF", 4, 4, 0, "")]),
])
def test_element_errors(body, expected):
    assert codes(check("850", body)) == expected


@pytest.mark.parametrize("body, expected", [
    # a required segment missing: reported at the segment found in its place
    (PO_BODY[1:], [("3", "BEG", 2, 0, 0, "")]),
    # unrecognised id, known segment not in this set, out of sequence
    (PO_BODY[:3] + ["ZZZ*1"] + PO_BODY[3:], [("1", "ZZZ", 5, 0, 0, "")]),
    (PO_BODY[:3] + ["BSN*00*1*20240101*1200"] + PO_BODY[3:], [("6", "BSN", 5, 0, 0, "")]),
    (PO_BODY + ["CUR*BY*USD"], [("7", "CUR", 13, 0, 0, "")]),
    # segment over its maximum use, loop over its maximum
    (PO_BODY[:2] + ["CUR*BY*USD"] + PO_BODY[2:], [("5", "CUR", 4, 0, 0, "")]),
    (PO_BODY[:7] + ["N1*ST**92*RNO2"] + PO_BODY[7:], [("4", "N1", 9, 0, 0, "")]),
    # a required loop missing
    (PO_BODY[:7] + PO_BODY[10:], [("3", "PO1", 9, 0, 0, "")]),
])
def test_segment_errors(body, expected):
    assert codes(check("850", body)) == expected


def test_loop_id_reported():
    problems = check("850", PO_BODY[:7] + ["N1*ST**92*RNO2"] + PO_BODY[7:])
    assert problems[0].loop_id == "N1"


def test_sibling_loops_told_apart_by_qualifier_in_any_order():
    body = INVOICE_BODY[:2] + INVOICE_BODY[5:1:-1] + INVOICE_BODY[6:]
    assert check("810", body) == []
    body = replace(INVOICE_BODY, 3, "N1*ZZ*ACME")
    assert codes(check("810", body)) == [("7", "N1", 5, 1, 0, "98")]


def test_hl_levels():
    assert codes(check("856", replace(ASN_BODY, 12, "HL*4*3*X"))) == [
        ("7", "HL", 14, 3, 0, "735")]
    without_item = ASN_BODY[:12] + ASN_BODY[15:17] + ASN_BODY[20:]
    assert codes(check("856", without_item)) == [("3", "HL", 16, 0, 0, "")]


def test_repetition_separator_in_a_simple_element():
    data = interchange(transaction("850", replace(PO_BODY, 3, "FOB*CC^PP")))
    data = data.replace(b"*U*00401*", b"*^*00403*")
    (ic,) = parse(data)
    problems = Validator(find_guide("850", "004010", "amazon-vc")).validate(
        ic.groups[0].sets[0])
    assert codes(problems) == [("12", "FOB", 5, 1, 0, "146")]


def test_rules_of_every_kind(tmp_path):
    (tmp_path / "004010").mkdir()
    (tmp_path / "elements.yaml").write_text("elements: {1: [AN, 1, 5]}\n")
    (tmp_path / "004010" / "segments.yaml").write_text(
        "segments:\n"
        "  ST: {elements: [143 M, 329 M]}\n"
        "  SE: {elements: [96 M, 329 M]}\n"
        "  ZZ1:\n"
        "    elements: [{repeat: 10, elements: [1]}]\n"
        "    rules: [P0102, R0304, C0506, E0708, L091002]\n")
    guide = tmp_path / "004010" / "999.yaml"
    guide.write_text("transaction_set: '999'\nversion: '004010'\n"
                     "structure: [ST R 1, ZZ1 R >1, SE R 1]\n")
    validator = Validator(load_guide(guide, tmp_path))

    def zz1(**present):
        els = [""] * 11
        for key, value in present.items():
            els[int(key[1:])] = value
        return "*".join(["ZZ1"] + els[1:]).rstrip("*")

    (ic,) = parse(interchange(transaction("999", [
        zz1(e01="a", e03="c"),  # P0102 violated: 02 missing
        zz1(e02="b"),  # P0102 violated (01 missing) and R0304 (neither)
        zz1(e03="c", e05="e"),  # C0506: 05 needs 06
        zz1(e03="c", e09="i"),  # L091002: 09 needs 10 or 02
        zz1(e03="c", e07="g", e08="h"),  # E0708: not both
        zz1(e03="c", e06="f", e09="i", e02="b", e01="a"),  # all satisfied
    ])))
    problems = validator.validate(ic.groups[0].sets[0])
    assert [(p.segment_no, p.code, p.element) for p in problems] == [
        (2, "2", 2), (3, "2", 3), (3, "2", 1), (4, "2", 6), (5, "2", 10), (6, "10", 8)]


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_corpus_validates_with_positioned_problems(path):
    for ic in load(io.BytesIO(path.read_bytes())):
        for group in ic.groups:
            results = []
            for ts in group.sets:
                profile = "" if ts.id == "997" else "amazon-vc"
                problems = Validator(find_guide(ts.id, "004010", profile)).validate(ts)
                for p in problems:
                    assert 1 <= p.segment_no <= len(ts.segments)
                    assert ts.segments[p.segment_no - 1].number == p.interchange_segment_no
                    assert p.code and p.message
                results.append((ts, problems))
            ack = functional_ack(group, results, 1)
            assert ack[0][:2] == ["ST", "997"]


def test_our_acks_validate_against_the_ack_guides():
    (ic,) = parse(interchange(transaction("850", replace(PO_BODY, 0, "BEG*99*NE*X**20240230"))))
    group, ts = ic.groups[0], ic.groups[0].sets[0]
    problems = Validator(find_guide("850", "004010", "amazon-vc")).validate(ts)
    delims = Delimiters("*", ">", "~")
    for version, set_id in (("004010", "997"), ("005010X231A1", "999")):
        group.header.elements[8] = version
        ack = functional_ack(group, [(ts, problems)], 5)
        text = write_interchange(isa(("ZZ", "A"), ("ZZ", "B"), 1, delims, version="00501"),
                                 [(gs("FA", "A", "B", 1, version), [ack])], delims)
        (reply,) = parse(text.encode())
        (sent,) = reply.groups[0].sets
        assert sent.accepted
        assert Validator(find_guide(set_id, version)).validate(sent) == [], write_segments(
            ack, delims)


def test_element_dictionary_agrees_with_pyx12_on_types():
    from gateway.edi.x12.guide import _pyx12_elements, element_dictionary

    ours, theirs = element_dictionary("004010"), _pyx12_elements()
    differing = {ref for ref in ours if ref in theirs and ours[ref][0] != theirs[ref][0]}
    assert differing == set()
