"""Every corpus 850/855/856/810/820 either translates into a schema-valid document or fails with
a positioned TranslationError; one file of each type is checked field by field."""

import pytest

from gateway.translate import TranslationError, translate, validate_document
from gateway.translate.maps import find_map
from gateway.translate.schemas import document_errors, is_valid
from tests.unit.translate.support import CORPUS, content, corpus_sets

FILES = sorted(p.name for p in CORPUS.glob("*.x12") if corpus_sets(p.name))


def test_corpus_present():
    assert len(FILES) >= 30


@pytest.mark.parametrize("name", FILES)
def test_translates_or_fails_positioned(name):
    for ts in corpus_sets(name):
        try:
            doc = translate(ts)
        except TranslationError as exc:
            assert exc.set_id == ts.id and exc.control_number == ts.control_number
            assert exc.segment_id and exc.segment_no >= 1 and exc.interchange_segment_no >= 1
            assert f"transaction set {ts.id} {ts.control_number}" in str(exc)
            assert exc.reason
        else:
            validate_document(doc, find_map(ts.id).document)


def one(name: str, index: int = 0):
    return corpus_sets(name)[index]


def test_850_field_by_field():
    # BEG*00*NE*0123456789123**19980106**AC, N1*BT**15*1135309, N1*ST**15*6678157,
    # PO1*1*2*UN*10.5*SR*IB*0835201031 ... CTT*3*17; no CUR: US dollars.
    assert content(translate(one("850-004010-03.x12"))) == {
        "po_number": "0123456789123",
        "po_date": "1998-01-06",
        "purpose": "original",
        "order_type": "NE",
        "currency": "USD",
        "parties": [{"role": "ship_to", "id": "6678157", "id_qualifier": "15"},
                    {"role": "bill_to", "id": "1135309", "id_qualifier": "15"}],
        "lines": [
            {"line_number": "1", "quantity": 2, "unit": "UN", "unit_price": "10.5",
             "product_ids": {"isbn": "0835201031"}},
            {"line_number": "2", "quantity": 10, "unit": "UN", "unit_price": "9.25",
             "product_ids": {"isbn": "0835202151"}},
            {"line_number": "3", "quantity": 5, "unit": "UN", "unit_price": "30",
             "product_ids": {"isbn": "0835208338"}},
        ],
        "totals": {"line_count": 3, "quantity": 17},
    }


def test_850_dates_terms_and_currency():
    # 850-004010-05.x12, second set: DTM*037*19980205; mailbag: CUR*BY*CAD, ITD net 90 days.
    doc = translate(one("850-004010-05.x12", 1))
    assert doc["dates"] == {"ship_not_before": "1998-02-05"}
    assert doc["lines"][7] == {"line_number": "8", "quantity": 18, "unit": "UN",
                               "unit_price": "8.95", "product_ids": {"isbn": "0835213153"}}
    doc = translate(one("simplemailbag.x12"))
    assert doc["currency"] == "CAD"
    assert doc["terms"] == {"net_days": 90}


def test_820_field_by_field():
    # BPR*I*416093.15*C*ACH*...*20051020*VEN, TRN*1*4311000190, N1*PR / N1*PE, then RMR*IV
    # segments under five ENT loops.
    doc = translate(one("820-004010-01.x12"))
    assert doc["envelope"] == {
        "sender": {"qualifier": "08", "id": "9251750000", "application_id": "8019721193"},
        "receiver": {"qualifier": "XX", "id": "XXXXXXXXXX", "application_id": "XXXXXXXXXX"},
        "interchange_control_number": "000025029", "group_control_number": "106",
        "set_control_number": "00106001", "functional_id": "RA", "version": "004010",
        "test_indicator": "P", "date": "2005-10-18T18:20",
    }
    assert content(doc) == {
        "payment": {
            "amount": "416093.15",
            "currency": "USD",
            "method": "ACH",
            "date": "2005-10-20",
            "trace_number": "4311000190",
            "payer": {"role": "payer", "id": "0091372090000", "id_qualifier": "9",
                      "name": "Safeway - U. S. Corporate"},
            "payee": {"role": "payee", "id": "2397", "id_qualifier": "92",
                      "name": "Safeway Supplier Name"},
        },
        "remittances": [
            {"invoice_number": "6092392", "amount_paid": "20430.34",
             "invoice_amount": "20851.11", "discount": "420.77"},
            {"invoice_number": "6093694", "amount_paid": "20888.5",
             "invoice_amount": "21318.71", "discount": "430.21"},
            {"invoice_number": "6093695", "amount_paid": "99701.8",
             "invoice_amount": "101757.74", "discount": "2055.94"},
            {"invoice_number": "6093696", "amount_paid": "17380.29",
             "invoice_amount": "17738.82", "discount": "358.53"},
            {"invoice_number": "P7340039-25PB", "amount_paid": "4153", "invoice_amount": "4153"},
            {"invoice_number": "6093692", "amount_paid": "286308.83",
             "invoice_amount": "292210.59", "discount": "5901.76"},
        ],
    }


def test_820_adjustments_at_entity_level():
    # mailbag01.x12, 004030 820: ADX*17.37*90, ADX*0*L2, ADX*-37.89*55 ... under the ENT loop;
    # the set has no TRN, so the checked translation names the missing trace number.
    ts = one("mailbag01.x12", 1)
    doc = translate(ts, check=False)
    assert doc["adjustments"][:3] == [{"amount": "-17.37", "reason_code": "90"},
                                      {"amount": "0", "reason_code": "L2"},
                                      {"amount": "37.89", "reason_code": "55"}]
    with pytest.raises(TranslationError) as info:
        translate(ts)
    assert (info.value.segment_id, info.value.segment_no) == ("ST", 1)
    assert info.value.field == "payment/trace_number"
    assert "TRN02" in info.value.reason


def test_856_field_by_field():
    # 856_2.x12, set 0060: BSN*00*4167427123*20060402*0000*0001, TD5*O*2*SCAC, REF*BM, REF*CN,
    # DTM*011*20060402, N1*ST ... HL*2*1*O PRF*ordernumber1, HL*3*2*P MAN*GM*..., HL*4*3*I
    # LIN*2*UP*8712345678913*VN*suart*BP*byart SN1**24*EA PID*F*08***description
    ts = one("856_2.x12")
    doc = translate(ts, check=False)
    top = {k: v for k, v in doc.items() if k not in ("orders", "envelope")}
    assert top == {
        "shipment_id": "4167427123",
        "issued_at": "2006-04-02T00:00",
        "ship_date": "2006-04-02",
        "carrier": {"scac": "SCAC", "bol": "bill of lading number",
                    "tracking": "carrierreferencenumber"},
        "ship_to": {"role": "ship_to", "id": "DESTINATION2", "id_qualifier": "92",
                    "name": "JIT MANUFACTURING",
                    "address": {"lines": ["BUILDING 3B", "2001 ENTERPRISE PARK"],
                                "city": "JUAREZ", "state": "CH", "country": "MX"}},
    }
    assert [o["po_number"] for o in doc["orders"]] == ["ordernumber1", "ordernumber2",
                                                        "ordernumber4"]
    assert [[c["sscc"][-1] for c in o["packages"]] for o in doc["orders"]] == [
        ["1", "0"], ["3", "2"], ["7"]]
    assert doc["orders"][1]["packages"][1]["items"] == [
        {"line_number": "3", "quantity_shipped": 36, "unit": "EA", "description": "description",
         "product_ids": {"upc": "8712345678906", "vendor_part": "suart", "buyer_part": "byart"}},
        {"line_number": "5", "quantity_shipped": 24, "unit": "EA", "description": "description",
         "product_ids": {"upc": "8712345678920", "vendor_part": "suart", "buyer_part": "byart"}},
    ]
    # The MAN02 values have 22 digits: not an SSCC-18 (nor one with its 00 identifier).
    with pytest.raises(TranslationError) as info:
        translate(ts)
    error = info.value
    assert (error.segment_id, error.segment_no, error.element) == ("MAN", 24, 2)
    assert error.field == "orders/0/packages/0/sscc"
    assert error.value == "0000123456781234567891"


def test_856_without_ship_date():
    # DTM*011 is optional in X12 and its absence is no fault; this ASN's 22-digit SSCCs are.
    with pytest.raises(TranslationError) as info:
        translate(one("856_1.x12"))
    assert info.value.field == "orders/0/packages/0/sscc"
    doc = translate(one("856_1.x12"), check=False)
    assert "ship_date" not in doc and doc["shipment_id"] == "15918861602"


def test_810_field_by_field():
    # 810_1.x12: BIG*20070929*95018017**ordernumber, N1*SE (vendor), N1*ST, N1*AK (not mapped),
    # N1*BT with N2, ITD***2.5**30, IT1*001*4*EA*330**VN*X357-W2***BP*525, TDS*1234579
    ts = one("810_1.x12")
    assert content(translate(ts, check=False)) == {
        "invoice_number": "95018017",
        "invoice_date": "2007-09-29",
        "po_number": "ordernumber",
        "currency": "USD",
        "terms": {"discount_percent": 2.5, "discount_days": 30},
        "parties": [
            {"role": "ship_to", "name": "JIT MANUFACTURING",
             "address": {"lines": ["BUILDING 3B", "2001 ENTERPRISE PARK"], "city": "JUAREZ",
                         "state": "CH", "country": "MX"}},
            {"role": "bill_to", "name": "JIT MANUFACTURING",
             "address": {"lines": ["400 INDUSTRIAL PARKWAY"], "city": "INDUSTRIAL AIRPORT",
                         "state": "KS", "postcode": "66030"}},
            {"role": "vendor", "name": "UNIVERSAL WIDGETS",
             "address": {"lines": ["375 PLYMOUTH PARK", "SUITE 205"], "city": "IRVING",
                         "state": "TX", "postcode": "75061"}},
        ],
        "lines": [{"line_number": "001", "quantity": 4, "unit": "EA", "unit_price": "330",
                   "description": "HIGH PERFORMANCE WIDGET",
                   "product_ids": {"vendor_part": "X357-W2", "buyer_part": "525"}}],
        "total_amount": "12345.79",
    }
    # BP is the buyer's part number, any text (for Amazon an ASIN): the document is valid.
    assert content(translate(ts)) == content(translate(ts, check=False))


def test_855_field_by_field():
    # 855-004010UCS-01.x12, set 0002: BAK*00*AP*194208*20030507, N1*ST*SAFEWAY/VONS EL MONTE
    # GROCERY*9*0091372092902, N1*VN (not in the guide's 855), PO1**22*CA***UA*003331113474
    ts = one("855-004010UCS-01.x12", 1)
    assert content(translate(ts, check=False)) == {
        "po_number": "194208",
        "ack_type": "AP",
        "date": "2003-05-07",
        "parties": [{"role": "ship_to", "id": "0091372092902", "id_qualifier": "9",
                     "name": "SAFEWAY/VONS EL MONTE GROCERY"}],
        "lines": [{"line_number": "1", "quantity_ordered": 22, "unit": "CA"}],
    }
    # No ACK segments (and UA, a case code, is none of the item ids the schema knows).
    with pytest.raises(TranslationError) as info:
        translate(ts)
    assert (info.value.segment_id, info.value.segment_no) == ("PO1", 9)
    assert info.value.field == "lines/0/status"
    assert "nothing at ACK/ACK01" in info.value.reason


@pytest.mark.parametrize("name", FILES)
def test_fast_check_agrees_with_jsonschema(name):
    # The hot path asks the Rust validator; jsonschema is the reference that explains refusals.
    for ts in corpus_sets(name):
        doc_type = find_map(ts.id).document
        doc = translate(ts, check=False)
        assert is_valid(doc, doc_type) == (next(document_errors(doc, doc_type), None) is None)
