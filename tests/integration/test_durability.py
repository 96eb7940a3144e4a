"""Nothing is lost: a worker killed mid-job, failing deliveries, and two nodes sharing PostgreSQL."""

import hashlib
import http.server
import os
import signal
import threading
import time

import pytest

from gateway.archive import Archive
from gateway.intake import thd_record_inbound
from gateway.store import jobs, messages
from gateway.store.database import Database, upgrade
from tests.support import minimal_partner, wait_for, write_partner


def test_worker_killed_mid_job_finishes_exactly_once_after_restart(home, daemons):
    write_partner(home, "acme", minimal_partner("acme", sink="out"))
    env = {"GATEWAY_JOBS_LEASE_S": "3"}
    gw = daemons(env).start()
    big = home / "big.edi"
    with open(big, "wb") as f:   # large enough that copying it takes a while
        for i in range(384):
            f.write(hashlib.sha256(str(i).encode()).digest() * 32768)
    expected = hashlib.sha256(big.read_bytes()).hexdigest()
    gw.command("receive", "--partner", "acme", str(big))
    out = home / "out"
    wait_for(lambda: out.is_dir() and any(p.name.endswith(".partial") for p in out.iterdir()),
             interval=0.002, what="the delivery to be under way")
    gw.proc.kill()
    gw.proc.wait()
    assert not [p for p in out.iterdir() if not p.name.endswith(".partial")]

    gw = daemons(env).start()
    wait_for(lambda: gw.messages()[0]["status"] == "delivered", timeout=60, what="redelivery")
    files = list(out.iterdir())
    assert len(files) == 1 and not files[0].name.endswith(".partial")
    assert hashlib.sha256(files[0].read_bytes()).hexdigest() == expected
    deliver = [j for j in gw.messages_jobs() if j["kind"] == "deliver"]
    assert [(j["status"], j["attempts"]) for j in deliver] == [("done", 2)]
    assert gw.stop() == 0


class Hook(http.server.BaseHTTPRequestHandler):
    """A webhook receiver that fails the first ``fail`` requests with HTTP 500."""

    fail = 0
    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if len(Hook.received) < Hook.fail:
            Hook.received.append(None)
            self.send_response(500)
        else:
            Hook.received.append((self.headers["X-Gateway-Message-Id"], body))
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    Hook.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def webhook_partner(partner_id: str, port: int) -> str:
    return minimal_partner(partner_id) + (
        f"routes:\n  - to: [{{webhook: 'http://127.0.0.1:{port}/in'}}]\n")


def test_failing_delivery_is_retried_then_dead_lettered(home, daemons, webhook):
    write_partner(home, "acme", webhook_partner("acme", webhook.server_port))
    gw = daemons({"GATEWAY_JOBS_BACKOFF_BASE_S": "0.2", "GATEWAY_JOBS_MAX_ATTEMPTS": "3"}).start()
    (home / "a.edi").write_bytes(b"first")
    Hook.fail = 2
    gw.command("receive", "--partner", "acme", str(home / "a.edi"))
    wait_for(lambda: gw.messages()[0]["status"] == "delivered", what="delivery after retries")
    assert Hook.received[:2] == [None, None] and Hook.received[2][1] == b"first"

    Hook.fail, Hook.received = 99, []
    (home / "b.edi").write_bytes(b"second")
    gw.command("receive", "--partner", "acme", str(home / "b.edi"))
    wait_for(lambda: "gateway_dead_letter_jobs 1.0" in gw.metrics(), timeout=30,
             what="dead letter metric")
    dead = gw.command("jobs", "--status", "dead").stdout
    assert "webhook" in dead and "answered HTTP 500" in dead
    assert len(Hook.received) == 3
    assert 'gateway_jobs_total{kind="webhook",outcome="dead"} 1.0' in gw.metrics()
    job_id = dead.splitlines()[1].split()[0]
    Hook.fail = 0
    assert "queued again" in gw.command("jobs", "--retry", job_id).stdout
    wait_for(lambda: all(m["status"] == "delivered" for m in gw.messages()), what="retried job")
    assert gw.stop() == 0


def thd_record_many(conn, count: int, sha256: str):
    for i in range(count):
        thd_record_inbound(conn, partner_id="acme", transport="file", message_id=f"m{i}",
                           sha256=sha256, size=1, actor="test", now=time.time())


def test_two_nodes_on_postgresql_share_and_drain_10000_jobs(home, daemons, pg_url):
    write_partner(home, "acme", minimal_partner("acme"))   # no targets: one job per message
    db = Database(pg_url)
    upgrade(db.engine)
    sha256, _ = Archive(home / "var").put(b"not X12: routed as it is")
    db.transaction(thd_record_many, 10_000, sha256)
    env = {"GATEWAY_DATABASE_URL": pg_url, "GATEWAY_JOBS_CONCURRENCY": "16"}
    nodes = [daemons(dict(env, GATEWAY_GATEWAY_NODE_NAME=f"node{i}")).start() for i in (1, 2)]

    def drained():
        return not db.transaction(jobs.thd_list, status="pending", limit=1) and \
            not db.transaction(jobs.thd_list, status="running", limit=1)

    wait_for(drained, timeout=240, interval=0.5, what="queue drained")
    done = db.transaction(jobs.thd_list, status="done", limit=20_000)
    assert len(done) == 10_000 and all(j["attempts"] == 1 for j in done)
    routed = db.transaction(thd_routed_actors)
    assert len(routed) == 10_000 and all(len(actors) == 1 for actors in routed.values())
    by_node = {actors[0].split(":")[0] for actors in routed.values()}
    assert by_node == {"node1", "node2"}
    for node in nodes:
        assert node.stop() == 0
    db.engine.dispose()


def thd_routed_actors(conn) -> dict[str, list[str]]:
    """Per message, who routed it: one entry means the job ran exactly once."""
    from sqlalchemy import select

    from gateway.store.schema import events
    out: dict[str, list[str]] = {}
    for message_id, actor in conn.execute(select(events.c.message_id, events.c.actor)
                                          .where(events.c.status == "routed")):
        out.setdefault(message_id, []).append(actor)
    return out


def test_sigterm_waits_for_running_job_then_exits_0(home, daemons):
    write_partner(home, "acme", minimal_partner("acme", sink="out"))
    gw = daemons({"GATEWAY_JOBS_SHUTDOWN_GRACE_S": "60"}).start()
    big = home / "big.edi"
    big.write_bytes(os.urandom(1 << 20) * 200)
    gw.command("receive", "--partner", "acme", str(big))
    wait_for(lambda: (home / "out").is_dir() and any((home / "out").iterdir()),
             interval=0.002, what="the delivery to be under way")
    gw.send(signal.SIGTERM)
    assert gw.proc.wait(timeout=60) == 0
    (delivered,) = (home / "out").iterdir()
    assert delivered.stat().st_size == big.stat().st_size
    db = Database(f"sqlite:///{home / 'var/gateway.db'}")
    assert db.transaction(messages.thd_list)[0]["status"] == "delivered"
