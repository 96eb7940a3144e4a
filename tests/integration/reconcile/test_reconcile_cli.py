"""``gateway reconcile`` against a real store: report in three formats, show, respond, ack and
resolve; and the command as a separate process."""

import csv
import io
import json
import os
import subprocess
import sys

import pytest

from gateway.cli import main
from gateway.reconcile.documents import check
from gateway.reconcile.report import ITEM_COLUMNS
from tests.support import REPO
from tests.unit.reconcile.reconcile_support import FACTS, ORDER, REMITTANCE, SSCC, doc

OPEN_TYPES = ["asn_late", "asn_over_shipped", "deduction", "invoice_price_mismatch",
              "short_paid"]


@pytest.fixture
def booked(books, db_url, monkeypatch, tmp_path):
    """The scenario of test_reconcile_ledger, booked, with the CLI pointed at its store."""
    notice = doc("ship_notice", issued_at="2026-07-06T12:00:00Z")
    notice["orders"][0]["packages"][0]["items"][0]["quantity_shipped"] = 12
    invoice = doc("invoice", total_amount="195.00")
    invoice["lines"][1]["unit_price"] = "25.00"
    remittance = doc("remittance", payment=dict(REMITTANCE["payment"], amount="171.00"),
                     remittances=[{"invoice_number": "INV-5001", "amount_paid": "171.00",
                                   "adjustments": [{"reason_code": "22", "amount": "15.00"}]}],
                     adjustments=[{"reason_code": "CS", "amount": "30.00"}])
    for doc_type, body, now in (
            ("purchase_order", ORDER, "2026-07-01T08:00:00"),
            ("ship_notice", notice, "2026-07-06T12:00:00"),
            ("invoice", invoice, "2026-07-06T13:00:00"),
            ("remittance", remittance, "2026-08-01T00:00:00"),
            ("return", doc("return"), "2026-08-10T00:00:00"),
            ("credit_memo", doc("credit_memo"), "2026-08-20T00:00:00")):
        books.add(doc_type, body, now=now)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", db_url)
    monkeypatch.chdir(tmp_path)
    return books


def run(capsys, *argv):
    code = main(["reconcile", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_report_as_a_table(booked, capsys):
    code, out, _ = run(capsys, "report")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Open items (5)"
    assert lines[1].split() == ["ID", "PARTNER", "TYPE", "SEV", "STATUS", "AGE", "PO", "INVOICE",
                                "AMOUNT", "MESSAGE"]
    assert sorted(line.split()[2] for line in lines[2:7]) == OPEN_TYPES
    assert "PO PO1001 line 1 (buyer part B00MUG0001): 12 shipped, 10 ordered" in out
    aging = lines[lines.index("Aging") + 1:lines.index("Match rates") - 1]
    assert aging[0].split() == ["AGE", "(DAYS)", "ITEMS", "AMOUNT"]
    assert sum(int(row.split()[1]) for row in aging[1:]) == 5
    rates = lines[lines.index("Match rates") + 2].split()
    assert rates == ["amazon-us", "1", "0.0%", "1", "0.0%", "24.00", "USD"]


def test_report_as_csv(booked, capsys):
    code, out, _ = run(capsys, "report", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and tuple(rows[0]) == ITEM_COLUMNS
    assert sorted(r["type"] for r in rows) == OPEN_TYPES
    short = next(r for r in rows if r["type"] == "short_paid")
    assert (short["invoice_number"], short["amount"], short["currency"], short["status"]) == (
        "INV-5001", "24.00", "USD", "open")
    assert short["shipment_id"] == ""


def test_report_as_json_with_filters(booked, capsys):
    code, out, _ = run(capsys, "report", "--format", "json", "--partner", "amazon-us")
    report = json.loads(out)
    assert code == 0
    assert sorted(i["type"] for i in report["open_items"]) == OPEN_TYPES
    assert [a["bucket"] for a in report["aging"]] == ["0-7", "8-30", "31-60", "61-90", "90+"]
    assert sum(a["count"] for a in report["aging"]) == 5
    (rates,) = report["rates"]
    assert rates["invoice_match_rate"] == 0.0 and rates["asn_on_time_rate"] == 0.0
    assert rates["outstanding"] == {"USD": "24.00"}
    assert report["filters"] == {"partner": "amazon-us", "since": None}

    _, out, _ = run(capsys, "report", "--format", "json", "--partner", "someone-else")
    assert json.loads(out)["open_items"] == [] and json.loads(out)["rates"] == []
    _, out, _ = run(capsys, "report", "--partner", "someone-else")
    assert out.splitlines()[:3] == ["Open items (0)", "", "Aging"]
    assert out.rstrip().endswith("PARTNER  INVOICES  MATCHED  ASNS  ON TIME  OUTSTANDING")
    _, out, _ = run(capsys, "report", "--format", "json", "--since", "2099-01-01")
    assert json.loads(out)["open_items"] == []
    with pytest.raises(SystemExit):
        main(["reconcile", "report", "--since", "yesterday"])
    assert "'yesterday' is not a date" in capsys.readouterr().err


def test_show_the_chain_by_po_or_invoice(booked, capsys):
    code, out, _ = run(capsys, "show", "PO1001")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Partner amazon-us: PO PO1001; invoices INV-5001"
    assert [line.split()[1] for line in lines[2:8]] == [
        "purchase_order", "invoice", "ship_notice", "remittance", "return", "credit_memo"]
    assert "195.00 USD, PO PO1001, unpaid 24.00 USD" in out
    assert "pays INV-5001 171.00 USD" in out
    assert "credit 19.00 USD for return RMA-300" in out
    assert "Discrepancies:" in out and "resolved  warning  return_no_credit_memo" in out
    _, by_invoice, _ = run(capsys, "show", "INV-5001")
    assert by_invoice == out
    _, as_json, _ = run(capsys, "show", "PO1001", "--format", "json")
    (chain,) = json.loads(as_json)
    assert len(chain["documents"]) == 6
    code, _, err = run(capsys, "show", "PO-NOTHING")
    assert code == 1 and "nothing booked under PO or invoice 'PO-NOTHING'" in err


def test_respond_drafts_from_a_booked_order_or_a_file(booked, capsys, tmp_path):
    (tmp_path / "facts.json").write_text(json.dumps(FACTS))
    code, out, _ = run(capsys, "respond", "PO1001", "--shipment", "facts.json", "--out", "out")
    assert code == 0 and out.count("wrote out/") == 3
    for name in ("po_acknowledgment", "ship_notice", "invoice"):
        check(name, json.loads((tmp_path / "out" / f"{name}.json").read_text()), name)

    (tmp_path / "order.json").write_text(json.dumps(ORDER))
    code, out, _ = run(capsys, "respond", "order.json", "--shipment", "facts.json")
    assert code == 0 and sorted(json.loads(out)) == ["invoice", "po_acknowledgment", "ship_notice"]

    bad = dict(FACTS, packages=[{"sscc": SSCC[0], "items": [{"line_number": "7",
                                                             "quantity_shipped": 1}]}])
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    code, out, err = run(capsys, "respond", "PO1001", "--shipment", "bad.json")
    assert code == 1 and out == ""
    assert err == "cannot draft: shipment facts: packages[0].items[0]: names no line of PO " \
                  "PO1001\n"
    code, _, err = run(capsys, "respond", "PO1001", "--shipment", "missing.json")
    assert code == 1 and err == "cannot read missing.json: No such file or directory\n"
    with pytest.raises(SystemExit, match="no order 'PO-404' is booked and no such file"):
        main(["reconcile", "respond", "PO-404", "--shipment", "facts.json"])


def test_acknowledge_then_resolve(booked, capsys):
    item = next(d for d in booked.open() if d["type"] == "deduction")
    code, out, _ = run(capsys, "ack", str(item["id"]), "--by", "ann")
    assert code == 0 and out == f"discrepancy {item['id']} (amazon-us deduction) is acknowledged\n"
    code, _, err = run(capsys, "ack", str(item["id"]))
    assert code == 1 and "is acknowledged; only open ones can be acknowledged" in err
    with pytest.raises(SystemExit):
        main(["reconcile", "resolve", str(item["id"])])     # a comment is required
    capsys.readouterr()
    code, out, _ = run(capsys, "resolve", str(item["id"]), "--comment", "co-op agreed",
                       "--by", "bob")
    assert code == 0 and out.endswith("is resolved\n")
    (resolved,) = [d for d in booked.all() if d["id"] == item["id"]]
    assert (resolved["resolved_by"], resolved["comment"]) == ("bob", "co-op agreed")
    code, out, _ = run(capsys, "report", "--format", "csv")
    assert "deduction" not in out


def test_the_command_runs_as_its_own_process(booked, db_url, tmp_path):
    env = dict(os.environ, GATEWAY_DATABASE_URL=db_url)
    done = subprocess.run([sys.executable, "-m", "gateway", "reconcile", "report", "--format",
                           "json"], cwd=tmp_path, env=dict(env, PYTHONPATH=str(REPO)),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["open_items"]) == 5
