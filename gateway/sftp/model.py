"""The values the SFTP server is configured with: partner accounts, limits, and the event hooks."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SftpAccount:
    """One virtual SFTP user per trading partner."""

    partner_id: str
    username: str
    authorized_keys: tuple[str, ...] = ()  # OpenSSH public key lines
    password_hash: str | None = None  # bcrypt hash; None means key-only


@dataclass(frozen=True)
class SftpLimits:
    max_file_bytes: int = 100 * 1024 * 1024
    max_sessions_per_partner: int = 4
    idle_timeout_s: float = 300.0
    failed_login_threshold: int = 5  # failures per username, and per peer IP, within lockout_s
    lockout_s: float = 900.0


class SftpEvents:
    """Hooks for metrics; the default does nothing. Override the methods you need.

    `username` in auth_failed is "(unknown)" for names that are not accounts, so a scan
    cannot blow up metric label sets.
    """

    def session_opened(self, partner: str) -> None:
        pass

    def auth_failed(self, username: str, reason: str) -> None:
        pass

    def file_received(self, partner: str, size: int) -> None:
        pass

    def file_sent(self, partner: str, size: int) -> None:
        pass

    def transfer_failed(self, partner: str, reason: str) -> None:
        pass

    def limit_reached(self, partner: str, limit: str) -> None:
        """`limit` is one of "max_sessions_per_partner", "idle_timeout_s", "max_file_bytes"."""
