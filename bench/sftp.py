"""Benchmark of the SFTP server: uploads to the gateway and to OpenSSH's sshd, side by side.

The same client (OpenSSH ``sftp`` in batch mode, an ed25519 key, loopback) uploads to each:

- one file of random bytes (``--big-mb``, default 100): MB/s;
- ``--files`` files of ``--size-kb`` (default 1000 of 10 kB), one session: files/s;

each ``--repeat`` times (default 3), medians printed, with the server's peak resident memory
(sum of VmRSS over the server process and its children, sampled every 0.1 s) and the CPU
seconds it used (its own and its reaped children's) per upload session. The wall time of the
client is the measure: the gateway answers the client's close only once the file is durable
and recorded. The gateway does more than sshd: it fsyncs each upload, archives it under its
sha256 (fsynced), records a message in SQLite and queues it, and its worker delivers it to a
directory; sshd writes the file. For the gateway, also: seconds from the start of a small-files
session until /metrics counts them all (gateway_sftp_files_total) and until all are delivered.

Usage: .venv/bin/python bench/sftp.py [--big-mb 100] [--files 1000] [--size-kb 10] [--repeat 3]
(prints figures, never passes or fails on time)
"""

import argparse
import contextlib
import getpass
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gateway.config import JobSettings  # noqa: E402
from tests.support import Daemon, descendants, free_port, wait_for, write_partner  # noqa: E402

SSHD = "/usr/sbin/sshd"
PARTNER = "bench"
KB, MB = 1000, 1000 * 1000
TICK = os.sysconf("SC_CLK_TCK")
COLUMNS = ["big MB/s", "big CPU s", "big RSS MB", "files/s", "small CPU s", "small RSS MB"]


@dataclass
class Target:
    name: str
    port: int
    user: str
    remote_dir: str
    pid: int
    runs: dict[str, list[float]] = field(default_factory=dict)

    def record(self, figure: str, value: float) -> None:
        self.runs.setdefault(figure, []).append(value)

    def median(self, figure: str) -> float:
        return statistics.median(self.runs[figure])


def keypair(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path.with_suffix(".pub").read_text().strip()


def start_gateway(home: Path, public_key: str) -> Daemon:
    write_partner(home, PARTNER, f"""\
id: {PARTNER}
name: SFTP benchmark
sftp:
  username: {PARTNER}
  authorized_keys: ["{public_key}"]
routes:
  - to: [{{directory: out}}]
""")
    # tests.support polls the job queue every 0.05 s for quick tests; use the gateway's default.
    poll = {"GATEWAY_JOBS_POLL_INTERVAL_S": str(JobSettings().poll_interval_s)}
    return Daemon(home, poll).start()


def start_sshd(home: Path, public_key: str) -> tuple[subprocess.Popen, int]:
    """sshd on a free loopback port, with its own host key, config and authorized_keys."""
    home.mkdir()
    (home / "authorized_keys").write_text(public_key + "\n")
    keypair(home / "host_key")
    port = free_port()
    (home / "sshd_config").write_text(f"""\
Port {port}
ListenAddress 127.0.0.1
HostKey {home}/host_key
PidFile {home}/sshd.pid
AuthorizedKeysFile {home}/authorized_keys
Subsystem sftp internal-sftp
UsePAM no
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
""")
    Path("/run/sshd").mkdir(exist_ok=True)
    with open(home / "sshd.log", "wb") as log:
        proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(home / "sshd_config")],
                                stdout=log, stderr=subprocess.STDOUT)
    wait_for(lambda: accepts(port, proc), timeout=10, what="sshd listening")
    return proc, port


def accepts(port: int, proc: subprocess.Popen) -> bool:
    if proc.poll() is not None:
        raise RuntimeError(f"sshd exited with {proc.returncode}")
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def sftp(target: Target, key: Path, cwd: Path, commands: list[str],
         *extra: str) -> subprocess.CompletedProcess:
    batch = cwd / "batch"
    batch.write_text("\n".join(commands) + "\n")
    result = subprocess.run(
        ["sftp", *extra, "-b", str(batch), "-P", str(target.port), "-i", str(key),
         "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
         "-o", "BatchMode=yes", f"{target.user}@127.0.0.1"],
        capture_output=True, text=True, timeout=3600, cwd=cwd)
    if result.returncode != 0:
        raise RuntimeError(f"sftp to {target.name} failed:\n{result.stderr}")
    return result


def algorithms(target: Target, key: Path, cwd: Path) -> str:
    """The negotiated cipher and MAC, from a first (warm-up) session's debug output."""
    stderr = sftp(target, key, cwd, ["pwd"], "-v").stderr
    found = re.search(r"kex: client->server cipher: (\S+) MAC: (\S+)", stderr)
    return f"{found[1]} / {found[2]}" if found else "?"


def rss_mb(pid: int) -> float:
    total = 0
    for p in [pid, *descendants(pid)]:
        with contextlib.suppress(OSError):
            status = Path(f"/proc/{p}/status").read_text()
            # An exiting (zombie) process has no VmRSS line.
            total += sum(int(kb) for kb in re.findall(r"VmRSS:\s+(\d+) kB", status))
    return total * 1024 / MB


def cpu_seconds(pid: int) -> float:
    """User and system time of the process and of the children it has waited for."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / TICK


class PeakRss(threading.Thread):
    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.1):
            self.peak = max(self.peak, rss_mb(self.pid))

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.join()


def upload(target: Target, key: Path, cwd: Path, commands: list[str]) -> tuple[float, float, float]:
    """Wall seconds, server CPU seconds and peak server RSS (MB) of one session."""
    cpu = cpu_seconds(target.pid)
    with PeakRss(target.pid) as rss:
        start = time.monotonic()
        sftp(target, key, cwd, commands)
        wall = time.monotonic() - start
    # sshd's per-connection processes count once the listener has reaped them (the gateway
    # has no child processes).
    wait_for(lambda: not descendants(target.pid), timeout=30, what="session processes to exit")
    return wall, cpu_seconds(target.pid) - cpu, rss.peak


def files_counted(gw: Daemon) -> int:
    found = re.search(rf'gateway_sftp_files_total{{direction="in",partner="{PARTNER}"}} (\S+)',
                      gw.metrics())
    return int(float(found[1])) if found else 0


def delivered(gw: Daemon) -> int:
    return len(list((gw.home / "out").glob("*")))


def settle(gw: Daemon) -> None:
    """Wait until the worker has delivered every upload, so it does not run into the next."""
    wait_for(lambda: delivered(gw) >= files_counted(gw), timeout=1800, interval=0.1,
             what="uploads delivered")


def make_inputs(data: Path, big_mb: int, files: int, size_kb: int) -> None:
    with open(data / "big.bin", "wb") as f:
        for _ in range(big_mb):
            f.write(os.urandom(MB))
    (data / "small").mkdir()
    for i in range(files):
        (data / "small" / f"f{i:05}.edi").write_bytes(os.urandom(size_kb * KB))


def run_big(target: Target, key: Path, data: Path, run: int, big_mb: int) -> None:
    wall, cpu, rss = upload(target, key, data,
                            [f"put big.bin {target.remote_dir}/big-{run}.bin"])
    target.record("big MB/s", big_mb / wall)
    target.record("big CPU s", cpu)
    target.record("big RSS MB", rss)


def run_small(target: Target, key: Path, data: Path, run: int, files: int) -> None:
    names = sorted(p.name for p in (data / "small").iterdir())
    wall, cpu, rss = upload(target, key, data,
                            [f"put small/{n} {target.remote_dir}/r{run}-{n}" for n in names])
    target.record("files/s", files / wall)
    target.record("small CPU s", cpu)
    target.record("small RSS MB", rss)


def gateway_small(target: Target, gw: Daemon, key: Path, data: Path, run: int,
                  files: int) -> None:
    """A small-files session, then how long until /metrics counts them and all are delivered."""
    expected = files_counted(gw) + files
    start = time.monotonic()
    run_small(target, key, data, run, files)
    wait_for(lambda: files_counted(gw) >= expected, timeout=600, interval=0.02,
             what="uploads counted")
    target.record("counted s", time.monotonic() - start)
    settle(gw)
    target.record("delivered s", time.monotonic() - start)


def print_table(targets: list[Target]) -> None:
    print(f"{'target':<14}" + "".join(f"{c:>14}" for c in COLUMNS))
    for t in targets:
        print(f"{t.name:<14}" + "".join(f"{t.median(c):>14.2f}" for c in COLUMNS))
    gw, sshd = targets
    print(f"{'gateway/sshd':<14}" + "".join(f"{gw.median(c) / sshd.median(c):>13.2f}x"
                                           for c in COLUMNS))


def report(args, targets: list[Target], ciphers: dict, idle_rss: float, listed: int) -> None:
    gw = targets[0]
    print(f"\nSFTP uploads over loopback with OpenSSH sftp -b: one {args.big_mb} MB file, and "
          f"{args.files} files of {args.size_kb} kB in one session (MB = 10^6 bytes); "
          f"median of {args.repeat}.")
    print("RSS MB: peak sum over the server process and its children, sampled every 0.1 s. "
          "CPU s: server CPU per session.\n")
    print_table(targets)
    print(f"\ngateway small files: counted in /metrics after {gw.median('counted s'):.2f} s, "
          f"all delivered by the worker after {gw.median('delivered s'):.2f} s "
          "(from session start)")
    print(f"gateway RSS when idle before the uploads: {idle_rss:.1f} MB; "
          f"`gateway messages --json` lists {listed} messages after "
          f"{args.repeat * (args.files + 1)} uploads")
    print("negotiated cipher / MAC: "
          + ", ".join(f"{name} {algos}" for name, algos in ciphers.items()))
    print("The gateway also fsyncs, archives (sha256, fsync), records and queues every file and "
          "delivers it to a directory; sshd only writes it.")


def stop_gateway(gw: Daemon) -> None:
    try:
        gw.stop(timeout=30)
    except subprocess.TimeoutExpired:
        gw.proc.kill()
        gw.proc.wait()


def stop_sshd(sshd: subprocess.Popen) -> None:
    sshd.terminate()
    try:
        sshd.wait(timeout=10)
    except subprocess.TimeoutExpired:
        sshd.kill()
        sshd.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--big-mb", type=int, default=100)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--size-kb", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    # Killed with SIGTERM, still stop the servers and remove the temp dir.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-sftp-")))
        data, home, dest = tmp / "data", tmp / "gateway", tmp / "sshd-dest"
        for d in (data, home, dest):
            d.mkdir()
        key = data / "client_key"
        public = keypair(key)
        make_inputs(data, args.big_mb, args.files, args.size_kb)

        gw = start_gateway(home, public)
        stack.callback(stop_gateway, gw)
        sshd, sshd_port = start_sshd(tmp / "sshd", public)
        stack.callback(stop_sshd, sshd)
        gateway = Target("gateway", gw.sftp_port, PARTNER, "inbound", gw.proc.pid)
        openssh = Target("sshd", sshd_port, getpass.getuser(), str(dest), sshd.pid)
        ciphers = {t.name: algorithms(t, key, data) for t in (gateway, openssh)}
        idle_rss = rss_mb(gw.proc.pid)

        for run in range(1, args.repeat + 1):
            run_big(gateway, key, data, run, args.big_mb)
            settle(gw)
            run_big(openssh, key, data, run, args.big_mb)
            run_small(openssh, key, data, run, args.files)
            gateway_small(gateway, gw, key, data, run, args.files)
            print(f"run {run}/{args.repeat} done", file=sys.stderr)

        listed = len(gw.messages("--limit", str(args.repeat * (args.files + 1) + 100)))
        report(args, [gateway, openssh], ciphers, idle_rss, listed)


if __name__ == "__main__":
    main()
