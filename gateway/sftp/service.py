"""The SFTP transport inside the gateway: partner accounts, uploads into the common intake,
collected downloads, files placed in or pushed to a partner, and polling partners' servers."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from twisted.application import internet
from twisted.application.service import MultiService
from twisted.internet import defer
from twisted.internet.threads import deferToThread

from gateway import metrics
from gateway.archive import atomic_copy
from gateway.intake import thd_record_inbound
from gateway.partners import Partner, SftpRemote
from gateway.runtime import Runtime
from gateway.sftp.client import SftpTarget, poll, push
from gateway.sftp.model import SftpAccount, SftpEvents, SftpLimits
from gateway.sftp.server import make_factory
from gateway.store import messages
from gateway.store.jobs import Job
from gateway.worker import PermanentError

log = logging.getLogger(__name__)
COLLECTED = ".collected"


class Events(SftpEvents):
    def session_opened(self, partner):
        metrics.SFTP_SESSIONS.labels(partner).inc()

    def auth_failed(self, username, reason):
        metrics.SFTP_AUTH_FAILURES.labels(reason).inc()

    def file_received(self, partner, size):
        metrics.SFTP_FILES.labels(partner, "in").inc()
        metrics.SFTP_BYTES.labels(partner, "in").inc(size)

    def file_sent(self, partner, size):
        metrics.SFTP_FILES.labels(partner, "out").inc()
        metrics.SFTP_BYTES.labels(partner, "out").inc(size)

    def transfer_failed(self, partner, reason):
        metrics.SFTP_FAILURES.labels(partner, reason).inc()

    def limit_reached(self, partner, limit):
        metrics.SFTP_FAILURES.labels(partner, limit).inc()


def outbound_name(message: dict) -> str:
    """``<message id>_<file name>``: the download hook finds the message again by its prefix."""
    return f"{message['id']}_{Path(message['filename'] or 'payload.edi').name}"


class SftpTransport:
    def __init__(self, rt: Runtime):
        self.rt = rt
        self.root = rt.config.gateway.data_dir / "sftp"
        self._next_poll: dict[str, float] = {}

    def account(self, username: str) -> SftpAccount | None:
        partner = self.rt.partners.by_sftp_user(username)
        if partner is None or not partner.enabled:
            return None
        return SftpAccount(partner.id, username, partner.sftp.authorized_keys,
                           partner.sftp.password_hash)

    def folder(self, partner_id: str, which: str) -> Path:
        path = self.root / partner_id / which
        path.mkdir(parents=True, exist_ok=True)
        return path

    async def take_in(self, partner_id: str, name: str, path: Path, transport: str) -> str:
        """Archive and record a received file; the same name and content is a duplicate."""
        sha256, size = await deferToThread(self.rt.archive.put_file, path)
        id, created = await self.rt.db.run(
            thd_record_inbound, partner_id=partner_id, transport=transport,
            message_id=f"{name}:{sha256[:16]}", sha256=sha256, size=size, actor=self.rt.owner,
            now=time.time(), filename=name)
        metrics.MESSAGES.labels(partner_id, "inbound", "received" if created else "duplicate").inc()
        metrics.MESSAGE_BYTES.labels(partner_id, "inbound", transport).inc(size)
        self.rt.wake_worker()
        return id

    async def on_upload(self, partner_id: str, path: Path) -> None:
        await self.take_in(partner_id, path.name, path, "sftp")
        path.unlink()   # archived and recorded: the name is free for the partner's next file

    async def on_download(self, partner_id: str, path: Path) -> None:
        message_id = path.name.split("_", 1)[0]
        partner = self.rt.partners.partners.get(partner_id)
        if partner and partner.sftp and partner.sftp.after_download == "move":
            (path.parent / COLLECTED).mkdir(exist_ok=True)
            os.replace(path, path.parent / COLLECTED / path.name)
        else:
            path.unlink(missing_ok=True)
        if await self.rt.db.run(messages.thd_get, message_id):
            await self.rt.db.run(messages.thd_set_status, message_id, "collected",
                                 actor=self.rt.owner, now=time.time(),
                                 detail=f"downloaded by {partner_id} over SFTP")
            metrics.MESSAGES.labels(partner_id, "outbound", "collected").inc()

    def sweep_inbound(self) -> list:
        """Files left in inbound/ by a crash between recording and removing them: take them in
        again (a duplicate is recognised by name and content)."""
        pending = []
        for partner_dir in self.root.glob("*/inbound"):
            for path in partner_dir.iterdir():
                if path.is_file() and not path.name.startswith("."):
                    pending.append(self.on_upload(partner_dir.parent.name, path))
        return pending

    async def put(self, job: Job) -> None:
        """The ``sftp-put`` job: place an outbound message in the partner's outbound/ folder."""
        message = await self.rt.db.run(messages.thd_get, job.payload["message"])
        if message["status"] != "queued":
            return
        target = self.folder(message["partner_id"], "outbound") / outbound_name(message)

        def place():
            with open(self.rt.archive.verify(message["payload_sha256"]), "rb") as source:
                atomic_copy(source, target)

        await deferToThread(place)
        await self.rt.db.run(messages.thd_set_status, message["id"], "awaiting-collection",
                             actor=self.rt.owner, now=time.time(), detail=f"placed {target.name}")

    async def push(self, job: Job) -> None:
        """The ``sftp-push`` job: upload an outbound message to the partner's own server."""
        message = await self.rt.db.run(messages.thd_get, job.payload["message"])
        if message["status"] == "delivered":
            return
        partner = self.rt.partner(message["partner_id"])
        remote = partner.sftp.push
        path = await deferToThread(self.rt.archive.verify, message["payload_sha256"])
        name = Path(message["filename"] or f"{message['id']}.edi").name
        try:
            await push(self.target(remote), path,
                       f"{remote.remote_dir.rstrip('/')}/{name}")
        except Exception:
            metrics.SFTP_FAILURES.labels(partner.id, "push").inc()
            raise
        metrics.SFTP_FILES.labels(partner.id, "out").inc()
        await self.rt.db.run(messages.thd_set_status, message["id"], "delivered",
                             actor=self.rt.owner, now=time.time(),
                             detail=f"pushed to {remote.host}:{remote.remote_dir}")
        metrics.MESSAGES.labels(partner.id, "outbound", "delivered").inc()

    def target(self, remote: SftpRemote) -> SftpTarget:
        password = os.environ.get(remote.password_env) if remote.password_env else None
        if remote.password_env and password is None:
            raise PermanentError(f"environment variable {remote.password_env} is not set")
        return SftpTarget(host=remote.host, port=remote.port, username=remote.username,
                          host_key=remote.host_key, password=password,
                          private_key_path=self.rt.config.cert_path(remote.key)
                          if remote.key else None)

    async def poll_partner(self, partner: Partner) -> None:
        remote = partner.sftp.poll
        after = "delete" if remote.after == "delete" else f"move:{remote.move_to}"
        spool = self.rt.archive.spool

        async def handle(name: str, path: Path) -> None:
            await self.take_in(partner.id, name, path, "sftp")

        try:
            await poll(self.target(remote), remote.remote_dir, handle, after, spool=spool)
        except Exception as e:
            metrics.SFTP_FAILURES.labels(partner.id, "poll").inc()
            log.error("polling %s at %s failed: %s", partner.id, remote.host, e)

    async def poll_due(self) -> None:
        """Poll every partner whose interval has passed (one timer serves all partners)."""
        now = time.monotonic()
        for partner in list(self.rt.partners.partners.values()):
            remote = partner.sftp and partner.sftp.poll
            if remote and partner.enabled and now >= self._next_poll.get(partner.id, 0):
                self._next_poll[partner.id] = now + remote.interval_s
                await self.poll_partner(partner)

    def services(self) -> MultiService:
        sftp = self.rt.config.sftp
        limits = SftpLimits(max_file_bytes=sftp.max_file_bytes,
                            max_sessions_per_partner=sftp.sessions_per_partner,
                            idle_timeout_s=sftp.idle_timeout_s)
        factory = make_factory(accounts=self.account, root=self.root,
                               host_key_path=self.rt.config.host_key_path,
                               on_upload=self.on_upload, on_download=self.on_download,
                               limits=limits, events=Events())
        parent = MultiService()
        parent.setName("sftp")
        internet.TCPServer(sftp.port, factory, interface=sftp.host).setServiceParent(parent)
        poller = internet.TimerService(5, self._poll_tick)
        poller.setServiceParent(parent)
        return parent

    def _poll_tick(self):
        return defer.ensureDeferred(self.poll_due())
