"""Fixtures shared by every test: a gateway home, and databases (SQLite and a fresh PostgreSQL)."""

from __future__ import annotations

import getpass
import http.server
import os
import shutil
import socket
import subprocess
import threading
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import create_engine, text

from tests.support import Daemon, free_port, wait_for

PG_ADMIN_URL = os.environ.get("GATEWAY_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture
def home(tmp_path):
    (tmp_path / "partners").mkdir()
    return tmp_path


@pytest.fixture
def daemons(home):
    started: list[Daemon] = []

    def make(env: dict | None = None, where=None) -> Daemon:
        d = Daemon(where or home, env)
        started.append(d)
        return d

    yield make
    for d in started:
        if d.proc is not None and d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait()


@pytest.fixture
def pg_url():
    """A new, empty PostgreSQL database for this test, dropped afterwards."""
    name = f"gw_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gateway.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def db(db_url):
    """A migrated store on each database, disposed of afterwards."""
    from gateway.store.database import Database, upgrade

    database = Database(db_url)
    upgrade(database.engine)
    yield database
    database.engine.dispose()


SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def _accepting(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture
def sshd(tmp_path):
    """A real OpenSSH sshd on a free loopback port serving internal-sftp to the current user
    with one authorized key: (SftpTarget for it, its remote directory, its host key)."""
    from gateway.sftp.client import SftpTarget
    from tests.integration.sftp.sftp_support import make_key

    if not os.path.exists(SSHD) or os.geteuid() != 0:
        pytest.fail("these tests need OpenSSH's sshd and root: apt-get install openssh-server")
    work = tmp_path / "sshd"
    work.mkdir()
    host = make_key(work / "host_ed25519")
    user = make_key(work / "user_ed25519")
    (work / "authorized_keys").write_text(user.public_line + "\n")
    port = free_port()
    config = work / "sshd_config"
    config.write_text(f"""Port {port}
ListenAddress 127.0.0.1
HostKey {host.private}
PidFile none
UsePAM no
StrictModes no
PermitRootLogin yes
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile {work}/authorized_keys
Subsystem sftp internal-sftp
LogLevel ERROR
""")
    os.makedirs("/run/sshd", exist_ok=True)
    log = work / "sshd.log"
    with log.open("wb") as stderr:
        proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stderr=stderr)
    try:
        wait_for(lambda: _accepting(port) or proc.poll() is not None, what="sshd to listen")
        if proc.poll() is not None:
            pytest.fail(f"sshd exited: {log.read_text()}")
        remote = tmp_path / "remote"
        for name in ("inbox", "outbox", "archive"):
            (remote / name).mkdir(parents=True)
        target = SftpTarget(host="127.0.0.1", port=port, username=getpass.getuser(),
                            host_key=host.public_line, private_key_path=user.private,
                            timeout_s=15)
        yield target, remote, host
    finally:
        proc.terminate()
        proc.wait(10)


Handler = Callable[[str, dict, bytes], tuple[int, dict, bytes]]


@pytest.fixture
def endpoint():
    """A partner's HTTP server on 127.0.0.1: ``endpoint(handler)`` -> its base URL; every POST is
    answered with ``handler(path, headers, body)`` -> (status, headers, body). Stopped after the
    test."""
    servers = []

    def start(handler: Handler) -> str:
        class Request(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                code, headers, answer = handler(self.path, dict(self.headers), body)
                self.send_response(code)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Request)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
