"""The gateway SFTP server driven by the real OpenSSH `sftp` client in batch mode."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.skipif(shutil.which("sftp") is None, reason="needs OpenSSH sftp")


def sftp_batch(gw, user, key, commands: str, tmp_path) -> subprocess.CompletedProcess:
    batch = tmp_path / "batch"
    batch.write_text(commands)
    return subprocess.run(
        [
            "sftp",
            "-b", str(batch),
            "-P", str(gw.port),
            "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null",
            "-o", "IdentitiesOnly=yes",
            "-o", "ConnectTimeout=10",
            "-i", str(key.private),
            f"{user}@127.0.0.1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip


def test_put_ls_get(gateway, keys, tmp_path):
    local = tmp_path / "850.edi"
    local.write_bytes(os.urandom(1_000_000))
    outbound = gateway.home("acme") / "outbound"
    outbound.mkdir(parents=True)
    (outbound / "855.edi").write_bytes(b"ISA*00*855~")
    run = sftp_batch(
        gateway,
        "acme",
        keys("acme"),
        f"""pwd
ls
cd inbound
put {local} 850.edi
ls -l
cd /outbound
get 855.edi {tmp_path}/855.edi
""",
        tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert "Remote working directory: /" in run.stdout
    final = gateway.home("acme") / "inbound" / "850.edi"
    assert gateway.uploads == [("acme", final, local.read_bytes())]
    assert (tmp_path / "855.edi").read_bytes() == b"ISA*00*855~"
    assert gateway.downloads == [("acme", outbound / "855.edi")]


@pytest.mark.parametrize(
    "command",
    [
        "put {local} ../../etc/x",
        "put {local} /../etc/x",
        "put {local} /etc/x",
        "put {local} /outbound/x",
        "get /etc/passwd {tmp}/passwd",
        "get ../../../../etc/passwd {tmp}/passwd",
        "symlink /etc/passwd inbound/passwd",
        "rename inbound/a inbound/b",
        "rm inbound/a",
        "mkdir inbound/sub",
    ],
)
def test_refused_operations(gateway, keys, tmp_path, command):
    local = tmp_path / "x.edi"
    local.write_text("ISA~")
    run = sftp_batch(
        gateway, "acme", keys("acme"), command.format(local=local, tmp=tmp_path), tmp_path
    )
    assert run.returncode != 0
    assert "denied" in run.stderr.lower() or "not found" in run.stderr.lower(), run.stderr
    assert gateway.uploads == []
    assert not (tmp_path / "passwd").exists()
    assert not (gateway.root / "etc").exists()


def test_failed_on_upload_is_reported_on_close(gateway, keys, tmp_path):
    local = tmp_path / "x.edi"
    local.write_text("ISA~")
    gateway.fail_uploads = True
    run = sftp_batch(gateway, "acme", keys("acme"), f"put {local} inbound/x.edi\n", tmp_path)
    assert run.returncode != 0
    assert "close" in run.stderr.lower(), run.stderr
    assert os.listdir(gateway.home("acme") / "inbound") == []
    gateway.fail_uploads = False
    run = sftp_batch(gateway, "acme", keys("acme"), f"put {local} inbound/x.edi\n", tmp_path)
    assert run.returncode == 0, run.stderr
    assert [path.name for _, path, _ in gateway.uploads] == ["x.edi"]


def test_wrong_key_is_refused(gateway, keys, tmp_path):
    run = sftp_batch(gateway, "acme", keys("stranger"), "ls\n", tmp_path)
    assert run.returncode != 0
    assert "Permission denied" in run.stderr
