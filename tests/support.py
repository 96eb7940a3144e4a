"""Test support: free ports, a gateway home directory, and the real daemon as a subprocess."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_partner(home: Path, partner_id: str, text: str) -> Path:
    path = home / "partners" / f"{partner_id}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def minimal_partner(partner_id: str, *, as2_id: str | None = None, sink: str | None = None) -> str:
    """A partner with no certificates needed: unsigned, unencrypted AS2 and a directory route."""
    lines = [f"id: {partner_id}", f"name: Partner {partner_id}",
             "as2:", f"  as2_id: {as2_id or partner_id.upper()}",
             "  security: {sign: false, encrypt: false, require_signature: false,"
             " require_encryption: false}",
             "  mdn: {mode: sync, signed: false}"]
    if sink:
        lines += ["routes:", "  - match: {direction: inbound}", f"    to: [{{directory: {sink}}}]"]
    return "\n".join(lines) + "\n"


def http_get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_for(predicate, timeout: float = 30, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Daemon:
    """``gateway serve`` in ``home`` on free ports; stderr kept in ``home/serve.log``."""

    def __init__(self, home: Path, env: dict | None = None):
        self.home = home
        self.metrics_port = free_port()
        self.as2_port = free_port()
        self.sftp_port = free_port()
        self.env = dict(os.environ, GATEWAY_METRICS_PORT=str(self.metrics_port),
                        GATEWAY_AS2_PORT=str(self.as2_port), GATEWAY_SFTP_PORT=str(self.sftp_port),
                        GATEWAY_JOBS_POLL_INTERVAL_S="0.05")
        self.env.update(env or {})
        self.proc: subprocess.Popen | None = None
        self.log = home / "serve.log"

    def command(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "gateway", *args], cwd=self.home,
                                env=self.env, capture_output=True, text=True, timeout=120)
        if check and result.returncode != 0:
            raise AssertionError(f"gateway {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
        return result

    def start(self, wait: bool = True) -> Daemon:
        log = open(self.log, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "gateway", "serve"], cwd=self.home,
                                     env=self.env, stdout=log, stderr=subprocess.STDOUT)
        if wait:
            wait_for(self.ready, timeout=60, what=f"gateway ready\n{self.tail()}")
        return self

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"gateway exited with {self.proc.returncode}:\n{self.tail()}")
        try:
            return http_get(self.url("/readyz"), timeout=1)[0] == 200
        except OSError:
            return False

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.metrics_port}{path}"

    def metrics(self) -> str:
        return http_get(self.url("/metrics"))[1].decode()

    def send(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def messages(self, *args: str) -> list[dict]:
        return json.loads(self.command("messages", "--json", *args).stdout)

    def messages_jobs(self) -> list[dict]:
        """Jobs of the newest message."""
        newest = self.messages()[0]["id"]
        return json.loads(self.command("messages", "show", newest, "--json").stdout)["jobs"]


def descendants(pid: int) -> list[int]:
    """The processes started by ``pid``, and theirs (a daemon's helpers, sshd's sessions)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        frontier = [p for p, parent in parents.items() if parent in frontier]
        found += frontier
    return found
