"""The gateway SFTP server driven by paramiko over real loopback sockets."""

from __future__ import annotations

import io
import os
import stat
import threading

import paramiko
import pytest

from gateway.sftp.files import MAX_OPEN_FILES
from gateway.sftp.model import SftpLimits
from gateway.sftp.server import load_host_key
from tests.integration.sftp.sftp_support import PASSWORD, wait_for


def upload(sftp: paramiko.SFTPClient, remote: str, data: bytes) -> None:
    # confirm=False: the gateway may move a received file away, so a stat after close may miss.
    sftp.putfo(io.BytesIO(data), remote, confirm=False)


def inbound_names(gw, partner="acme") -> list[str]:
    return sorted(os.listdir(gw.home(partner) / "inbound"))


def test_upload_with_key_reaches_on_upload(gateway, keys):
    data = os.urandom(300_000)
    with gateway.sftp("acme", key=keys("acme")) as sftp:
        assert sorted(sftp.listdir("/")) == ["inbound", "outbound"]
        upload(sftp, "inbound/order-1.edi", data)
        assert sftp.listdir("inbound") == ["order-1.edi"]
    final = gateway.home("acme") / "inbound" / "order-1.edi"
    assert gateway.uploads == [("acme", final, data)]
    assert inbound_names(gateway) == ["order-1.edi"]
    assert ("session_opened", "acme") in gateway.events.seen
    assert ("file_received", "acme", len(data)) in gateway.events.seen


def test_password_login(gateway):
    with gateway.sftp("acme", password=PASSWORD) as sftp:
        upload(sftp, "/inbound/by-password.edi", b"ISA*00~")
    assert [u[2] for u in gateway.uploads] == [b"ISA*00~"]


def test_wrong_key_is_refused(gateway, keys):
    with pytest.raises(paramiko.AuthenticationException):
        gateway.connect("acme", key=keys("stranger"))
    with pytest.raises(paramiko.AuthenticationException):
        gateway.connect("nobody", key=keys("acme"))
    assert ("auth_failed", "acme", "key-not-authorized") in gateway.events.seen
    assert ("auth_failed", "(unknown)", "unknown-user") in gateway.events.seen


def test_wrong_password_is_refused(gateway):
    with pytest.raises(paramiko.AuthenticationException):
        gateway.connect("acme", password="guess")
    with pytest.raises(paramiko.AuthenticationException):
        gateway.connect("globex", password=PASSWORD)  # key-only account
    assert ("auth_failed", "acme", "bad-password") in gateway.events.seen
    assert ("auth_failed", "globex", "bad-password") in gateway.events.seen


def test_lockout_after_failed_logins(gateway_factory, keys):
    gw = gateway_factory(SftpLimits(failed_login_threshold=3, lockout_s=60))
    for _ in range(3):
        with pytest.raises(paramiko.AuthenticationException):
            gw.connect("acme", password="guess")
    # Now even the right password, and another account from the same address, are refused.
    with pytest.raises(paramiko.SSHException):
        gw.connect("acme", password=PASSWORD)
    with pytest.raises(paramiko.SSHException):
        gw.connect("globex", key=keys("globex"))
    assert ("auth_failed", "acme", "locked-out") in gw.events.seen
    assert ("auth_failed", "globex", "locked-out") in gw.events.seen
    assert gw.uploads == []


def test_traversal_absolute_paths_and_symlinks_are_refused(gateway, keys, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    (gateway.home("acme") / "outbound").mkdir(parents=True, exist_ok=True)
    os.symlink(outside, gateway.home("acme") / "outbound" / "link.edi")
    with gateway.sftp("acme", key=keys("acme")) as sftp:
        for path in ["../../etc/x", "/../x", "inbound/../../x", "../globex/inbound/x"]:
            with pytest.raises(PermissionError):
                upload(sftp, path, b"x")
        for path in ["/etc/passwd", "/outbound/link.edi", "../../../../etc/passwd"]:
            with pytest.raises(OSError):
                sftp.open(path, "r").read()
        with pytest.raises(PermissionError):
            upload(sftp, "outbound/x.edi", b"x")  # uploads only into inbound
        with pytest.raises(PermissionError):
            upload(sftp, "inbound/.hidden", b"x")
        with pytest.raises(PermissionError):
            sftp.symlink("/etc/passwd", "inbound/passwd")
        with pytest.raises(PermissionError):
            sftp.mkdir("inbound/sub")
        assert sftp.normalize("inbound/../outbound/") == "/outbound"
        with pytest.raises(PermissionError, match="above the root"):
            sftp.normalize("../../..")
        assert sftp.listdir("outbound") == []  # the link is not shown
    assert not (gateway.root / "etc").exists()
    assert inbound_names(gateway) == []


def test_too_large_file_is_refused(gateway_factory, keys):
    gw = gateway_factory(SftpLimits(max_file_bytes=100_000))
    with gw.sftp("acme", key=keys("acme")) as sftp:
        with pytest.raises(OSError, match="limit"):
            # Unpipelined writes, so the refusal surfaces (paramiko's close() hides errors).
            with sftp.open("inbound/big.edi", "w") as handle:
                handle.write(b"x" * 150_000)
        upload(sftp, "inbound/small.edi", b"x" * 100_000)
    assert inbound_names(gw) == ["small.edi"]
    assert ("limit_reached", "acme", "max_file_bytes") in gw.events.seen


def test_concurrent_uploads_from_two_partners(gateway, keys):
    payloads = {
        p: {f"f{i}.edi": os.urandom(500_000 + i) for i in range(3)} for p in ("acme", "globex")
    }
    errors = []

    def partner_uploads(partner):
        try:
            with gateway.sftp(partner, key=keys(partner)) as sftp:
                for name, data in payloads[partner].items():
                    upload(sftp, f"inbound/{name}", data)
        except Exception as e:  # surfaced in the main thread below
            errors.append(e)

    threads = [threading.Thread(target=partner_uploads, args=(p,)) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    received = {(p, path.name): data for p, path, data in gateway.uploads}
    expected = {(p, n): d for p, files in payloads.items() for n, d in files.items()}
    assert received == expected
    for partner in payloads:
        assert inbound_names(gateway, partner) == sorted(payloads[partner])


def test_dropped_connection_mid_upload_leaves_nothing(gateway, keys):
    client = gateway.connect("acme", key=keys("acme"))
    sftp = client.open_sftp()
    handle = sftp.open("inbound/half.edi", "w")
    handle.write(b"x" * 200_000)
    handle.flush()
    assert any(n.startswith(".upload-") for n in inbound_names(gateway))
    client.get_transport().close()
    wait_for(lambda: inbound_names(gateway) == [], what="the partial upload to be removed")
    wait_for(
        lambda: ("transfer_failed", "acme", "interrupted") in gateway.events.seen,
        what="the interrupted transfer event",
    )
    assert gateway.uploads == []


def test_existing_name_is_not_overwritten(gateway, keys):
    with gateway.sftp("acme", key=keys("acme")) as sftp:
        upload(sftp, "inbound/dup.edi", b"first")
        with pytest.raises(OSError):
            upload(sftp, "inbound/dup.edi", b"second")
    assert (gateway.home("acme") / "inbound" / "dup.edi").read_bytes() == b"first"


def test_download_calls_on_download_after_whole_read(gateway, keys):
    outbound = gateway.home("acme") / "outbound"
    outbound.mkdir(parents=True)
    data = os.urandom(700_000)
    (outbound / "855.edi").write_bytes(data)
    (outbound / "810.edi").write_bytes(data)
    with gateway.sftp("acme", key=keys("acme")) as sftp:
        assert sorted(sftp.listdir("outbound")) == ["810.edi", "855.edi"]
        attrs = sftp.stat("outbound/855.edi")
        assert attrs.st_size == len(data) and stat.S_ISREG(attrs.st_mode)
        with sftp.open("outbound/810.edi", "r") as partial:
            partial.read(1000)
        got = io.BytesIO()
        sftp.getfo("outbound/855.edi", got)
    assert got.getvalue() == data
    assert gateway.downloads == [("acme", outbound / "855.edi")]
    assert ("file_sent", "acme", len(data)) in gateway.events.seen


def test_only_the_sftp_subsystem(gateway, keys):
    client = gateway.connect("acme", key=keys("acme"))
    try:
        transport = client.get_transport()
        with pytest.raises(paramiko.SSHException):
            client.exec_command("id", timeout=10)
        channel = transport.open_session(timeout=10)
        with pytest.raises(paramiko.SSHException):
            channel.invoke_shell()
        with pytest.raises(paramiko.ChannelException):
            transport.open_channel("direct-tcpip", ("127.0.0.1", 22), ("127.0.0.1", 0), timeout=10)
        with pytest.raises(paramiko.SSHException):
            transport.request_port_forward("127.0.0.1", 0)
    finally:
        client.close()


def test_session_limit_per_partner(gateway_factory, keys):
    gw = gateway_factory(SftpLimits(max_sessions_per_partner=1))
    first = gw.connect("acme", key=keys("acme"))
    try:
        with pytest.raises(paramiko.SSHException):
            gw.connect("acme", key=keys("acme"))
        gw.connect("globex", key=keys("globex")).close()  # other partners are unaffected
    finally:
        first.close()
    assert ("limit_reached", "acme", "max_sessions_per_partner") in gw.events.seen
    wait_for(lambda: _can_login(gw, keys), what="the session slot to be freed")


def _can_login(gw, keys) -> bool:
    try:
        gw.connect("acme", key=keys("acme")).close()
        return True
    except paramiko.SSHException:
        return False


def test_idle_connection_is_closed(gateway_factory, keys):
    gw = gateway_factory(SftpLimits(idle_timeout_s=0.5))
    client = gw.connect("acme", key=keys("acme"))
    try:
        wait_for(lambda: not client.get_transport().is_active(), what="the idle disconnect")
    finally:
        client.close()
    assert ("limit_reached", "acme", "idle_timeout_s") in gw.events.seen


def test_open_handles_are_capped(gateway, keys):
    with gateway.sftp("acme", key=keys("acme")) as sftp:
        handles = [sftp.open(f"inbound/f{i}", "w") for i in range(MAX_OPEN_FILES)]
        with pytest.raises(OSError, match="files open at once"):
            sftp.open("inbound/one-too-many", "w")
        for handle in handles:
            handle.close()
        upload(sftp, "inbound/after.edi", b"ISA~")
    assert len(gateway.uploads) == MAX_OPEN_FILES + 1


def test_host_key_is_generated_once_and_private(tmp_path):
    path = tmp_path / "state" / "ssh_host_ed25519_key"
    first = load_host_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.type() == "Ed25519" and first.isPublic() is False
    assert load_host_key(path) == first
