"""The SFTP server: a Conch factory whose partners get the SFTP subsystem and nothing else."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from twisted.conch.avatar import ConchUser
from twisted.conch.interfaces import IConchUser
from twisted.conch.ssh import keys
from twisted.conch.ssh.connection import SSHConnection
from twisted.conch.ssh.factory import SSHFactory
from twisted.conch.ssh.session import SSHSession
from twisted.conch.ssh.transport import DISCONNECT_BY_APPLICATION, SSHServerTransport
from twisted.cred.portal import IRealm, Portal
from twisted.protocols.policies import TimeoutMixin
from zope.interface import implementer

from gateway.sftp import jail
from gateway.sftp.auth import (
    GatewayUserAuth,
    KeyChecker,
    LoginRefused,
    PasswordChecker,
    SessionLimitReached,
    Throttle,
)
from gateway.sftp.files import (
    INBOUND,
    OUTBOUND,
    PartnerFiles,
    PartnerFileTransferServer,
    Transfers,
)
from gateway.sftp.model import SftpAccount, SftpEvents, SftpLimits


def load_host_key(path: Path) -> keys.Key:
    """The server's Ed25519 host key, generated (mode 0600) on first start and reused after."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process generated it first; use that one
            pass
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
    return keys.Key.fromFile(str(path))


def partner_home(root: Path, partner_id: str) -> Path:
    """<root>/<partner>/ with inbound/ and outbound/, created if missing."""
    if jail.split(partner_id) != (partner_id,) or partner_id.startswith("."):
        raise ValueError(f"partner id {partner_id!r} cannot name a directory")
    home = root / partner_id
    for area in (INBOUND, OUTBOUND):
        (home / area).mkdir(parents=True, exist_ok=True)
        if (home / area).is_symlink():
            # The jail never follows links; one here would quietly move a partner elsewhere.
            raise ValueError(f"{home / area} is a symbolic link")
    return home


class SftpOnlySession(SSHSession):
    """A session channel that runs the sftp subsystem and refuses shell, exec, pty, env, x11,
    agent forwarding and everything else."""

    def requestReceived(self, requestType, data):
        if requestType == b"subsystem":
            return super().requestReceived(requestType, data)
        return 0


class PartnerAvatar(ConchUser):
    def __init__(self, files: PartnerFiles):
        super().__init__()
        self.partner_id = files.partner_id
        self._files = files
        # No direct-tcpip channel and no global_* handlers: port forwarding is refused.
        self.channelLookup = {b"session": SftpOnlySession}
        self.subsystemLookup = {b"sftp": self._sftp}

    def _sftp(self, data, avatar):
        return PartnerFileTransferServer(data, avatar=self._files)


@implementer(IRealm)
class PartnerRealm:
    def __init__(self, factory: GatewaySSHFactory):
        self._factory = factory

    def requestAvatar(self, avatarId, mind, *interfaces):
        factory = self._factory
        account = factory.accounts(avatarId.decode("utf-8"))
        if account is None:  # removed between the credential check and now
            raise LoginRefused("unknown-user")
        partner = account.partner_id
        if factory.sessions[partner] >= factory.limits.max_sessions_per_partner:
            raise SessionLimitReached(partner)
        files = PartnerFiles(partner, partner_home(factory.root, partner), factory.transfers)
        factory.sessions[partner] += 1
        factory.events.session_opened(partner)

        def logout():
            factory.sessions[partner] -= 1

        return IConchUser, PartnerAvatar(files), logout


class GatewayServerTransport(SSHServerTransport, TimeoutMixin):
    """The SSH transport, disconnecting a connection that sends nothing for idle_timeout_s."""

    ourVersionString = b"SSH-2.0-EDIGateway"  # not the Twisted version, for scanners to match

    def connectionMade(self):
        super().connectionMade()
        self.setTimeout(self.factory.limits.idle_timeout_s)

    def dataReceived(self, data):
        self.resetTimeout()
        super().dataReceived(data)

    def timeoutConnection(self):
        partner = getattr(getattr(self, "avatar", None), "partner_id", "")
        self.factory.events.limit_reached(partner, "idle_timeout_s")
        self.sendDisconnect(DISCONNECT_BY_APPLICATION, b"idle timeout")

    def connectionLost(self, reason):
        self.setTimeout(None)
        super().connectionLost(reason)


class GatewaySSHFactory(SSHFactory):
    protocol = GatewayServerTransport
    services = {b"ssh-userauth": GatewayUserAuth, b"ssh-connection": SSHConnection}

    def __init__(
        self,
        *,
        accounts: Callable[[str], SftpAccount | None],
        root: Path,
        host_key: keys.Key,
        transfers: Transfers,
    ):
        self.accounts = accounts
        self.root = root
        self.transfers = transfers
        self.limits = transfers.limits
        self.events = transfers.events
        self.throttle = Throttle(self.limits.failed_login_threshold, self.limits.lockout_s)
        self.sessions: Counter[str] = Counter()
        self.privateKeys = {host_key.sshType(): host_key}
        self.publicKeys = {host_key.sshType(): host_key.public()}
        self.portal = Portal(PartnerRealm(self), [KeyChecker(accounts), PasswordChecker(accounts)])


def make_factory(
    *,
    accounts: Callable[[str], SftpAccount | None],
    root: Path,
    host_key_path: Path,
    on_upload: Callable[[str, Path], Awaitable[None]],
    on_download: Callable[[str, Path], Awaitable[None]],
    limits: SftpLimits,
    events: SftpEvents | None = None,
) -> GatewaySSHFactory:
    """The factory to listen with, e.g. `reactor.listenTCP(2222, make_factory(...))`."""
    return GatewaySSHFactory(
        accounts=accounts,
        root=root,
        host_key=load_host_key(host_key_path),
        transfers=Transfers(on_upload, on_download, limits, events or SftpEvents()),
    )
