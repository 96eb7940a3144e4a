"""Builds the running gateway: a service tree started in order and stopped in reverse.

database -> ops HTTP (metrics, health) -> AS2 listeners -> SFTP -> worker -> queue statistics.
"""

from __future__ import annotations

import logging
import os
import time
from functools import partial

from twisted.application import internet
from twisted.application.service import MultiService, Service
from twisted.internet import defer
from twisted.internet.threads import deferToThread

from gateway import certs, metrics, process
from gateway.archive import Archive
from gateway.as2 import inbound, offload, outbound
from gateway.as2.keys import Identity
from gateway.as2.server import as2_site
from gateway.as2.stats import refresh_pending_mdns
from gateway.config import Config
from gateway.health import ops_site
from gateway.partners import PartnerSet, load_partners
from gateway.problems import ConfigError
from gateway.reconcile import handler as reconcile
from gateway.route.handlers import customs, sinks
from gateway.runtime import Runtime
from gateway.sftp.service import SftpTransport
from gateway.store import acks, jobs, messages
from gateway.store.database import Database, thd_ping
from gateway.tls import HandshakeWatch, server_options
from gateway.worker import Worker

log = logging.getLogger(__name__)
STATS_INTERVAL_S = 5
SWEEP_INTERVAL_S = 60   # reconciliation deadlines (late ASNs, unpaid invoices, credit memos)


class DatabaseService(Service):
    def __init__(self, db: Database):
        self.db = db

    def startService(self):
        super().startService()
        self.db.start()

    def stopService(self):
        super().stopService()
        self.db.stop()


def job_handlers(rt: Runtime, identity: Identity, sftp: SftpTransport) -> dict:
    return {
        "process": partial(process.process, rt),
        "deliver": partial(sinks.deliver_directory, rt),
        "webhook": partial(sinks.deliver_webhook, rt),
        "as2-unwrap": partial(inbound.recover, rt, identity),
        "as2-mdn": partial(inbound.send_async_mdn, rt),
        "as2-send": partial(outbound.send, rt, identity),
        "as2-mdn-timeout": partial(outbound.mdn_timeout, rt),
        "reconcile": lambda job: reconcile.reconcile(rt, job, rt.reconcile_settings()),
        "customs": partial(customs.handle, rt),
        "sftp-put": sftp.put,
        "sftp-push": sftp.push,
    }


class Gateway(MultiService):
    def __init__(self, config: Config, partners: PartnerSet):
        super().__init__()
        self.config = config
        self.db = Database(config.database_url, pool_size=config.database.pool_size,
                           retries=config.database.retries)
        owner = f"{config.gateway.node_name}:{os.getpid()}"
        identity = Identity.load(config)
        archive = Archive(config.gateway.data_dir)
        helpers = offload.Helpers(
            offload.Context(archive, identity.key, identity.cert, identity.domain),
            config.gateway.data_dir, offload.processes(config.as2.helper_processes))
        self.rt = Runtime(config=config, db=self.db, archive=archive, partners=partners,
                          owner=owner, helpers=helpers)
        self.sftp = SftpTransport(self.rt)
        self.worker = Worker(self.db, job_handlers(self.rt, identity, self.sftp), config.jobs,
                             owner)
        self.rt.wake_worker = self.worker.wake

        DatabaseService(self.db).setServiceParent(self)
        helpers.setServiceParent(self)
        self.ops_server = internet.TCPServer(config.metrics.port, ops_site(self.ready_problems),
                                             interface=config.metrics.host)
        self.ops_server.setServiceParent(self)
        as2 = as2_site(self.rt, identity)
        internet.TCPServer(config.as2.port, as2, interface=config.as2.host).setServiceParent(self)
        if config.as2.tls_port is not None:
            internet.SSLServer(config.as2.tls_port, HandshakeWatch(as2, "as2"),
                               server_options(config),
                               interface=config.as2.host).setServiceParent(self)
        if config.sftp.enabled:
            self.sftp.services().setServiceParent(self)
        self.worker.setServiceParent(self)
        internet.TimerService(STATS_INTERVAL_S, self.refresh_stats).setServiceParent(self)
        internet.TimerService(SWEEP_INTERVAL_S, self.sweep).setServiceParent(self)
        self._publish_partners(partners)
        metrics.RELOAD_OK.set(1)

    def startService(self):
        removed = self.rt.archive.clean_spool(older_than=time.time() - 3600)
        if removed:
            log.info("removed %d spool files left by an interrupted receive", removed)
        super().startService()
        for pending in self.sftp.sweep_inbound():
            defer.ensureDeferred(pending).addErrback(
                lambda f: log.error("taking in a file left in inbound/ failed: %s", f.value))
        log.info("gateway %s started: %d partners, database %s", self.rt.owner,
                 len(self.rt.partners), self.db.dialect)

    def stopService(self):
        """Children stop one at a time in reverse order: the worker must finish its jobs while the
        database is still there (MultiService would stop them all at once)."""
        Service.stopService(self)

        async def stop_in_order():
            for child in reversed(list(self)):
                try:
                    await defer.maybeDeferred(child.stopService)
                except Exception as e:
                    log.error("stopping %s failed: %s", child.name or type(child).__name__, e)

        return defer.ensureDeferred(stop_in_order())

    async def ready_problems(self) -> list[str]:
        problems = [f"{s.name or type(s).__name__} is not running" for s in self if not s.running]
        try:
            await self.db.run(thd_ping)
        except Exception as e:
            problems.append(f"database unreachable: {type(e).__name__}")
        return problems

    def _publish_partners(self, partners: PartnerSet) -> None:
        metrics.PARTNERS.set(len(partners))
        metrics.CERT_EXPIRY.clear()
        for info in certs.inventory(self.config, partners):
            if info.not_after is not None:
                metrics.CERT_EXPIRY.labels(info.owner, info.usage, info.subject).set(
                    info.not_after.timestamp())

    async def reload(self) -> bool:
        """Load the partners directory anew; keep the current set unless all of it is valid."""
        try:
            partners = await deferToThread(load_partners, self.config)
        except ConfigError as e:
            for problem in e.problems:
                log.error("reload refused: %s", problem)
            metrics.RELOADS.labels("failed").inc()
            metrics.RELOAD_OK.set(0)
            await self.db.run(messages.thd_event, None, "reload-failed", actor=self.rt.owner,
                              now=time.time(), kind="config", detail=str(e)[:4000])
            return False
        self.rt.partners = partners
        self._publish_partners(partners)
        metrics.RELOADS.labels("ok").inc()
        metrics.RELOAD_OK.set(1)
        await self.db.run(messages.thd_event, None, "reloaded", actor=self.rt.owner,
                          now=time.time(), kind="config", detail=f"{len(partners)} partners")
        log.info("reloaded partners: %d loaded", len(partners))
        return True

    def sweep(self):
        async def run():
            await reconcile.sweep(self.db, time.time(), self.rt.reconcile_settings())
            await reconcile.refresh_metrics(self.db)

        d = defer.ensureDeferred(run())
        d.addErrback(lambda f: log.error("reconciliation sweep failed: %s", f.value))
        return d

    def refresh_stats(self):
        async def refresh():
            now = time.time()
            stats = await self.db.run(jobs.thd_queue_stats, now=now)
            metrics.QUEUE_DEPTH.clear()
            metrics.QUEUE_OLDEST.clear()
            dead = 0
            for row in stats:
                metrics.QUEUE_DEPTH.labels(row["kind"], row["status"]).set(row["count"])
                if row["status"] == "pending":
                    metrics.QUEUE_OLDEST.labels(row["kind"]).set(row["oldest_age"])
                if row["status"] == "dead":
                    dead += row["count"]
            metrics.DEAD_LETTERS.set(dead)
            await refresh_pending_mdns(self.db, now)
            overdue: dict[str, int] = {}
            for partner_id, sent_at in await self.db.run(acks.thd_awaiting):
                partner = self.rt.partners.partners.get(partner_id)
                if partner and partner.x12 and now - sent_at > partner.x12.ack_timeout_s:
                    overdue[partner_id] = overdue.get(partner_id, 0) + 1
            metrics.ACKS_OVERDUE.clear()
            for partner_id, count in overdue.items():
                metrics.ACKS_OVERDUE.labels(partner_id).set(count)
            unanswered = await self.db.run(
                customs.thd_overdue, before=now - self.config.customs.receipt_timeout_s)
            metrics.CUSTOMS_OVERDUE.clear()
            for partner_id, regime, count in unanswered:
                metrics.CUSTOMS_OVERDUE.labels(partner_id, regime).set(count)
            if self.config.jobs.keep_done_s:
                await self.db.run(jobs.thd_prune, before=now - self.config.jobs.keep_done_s)

        d = defer.ensureDeferred(refresh())
        d.addErrback(lambda f: log.error("refreshing queue statistics failed: %s", f.value))
        return d
