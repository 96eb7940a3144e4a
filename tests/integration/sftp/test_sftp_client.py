"""gateway.sftp.client (push, poll) against a real OpenSSH sshd started on a free loopback port."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from twisted.conch.ssh.filetransfer import SFTPError

from gateway.sftp.client import (
    AuthenticationFailed,
    HostKeyMismatch,
    SftpClientError,
    SftpTarget,
    poll,
    push,
)
from tests.integration.sftp.sftp_support import (
    PASSWORD,
    call,
    free_port,
    make_key,
)


def test_push_uploads_under_temp_name_then_renames(sshd, tmp_path):
    target, remote, _ = sshd
    local = tmp_path / "810.edi"
    local.write_bytes(os.urandom(1_500_000))
    call(push, target, local, f"{remote}/inbox/810.edi")
    assert os.listdir(remote / "inbox") == ["810.edi"]
    assert (remote / "inbox" / "810.edi").read_bytes() == local.read_bytes()


def test_poll_delete(sshd):
    target, remote, _ = sshd
    files = {"a.edi": b"ISA*a~", "b.edi": os.urandom(100_000), ".hidden": b"skip"}
    for name, data in files.items():
        (remote / "outbox" / name).write_bytes(data)
    (remote / "outbox" / "subdir").mkdir()
    got = {}

    async def handle(name, content):
        got[name] = content

    done = call(poll, target, f"{remote}/outbox", handle, "delete")
    assert done == ["a.edi", "b.edi"]
    assert got == {"a.edi": files["a.edi"], "b.edi": files["b.edi"]}
    assert sorted(os.listdir(remote / "outbox")) == [".hidden", "subdir"]


def test_poll_move_to_spool_paths(sshd, tmp_path):
    target, remote, _ = sshd
    (remote / "outbox" / "997.edi").write_bytes(b"ISA*997~")
    spool = tmp_path / "spool"
    spool.mkdir()
    got = {}

    async def handle(name, content: Path):
        got[name] = content.read_bytes()

    done = call(poll, target, f"{remote}/outbox", handle, f"move:{remote}/archive", spool=spool)
    assert done == ["997.edi"] and got == {"997.edi": b"ISA*997~"}
    assert os.listdir(remote / "outbox") == []
    assert os.listdir(remote / "archive") == ["997.edi"]
    assert os.listdir(spool) == []


def test_failing_handler_leaves_the_file(sshd):
    target, remote, _ = sshd
    (remote / "outbox" / "a.edi").write_bytes(b"ISA~")

    async def handle(name, content):
        raise RuntimeError("store unavailable")

    with pytest.raises(RuntimeError):
        call(poll, target, f"{remote}/outbox", handle, "delete")
    assert os.listdir(remote / "outbox") == ["a.edi"]


def test_host_key_pinned_by_fingerprint(sshd, tmp_path):
    target, remote, host = sshd
    line = subprocess.run(
        ["ssh-keygen", "-l", "-f", f"{host.private}.pub"],
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    ).stdout
    fingerprint = line.split()[1]
    assert fingerprint.startswith("SHA256:")
    local = tmp_path / "x.edi"
    local.write_text("ISA~")
    pinned = SftpTarget(**{**target.__dict__, "host_key": fingerprint})
    call(push, pinned, local, f"{remote}/inbox/x.edi")
    assert os.listdir(remote / "inbox") == ["x.edi"]


def test_changed_host_key_is_refused(sshd, tmp_path):
    target, remote, _ = sshd
    local = tmp_path / "x.edi"
    local.write_text("ISA~")
    other = make_key(tmp_path / "other_host")
    for pin in (other.public_line, "SHA256:" + "A" * 43):
        with pytest.raises(HostKeyMismatch, match="presented host key SHA256:"):
            call(push, SftpTarget(**{**target.__dict__, "host_key": pin}), local, "x.edi")
    assert os.listdir(remote / "inbox") == []


def test_wrong_user_key_is_refused(sshd, tmp_path):
    target, _, _ = sshd
    stranger = make_key(tmp_path / "stranger")
    bad = SftpTarget(**{**target.__dict__, "private_key_path": stranger.private})
    with pytest.raises(AuthenticationFailed):
        call(poll, bad, "/tmp", _ignore, "delete")


def test_nothing_listening(tmp_path):
    target = SftpTarget(
        host="127.0.0.1",
        port=free_port(),
        username="x",
        host_key="SHA256:x",
        password="x",
        timeout_s=5,
    )
    with pytest.raises(SftpClientError, match="cannot connect"):
        call(poll, target, "/", _ignore, "delete")


def test_target_is_validated():
    with pytest.raises(ValueError, match="private key path, a password"):
        SftpTarget(host="h", username="u", host_key="SHA256:x")
    with pytest.raises(ValueError, match="OpenSSH public key line"):
        SftpTarget(host="h", username="u", host_key="not a key", password="p")


async def _ignore(name, content):
    pass


def test_rsa_user_key_signs_with_sha2(sshd, tmp_path):
    target, remote, _ = sshd
    rsa = tmp_path / "user_rsa"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "rsa", "-b", "3072", "-N", "", "-f", str(rsa)],
        check=True,
        timeout=60,
    )
    authorized = Path(target.private_key_path).parent / "authorized_keys"
    authorized.write_text(authorized.read_text() + rsa.with_suffix(".pub").read_text())
    local = tmp_path / "x.edi"
    local.write_text("ISA~")
    call(
        push, SftpTarget(**{**target.__dict__, "private_key_path": rsa}), local, f"{remote}/inbox/r"
    )
    assert os.listdir(remote / "inbox") == ["r"]


def test_password_login_against_the_gateway_server(gateway):
    """The Conch client against the Conch server: password auth, download, on_download."""
    outbound = gateway.home("acme") / "outbound"
    outbound.mkdir(parents=True)
    (outbound / "855.edi").write_bytes(b"ISA*855~")
    target = SftpTarget(
        host="127.0.0.1", port=gateway.port, username="acme", host_key=gateway.host_key,
        password=PASSWORD, timeout_s=15,
    )  # fmt: skip
    got = {}

    async def handle(name, content):
        got[name] = content

    # The gateway lets partners read outbound/ but never delete: poll fetches, then is refused.
    with pytest.raises(SFTPError, match="cannot be removed"):
        call(poll, target, "/outbound", handle, "delete")
    assert got == {"855.edi": b"ISA*855~"}
    assert gateway.downloads == [("acme", outbound / "855.edi")]
