"""Helpers for the SFTP tests: run work in the reactor thread, wait, keys, a gateway server
under test with recorded hooks and events."""

from __future__ import annotations

import concurrent.futures
import inspect
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import paramiko
from twisted.internet import defer, reactor

from gateway.sftp.model import SftpAccount, SftpEvents
from tests.support import free_port, wait_for  # noqa: F401  (re-exported to the SFTP tests)

PASSWORD = "correct horse battery staple"


def call(fn, *args, timeout: float = 30.0, **kwargs):
    """Run `fn` in the reactor thread and return its (Deferred's or coroutine's) result."""
    future: concurrent.futures.Future = concurrent.futures.Future()

    def start():
        try:
            result = fn(*args, **kwargs)
            if inspect.iscoroutine(result):
                result = defer.ensureDeferred(result)
        except BaseException as e:
            future.set_exception(e)
            return
        d = defer.maybeDeferred(lambda: result)
        d.addCallbacks(future.set_result, lambda f: future.set_exception(f.value))

    reactor.callFromThread(start)
    return future.result(timeout)


@dataclass
class KeyPair:
    private: Path
    public_line: str

    def paramiko(self) -> paramiko.PKey:
        return paramiko.Ed25519Key.from_private_key_file(str(self.private))


def make_key(path: Path) -> KeyPair:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path)],
        check=True,
        timeout=30,
    )
    return KeyPair(path, path.with_suffix(".pub").read_text().strip())


class RecordingEvents(SftpEvents):
    def __init__(self):
        self.seen: list[tuple] = []

    def session_opened(self, partner):
        self.seen.append(("session_opened", partner))

    def auth_failed(self, username, reason):
        self.seen.append(("auth_failed", username, reason))

    def file_received(self, partner, size):
        self.seen.append(("file_received", partner, size))

    def file_sent(self, partner, size):
        self.seen.append(("file_sent", partner, size))

    def transfer_failed(self, partner, reason):
        self.seen.append(("transfer_failed", partner, reason))

    def limit_reached(self, partner, limit):
        self.seen.append(("limit_reached", partner, limit))


@dataclass
class Gateway:
    root: Path
    port: int = 0
    host_key: str = ""  # OpenSSH public key line
    accounts: dict[str, SftpAccount] = field(default_factory=dict)
    uploads: list[tuple[str, Path, bytes]] = field(default_factory=list)
    downloads: list[tuple[str, Path]] = field(default_factory=list)
    events: RecordingEvents = field(default_factory=RecordingEvents)
    fail_uploads: bool = False

    async def on_upload(self, partner: str, path: Path) -> None:
        if self.fail_uploads:
            raise RuntimeError("database is down")
        self.uploads.append((partner, path, path.read_bytes()))

    async def on_download(self, partner: str, path: Path) -> None:
        self.downloads.append((partner, path))

    def home(self, partner: str) -> Path:
        return self.root / partner

    def connect(self, username: str, *, key: KeyPair | None = None, password: str | None = None):
        """A paramiko SSHClient logged in to this gateway."""
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        client.connect(
            "127.0.0.1",
            self.port,
            username=username,
            pkey=key.paramiko() if key else None,
            password=password,
            look_for_keys=False,
            allow_agent=False,
            timeout=10,
            banner_timeout=10,
            auth_timeout=10,
        )
        return client

    def sftp(self, username: str, **kwargs) -> paramiko.SFTPClient:
        sftp = self.connect(username, **kwargs).open_sftp()
        sftp.get_channel().settimeout(15)
        return sftp
