"""gateway.documents: a document's party by role wherever its type keeps it, and its number."""

from gateway.documents import party, reference
from gateway.translate import translate
from tests.unit.translate import documents
from tests.unit.translate.support import one_set


def test_in_the_parties_list():
    assert party(documents.INVOICE, "bill_to") == {"role": "bill_to", "name": "Amazon.com"}
    assert party(documents.INVOICE, "buyer") is None


def test_kept_apart():
    assert party(documents.SHIP_NOTICE, "ship_to")["id"] == "RNO1"
    assert party(documents.REMITTANCE, "payee")["id"] == "VENDOR1"
    assert party(documents.REMITTANCE, "bill_to") is None


def test_reference():
    assert reference("remittance", documents.REMITTANCE) == "4311000190"
    assert reference("purchase_order", documents.PURCHASE_ORDER) == "T82Y2VBDX"
    assert reference("remittance", {}) is None


def test_from_x12():
    doc = translate(one_set("850", ["BEG*00*NE*PO9**20240105", "N1*BT*AMAZON", "N1*ST**92*RNO1",
                                    "PO1*1*1*EA*2**UP*012345678905", "CTT*1"]))
    assert party(doc, "ship_to") == {"role": "ship_to", "id_qualifier": "92", "id": "RNO1"}
    assert party(doc, "bill_to")["name"] == "AMAZON"
