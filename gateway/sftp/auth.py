"""Who may log in over SFTP: partner keys and bcrypt passwords, with lockout after failed logins."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from functools import cache

import bcrypt
from twisted.conch.error import IgnoreAuthentication, ValidPublicKey
from twisted.conch.ssh import keys, transport
from twisted.conch.ssh.userauth import SSHUserAuthServer
from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.credentials import ISSHPrivateKey, IUsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.internet import defer, reactor
from twisted.internet.threads import deferToThread
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from gateway.sftp.model import SftpAccount

log = Logger()

UNKNOWN_USER = "(unknown)"
# Bounds the memory an attacker can make us spend by spraying usernames or source addresses.
MAX_TRACKED = 10_000


class LoginRefused(UnauthorizedLogin):
    """A failed login, with the reason reported to metrics (never to the client)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class SessionLimitReached(UnauthorizedLogin):
    def __init__(self, partner_id: str):
        super().__init__(f"partner {partner_id} has too many open sessions")
        self.partner_id = partner_id


class Throttle:
    """Counts failed logins per key (username, peer address) in a sliding window."""

    def __init__(self, threshold: int, window_s: float, clock=reactor):
        self._threshold = threshold
        self._window_s = window_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str) -> deque[float]:
        times = self._failures.get(key, deque())
        horizon = self._clock.seconds() - self._window_s
        while times and times[0] < horizon:
            times.popleft()
        return times

    def locked(self, keys: tuple[str, ...]) -> bool:
        return any(len(self._recent(k)) >= self._threshold for k in keys)

    def failed(self, keys: tuple[str, ...]) -> None:
        if len(self._failures) >= MAX_TRACKED:
            self._failures = {k: t for k, t in self._failures.items() if self._recent(k)}
            while len(self._failures) >= MAX_TRACKED:
                del self._failures[next(iter(self._failures))]
        now = self._clock.seconds()
        for key in keys:
            times = self._recent(key)
            times.append(now)
            self._failures[key] = times

    def succeeded(self, keys: tuple[str, ...]) -> None:
        for key in keys:
            self._failures.pop(key, None)


def _username(credentials) -> str:
    try:
        return credentials.username.decode("utf-8")
    except UnicodeDecodeError:
        return ""


def _parse_keys(account: SftpAccount) -> list[keys.Key]:
    parsed = []
    for line in account.authorized_keys:
        try:
            parsed.append(keys.Key.fromString(line.strip().encode()))
        except (keys.BadKeyError, ValueError):
            log.warn("partner {p}: ignoring an unparsable authorized key", p=account.partner_id)
    return parsed


@implementer(ICredentialsChecker)
class KeyChecker:
    credentialInterfaces = (ISSHPrivateKey,)

    def __init__(self, accounts: Callable[[str], SftpAccount | None]):
        self._accounts = accounts

    def requestAvatarId(self, credentials):
        return defer.execute(self._check, credentials)

    def _check(self, credentials) -> bytes:
        account = self._accounts(_username(credentials))
        if account is None:
            raise LoginRefused("unknown-user")
        try:
            offered = keys.Key.fromString(credentials.blob)
        except keys.BadKeyError:
            raise LoginRefused("bad-key") from None
        if offered not in _parse_keys(account):
            raise LoginRefused("key-not-authorized")
        if not credentials.signature:
            # The client only asked whether this key would do; it will sign next.
            raise ValidPublicKey()
        if not offered.verify(credentials.signature, credentials.sigData):
            raise LoginRefused("bad-signature")
        return credentials.username


@cache
def _decoy_hash() -> bytes:
    return bcrypt.hashpw(b"decoy", bcrypt.gensalt())


def _password_matches(password: bytes, hashed: bytes) -> bool:
    try:
        return bcrypt.checkpw(password, hashed)
    except ValueError:  # over-long password (bcrypt >= 5) or a malformed stored hash
        return False


@implementer(ICredentialsChecker)
class PasswordChecker:
    credentialInterfaces = (IUsernamePassword,)

    def __init__(self, accounts: Callable[[str], SftpAccount | None]):
        self._accounts = accounts

    def requestAvatarId(self, credentials):
        return defer.ensureDeferred(self._check(credentials))

    async def _check(self, credentials) -> bytes:
        account = self._accounts(_username(credentials))
        stored = account.password_hash if account else None
        # Unknown users and key-only accounts cost a bcrypt round too, so timing does not tell
        # which usernames exist.
        hashed = stored.encode() if stored else await deferToThread(_decoy_hash)
        matches = await deferToThread(_password_matches, credentials.password, hashed)
        if account is None:
            raise LoginRefused("unknown-user")
        if not stored or not matches:
            raise LoginRefused("bad-password")
        return credentials.username


class GatewayUserAuth(SSHUserAuthServer):
    """ssh-userauth with lockout, session limits and auth events (state lives on the factory)."""

    loginTimeout = 120
    attemptsBeforeDisconnect = 6

    def tryAuth(self, kind, user, data):
        if kind not in (b"password", b"publickey"):
            return super().tryAuth(kind, user, data)
        factory = self.transport.factory
        username = user.decode("utf-8", "replace")
        label = username if factory.accounts(username) else UNKNOWN_USER
        peer = self.transport.transport.getPeer()
        keys_ = (f"user:{username}", f"ip:{getattr(peer, 'host', peer)}")
        if factory.throttle.locked(keys_):
            factory.events.auth_failed(label, "locked-out")
            self.transport.sendDisconnect(
                transport.DISCONNECT_NO_MORE_AUTH_METHODS_AVAILABLE,
                b"too many failed logins, try again later",
            )
            return defer.fail(IgnoreAuthentication())
        # A publickey request without a signature only asks whether a key is acceptable; a
        # client holding several keys asks several times, which is no guessing.
        attempt = kind == b"password" or data[:1] != b"\x00"

        def succeeded(result):
            factory.throttle.succeeded(keys_)
            return result

        def failed(reason: Failure):
            if reason.check(SessionLimitReached):
                factory.events.limit_reached(reason.value.partner_id, "max_sessions_per_partner")
                self.transport.sendDisconnect(
                    transport.DISCONNECT_TOO_MANY_CONNECTIONS,
                    b"too many open sessions for this partner",
                )
                return Failure(IgnoreAuthentication())
            if reason.check(LoginRefused):
                factory.events.auth_failed(label, reason.value.reason)
                if attempt:
                    factory.throttle.failed(keys_)
            return reason

        return super().tryAuth(kind, user, data).addCallbacks(succeeded, failed)
