"""``gateway customs check`` and ``gateway customs status`` run as the operator runs them."""

import json
import shutil
import time

import pytest
from ruamel.yaml import YAML

from gateway.customs import parse_receipt
from gateway.route.handlers.customs import Attempt, thd_record, thd_settle
from gateway.store.database import Database
from tests.support import REPO, Daemon, write_partner

DATA = REPO / "tests/unit/customs/data"
SHIPMENT = json.loads((DATA / "shipment.json").read_text())
ENV = {"GATEWAY_CUSTOMS_PRODUCTS": "customs/products.csv",
       "GATEWAY_CUSTOMS_SELLER": "customs/seller.yaml"}


@pytest.fixture
def gw(home):
    (home / "customs").mkdir()
    shutil.copy(DATA / "products.csv", home / "customs/products.csv")
    seller = {"identities": YAML(typ="safe").load((DATA / "identities.yaml").read_text()),
              "consignor": SHIPMENT["consignor"]}
    (home / "customs/seller.yaml").write_text(json.dumps(seller))
    write_partner(home, "shop", "id: shop\nname: Web shop orders\n"
                  "customs: {regime: eu, incoterm: DDP}\n")
    return Daemon(home, ENV)


def write(home, name: str, doc) -> str:
    path = home / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return str(path)


def check(gw, *args, env=None):
    if env is not None:
        gw = Daemon(gw.home, env)
    return gw.command("customs", "check", *args, check=False)


def one_line_error(result, *parts):
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for part in parts:
        assert part in lines[0], (part, lines[0])


@pytest.mark.parametrize("regime", ["eu", "cn"])
def test_a_clean_consignment_passes_with_its_warnings(gw, regime):
    result = check(gw, str(DATA / "shipment.json"), "--regime", regime)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not result.stdout.startswith("error")
    assert f"SO-1001 ({regime}): 0 error(s)" in result.stdout
    if regime == "eu":   # the flat duty is a warning, printed but not failing
        assert "warning EU-DUTY-FLAT lines:" in result.stdout


def test_every_error_finding_is_printed_with_rule_field_and_value(gw, home):
    bad = json.loads(json.dumps(SHIPMENT))
    bad["lines"][0].update(qty=20, description="gift")   # EUR 240 under an IOSS number
    del bad["consignee"]["phone"]
    result = check(gw, write(home, "bad.json", bad), "--regime", "eu")
    assert result.returncode == 1
    out = result.stdout.splitlines()
    assert any(line.startswith("error EU-H7-VALUE lines:") and "150" in line for line in out), out
    assert "error EU-DESC-VAGUE line 1 description = 'gift': " in result.stdout
    assert "error EU-PARTY consignee.phone: The consignee phone is missing" in out
    assert out[-1] == "SO-1001 (eu): 3 error(s), 0 warning(s)"


def test_an_internal_order_is_read_with_the_partners_customs_settings(gw, home):
    order = {"po_number": "PO-7", "po_date": "2026-07-15", "currency": "USD",
             "parties": [{"role": "ship_to", "name": "Erika Mustermann",
                          "address": {"lines": ["Heidestrasse 17"], "city": "Koeln",
                                      "postcode": "51147", "country": "DE"}}],
             "lines": [{"line_number": "1", "product_ids": {"vendor_part": "MUG-01"},
                        "quantity": 2, "unit": "EA", "unit_price": "12.50"}]}
    path = write(home, "order.json", {"document_type": "purchase_order", "document": order})
    result = check(gw, path, "--partner", "shop")
    assert result.returncode == 1
    assert "error EU-PARTY consignee.phone" in result.stdout
    assert result.stdout.splitlines()[-1].startswith("PO-7 (eu): 1 error(s)")
    order["parties"][0]["phone"] = "+49 221 123456"
    assert check(gw, write(home, "order.json", {"document_type": "purchase_order",
                                                "document": order}),
                 "--partner", "shop").returncode == 0
    one_line_error(check(gw, path, "--regime", "eu"), "needs --partner")
    one_line_error(check(gw, write(home, "o.json", {"document_type": "purchase_order",
                                                    "document": {}}),
                         "--partner", "shop"), "o.json", "po_number")


def test_bad_inputs_get_one_line_errors(gw, home):
    shipment = str(DATA / "shipment.json")
    one_line_error(check(gw, str(home / "missing.json"), "--regime", "eu"), "missing.json",
                   "cannot read")
    one_line_error(check(gw, write(home, "broken.json", '{"id": "SO-1",'), "--regime", "eu"),
                   "broken.json", "not JSON", "line 1")
    unknown = json.loads(json.dumps(SHIPMENT))
    unknown["lines"][1]["sku"] = "NOPE-9"
    one_line_error(check(gw, write(home, "sku.json", unknown), "--regime", "eu"),
                   "sku.json", "lines[1].sku", "NOPE-9")
    (home / "customs/products.csv").write_text("sku,hs_code\nMUG-01,691200\n")
    one_line_error(check(gw, shipment, "--regime", "eu"), "customs.products",
                   "products.csv:2", "origin")
    one_line_error(check(gw, shipment, "--regime", "eu", env={}), "customs.products",
                   "not set")
    one_line_error(check(gw, shipment), "--regime")
    one_line_error(check(gw, shipment, "--regime", "mars"), "mars")
    one_line_error(check(gw, shipment, "--partner", "nobody"), "nobody")


def test_status_lists_consignments_newest_first_filtered_by_partner_and_state(gw, home,
                                                                              daemons):
    gw.command("db", "upgrade")
    db = Database(f"sqlite:///{home / 'var/gateway.db'}")
    files = [{"kind": "H7", "filename": "H7_PO-1.json", "sha256": "0" * 64, "size": 1}]
    findings = [{"rule": "EU-PARTY", "severity": "error", "where": "PO-2: consignee.phone",
                 "message": "The consignee phone is missing"},
                {"rule": "EU-DESC-VAGUE", "severity": "error", "where": "PO-2 line 1: description",
                 "message": "Goods description is too vague"}]
    for n, attempt in enumerate([Attempt("shop", "eu", "PO-1", 1, files=files),
                                 Attempt("shop", "eu", "PO-2", 1, findings=findings),
                                 Attempt("tmall", "eu", "CN-3", 1, files=[
                                     dict(files[0], filename="H7_CN-3.json")])]):
        db.transaction(thd_record, attempt, simulate=False, actor="t", now=time.time() + n)
    receipt = json.dumps({"consignment": "CN-3", "status": "rejected", "timestamp":
                          "2026-07-16T09:30:00Z", "reasons": [
                              {"code": "H7-044", "message": "HS code not valid",
                               "field": "items[0].hs_code"}]})
    db.transaction(thd_settle, parse_receipt(receipt.encode()), actor="t", now=time.time() + 5)
    table = gw.command("customs", "status").stdout.splitlines()
    assert table[0].split()[:7] == ["CONSIGNMENT", "PARTNER", "REGIME", "STATE", "VERSION",
                                    "FILINGS", "PROBLEMS"]
    assert [line.split()[:7] for line in table[1:]] == [
        ["CN-3", "tmall", "eu", "rejected", "1", "1", "0"],
        ["PO-2", "shop", "eu", "draft", "0", "0", "2"],
        ["PO-1", "shop", "eu", "filed", "1", "1", "0"]]
    assert table[1].endswith("H7-044: HS code not valid (items[0].hs_code)")
    assert "EU-PARTY PO-2: consignee.phone: The consignee phone is missing (+1 more)" in table[2]
    listed = json.loads(gw.command("customs", "status", "--partner", "shop", "--json").stdout)
    assert [c["consignment"] for c in listed] == ["PO-2", "PO-1"]
    assert listed[0]["findings"] == findings and listed[0]["note"].startswith("EU-PARTY")
    drafts = json.loads(gw.command("customs", "status", "--state", "draft", "--json").stdout)
    assert [c["consignment"] for c in drafts] == ["PO-2"]
    only = gw.command("customs", "status", "--partner", "shop", "--state", "accepted").stdout
    assert "(no consignments)" in only
    running = daemons(ENV).start()   # the store is shared with a running daemon
    assert "CN-3" in running.command("customs", "status", "--state", "rejected").stdout


def test_amend_refiles_a_rejected_consignment_and_refuses_out_of_turn(gw, home):
    gw.command("db", "upgrade")
    db = Database(f"sqlite:///{home / 'var/gateway.db'}")
    shipment = write(home, "shipment.json", SHIPMENT)
    one_line_error(gw.command("customs", "amend", "SO-1001", shipment, check=False),
                   "no consignment 'SO-1001'")

    def settle(status, **fields):
        doc = {"consignment": "SO-1001", "status": status, "timestamp": "2026-07-16T09:30:00Z",
               **fields}
        db.transaction(thd_settle, parse_receipt(json.dumps(doc).encode()), actor="t",
                       now=time.time())

    bad = json.loads(json.dumps(SHIPMENT))
    bad["lines"][0]["description"] = "gift"
    # A consignment refused by the checks is a draft; amending it with the same fault keeps it.
    db.transaction(thd_record, Attempt("shop", "eu", "SO-1001", 1, findings=[
        {"rule": "EU-DESC-VAGUE", "severity": "error", "where": "SO-1001 line 1: description",
         "message": "vague"}]), simulate=True, actor="t", now=time.time())
    refused = gw.command("customs", "amend", "SO-1001", write(home, "bad.json", bad),
                         check=False)
    assert refused.returncode == 1
    assert "error EU-DESC-VAGUE SO-1001 line 1: description:" in refused.stdout
    assert "not filed: 1 problem(s); it stays a draft" in refused.stderr

    first = gw.command("customs", "amend", "SO-1001", shipment)
    assert first.stdout.strip() == ("SO-1001 (eu): filed as version 1: H7_SO-1001.json "
                                     "(simulation: nothing sent)")
    other = json.loads(json.dumps(SHIPMENT))
    other["id"] = "SO-2"
    one_line_error(gw.command("customs", "amend", "SO-1001", write(home, "o.json", other),
                              check=False), "declares consignment 'SO-2', not 'SO-1001'")
    simulated = Daemon(home, dict(ENV, GATEWAY_CUSTOMS_SIMULATE="false"))
    settle("rejected", reasons=[{"code": "R", "message": "no"}])  # simulated: never sent
    second = simulated.command("customs", "amend", "SO-1001", shipment)
    assert "filed as version 2: H7_SO-1001_v2.json (written, no broker set)" in second.stdout
    assert json.loads((home / "var/customs/H7_SO-1001_v2.json").read_text())["version"] == 2
    out_of_turn = simulated.command("customs", "amend", "SO-1001", shipment, check=False)
    one_line_error(out_of_turn, "consignment SO-1001 was filed (version 2) and awaits its "
                   "receipt: it can be amended once rejected")
    settle("rejected", reasons=[{"code": "R", "message": "no"}])
    assert "version 3" in simulated.command("customs", "amend", "SO-1001", shipment).stdout
    settle("accepted")
    one_line_error(simulated.command("customs", "amend", "SO-1001", shipment, check=False),
                   "consignment SO-1001 was accepted (version 3): an accepted filing cannot be "
                   "amended")
    shown = gw.command("customs", "show", "SO-1001").stdout.splitlines()
    assert shown[0] == "SO-1001 (shop, eu): accepted, version 3, 3 filing(s), 0 problem(s)"
    events = [line.split()[3] for line in shown if line.startswith("  20")]
    assert events == ["drafted", "refused", "drafted", "refused", "drafted", "checked",
                      "simulated", "receipt", "out-of-turn", "amended", "checked", "filed",
                      "out-of-turn", "receipt", "rejected", "amended", "checked", "filed",
                      "receipt", "accepted", "out-of-turn"]
