"""`gateway translate`: X12 to what the gateway makes of it, and documents to X12; nothing stored."""

import json

import pytest

from tests.support import REPO, SHARED, Daemon, write_partner
from tests.unit.translate.documents import INVOICE, PURCHASE_ORDER

PARTNER = """\
id: amazon-vc
name: Amazon
x12: {isa_qualifier: ZZ, isa_id: CCCCCCCC, gs_id: CCCCCCCC}
sftp:
  username: amazon
  authorized_keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGxHQ0hNDo7p9a8m9XqPpWQmA0GUtZ5W2x+LyRq7bXhm a"]
"""


@pytest.fixture
def cli(home):
    write_partner(home, "amazon-vc", PARTNER)
    (home / "mapping").symlink_to(REPO / "mapping")
    return Daemon(home)


def test_rejected_file_prints_json_and_positioned_problems_exit_1(cli):
    result = cli.command("translate", str(SHARED / "corpus/x12/850-004010-11.x12"), check=False)
    assert result.returncode == 1
    out = json.loads(result.stdout)
    (ic,) = out["interchanges"]
    assert (out["partner"], ic["sender"], ic["sets"][0]["status"]) == (
        "amazon-vc", "ZZ/CCCCCCCC", "R")
    assert "AK5*R*5" in ic["acknowledgment"]
    assert ("partner amazon-vc, interchange 000000821, set 850 #101308635, segment 13 N1, "
            "element 1: invalid code value 'BY' (code 7)") in result.stderr.splitlines()
    assert not (cli.home / "var").exists()   # nothing stored


def test_documents_to_x12_and_back(cli, home):
    (home / "docs.json").write_text(json.dumps(
        [{"document_type": "purchase_order",
          "document": PURCHASE_ORDER},
         {"document_type": "invoice", "document": INVOICE}]))
    x12 = cli.command("translate", "--partner", "amazon-vc", "--to", "x12", str(home / "docs.json"))
    assert x12.stdout.startswith("ISA*00*") and "~ST*850*0001~" in x12.stdout
    # Read back as the partner would send it: swap the envelope's ids into the partner's.
    text = x12.stdout.replace("ZZ*GATEWAY        *ZZ*CCCCCCCC       ",
                              "ZZ*CCCCCCCC       *ZZ*GATEWAY        ")
    (home / "back.x12").write_text(text)
    result = cli.command("translate", str(home / "back.x12"), check=False)
    sets = json.loads(result.stdout)["interchanges"][0]["sets"]
    docs = [s["document"] for s in sets]
    assert [{k: v for k, v in d.items() if k != "envelope"} for d in docs] == [PURCHASE_ORDER, INVOICE]
    assert [(d["envelope"]["sender"], d["envelope"]["functional_id"],
             d["envelope"]["group_control_number"]) for d in docs] == [
        ({"qualifier": "ZZ", "id": "CCCCCCCC", "application_id": "GATEWAY"}, "PO", "1"),
        ({"qualifier": "ZZ", "id": "CCCCCCCC", "application_id": "GATEWAY"}, "IN", "2")]
    assert result.returncode == 0, result.stderr


def test_unknown_sender_needs_a_partner(cli):
    result = cli.command("translate", str(SHARED / "corpus/x12/850-004010-04.x12"), check=False)
    assert result.returncode == 1 and "pass --partner" in result.stderr
