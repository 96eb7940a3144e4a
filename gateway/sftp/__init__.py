"""SFTP transport: the partner-facing server (jailed, SFTP only) and the outbound client."""

from gateway.sftp.client import (
    AuthenticationFailed,
    HostKeyMismatch,
    SftpClientError,
    SftpTarget,
    poll,
    push,
)
from gateway.sftp.model import SftpAccount, SftpEvents, SftpLimits
from gateway.sftp.server import make_factory

__all__ = [
    "AuthenticationFailed",
    "HostKeyMismatch",
    "SftpAccount",
    "SftpClientError",
    "SftpEvents",
    "SftpLimits",
    "SftpTarget",
    "make_factory",
    "poll",
    "push",
]
