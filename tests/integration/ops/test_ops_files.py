"""The operations files pass their own tools: promtool (config, rules, rule unit tests),
systemd-analyze (the unit), and the dashboard has the structure Grafana and operators need."""

from __future__ import annotations

import json
import re
import signal

from ruamel.yaml import YAML

from tests.integration.ops.ops_support import DASHBOARD, OPS, alert_rules, run
from tests.support import minimal_partner, wait_for, write_partner

GATEWAY_COMMANDS = ("gateway messages", "gateway jobs", "gateway certs status", "gateway check",
                    "gateway reconcile", "journalctl", "systemctl", "gateway send")


def test_prometheus_config_and_alert_rules_pass_promtool():
    config = run("promtool", "check", "config", "ops/prometheus.yml")
    assert config.returncode == 0, config.stdout + config.stderr
    assert "SUCCESS: 1 rule files found" in config.stdout
    rules = run("promtool", "check", "rules", "ops/alerts.yml")
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in rules.stdout


def test_alert_rule_unit_tests_pass_and_cover_every_alert():
    result = run("promtool", "test", "rules", "ops/alerts.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    tests = YAML(typ="safe").load((OPS / "alerts.test.yml").read_text())["tests"]
    fired = {case["alertname"] for group in tests for case in group["alert_rule_test"]
             if case.get("exp_alerts")}
    assert fired == {rule["alert"] for rule in alert_rules()}
    healthy = next(g for g in tests if g["name"] == "healthy gateway fires nothing")
    assert {c["alertname"] for c in healthy["alert_rule_test"] if not c.get("exp_alerts")} == fired


def test_alerts_carry_severity_duration_and_a_runbook():
    for rule in alert_rules():
        name = rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning"), name
        assert re.fullmatch(r"\d+[mh]", rule["for"]), name
        notes = rule["annotations"]
        assert notes["summary"] and notes["description"], name
        steps = notes["runbook"].splitlines()
        assert steps[0].startswith("1. ") and len(steps) >= 2, name
        assert any(command in notes["runbook"] for command in GATEWAY_COMMANDS) or \
            name == "GatewayTargetsMissing", name


def test_systemd_unit_verifies(tmp_path):
    unit = (OPS / "gateway.service").read_text()
    for key in ("Type=simple", "User=gateway", "WorkingDirectory=/var/lib/gateway",
                "ExecReload=/bin/kill -HUP $MAINPID", "Restart=on-failure",
                "NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes",
                "ProtectHome=yes", "ProtectKernelTunables=yes", "RestrictAddressFamilies=",
                "LimitNOFILE=", "ReadWritePaths=/var/lib/gateway"):
        assert key in unit, key
    assert re.search(r"^ExecStart=\S+/gateway --config /etc/gateway/gateway.toml serve$", unit,
                     re.M)
    stop = int(re.search(r"^TimeoutStopSec=(\d+)$", unit, re.M).group(1))
    grace = float(re.search(r"^shutdown_grace_s = (\S+)", (OPS / "gateway.example.toml")
                            .read_text(), re.M).group(1))
    assert stop > grace + 30
    # systemd-analyze insists that the programs exist: point them at this checkout's gateway.
    local = tmp_path / "gateway.service"
    local.write_text(unit.replace("/opt/gateway/venv/bin/gateway",
                                  str(OPS.parent / ".venv" / "bin" / "gateway")))
    result = run("systemd-analyze", "verify", str(local))
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_dashboard_structure():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["schemaVersion"] >= 36 and dashboard["uid"]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"
    for name in ("instance", "partner"):
        assert variables[name]["query"]["query"].startswith("label_values("), name
        assert variables[name]["includeAll"] and variables[name]["datasource"]["uid"] == \
            "${DS_PROMETHEUS}"
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    rows = [p["title"] for p in panels if p["type"] == "row"]
    assert rows == ["Overview", "Traffic by partner and direction", "MDNs and acknowledgments",
                    "Work queue", "Errors by kind", "Certificates", "Reconciliation and customs"]
    for panel in panels:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
            assert panel["targets"], panel["title"]
            for target in panel["targets"]:
                assert 'instance=~"$instance"' in target["expr"], (panel["title"], target["expr"])
    by_title = {p["title"]: p for p in panels}
    certs = by_title["Days to expiry"]
    assert certs["type"] == "table" and certs["targets"][0]["format"] == "table"
    assert 'partner=~"$partner"' in by_title["Message status changes per minute"][
        "targets"][0]["expr"]


def test_status_works_on_a_stopped_gateway(home, daemons):
    write_partner(home, "acme", minimal_partner("acme", sink="out"))
    gateway = daemons()
    missing = gateway.command("status", check=False)
    assert missing.returncode == 1 and "no database at sqlite:///var/gateway.db" in missing.stderr
    gateway.start()
    (home / "order.edi").write_bytes(b"order\n")
    gateway.command("receive", "--partner", "acme", str(home / "order.edi"))
    wait_for(lambda: gateway.messages()[0]["status"] == "delivered", what="delivered")
    assert gateway.stop(signal.SIGTERM) == 0
    out = gateway.command("status").stdout
    assert re.search(r"^acme\s+\d+s ago delivered\s+-\s+0\s+0\s+0\s+0\s+-$", out, re.M), out
    assert re.search(r"^\(empty\)\s+0\s+0\s+0\s+-$", out, re.M), out
    # A broken partner file does not hide what the store knows.
    write_partner(home, "acme", "id: acme\n")
    broken = gateway.command("status", "--json")
    doc = json.loads(broken.stdout)
    assert [p["partner"] for p in doc["partners"]] == ["acme"]
    assert not doc["partners"][0]["configured"]
    assert doc["problems"] and "partners/acme.yaml" in doc["problems"][0]
