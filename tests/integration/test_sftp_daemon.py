"""SFTP through the real daemon with the OpenSSH client: uploads become messages and flow on,
outbound files wait in outbound/ and are marked collected once downloaded."""

import subprocess

import pytest

from tests.support import wait_for, write_partner


def keypair(path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path.with_suffix(".pub").read_text().strip()


@pytest.fixture
def gw(home, daemons):
    public = keypair(home / "partner_key")
    write_partner(home, "acme", f"""\
id: acme
name: ACME by SFTP
sftp:
  username: acme
  authorized_keys: ["{public}"]
  after_download: move
routes:
  - to: [{{directory: out}}]
""")
    return daemons().start()


def sftp(gw, home, *commands):
    batch = home / "batch"
    batch.write_text("\n".join(commands) + "\n")
    return subprocess.run(
        ["sftp", "-b", str(batch), "-P", str(gw.sftp_port), "-i", str(home / "partner_key"),
         "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
         "-o", "BatchMode=yes", "acme@127.0.0.1"],
        capture_output=True, text=True, timeout=60, cwd=home)


def test_upload_flows_through_the_pipeline_and_download_is_collected(gw, home):
    (home / "po.edi").write_bytes(b"ISA*00*~" * 500)
    result = sftp(gw, home, "put po.edi inbound/po.edi")
    assert result.returncode == 0, result.stderr
    delivered = wait_for(lambda: list((home / "out").glob("*_po.edi")), what="delivered")
    assert delivered[0].read_bytes() == (home / "po.edi").read_bytes()
    (message,) = gw.messages()
    assert (message["transport"], message["partner_id"], message["filename"]) == (
        "sftp", "acme", "po.edi")
    assert not list((home / "var/sftp/acme/inbound").iterdir())   # archived, name free again

    assert sftp(gw, home, "put po.edi inbound/po.edi").returncode == 0   # same file again
    wait_for(lambda: 'gateway_messages_total{direction="inbound",partner="acme",'
             'status="duplicate"} 1.0' in gw.metrics(), what="duplicate counted")
    assert len(gw.messages()) == 1

    (home / "ack.edi").write_bytes(b"ST*997*0001~")
    sent = gw.command("send", "--partner", "acme", str(home / "ack.edi")).stdout
    assert sent.rstrip().endswith("by sftp")
    outbound = home / "var/sftp/acme/outbound"
    wait_for(lambda: list(outbound.glob("*_ack.edi")), what="placed in outbound/")
    listing = sftp(gw, home, "ls outbound")
    name = next(line.split("/")[-1] for line in listing.stdout.split() if "ack.edi" in line)
    assert sftp(gw, home, f"get outbound/{name} got.edi").returncode == 0
    assert (home / "got.edi").read_bytes() == b"ST*997*0001~"
    wait_for(lambda: gw.messages("--direction", "outbound")[0]["status"] == "collected",
             what="collected")
    assert (outbound / ".collected" / name).exists() and not (outbound / name).exists()
    text = gw.metrics()
    assert 'gateway_sftp_files_total{direction="in",partner="acme"} 2.0' in text
    assert 'gateway_sftp_sessions_total{partner="acme"}' in text
    assert gw.stop() == 0


def test_wrong_key_is_refused_and_counted(gw, home):
    keypair(home / "other_key")
    for suffix in ("", ".pub"):
        (home / f"other_key{suffix}").replace(home / f"partner_key{suffix}")
    result = sftp(gw, home, "ls")
    assert result.returncode != 0 and "Permission denied" in result.stderr
    wait_for(lambda: "gateway_sftp_auth_failures_total{" in gw.metrics(), what="failure counted")
    assert gw.messages() == []


def test_resend_places_the_same_message_again(gw, home):
    (home / "inv.edi").write_bytes(b"ST*810*0001~")
    gw.command("send", "--partner", "acme", str(home / "inv.edi"))
    outbound = home / "var/sftp/acme/outbound"
    (placed,) = wait_for(lambda: list(outbound.glob("*_inv.edi")), what="placed")
    placed.unlink()   # the partner says it never saw it
    message = gw.messages("--direction", "outbound")[0]
    assert "resend #1" in gw.command("resend", message["id"]).stdout
    wait_for(lambda: (outbound / placed.name).exists(), what="placed again")
    again = gw.messages("--direction", "outbound")
    assert len(again) == 1 and again[0]["message_id"] == message["message_id"]
    assert again[0]["status"] == "awaiting-collection"


def test_daemon_polls_and_pushes_to_a_partners_sshd(home, daemons, sshd):
    target, remote, _ = sshd
    remote_side = (f"{{host: 127.0.0.1, port: {target.port}, username: {target.username}, "
                   f"key: {target.private_key_path}, host_key: '{target.host_key}'")
    write_partner(home, "acme", f"""\
id: acme
name: ACME with its own SFTP server
sftp:
  username: acme
  authorized_keys: ["{keypair(home / 'unused')}"]
  poll: {remote_side}, remote_dir: {remote / 'outbox'}, interval_s: 1}}
  push: {remote_side}, remote_dir: {remote / 'inbox'}}}
routes:
  - to: [{{directory: got}}]
""")
    (remote / "outbox" / "po-1.edi").write_bytes(b"ST*850*0001~")
    gw = daemons().start()
    delivered = wait_for(lambda: list((home / "got").glob("*_po-1.edi")), what="polled")
    assert delivered[0].read_bytes() == b"ST*850*0001~"
    wait_for(lambda: not (remote / "outbox" / "po-1.edi").exists(), what="removed remotely")
    assert gw.messages()[0]["transport"] == "sftp"

    (home / "inv.edi").write_bytes(b"ST*810*0001~")
    assert gw.command("send", "--partner", "acme", str(home / "inv.edi")).stdout.rstrip() \
        .endswith("by sftp-push")
    wait_for(lambda: (remote / "inbox" / "inv.edi").exists(), what="pushed")
    assert (remote / "inbox" / "inv.edi").read_bytes() == b"ST*810*0001~"
    wait_for(lambda: gw.messages("--direction", "outbound")[0]["status"] == "delivered",
             what="push recorded")
    assert gw.stop() == 0
