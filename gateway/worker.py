"""Runs queued jobs: claims them in batches, runs their handlers, settles them, renews leases.

Handlers are ``async def handler(job) -> None`` keyed by job kind, and must be idempotent: a job
may run again after a crash. Failures are retried with exponential backoff and jitter until
``max_attempts``, then dead-lettered with the last error.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable

from twisted.application.service import Service
from twisted.internet import defer, task
from twisted.internet import reactor as default_reactor

from gateway import metrics
from gateway.config import JobSettings
from gateway.store import jobs as jobstore
from gateway.store.jobs import Job

log = logging.getLogger(__name__)
Handler = Callable[[Job], Awaitable[None]]


class PermanentError(Exception):
    """A job failure no retry can fix (bad input): dead-letter at once."""


def backoff(attempt: int, base: float, cap: float) -> float:
    """Full-jitter exponential backoff: a random delay up to base * 2**(attempt-1), capped."""
    return random.uniform(base / 2, min(cap, base * 2 ** (attempt - 1)))


class Worker(Service):
    name = "worker"

    def __init__(self, db, handlers: dict[str, Handler], settings: JobSettings, owner: str,
                 reactor=None):
        self.db = db
        self.handlers = handlers
        self.settings = settings
        self.owner = owner
        self.reactor = reactor or default_reactor
        self._inflight: dict[int, defer.Deferred] = {}
        self._done: list[int] = []
        self._wakeup: defer.Deferred | None = None
        self._woken = False
        self._reclaimed = 0.0
        self._loop_done: defer.Deferred | None = None
        self._renew = task.LoopingCall(self._renew_leases)
        self._renew.clock = self.reactor

    def startService(self):
        super().startService()
        self._loop_done = defer.ensureDeferred(self._loop())
        self._loop_done.addErrback(lambda f: log.critical("worker loop died: %s", f.getTraceback()))
        self._renew.start(self.settings.lease_s / 3, now=False)

    async def _stop(self):
        self.wake()
        if self._loop_done is not None:
            await self._loop_done
        if self._inflight:
            log.info("waiting up to %ss for %d running jobs", self.settings.shutdown_grace_s,
                     len(self._inflight))
            pending = defer.DeferredList(list(self._inflight.values()))
            timeout = self.reactor.callLater(self.settings.shutdown_grace_s, pending.cancel)
            try:
                await pending
            except defer.CancelledError:
                pass
            if timeout.active():
                timeout.cancel()
        if self._renew.running:
            self._renew.stop()
        done, self._done = self._done, []
        await self.db.run(jobstore.thd_settle_and_claim, self.owner, done=done, kinds=[],
                          limit=0, lease_s=0, max_attempts=0, now=time.time())
        released = await self.db.run(jobstore.thd_release, self.owner, now=time.time())
        if released:
            log.info("released %d unfinished jobs for another worker", released)

    def stopService(self):
        super().stopService()
        return defer.ensureDeferred(self._stop())

    def wake(self) -> None:
        """Look for work now (called after enqueueing). A wake-up that comes while the loop is
        busy claiming is kept, so the next sleep ends at once."""
        if self._wakeup is not None and not self._wakeup.called:
            self._wakeup.callback(None)
        else:
            self._woken = True

    async def _sleep(self, seconds: float) -> None:
        if self._woken:
            self._woken = False
            return
        self._wakeup = defer.Deferred()
        call = self.reactor.callLater(seconds, self.wake)
        await self._wakeup
        self._wakeup = None
        self._woken = False
        if call.active():
            call.cancel()

    @property
    def _batch_ready(self) -> bool:
        """Claim again once half the slots are free: claiming for every finished job would
        spend a transaction per job."""
        return self.concurrency_free >= max(1, self.settings.concurrency // 2)

    @property
    def concurrency_free(self) -> int:
        return self.settings.concurrency - len(self._inflight)

    async def _loop(self) -> None:
        while self.running:
            done, self._done = self._done, []
            free = self.concurrency_free
            now = time.time()
            # Expired leases only appear a lease after a worker died: looking a few times per
            # lease is enough, and keeps two statements out of most claims.
            reclaim = now - self._reclaimed >= self.settings.lease_s / 3
            try:
                claimed = await self.db.run(
                    jobstore.thd_settle_and_claim, self.owner, done=done,
                    kinds=sorted(self.handlers), limit=free, lease_s=self.settings.lease_s,
                    max_attempts=self.settings.max_attempts, now=now, reclaim=reclaim)
            except Exception as e:   # the database is down: keep the loop, try again later
                log.error("claiming jobs failed: %s", e)
                self._done = done + self._done
                await self._sleep(self.settings.poll_interval_s * 4)
                continue
            if reclaim:
                self._reclaimed = now
            for job in claimed:
                running = defer.ensureDeferred(self._run(job))
                if not running.called:   # a handler may finish without ever waiting
                    self._inflight[job.id] = running
            if not self.running:
                break
            if not claimed or not self._batch_ready:
                await self._sleep(self.settings.poll_interval_s)

    async def _run(self, job: Job) -> None:
        started = time.perf_counter()
        try:
            await self.handlers[job.kind](job)
        except defer.CancelledError:
            log.info("job %s %s interrupted by shutdown; its lease is released", job.id, job.kind)
        except Exception as e:
            await self._failed(job, e)
        else:
            metrics.JOBS.labels(job.kind, "done").inc()
            self._done.append(job.id)
        finally:
            metrics.JOB_SECONDS.labels(job.kind).observe(time.perf_counter() - started)
            self._inflight.pop(job.id, None)
            if self._batch_ready:
                self.wake()

    async def _failed(self, job: Job, error: Exception) -> None:
        permanent = isinstance(error, PermanentError) or job.attempts >= self.settings.max_attempts
        retry_at = None if permanent else time.time() + backoff(
            job.attempts, self.settings.backoff_base_s, self.settings.backoff_max_s)
        reason = f"{type(error).__name__}: {error}"
        log.warning("job %s %s (attempt %d) failed: %s%s", job.id, job.kind, job.attempts, reason,
                    "; dead-lettered" if retry_at is None else "")
        outcome = await self.db.run(jobstore.thd_fail, job.id, self.owner, reason,
                                    retry_at=retry_at, now=time.time())
        metrics.JOBS.labels(job.kind, "dead" if outcome == "dead" else "retry").inc()

    def _renew_leases(self):
        d = self.db.run(jobstore.thd_extend, self.owner, list(self._inflight),
                        lease_s=self.settings.lease_s, now=time.time())
        d.addErrback(lambda f: log.error("renewing leases failed: %s", f.value))
        return d
