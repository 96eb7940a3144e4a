"""The real daemon as a subprocess: health, metrics, reload, graceful stop, files flowing."""

import json
import re
import signal

from tests.support import http_get, minimal_partner, wait_for, write_partner


def metric(text: str, name: str, labels: str = "") -> float | None:
    match = re.search(rf"^{re.escape(name)}{re.escape(labels)} (\S+)$", text, re.M)
    return float(match.group(1)) if match else None


def test_health_ready_metrics_and_sigterm(home, daemons):
    write_partner(home, "acme", minimal_partner("acme"))
    gw = daemons().start()
    assert http_get(gw.url("/healthz")) == (200, b"ok\n")
    status, body = http_get(gw.url("/readyz"))
    assert status == 200 and b'"ready": true' in body
    text = gw.metrics()
    assert metric(text, "gateway_partners") == 1
    assert 'gateway_build_info{version="0.1.0"} 1.0' in text
    assert metric(text, "gateway_config_last_reload_success") == 1
    assert (home / "var" / "gateway.db").exists()
    assert (home / "certs" / "gateway" / "as2.crt").exists()   # dev identity made on first start
    assert http_get(f"http://127.0.0.1:{gw.as2_port}/as2") == (
        200, b"AS2 endpoint of this gateway: POST messages here\n")
    assert gw.stop(signal.SIGTERM) == 0


def test_sighup_keeps_old_partners_when_the_new_set_is_broken(home, daemons):
    write_partner(home, "acme", minimal_partner("acme"))
    gw = daemons().start()
    write_partner(home, "beta", minimal_partner("beta") + "colour: red\n")
    write_partner(home, "gamma", minimal_partner("gamma", as2_id="ACME"))
    gw.send(signal.SIGHUP)
    wait_for(lambda: metric(gw.metrics(), "gateway_config_reloads_total", '{outcome="failed"}'),
             what="failed reload counted")
    text = gw.metrics()
    assert metric(text, "gateway_partners") == 1
    assert metric(text, "gateway_config_last_reload_success") == 0
    log = gw.tail(200)
    assert "reload refused: partners/beta.yaml:7: colour: unknown key" in log
    assert "partners/gamma.yaml:4: as2.as2_id: 'ACME' is used by more than one partner" in log

    (home / "partners" / "gamma.yaml").unlink()
    write_partner(home, "beta", minimal_partner("beta"))
    gw.send(signal.SIGHUP)
    wait_for(lambda: metric(gw.metrics(), "gateway_partners") == 2, what="good reload")
    assert metric(gw.metrics(), "gateway_config_reloads_total", '{outcome="ok"}') == 1
    assert gw.stop() == 0


def test_received_file_is_routed_and_delivered_with_history(home, daemons):
    write_partner(home, "acme", minimal_partner("acme", sink="out"))
    gw = daemons().start()
    payload = home / "order.edi"
    payload.write_bytes(b"ISA*00*...~" * 1000)
    first = gw.command("receive", "--partner", "acme", "--message-id", "<1@acme>", str(payload))
    again = gw.command("receive", "--partner", "acme", "--message-id", "<1@acme>", str(payload))
    assert first.stdout.startswith("received message ")
    assert again.stdout.startswith("duplicate of message ")
    delivered = wait_for(lambda: list((home / "out").glob("*_order.edi")), what="delivery")
    assert delivered[0].read_bytes() == payload.read_bytes()
    wait_for(lambda: gw.messages()[0]["status"] == "delivered", what="status delivered")
    shown = gw.command("messages", "show", "<1@acme>").stdout
    assert "partner_id    acme" in shown and re.search(r"delivered .*directory .*out/", shown)
    history = [e["status"] for e in json.loads(gw.command("messages", "show", "<1@acme>",
                                                          "--json").stdout)["events"]]
    assert [s for s in history if s != "duplicate"] == ["received", "routed", "delivered"]
    assert history.count("duplicate") == 1
    assert gw.messages("--partner", "nobody") == []
    assert len(list((home / "out").iterdir())) == 1   # the duplicate was not processed again
    assert gw.stop() == 0


def test_check_command_reports_every_problem_and_exit_code(home, daemons):
    write_partner(home, "acme", minimal_partner("acme") + "routes:\n  - to: [printer]\n")
    write_partner(home, "beta", "id: beta\n")
    (home / "gateway.toml").write_text("[jobs]\nconcurrency = 'x'\n")
    result = daemons().command("--config", "gateway.toml", "check", check=False)
    assert result.returncode == 1
    assert "gateway.toml:2: jobs.concurrency: Input should be a valid integer" in result.stdout
    result = daemons().command("check", check=False)
    assert "partners/acme.yaml:8: routes[0].to[0]: Value error, 'printer'" in result.stdout
    assert "partners/beta.yaml: name: required key is missing" in result.stdout
    assert "2 problem(s) found" in result.stdout
    (home / "partners" / "acme.yaml").write_text(minimal_partner("acme"))
    (home / "partners" / "beta.yaml").unlink()
    assert daemons().command("check").stdout.strip() == "configuration OK: 1 partners"


def test_certs_init_and_status(home, daemons):
    write_partner(home, "acme", minimal_partner("acme"))
    gw = daemons()
    assert "wrote certs/gateway/as2.key" in gw.command("certs", "init").stdout
    assert "already exist" in gw.command("certs", "init").stdout
    assert (home / "certs/gateway/as2.key").stat().st_mode & 0o777 == 0o600
    status = gw.command("certs", "status").stdout
    assert re.search(r"gateway\s+as2\s+82[45]\s+\d{4}-\d\d-\d\d\s+CN=GATEWAY", status)


def test_replay_runs_a_received_message_again_and_is_audited(home, daemons):
    write_partner(home, "acme", minimal_partner("acme", sink="out"))
    gw = daemons().start()
    (home / "a.edi").write_bytes(b"payload")
    gw.command("receive", "--partner", "acme", "--message-id", "<r@acme>", str(home / "a.edi"))
    wait_for(lambda: gw.messages()[0]["status"] == "delivered", what="delivered")
    (delivered,) = (home / "out").iterdir()
    delivered.unlink()   # lost downstream: the operator replays it
    assert "queued for replay #1" in gw.command("replay", "<r@acme>").stdout
    wait_for(lambda: (home / "out" / delivered.name).exists(), what="delivered again")
    history = [(e["status"], e["actor"]) for e in json.loads(
        gw.command("messages", "show", "<r@acme>", "--json").stdout)["events"]]
    assert [s for s, _ in history] == ["received", "routed", "delivered", "replay", "accepted",
                                       "routed", "delivered"]
    assert history[3][1].startswith("operator:")
    result = gw.command("replay", "nonexistent", check=False)
    assert result.returncode == 1 and "is not a received message" in result.stdout
    assert gw.stop() == 0
