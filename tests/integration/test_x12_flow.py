"""X12 through the daemon: an 850 uploaded over SFTP is validated against the partner's guide,
its 997 appears in the partner's outbound/ folder, and bad input is rejected with positions."""

import json
import re
import shutil
import subprocess

import pytest

from tests.support import REPO, SHARED, wait_for, write_partner

CORPUS = SHARED / "corpus" / "x12"


@pytest.fixture
def amazon(home, daemons):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(home / "key")],
                   check=True)
    write_partner(home, "amazon-vc", f"""\
id: amazon-vc
name: Amazon Vendor Central
sftp: {{username: amazon, authorized_keys: ["{(home / 'key.pub').read_text().strip()}"]}}
x12: {{isa_qualifier: ZZ, isa_id: CCCCCCCC, gs_id: CCCCCCCC, ta1: always}}
routes:
  - match: {{type: "850"}}
    to: [{{directory: docs}}]
  - match: {{type: "997"}}
    to: [{{directory: acks-in}}]
""")
    (home / "mapping").symlink_to(REPO / "mapping")
    return daemons().start()


def upload(gw, home, source, name):
    if source != home / name:
        shutil.copy(source, home / name)
    (home / "batch").write_text(f"put {name} inbound/{name}\n")
    result = subprocess.run(
        ["sftp", "-b", str(home / "batch"), "-P", str(gw.sftp_port), "-i", str(home / "key"),
         "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
         "amazon@127.0.0.1"], capture_output=True, text=True, timeout=60, cwd=home)
    assert result.returncode == 0, result.stderr


def acks(home):
    return sorted((home / "var/sftp/amazon-vc/outbound").glob("*_ack-*.x12"))


def test_rejected_850_gets_a_997_with_positions_in_outbound(amazon, home):
    upload(amazon, home, CORPUS / "850-004010-11.x12", "po.x12")
    (ack,) = wait_for(lambda: acks(home), what="997 in outbound/")
    text = ack.read_text()
    assert text.startswith("ISA*00*          *00*          *ZZ*YYYYYYYYYY     *ZZ*CCCCCCCC  ")
    assert "TA1*000000821*" in text and "*A*000~" in text          # the envelope itself is fine
    assert "~ST*997*0001~AK1*PO*142~AK2*850*101308635~" in text
    assert "~AK3*N1*13*N1*8~AK4*1*98*7*BY~" in text                # segment 13, N101 code BY
    assert "~AK5*R*5~AK9*R*1*1*0~" in text
    message = next(m for m in amazon.messages() if m["direction"] == "inbound")
    assert message["status"] == "rejected" and message["transport"] == "sftp"
    assert re.match(r"ST 850 #101308635: segment 13 N1 element 1: invalid code value",
                    message["error"])
    text = amazon.metrics()
    assert 'gateway_x12_sets_total{outcome="rejected",partner="amazon-vc",set="850"} 1.0' in text
    assert ('gateway_acks_total{direction="sent",kind="997",outcome="rejected",'
            'partner="amazon-vc"} 1.0') in text
    assert not (home / "docs").exists()


def test_interchange_from_another_sender_gets_only_a_ta1_rejection(amazon, home):
    upload(amazon, home, CORPUS / "850-004010-04.x12", "other.x12")
    (ack,) = wait_for(lambda: acks(home), what="TA1 in outbound/")
    text = ack.read_text()
    assert "*R*006~" in text and "ST*997" not in text
    message = next(m for m in amazon.messages() if m["direction"] == "inbound")
    assert message["status"] == "rejected"
    assert "not from this partner" in message["error"]


def test_garbage_is_rejected_with_a_clear_error(amazon, home):
    (home / "junk.x12").write_bytes(b"ISA*00*garbage" + bytes(range(256)))
    upload(amazon, home, home / "junk.x12", "junk.x12")
    wait_for(lambda: amazon.messages()[0]["status"] != "received", what="processed")
    message = amazon.messages()[0]
    assert message["status"] == "rejected" and "ISA" in message["error"]


def test_clean_850_becomes_a_routed_order_document_and_a_997_accept(amazon, home):
    from gateway.edi.x12 import Delimiters, gs, interchange, isa
    from gateway.translate import find_map, render
    from tests.unit.translate.documents import PURCHASE_ORDER

    delimiters = Delimiters("*", ">", "~")
    text = interchange(isa(("ZZ", "CCCCCCCC"), ("ZZ", "GATEWAY"), 7001, delimiters,
                           ack_requested=True),
                       [(gs("PO", "CCCCCCCC", "GATEWAY", 42),
                         [render(PURCHASE_ORDER, find_map("850"), 1)])],
                       delimiters)
    (home / "source.x12").write_text(text)
    upload(amazon, home, home / "source.x12", "clean.x12")
    (document,) = wait_for(lambda: list((home / "docs").glob("*.json")), what="order routed")
    order = json.loads(document.read_text())
    envelope = order.pop("envelope")
    assert order == PURCHASE_ORDER
    assert (envelope["sender"], envelope["interchange_control_number"],
            envelope["group_control_number"], envelope["set_control_number"]) == (
        {"qualifier": "ZZ", "id": "CCCCCCCC", "application_id": "CCCCCCCC"}, "000007001", "42",
        "0001")
    (ack,) = wait_for(lambda: acks(home), what="997")
    assert "~AK1*PO*42~AK2*850*0001~AK5*A~AK9*A*1*1*1~" in ack.read_text()
    assert "TA1*000007001*" in ack.read_text()
    wait_for(lambda: amazon.messages("--direction", "inbound")[0]["status"] == "delivered",
             what="the order document delivered")
    text = amazon.metrics()
    assert 'gateway_documents_total{doc_type="purchase_order",partner="amazon-vc"} 1.0' in text

    upload(amazon, home, home / "source.x12", "again.x12")   # same ISA13 under another name
    wait_for(lambda: len([m for m in amazon.messages() if m["direction"] == "inbound"]) == 2 and
             all(m["status"] != "received" for m in amazon.messages()), what="second processed")
    second = amazon.messages("--direction", "inbound")[0]
    assert second["status"] == "rejected" and "was received before" in second["error"]
    assert len(list((home / "docs").glob("*.json"))) == 1
    duplicate_ack = wait_for(lambda: len(acks(home)) == 2 and acks(home), what="TA1 025")
    answer = next(a.read_text() for a in duplicate_ack if a.read_text() != ack.read_text())
    assert "*R*025~" in answer and "ST*997" not in answer


def test_received_997_becomes_a_routed_functional_ack_document(amazon, home):
    # A 997 rejecting group 77 (which we never sent): stored and routed as a document all the
    # same, the mismatch noted on the message.
    text = ("ISA*00*          *00*          *ZZ*CCCCCCCC       *ZZ*GATEWAY        *240105*1200*U*"
            "00401*000000501*0*P*>~GS*FA*CCCCCCCC*GATEWAY*20240105*1200*9*X*004010~"
            "ST*997*0001~AK1*IN*77~AK2*810*0001~AK3*IT1*5*IT1*8~AK4*2*358*6*3X~AK5*R*5~"
            "AK9*R*1*1*0~SE*8*0001~GE*1*9~IEA*1*000000501~")
    (home / "ack.x12").write_text(text)
    upload(amazon, home, home / "ack.x12", "ack.x12")
    (document,) = wait_for(lambda: list((home / "acks-in").glob("*.json")), what="997 routed")
    doc = json.loads(document.read_text())
    assert doc["envelope"]["functional_id"] == "FA"
    assert {k: v for k, v in doc.items() if k != "envelope"} == {
        "ack_type": "997", "functional_id": "IN", "group_control_number": "77",
        "status": "rejected", "status_code": "R", "sets_included": 1, "sets_received": 1,
        "sets_accepted": 0,
        "sets": [{"set_id": "810", "control_number": "0001", "status": "rejected",
                  "status_code": "R",
                  "errors": [{"code": "5", "meaning": "one or more segments in error"}],
                  "segments": [{"segment_id": "IT1", "position": 5, "loop": "IT1", "code": "8",
                                "meaning": "segment has data element errors",
                                "elements": [{"position": 2, "element_ref": "358", "code": "6",
                                              "meaning": "invalid character in data element",
                                              "value": "3X"}]}]}]}
    message = wait_for(lambda: [m for m in amazon.messages("--direction", "inbound")
                                if m["status"] not in ("received", "accepted")], what="processed")
    assert "acknowledges group 77, which was not sent to this partner" in message[0]["error"]
