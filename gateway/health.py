"""The operations HTTP endpoint: ``/metrics`` (Prometheus), ``/healthz`` (alive), ``/readyz``."""

from __future__ import annotations

import json

from prometheus_client.twisted import MetricsResource
from twisted.internet import defer
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Site


class Healthz(Resource):
    isLeaf = True

    def render_GET(self, request):
        request.setHeader(b"content-type", b"text/plain")
        return b"ok\n"


class Readyz(Resource):
    """Ready when the database answers and every service has started; otherwise 503 and why."""

    isLeaf = True

    def __init__(self, check):
        super().__init__()
        self.check = check   # async () -> list of problems

    def render_GET(self, request):
        def answer(problems):
            request.setResponseCode(503 if problems else 200)
            request.setHeader(b"content-type", b"application/json")
            request.write(json.dumps({"ready": not problems, "problems": problems}).encode())
            request.finish()

        d = defer.ensureDeferred(self.check())
        d.addErrback(lambda f: [f"readiness check failed: {f.value}"])
        d.addCallback(answer)
        return NOT_DONE_YET


class QuietSite(Site):
    """Scrapes every few seconds would drown the log: no access log lines."""

    noisy = False

    def log(self, request):
        pass


def ops_site(ready_check) -> Site:
    root = Resource()
    root.putChild(b"metrics", MetricsResource())
    root.putChild(b"healthz", Healthz())
    root.putChild(b"readyz", Readyz(ready_check))
    return QuietSite(root)
