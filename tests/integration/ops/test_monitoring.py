"""A real Prometheus scrapes a real gateway that has exchanged messages: the scrape config works,
the alert rules evaluate on live data, every dashboard query parses and every metric the
dashboard and the alerts name is exported; ``gateway status`` summarises the same store."""

from __future__ import annotations

import json
import re
import time
import urllib.request

import pytest

from gateway.as2 import message as as2message
from gateway.as2.message import SecurityPolicy
from gateway.store import acks, jobs, messages
from gateway.store.database import Database
from tests.integration.ops.ops_support import (
    DASHBOARD,
    Prometheus,
    alert_rules,
    dashboard_queries,
    exported_names,
    grafana_to_promql,
    metric_names,
)
from tests.support import Daemon, minimal_partner, wait_for, write_partner

PAYLOAD = b"Order 4711: 12 x widget\n"


def post_as2(port: int, payload: bytes) -> int:
    out = as2message.build(payload, "application/octet-stream",
                           SecurityPolicy(sign=False, encrypt=False, mdn_signed=False),
                           None, None, None, as2_from="ACME", as2_to="GATEWAY",
                           filename="po.txt")
    request = urllib.request.Request(f"http://127.0.0.1:{port}/as2", data=out.body,
                                     headers=out.headers, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()
        return response.status


def thd_seed(conn, *, now: float) -> None:
    """What live traffic would take hours to produce: sent messages waiting for an MDN and for
    a 997, a failed one with a dead-lettered job, and a partner no longer configured."""
    for status, age in (("awaiting-mdn", 300), ("delivered", 200), ("failed", 100)):
        id, _ = messages.thd_create(conn, direction="outbound", transport="as2",
                                    partner_id="acme", message_id=f"<{status}@test>",
                                    status=status, actor="test", now=now - age)
        if status == "delivered":   # its functional group still waits for the 997
            acks.thd_expect(conn, "acme", [("IN", 17)], id, now=now - age)
    job = jobs.thd_enqueue(conn, "as2-send", {"message": id}, now=now, message_id=id)
    conn.execute(jobs.jobs.update().where(jobs.jobs.c.id == job).values(
        status="dead", attempts=10, last_error="HTTP 503"))
    messages.thd_create(conn, direction="inbound", transport="sftp", partner_id="old-partner",
                        message_id="old.edi", status="delivered", actor="test",
                        now=now - 3 * 86400)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A gateway that took in a file and an AS2 message, and Prometheus scraping it."""
    home = tmp_path_factory.mktemp("gateway")
    write_partner(home, "acme", minimal_partner("acme", sink="out"))
    gateway = Daemon(home)
    prometheus = None
    try:
        gateway.start()
        (home / "order.edi").write_bytes(PAYLOAD)
        gateway.command("receive", "--partner", "acme", str(home / "order.edi"))
        assert post_as2(gateway.as2_port, PAYLOAD * 2) == 200
        wait_for(lambda: [m["status"] for m in gateway.messages()] == ["delivered"] * 2,
                 what=f"both messages delivered\n{gateway.tail()}")
        Database(f"sqlite:///{home / 'var' / 'gateway.db'}").transaction(thd_seed,
                                                                          now=time.time())
        prometheus = Prometheus(home / "prometheus", {"gw-test": gateway.metrics_port}).start()
        yield gateway, prometheus
    finally:
        if prometheus is not None:
            prometheus.stop()
        if gateway.proc is not None and gateway.proc.poll() is None:
            gateway.proc.kill()
            gateway.proc.wait()


def value(result: list[dict]) -> float:
    assert len(result) == 1, result
    return float(result[0]["value"][1])


def test_prometheus_scrapes_the_gateway(stack):
    gateway, prom = stack
    assert value(prom.wait_query('up{job="gateway",instance="gw-test"} == 1')) == 1
    delivered = prom.wait_query(
        'gateway_messages_total{partner="acme",direction="inbound",status="delivered"}')
    assert value(delivered) == 2
    assert delivered[0]["metric"]["instance"] == "gw-test"
    assert value(prom.wait_query(
        'gateway_messages_total{partner="acme",direction="inbound",status="accepted"}')) == 1
    as2_bytes = prom.query('gateway_message_bytes_total{partner="acme",transport="as2"}')
    assert value(as2_bytes) == len(PAYLOAD) * 2        # unsigned, unencrypted: the body as is
    assert value(prom.query("gateway_partners")) == 1
    # The queue statistics are refreshed from the store every few seconds.
    assert value(prom.wait_query("gateway_dead_letter_jobs == 1")) == 1
    days = value(prom.query(
        '(gateway_certificate_expiry_timestamp_seconds{owner="gateway"} - time()) / 86400'))
    assert 800 < days < 826


def test_alert_rules_evaluate_on_live_data(stack):
    _, prom = stack
    names = {rule["alert"] for rule in alert_rules()}

    def evaluated():
        _, answer = prom.api("rules")
        rules = [r for g in answer["data"]["groups"] for r in g["rules"]]
        done = all(not r["lastEvaluation"].startswith("0001") for r in rules)
        return rules if done and {r["name"] for r in rules} == names else None

    rules = wait_for(evaluated, timeout=60, interval=0.5, what="every rule evaluated")
    assert [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"] == []
    # One dead-lettered job: its alert is on its way (pending for its `for:` minute).
    firing = prom.wait_query('ALERTS{alertname="GatewayDeadLetterJobs"}')
    assert firing[0]["metric"]["alertstate"] in ("pending", "firing")
    # The first evaluation may come before the first scrape: absent(up) is pending until then.
    wait_for(lambda: prom.query('ALERTS{alertname=~"GatewayDown|GatewayTargetsMissing"}') == [],
             timeout=30, interval=0.5, what="no alert about missing targets")


def test_dashboard_queries_parse_and_name_only_exported_metrics(stack):
    gateway, prom = stack
    dashboard = json.loads(DASHBOARD.read_text())
    exported = exported_names(gateway.metrics())
    queries = dashboard_queries(dashboard)
    assert len(queries) > 40
    for expr in queries:
        prom.query(grafana_to_promql(expr))          # a parse error is HTTP 400 bad_data
        assert metric_names(expr) <= exported, (expr, metric_names(expr) - exported)
    # Some panels show the traffic above.
    traffic = next(t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])
                   if p["title"] == "Message status changes per minute")
    shown = prom.wait_query(grafana_to_promql(traffic))     # rate() needs a second scrape
    assert {r["metric"]["partner"] for r in shown} == {"acme"}
    partner_variable = next(v for v in dashboard["templating"]["list"] if v["name"] == "partner")
    selector = re.fullmatch(r"label_values\((.+), partner\)", partner_variable["query"]["query"])
    partners = prom.query(grafana_to_promql(selector.group(1)))
    assert {r["metric"]["partner"] for r in partners} == {"acme"}


def test_alert_rules_name_only_exported_metrics(stack):
    gateway, _ = stack
    exported = exported_names(gateway.metrics())
    for rule in alert_rules():
        assert metric_names(rule["expr"]) <= exported, (rule["alert"], rule["expr"])


def test_the_checks_catch_typos_and_syntax_errors(stack):
    gateway, prom = stack
    assert "gateway_messages_totl" not in exported_names(gateway.metrics())
    status, answer = prom.api("query", query='sum by (partner (gateway_messages_total)')
    assert status == 400 and answer["errorType"] == "bad_data"


def status_rows(text: str) -> dict[str, list[str]]:
    """The partner table of ``gateway status``, by partner: its cells split on 2+ spaces."""
    rows = {}
    for line in text.split("\n\n")[0].splitlines()[1:]:
        cells = re.split(r"\s{2,}", line.strip())
        rows[cells[0]] = cells
    return rows


def test_status_table_after_traffic(stack):
    gateway, _ = stack
    out = gateway.command("status").stdout
    header = out.splitlines()[0]
    for column in ("PARTNER", "LAST IN", "LAST OUT", "AWAITING MDN", "AWAITING 997/999",
                   "FAILED 24H", "DEAD JOBS 24H", "CERTIFICATES"):
        assert column in header
    rows = status_rows(out)
    acme = rows["acme"]
    assert re.fullmatch(r"\d+[sm] ago delivered", acme[1])
    assert re.fullmatch(r"\d+m ago failed", acme[2])            # the newest of the three
    assert acme[3:7] == ["1", "1", "1", "1"]
    assert acme[7] == "-"                                # no AS2 certificates for acme
    old = rows["old-partner (not configured)"]
    assert old[1] == "3d ago delivered" and old[3:7] == ["0", "0", "0", "0"]
    assert re.search(r"^gateway certificates: 82[45] days \(as2\)$", out, re.M)
    queue = re.search(r"^QUEUE .*?\n(.*?)(\n\n|\Z)", out, re.M | re.S).group(1)
    assert re.search(r"^as2-send\s+0\s+0\s+1\s+-$", queue, re.M)


def test_status_json_after_traffic(stack):
    gateway, _ = stack
    doc = json.loads(gateway.command("status", "--json").stdout)
    by_id = {p["partner"]: p for p in doc["partners"]}
    assert set(by_id) == {"acme", "old-partner"}
    acme = by_id["acme"]
    assert acme["configured"] and acme["last_in"]["status"] == "delivered"
    assert acme["last_out"]["status"] == "failed"
    assert (acme["pending_mdns"], acme["pending_acks"], acme["dead_jobs_24h"]) == (1, 1, 1)
    assert acme["failed_24h"] == {"failed": 1, "rejected": 0, "mdn-timeout": 0}
    assert not by_id["old-partner"]["configured"]
    (cert,) = doc["gateway_certificates"]
    assert cert["usage"] == "as2" and cert["error"] is None and 824 <= cert["days_left"] <= 825
    queue = {q["kind"]: q for q in doc["queue"]}
    assert queue["as2-send"] == {"kind": "as2-send", "pending": 0, "running": 0, "dead": 1,
                                 "oldest_pending_age_s": None}
    assert doc["problems"] == []
