"""Benchmark of the AS2 receiver: the gateway beside django-pyas2, same messages, same client.

Concurrent senders on 127.0.0.1 POST signed and encrypted messages (AES-256-CBC, SHA-256, a
signed sync MDN asked for with SHA-256) of 10 KB and 1 MB to each server, one Message-ID each:
the bodies are built once with the gateway's AS2 library and only the Message-ID header changes.
A message counts as done when its MDN says ``processed`` without a modifier. Every key pair (the
client's, the gateway's, django-pyas2's) is RSA-2048, so both servers do the same RSA work. Printed per server
and size: messages/s, p50/p99 latency, the server's peak RSS (summed over its processes), and the
gateway/django-pyas2 ratio; then the gateway's peak RSS while one message of ``--big-mb``
(default 1,000 MB) is posted and unwrapped.

- The gateway: the real ``gateway serve`` with its default helper processes (one per core, at
  most four; ``GATEWAY_AS2_HELPER_PROCESSES=0`` in the environment runs it without), its durable
  store on SQLite as configured by default (WAL, synchronous=FULL), or PostgreSQL with
  ``--database postgresql`` (a scratch database ``bench_as2`` at 127.0.0.1:5432, dropped at the
  end); the partner has no routes, so each payload is routed as it is when it is accepted.
- django-pyas2 from PyPI in its own virtualenv (``bench/.venv-django-pyas2``, made on first use,
  with the oscrypto patch of ``tests/interop``), SQLite with ``transaction_mode: IMMEDIATE``
  (without it a quarter of concurrent requests fail with "database is locked") and no request
  size limit (Django refuses bodies over 2.5 MiB by default), under gunicorn with 2 workers.

Usage: .venv/bin/python bench/as2.py [--senders 8] [--messages 2000] [--seconds 30]
           [--big-mb 1000] [--database sqlite|postgresql] [--only gateway|django]
(prints figures, never passes or fails on time)
"""

import os
import sys

# Run as a script, this directory would come first on sys.path, and bench/queue.py would
# shadow the standard library's queue module for everything imported below.
if sys.path[0] == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

import argparse
import http.client
import itertools
import re
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives.serialization import load_pem_private_key  # noqa: E402

from bench.sftp import TICK, PeakRss, rss_mb  # noqa: E402
from gateway.as2 import message as as2message  # noqa: E402
from gateway.certs import self_signed, write_key_pair  # noqa: E402
from gateway.config import JobSettings  # noqa: E402
from tests.support import Daemon, descendants, free_port, http_get, wait_for, write_partner  # noqa: E402

CLIENT_ID, GATEWAY_ID, DJANGO_ID = "BENCHCLIENT", "GATEWAY", "DJANGOPYAS2"
KB, MB = 1000, 1000 * 1000
SIZES = {"10 KB": 10 * KB, "1 MB": MB}
AIMS = {"10 KB": 300, "1 MB": 45}
KEY_BITS = 2048   # every key pair: the client's and both servers'
VENV = REPO / "bench" / ".venv-django-pyas2"
DJANGO_PYAS2 = "django-pyas2==1.2.3"
GUNICORN = "gunicorn>=21"
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
PG_DB = "bench_as2"
# The MDN's disposition: processed, with no error or warning modifier.
PROCESSED = re.compile(rb"Disposition:[^\r\n]*;\s*processed\s*\r?\n", re.IGNORECASE)
SETTINGS = """\
SECRET_KEY = "bench"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "pyas2"]
ROOT_URLCONF = "site_urls"
DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": "{home}/pyas2.db",
                         "OPTIONS": {{"transaction_mode": "IMMEDIATE", "timeout": 60}}}}}}
DATA_UPLOAD_MAX_MEMORY_SIZE = None
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
LOGGING = {{"version": 1, "handlers": {{"err": {{"class": "logging.StreamHandler"}}}}, "root": {{"handlers": ["err"], "level": "WARNING"}}}}
MEDIA_ROOT = "{home}/data"   # django-pyas2 stores messages under it
"""
URLS = """\
from django.urls import include, path
urlpatterns = [path("pyas2/", include("pyas2.urls"))]
"""
WSGI = """\
import os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_settings")
from django.core.wsgi import get_wsgi_application
application = get_wsgi_application()
"""
SETUP = """\
import django
django.setup()
from pyas2.models import Organization, Partner, PrivateKey, PublicCertificate
key = PrivateKey.objects.create(name="django", key=open("django.pem", "rb").read(), key_pass="")
cert = PublicCertificate.objects.create(name="client", certificate=open("client.pem", "rb").read(),
                                        verify_cert=False)
Organization.objects.create(name="django-pyas2", as2_name="{server}", encryption_key=key,
                            signature_key=key)
Partner.objects.create(name="client", as2_name="{client}", target_url="http://127.0.0.1:9/",
                       encryption="aes_256_cbc", encryption_cert=cert, signature="sha256",
                       signature_cert=cert, mdn=True, mdn_mode="SYNC", mdn_sign="sha256")
"""


@dataclass
class Server:
    name: str
    as2_id: str
    port: int
    path: str
    pid: int
    cert: x509.Certificate
    results: dict = field(default_factory=dict)


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    peak_rss: float = 0.0
    cpu_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms(self) -> float:
        """Server CPU time per message done: a figure a busy machine distorts less."""
        return self.cpu_seconds * 1000 / len(self.latencies) if self.latencies else 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000 if ordered else 0.0


class Client:
    """The partner: its key pair, and messages it builds once per server and size."""

    def __init__(self):
        key_pem, self.cert_pem = self_signed("bench-client", key_size=KEY_BITS)
        self.key = load_pem_private_key(key_pem, None)
        self.cert = x509.load_pem_x509_certificate(self.cert_pem)

    def build(self, server: Server, payload: bytes) -> as2message.Outgoing:
        return as2message.build(payload, "application/edi-x12", as2message.SecurityPolicy(),
                                self.key, self.cert, server.cert, as2_from=CLIENT_ID,
                                as2_to=server.as2_id, filename="bench.edi")


def payload(size: int) -> bytes:
    line = b"PO1*1*10*EA*9.95**BP*SKU-000001*VP*VENDOR-PART~\r\n"
    return (line * (size // len(line) + 1))[:size]


def post(conn: http.client.HTTPConnection, path: str, headers: dict, body) -> bytes:
    conn.request("POST", path, body=body, headers=headers)
    response = conn.getresponse()
    answer = response.read()
    if response.status != 200:
        raise RuntimeError(f"HTTP {response.status}: {answer[:200]!r}")
    if not PROCESSED.search(answer):
        raise RuntimeError(f"MDN not processed: {answer[-400:]!r}")
    return answer


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a server process and its live children (gunicorn's workers)."""
    total = 0
    for p in [pid, *descendants(pid)]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICK


def load(server: Server, out: as2message.Outgoing, tag: str, senders: int, count: int,
         seconds: float) -> Run:
    """``senders`` threads POST ``out`` with fresh Message-IDs until ``count`` are sent or
    ``seconds`` pass; each keeps its connection open."""
    run, numbers, lock = Run(), itertools.count(), threading.Lock()
    deadline = time.monotonic() + seconds

    def sender():
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
        while time.monotonic() < deadline:
            with lock:
                n = next(numbers)
            if n >= count:
                break
            headers = dict(out.headers, **{"Message-ID": f"<{tag}-{n}@bench>"})
            started = time.monotonic()
            try:
                post(conn, server.path, headers, out.body)
            except (OSError, http.client.HTTPException, RuntimeError) as e:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
                with lock:
                    run.failures.append(str(e))
                continue
            with lock:
                run.latencies.append(time.monotonic() - started)
        conn.close()

    threads = [threading.Thread(target=sender) for _ in range(senders)]
    cpu = cpu_seconds(server.pid)
    with PeakRss(server.pid) as rss:
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        run.seconds = time.monotonic() - started
    run.peak_rss, run.cpu_seconds = rss.peak, cpu_seconds(server.pid) - cpu
    return run


def start_gateway(home: Path, client: Client, database: str) -> tuple[Daemon, Server]:
    env = {"GATEWAY_IDENTITY_AS2_ID": GATEWAY_ID, "GATEWAY_AS2_MAX_BODY_BYTES": str(4 << 30),
           # tests.support polls the job queue every 0.05 s for quick tests; use the default.
           "GATEWAY_JOBS_POLL_INTERVAL_S": str(JobSettings().poll_interval_s)}
    if database == "postgresql":
        recreate_pg()
        env["GATEWAY_DATABASE_URL"] = f"{PG_SERVER}/{PG_DB}"
    (home / "partners").mkdir(parents=True)
    (home / "certs" / "partners").mkdir(parents=True)
    (home / "certs" / "partners" / "client.pem").write_bytes(client.cert_pem)
    write_partner(home, "client", f"""\
id: client
name: AS2 benchmark client
as2:
  as2_id: {CLIENT_ID}
  certificates: {{signing: partners/client.pem, encryption: partners/client.pem}}
""")
    # Our key pair, RSA-2048 like django-pyas2's and the client's: both servers do the same
    # RSA work (``gateway certs init`` would make RSA-3072, twice the cost per private-key use).
    write_key_pair(home / "certs/gateway/as2.key", home / "certs/gateway/as2.crt",
                   *self_signed(GATEWAY_ID, key_size=KEY_BITS))
    gw = Daemon(home, env)
    gw.start()
    cert = x509.load_pem_x509_certificate((home / "certs/gateway/as2.crt").read_bytes())
    return gw, Server("gateway", GATEWAY_ID, gw.as2_port, "/as2", gw.proc.pid, cert)


def recreate_pg(drop_only: bool = False) -> None:
    import psycopg

    with psycopg.connect("host=127.0.0.1 user=postgres dbname=test", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        if not drop_only:
            conn.execute(f"CREATE DATABASE {PG_DB}")


def django_venv() -> Path:
    """django-pyas2's virtualenv, made on first use: its python."""
    python = VENV / "bin" / "python"
    if not python.exists():
        print(f"making {VENV} with {DJANGO_PYAS2} and gunicorn (once) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        DJANGO_PYAS2, GUNICORN], check=True)
    subprocess.run([str(python), str(REPO / "tests/interop/patch_oscrypto.py")], check=True,
                   stdout=subprocess.DEVNULL)
    return python


def start_django(home: Path, client: Client) -> tuple[subprocess.Popen, Server]:
    python = django_venv()
    (home / "data").mkdir(parents=True)
    key_pem, cert_pem = self_signed("django-pyas2", key_size=KEY_BITS)
    (home / "django.pem").write_bytes(key_pem + cert_pem)
    (home / "client.pem").write_bytes(client.cert_pem)
    (home / "site_settings.py").write_text(SETTINGS.format(home=home))
    (home / "site_urls.py").write_text(URLS)
    (home / "site_wsgi.py").write_text(WSGI)
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="site_settings", PYTHONPATH=str(home))
    for args in (["-m", "django", "migrate", "-v", "0"],
                 ["-c", SETUP.format(server=DJANGO_ID, client=CLIENT_ID)]):
        subprocess.run([str(python), *args], cwd=home, env=env, check=True)
    port = free_port()
    log = open(home / "gunicorn.log", "wb")
    proc = subprocess.Popen([str(python), "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}",
                             "--timeout", "600", "site_wsgi:application"],
                            cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/pyas2/as2receive"
    wait_for(lambda: _answers(url, proc), timeout=60, what="gunicorn answering")
    return proc, Server("django-pyas2", DJANGO_ID, port, "/pyas2/as2receive", proc.pid,
                        x509.load_pem_x509_certificate(cert_pem))


def _answers(url: str, proc: subprocess.Popen) -> bool:
    if proc.poll() is not None:
        raise RuntimeError(f"gunicorn exited with {proc.returncode}")
    try:
        return http_get(url, timeout=2)[0] == 200
    except OSError:
        return False


def measure(server: Server, client: Client, args) -> None:
    for label, size in SIZES.items():
        out = client.build(server, payload(size))
        load(server, out, f"warm-{label}", args.senders, args.senders * 4, 60)
        count = args.messages if size < MB else max(args.messages // 4, args.senders)
        run = load(server, out, f"{server.name}-{label}".replace(" ", ""), args.senders,
                   count, args.seconds)
        server.results[label] = run
        print(f"  {server.name:<13} {label:>6}: {len(run.latencies)} done, "
              f"{len(run.failures)} failed in {run.seconds:.1f} s", flush=True)
        if run.failures:
            print(f"    first failure: {run.failures[0][:300]}")


def big_message(server: Server, client: Client, tmp: Path, size_mb: int) -> dict:
    """The gateway's peak RSS while one message of ``size_mb`` is posted and unwrapped."""
    body_path = tmp / "big.body"
    started = time.monotonic()
    out = client.build(server, payload(size_mb * MB))
    body_path.write_bytes(out.body)
    headers = dict(out.headers, **{"Content-Length": str(len(out.body))})
    del out
    built = time.monotonic() - started
    idle = rss_mb(server.pid)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=3600)
    with PeakRss(server.pid) as rss, body_path.open("rb") as body:
        started = time.monotonic()
        try:
            post(conn, server.path, headers, body)
            outcome = "processed"
        except (OSError, http.client.HTTPException, RuntimeError) as e:
            outcome = f"failed: {str(e)[:200]}"
        seconds = time.monotonic() - started
    conn.close()
    body_path.unlink()
    return {"MB": size_mb, "build s": built, "post s": seconds, "idle RSS MB": idle,
            "peak RSS MB": rss.peak, "outcome": outcome}


def report(servers: list[Server], args, big: dict | None) -> None:
    print(f"\nAS2 receive, signed + encrypted (AES-256-CBC, SHA-256), signed sync MDN, "
          f"{args.senders} senders, store: gateway on {args.database}, django-pyas2 on SQLite")
    print(f"{'server':<13} {'size':>6} {'msgs':>6} {'failed':>6} {'msgs/s':>8} {'p50 ms':>8} "
          f"{'p99 ms':>8} {'peak RSS MB':>12} {'CPU ms/msg':>11}")
    for server in servers:
        for label, run in server.results.items():
            print(f"{server.name:<13} {label:>6} {len(run.latencies):>6} {len(run.failures):>6} "
                  f"{run.rate:>8.1f} {run.percentile(0.5):>8.1f} {run.percentile(0.99):>8.1f} "
                  f"{run.peak_rss:>12.0f} {run.cpu_ms:>11.1f}")
    if len(servers) == 2:
        gateway, django = servers
        for label in SIZES:
            ratio = gateway.results[label].rate / max(django.results[label].rate, 1e-9)
            print(f"ratio gateway/django-pyas2 at {label}: {ratio:.1f}x "
                  f"(aim: >= {AIMS[label]} msgs/s)")
    if big:
        print(f"\ngateway, one message of {big['MB']} MB: built in {big['build s']:.0f} s, posted "
              f"and answered in {big['post s']:.0f} s ({big['outcome']}); RSS idle "
              f"{big['idle RSS MB']:.0f} MB, peak {big['peak RSS MB']:.0f} MB (aim: < 300 MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--messages", type=int, default=2000,
                        help="10 KB messages per server (a quarter as many of 1 MB)")
    parser.add_argument("--seconds", type=float, default=30, help="time limit of each run")
    parser.add_argument("--big-mb", type=int, default=1000, help="0: no big message")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--only", choices=("gateway", "django"))
    args = parser.parse_args()
    client = Client()
    servers, big = [], None
    with tempfile.TemporaryDirectory(prefix="bench-as2-") as tmp:
        tmp = Path(tmp)
        if args.only != "django":
            gw, server = start_gateway(tmp / "gateway", client, args.database)
            try:
                measure(server, client, args)
                servers.append(server)
                if args.big_mb:
                    big = big_message(server, client, tmp, args.big_mb)
            finally:
                gw.stop()
                if args.database == "postgresql":
                    recreate_pg(drop_only=True)
        if args.only != "gateway":
            proc, server = start_django(tmp / "django", client)
            try:
                measure(server, client, args)
                servers.append(server)
            finally:
                proc.terminate()
                proc.wait(30)
    report(servers, args, big)


if __name__ == "__main__":
    main()
