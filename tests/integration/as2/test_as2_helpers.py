"""The AS2 helper processes (gateway.as2.offload) in the real daemon: received messages are
opened and their MDNs signed there, a helper killed costs no message, helpers that keep dying
are given up, and with none configured the work runs in the daemon's threads."""

import os
import signal
from pathlib import Path

import pytest

from tests.integration.as2.as2_support import PARTNER_AS2, PARTNER_YAML, Peer, metric
from tests.support import descendants, free_port, wait_for, write_partner


def gateway(home, daemons, processes: int):
    gw = daemons({"GATEWAY_AS2_HELPER_PROCESSES": str(processes)})
    gw.command("certs", "init")
    gw.peer = Peer(home)
    write_partner(home, "partner", PARTNER_YAML.format(port=free_port(), as2=PARTNER_AS2))
    return gw.start()


def post_ok(gw) -> str:
    out = gw.peer.build()
    status, headers, body = gw.peer.post(gw.as2_port, out)
    receipt = gw.peer.mdn(headers, body)
    assert status == 200 and receipt.ok and receipt.modifier is None, receipt.text
    assert receipt.signed and receipt.mic_matches(out.mic)
    return out.message_id


def helpers(gw) -> set[int]:
    """The helper processes: the daemon's children running gateway.as2.offload."""
    return {p for p in descendants(gw.proc.pid)
            if _parent(p) == gw.proc.pid and b"gateway.as2.offload" in _cmdline(p)}


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _stat(pid: int) -> list[str]:
    """State, parent, ... of a process; [] once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def _parent(pid: int) -> int | None:
    return int(_stat(pid)[1]) if _stat(pid) else None


def _running(pid: int) -> bool:
    return _stat(pid)[:1] not in ([], ["Z"])


def test_a_killed_helper_costs_no_message_and_is_replaced(home, daemons):
    gw = gateway(home, daemons, 2)
    sent = [post_ok(gw)]
    first = wait_for(lambda: helpers(gw), what="helper processes")
    for pid in first:
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not (helpers(gw) & first), what="killed helpers gone")
    sent += [post_ok(gw) for _ in range(3)]
    replaced = wait_for(lambda: helpers(gw), what="new helper processes")
    assert not replaced & first
    assert gw.tail(200).count("an AS2 helper process died (") == len(first)
    assert metric(gw.metrics(), "gateway_as2_helper_deaths_total") == len(first)
    stored = {m["message_id"]: m for m in gw.messages()}
    assert sorted(stored) == sorted(sent)
    assert {m["disposition"] for m in stored.values()} == {"processed"}


@pytest.mark.parametrize("processes", [0, 1])
def test_messages_are_opened_with_or_without_helpers(home, daemons, processes):
    gw = gateway(home, daemons, processes)
    post_ok(gw)
    assert len(helpers(gw)) == processes
    (message,) = gw.messages()
    assert message["disposition"] == "processed" and message["payload_sha256"]


def test_helpers_end_with_a_killed_daemon(home, daemons):
    gw = gateway(home, daemons, 2)
    post_ok(gw)
    assert helpers(gw)
    started = helpers(gw)
    gw.stop(signal.SIGKILL)
    wait_for(lambda: not any(_running(p) for p in started), timeout=30,
             what="the helpers of a killed daemon to end")


def test_helpers_that_keep_dying_are_given_up_for_threads(home, daemons):
    gw = gateway(home, daemons, 1)
    for deaths in range(1, 6):
        post_ok(gw)
        (pid,) = wait_for(lambda: helpers(gw), what="a helper")
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: gw.tail(100).count("helper process died") == deaths,  # noqa: B023
                 what="the helper's death noticed")
    post_ok(gw)
    post_ok(gw)
    assert not helpers(gw)
    assert "opening messages in threads from now on" in gw.tail(50)
    assert metric(gw.metrics(), "gateway_as2_helper_deaths_total") == 5
    assert len(gw.messages()) == 7
