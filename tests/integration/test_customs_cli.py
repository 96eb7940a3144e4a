"""``gateway customs check`` and ``gateway customs status`` run as the operator runs them."""

import json
import shutil
import time
import uuid

import pytest
from ruamel.yaml import YAML

from gateway.store.database import Database
from gateway.store.schema import customs_filings
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
    order = {"po_number": "PO-7", "order_date": "2026-07-15", "currency": "USD",
             "parties": {"ship_to": {"name": "Erika Mustermann",
                                     "address_lines": ["Heidestrasse 17"], "city": "Koeln",
                                     "postcode": "51147", "country": "DE"}},
             "lines": [{"line_number": "1", "sku": "MUG-01", "quantity": 2,
                        "unit_of_measure": "EA", "unit_price": "12.50"}]}
    path = write(home, "order.json", {"document_type": "order", "document": order})
    result = check(gw, path, "--partner", "shop")
    assert result.returncode == 1
    assert "error EU-PARTY consignee.phone" in result.stdout
    assert result.stdout.splitlines()[-1].startswith("PO-7 (eu): 1 error(s)")
    order["parties"]["ship_to"]["phone"] = "+49 221 123456"
    assert check(gw, write(home, "order.json", {"document_type": "order", "document": order}),
                 "--partner", "shop").returncode == 0
    one_line_error(check(gw, path, "--regime", "eu"), "needs --partner")
    one_line_error(check(gw, write(home, "o.json", {"document_type": "order", "document": {}}),
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


def filing(partner: str, consignment: str, status: str, age_s: float, **values) -> dict:
    at = time.time() - age_s
    return dict(id=str(uuid.uuid4()), partner_id=partner, regime="eu", consignment=consignment,
                status=status, created_at=at, updated_at=at, **values)


def test_status_lists_filings_newest_first_filtered_by_partner_and_state(gw, home, daemons):
    gw.command("db", "upgrade")
    findings = [{"rule": "EU-PARTY", "severity": "error", "where": "PO-2: consignee.phone",
                 "message": "The consignee phone is missing"},
                {"rule": "EU-DESC-VAGUE", "severity": "error", "where": "PO-2 line 1: description",
                 "message": "Goods description is too vague"}]
    receipt = {"type": "CEB604", "status": "399", "note": "ok", "meaning": "cleared"}
    db = Database(f"sqlite:///{home / 'var/gateway.db'}")
    with db.engine.begin() as conn:
        for row in [
            filing("shop", "PO-1", "filed", 300, kind="H7", filename="H7_PO-1.json"),
            filing("shop", "PO-2", "refused", 200, kind="checks", findings=json.dumps(findings)),
            filing("tmall", "CN-3", "accepted", 100, kind="CEB603", filename="CEB603_CN-3.xml",
                   receipt=json.dumps(receipt))]:
            conn.execute(customs_filings.insert().values(**row))
    table = gw.command("customs", "status").stdout.splitlines()
    assert table[0].split()[:5] == ["CONSIGNMENT", "PARTNER", "REGIME", "KIND", "STATUS"]
    assert [line.split()[0] for line in table[1:]] == ["CN-3", "PO-2", "PO-1"]
    assert "cleared" in table[1] and "CEB603_CN-3.xml" in table[1]
    assert "EU-PARTY PO-2: consignee.phone: The consignee phone is missing (+1 more)" in table[2]
    listed = json.loads(gw.command("customs", "status", "--partner", "shop", "--json").stdout)
    assert [f["consignment"] for f in listed] == ["PO-2", "PO-1"]
    assert listed[0]["findings"] == findings and listed[0]["note"].startswith("EU-PARTY")
    refused = json.loads(gw.command("customs", "status", "--state", "refused", "--json").stdout)
    assert [f["consignment"] for f in refused] == ["PO-2"]
    only = gw.command("customs", "status", "--partner", "shop", "--state", "accepted").stdout
    assert "(no filings)" in only
    running = daemons(ENV).start()   # the store is shared with a running daemon
    assert "CN-3" in running.command("customs", "status", "--state", "accepted").stdout
