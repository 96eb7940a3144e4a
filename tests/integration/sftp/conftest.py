"""Fixtures for the SFTP tests: the Twisted reactor in a background thread, gateway SFTP
servers on free loopback ports, and SSH keys made with ssh-keygen.

Test code runs blocking clients (OpenSSH sftp, paramiko) in the main thread and hands work to
the reactor with `call`, which waits with a timeout so nothing can hang.
"""

from __future__ import annotations

import threading

import bcrypt
import pytest
from twisted.internet import reactor

from gateway.sftp.model import SftpAccount, SftpLimits
from gateway.sftp.server import make_factory
from tests.integration.sftp.sftp_support import PASSWORD, Gateway, KeyPair, call, make_key


@pytest.fixture(scope="session", autouse=True)
def reactor_thread():
    thread = threading.Thread(
        target=reactor.run, kwargs={"installSignalHandlers": False}, daemon=True
    )
    thread.start()
    yield
    reactor.callFromThread(reactor.stop)
    thread.join(10)


@pytest.fixture
def keys(tmp_path):
    """Named key pairs, made on first use: keys("acme")."""
    made: dict[str, KeyPair] = {}
    (tmp_path / "keys").mkdir()

    def get(name: str) -> KeyPair:
        if name not in made:
            made[name] = make_key(tmp_path / "keys" / name)
        return made[name]

    return get


@pytest.fixture
def gateway_factory(tmp_path, keys):
    """Start gateway SFTP servers: gateway_factory(limits) -> Gateway with partners acme and
    globex (key logins; acme also has a password)."""
    listening = []

    def start(limits: SftpLimits | None = None) -> Gateway:
        gw = Gateway(root=tmp_path / f"root{len(listening)}")
        gw.root.mkdir()
        hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
        gw.accounts["acme"] = SftpAccount("acme", "acme", (keys("acme").public_line,), hashed)
        gw.accounts["globex"] = SftpAccount("globex", "globex", (keys("globex").public_line,))
        factory = make_factory(
            accounts=gw.accounts.get,
            root=gw.root,
            host_key_path=tmp_path / "host_key",
            on_upload=gw.on_upload,
            on_download=gw.on_download,
            limits=limits or SftpLimits(max_file_bytes=4 * 1024 * 1024),
            events=gw.events,
        )
        port = call(reactor.listenTCP, 0, factory, interface="127.0.0.1")
        listening.append(port)
        gw.port = port.getHost().port
        gw.host_key = next(iter(factory.publicKeys.values())).toString("openssh").decode()
        return gw

    yield start
    for port in listening:
        call(port.stopListening)


@pytest.fixture
def gateway(gateway_factory) -> Gateway:
    return gateway_factory()
