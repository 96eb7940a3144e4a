"""Outbound SFTP with Twisted Conch: push files to, and poll files from, a partner's SSH server.

The partner's host key is pinned; every network step has a timeout.
"""

from __future__ import annotations

import io
import secrets
import stat
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from twisted.conch.ssh import keys
from twisted.conch.ssh.channel import SSHChannel
from twisted.conch.ssh.common import NS
from twisted.conch.ssh.connection import SSHConnection
from twisted.conch.ssh.filetransfer import (
    FXF_CREAT,
    FXF_READ,
    FXF_TRUNC,
    FXF_WRITE,
    FileTransferClient,
)
from twisted.conch.ssh.transport import (
    DISCONNECT_NO_MORE_AUTH_METHODS_AVAILABLE,
    SSHClientTransport,
)
from twisted.conch.ssh.userauth import MSG_USERAUTH_REQUEST, SSHUserAuthClient
from twisted.internet import defer, error, reactor
from twisted.internet.endpoints import HostnameEndpoint, connectProtocol

CHUNK = 32 * 1024
WRITE_WINDOW = 16  # WRITE requests in flight at once


class SftpClientError(Exception):
    """The partner's server could not be reached, refused us, or failed an operation."""


class HostKeyMismatch(SftpClientError):
    """The server presented a host key other than the pinned one."""


class AuthenticationFailed(SftpClientError):
    pass


@dataclass(frozen=True, kw_only=True)
class SftpTarget:
    host: str
    port: int = 22
    username: str
    host_key: str  # pinned: an OpenSSH public key line, or "SHA256:<base64>" as ssh-keygen -l shows
    private_key_path: Path | None = None
    password: str | None = None
    timeout_s: float = 30.0

    def __post_init__(self):
        if self.private_key_path is None and self.password is None:
            raise ValueError(f"{self.where}: give a private key path, a password or both")
        if not self.host_key.startswith("SHA256:"):
            try:
                keys.Key.fromString(self.host_key.strip().encode())
            except (keys.BadKeyError, ValueError):
                raise ValueError(
                    f"{self.where}: host_key must be an OpenSSH public key line or SHA256:<base64>"
                ) from None

    @property
    def where(self) -> str:
        return f"{self.username}@{self.host}:{self.port}"


def _fingerprint(key: keys.Key) -> str:
    return "SHA256:" + key.fingerprint(keys.FingerprintFormats.SHA256_BASE64).rstrip("=")


def _pinned_key(target: SftpTarget) -> keys.Key | None:
    if target.host_key.startswith("SHA256:"):
        return None
    return keys.Key.fromString(target.host_key.strip().encode())


def _timed(d: defer.Deferred, target: SftpTarget) -> defer.Deferred:
    def timed_out(reason):
        reason.trap(defer.TimeoutError)
        raise SftpClientError(f"{target.where}: no answer within {target.timeout_s}s")

    return d.addTimeout(target.timeout_s, reactor).addErrback(timed_out)


class _Transport(SSHClientTransport):
    def __init__(self, target: SftpTarget, ready: defer.Deferred):
        self.target = target
        self.ready = ready  # fires with the FileTransferClient once the subsystem answers
        self.error: SftpClientError | None = None

    def connectionMade(self):
        pinned = _pinned_key(self.target)
        if pinned is not None:
            # Ask for the pinned key's type, so a server with several host keys shows that one.
            algorithms = pinned.supportedSignatureAlgorithms()
            self.supportedPublicKeys = [a for a in self.supportedPublicKeys if a in algorithms]
        super().connectionMade()

    def verifyHostKey(self, hostKey, fingerprint):
        key = keys.Key.fromString(hostKey)
        pinned = _pinned_key(self.target)
        if pinned is None:
            expected = self.target.host_key.rstrip("=")
            matches = _fingerprint(key) == expected
        else:
            expected = _fingerprint(pinned)
            matches = key == pinned
        if matches:
            return defer.succeed(True)
        self.error = HostKeyMismatch(
            f"{self.target.where} presented host key {_fingerprint(key)}, expected {expected}"
        )
        return defer.fail(self.error)

    def connectionSecure(self):
        self.requestService(_UserAuth(self.target, _Connection()))

    def receiveError(self, reasonCode, description):
        text = description.decode("utf-8", "replace")
        self.error = self.error or SftpClientError(f"{self.target.where} disconnected: {text}")

    def sendDisconnect(self, reason, desc):
        if reason == DISCONNECT_NO_MORE_AUTH_METHODS_AVAILABLE:
            self.error = self.error or AuthenticationFailed(f"{self.target.where} refused login")
        super().sendDisconnect(reason, desc)

    def fail(self, err: SftpClientError) -> None:
        if not self.ready.called:
            self.ready.errback(err)

    def connectionLost(self, reason):
        super().connectionLost(reason)
        self.fail(self.error or SftpClientError(f"{self.target.where}: {reason.getErrorMessage()}"))


class _UserAuth(SSHUserAuthClient):
    preferredOrder = [b"publickey", b"password"]

    def __init__(self, target: SftpTarget, instance):
        super().__init__(target.username.encode(), instance)
        self._key = (
            keys.Key.fromFile(str(target.private_key_path)) if target.private_key_path else None
        )
        self._password = target.password

    def auth_publickey(self):
        # Sign straight away (no query first), choosing SHA-2 for RSA: Conch's default signs RSA
        # with SHA-1, which current OpenSSH servers refuse.
        key, self._key = self._key, None
        if key is None:
            return defer.succeed(False)
        algorithm = b"rsa-sha2-256" if key.type() == "RSA" else key.sshType()
        blob = key.public().blob()
        signed = (
            NS(self.transport.sessionID)
            + bytes((MSG_USERAUTH_REQUEST,))
            + NS(self.user)
            + NS(self.instance.name)
            + NS(b"publickey")
            + b"\x01"
            + NS(algorithm)
            + NS(blob)
        )
        signature = key.sign(signed, signatureType=algorithm)
        self.askForAuth(b"publickey", b"\x01" + NS(algorithm) + NS(blob) + NS(signature))
        return defer.succeed(True)

    def getPassword(self, prompt=None):
        password, self._password = self._password, None
        return None if password is None else defer.succeed(password.encode())

    def auth_keyboard_interactive(self):
        return False


class _Connection(SSHConnection):
    def serviceStarted(self):
        super().serviceStarted()
        self.openChannel(_SftpChannel(conn=self))


class _Sftp(FileTransferClient):
    def __init__(self, ready: defer.Deferred):
        super().__init__()
        self._ready = ready

    def gotServerVersion(self, serverVersion, extData):
        if not self._ready.called:
            self._ready.callback(self)


class _SftpChannel(SSHChannel):
    name = b"session"
    client: _Sftp | None = None

    def channelOpen(self, specificData):
        d = self.conn.sendRequest(self, b"subsystem", NS(b"sftp"), wantReply=True)
        d.addCallbacks(self._subsystem_started, self._subsystem_refused)

    def _subsystem_started(self, _):
        self.client = _Sftp(self.conn.transport.ready)
        self.client.makeConnection(self)

    def _subsystem_refused(self, _):
        target = self.conn.transport.target
        self.conn.transport.fail(SftpClientError(f"{target.where} refused the sftp subsystem"))

    def openFailed(self, reason):
        target = self.conn.transport.target
        self.conn.transport.fail(SftpClientError(f"{target.where} refused a session: {reason}"))

    def dataReceived(self, data):
        if self.client is not None:
            self.client.dataReceived(data)

    def closed(self):
        if self.client is not None:
            self.client.connectionLost(error.ConnectionDone("channel closed"))


@asynccontextmanager
async def _session(target: SftpTarget) -> AsyncIterator[_Sftp]:
    ready: defer.Deferred = defer.Deferred()
    ssh = _Transport(target, ready)
    endpoint = HostnameEndpoint(reactor, target.host, target.port, timeout=target.timeout_s)
    try:
        await connectProtocol(endpoint, ssh)
    except error.ConnectError as e:
        raise SftpClientError(f"cannot connect to {target.where}: {e}") from e
    try:
        yield await _timed(ready, target)
    finally:
        if ssh.transport is not None and ssh.transport.connected:
            ssh.loseConnection()


async def push(target: SftpTarget, local: Path, remote_name: str) -> None:
    """Upload `local` as `remote_name`, under a temporary name first, then renamed into place."""
    directory, _, name = remote_name.rpartition("/")
    temp = f"{directory}/" if directory else ""
    temp += f".{name}.{secrets.token_hex(4)}.part"
    async with _session(target) as sftp:
        handle = await _timed(
            sftp.openFile(temp.encode(), FXF_WRITE | FXF_CREAT | FXF_TRUNC, {}), target
        )
        try:
            with local.open("rb") as source:
                offset, pending = 0, []
                while data := source.read(CHUNK):
                    pending.append(handle.writeChunk(offset, data))
                    offset += len(data)
                    if len(pending) >= WRITE_WINDOW:
                        await _timed(defer.gatherResults(pending, consumeErrors=True), target)
                        pending = []
                await _timed(defer.gatherResults(pending, consumeErrors=True), target)
            await _timed(handle.close(), target)
            await _timed(sftp.renameFile(temp.encode(), remote_name.encode()), target)
        except BaseException:
            # Best effort: a leftover .part file is harmless but untidy.
            sftp.removeFile(temp.encode()).addErrback(lambda _: None)
            raise


def _is_plain_file(name: bytes, longname: bytes, attrs: dict) -> bool:
    if name.startswith(b"."):
        return False
    if "permissions" in attrs:
        return stat.S_ISREG(attrs["permissions"])
    # Servers that send no mode still send an `ls -l` style line.
    return longname.startswith(b"-")


async def _list_files(sftp: _Sftp, remote_dir: str, target: SftpTarget) -> list[bytes]:
    directory = await _timed(sftp.openDirectory(remote_dir.encode()), target)
    names: list[bytes] = []
    try:
        while True:
            try:
                batch = await _timed(directory.read(), target)
            except EOFError:
                break
            names += [
                name for name, longname, attrs in batch if _is_plain_file(name, longname, attrs)
            ]
    finally:
        await _timed(directory.close(), target)
    return sorted(names)


async def _download(sftp: _Sftp, remote: bytes, target: SftpTarget, sink) -> None:
    handle = await _timed(sftp.openFile(remote, FXF_READ, {}), target)
    try:
        offset = 0
        while True:
            try:
                data = await _timed(handle.readChunk(offset, CHUNK), target)
            except EOFError:
                break
            sink.write(data)
            offset += len(data)
    finally:
        await _timed(handle.close(), target)


async def poll(
    target: SftpTarget,
    remote_dir: str,
    handle_file: Callable[[str, bytes | Path], Awaitable[None]],
    after: str = "delete",
    *,
    spool: Path | None = None,
) -> list[str]:
    """Fetch every regular, non-hidden file in `remote_dir`, in name order.

    Each file goes to `handle_file(name, content)`: bytes, or a Path in `spool` when given (the
    handler moves it away if it keeps it; poll removes what is left). Only after the handler
    succeeds is the remote file deleted (`after="delete"`) or moved (`after="move:<dir>"`); a
    failing handler stops the poll and leaves that file for the next one. Returns the names done.
    """
    if after != "delete" and not after.startswith("move:"):
        raise ValueError(f"after must be 'delete' or 'move:<dir>', not {after!r}")
    base = remote_dir.rstrip("/") or "/"
    done: list[str] = []
    async with _session(target) as sftp:
        for raw in await _list_files(sftp, base, target):
            name = raw.decode("utf-8", "surrogateescape")
            remote = f"{base.rstrip('/')}/{name}".encode("utf-8", "surrogateescape")
            if spool is None:
                content: bytes | Path = await _fetch_bytes(sftp, remote, target)
            else:
                content = spool / f".{secrets.token_hex(8)}.part"
            try:
                if isinstance(content, Path):
                    with content.open("wb") as sink:
                        await _download(sftp, remote, target, sink)
                await handle_file(name, content)
            finally:
                if isinstance(content, Path):
                    content.unlink(missing_ok=True)
            if after == "delete":
                await _timed(sftp.removeFile(remote), target)
            else:
                moved = f"{after[5:].rstrip('/')}/{name}".encode("utf-8", "surrogateescape")
                await _timed(sftp.renameFile(remote, moved), target)
            done.append(name)
    return done


async def _fetch_bytes(sftp: _Sftp, remote: bytes, target: SftpTarget) -> bytes:
    buffer = io.BytesIO()
    await _download(sftp, remote, target, buffer)
    return buffer.getvalue()
