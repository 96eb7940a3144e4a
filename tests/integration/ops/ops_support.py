"""Support for the operations tests: the ops/ files, a real Prometheus server, PromQL helpers."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.parse
from pathlib import Path

from tests.support import REPO, free_port, http_get, wait_for

OPS = REPO / "ops"
DASHBOARD = OPS / "grafana" / "gateway.json"
# What Grafana puts in place of its variables, so that dashboard queries run as plain PromQL.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h",
                     "$instance": ".*", "$partner": ".*"}
SUFFIXES = {"counter": ("",), "gauge": ("",), "histogram": ("_bucket", "_count", "_sum"),
            "summary": ("", "_count", "_sum"), "info": ("",)}
METRIC = re.compile(r"\b(gateway_[a-z0-9_]+)\b")


def run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120)


def exported_names(metrics_text: str) -> set[str]:
    """Every sample name a /metrics page can have, from its TYPE lines (present even for
    labelled metrics that have no samples yet)."""
    names = set()
    for line in metrics_text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            names |= {name + suffix for suffix in SUFFIXES.get(kind, ("",))}
    return names


def metric_names(expr: str) -> set[str]:
    return set(METRIC.findall(expr))


def grafana_to_promql(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def dashboard_queries(dashboard: dict) -> list[str]:
    """Every PromQL expression of the dashboard: panel targets, and the metric selectors of the
    template variables' label_values(...) queries."""
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            match = re.fullmatch(r"label_values\((.+), *\w+\)", variable["query"]["query"])
            assert match, variable
            exprs.append(match.group(1))
    return exprs


def alert_rules() -> list[dict]:
    from ruamel.yaml import YAML

    doc = YAML(typ="safe").load((OPS / "alerts.yml").read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


class Prometheus:
    """``prometheus`` scraping the given targets every second, with ops/alerts.yml loaded."""

    def __init__(self, workdir: Path, targets: dict[str, int]):
        self.port = free_port()
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        static = "\n".join(
            f"      - targets: ['127.0.0.1:{port}']\n        labels: {{instance: {name}}}"
            for name, port in targets.items())
        self.config = workdir / "prometheus.yml"
        self.config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            f"rule_files: ['{OPS / 'alerts.yml'}']\n"
            "scrape_configs:\n  - job_name: gateway\n    static_configs:\n" + static + "\n")
        self.log = workdir / "prometheus.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> Prometheus:
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                ["prometheus", f"--config.file={self.config}",
                 f"--storage.tsdb.path={self.workdir / 'data'}",
                 f"--web.listen-address=127.0.0.1:{self.port}"],
                stdout=log, stderr=subprocess.STDOUT)
        wait_for(self.ready, timeout=60, what=f"prometheus ready\n{self.tail()}")
        return self

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"prometheus exited with {self.proc.returncode}:\n{self.tail()}")
        try:
            return http_get(self.url("/-/ready"), timeout=1)[0] == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def api(self, path: str, **params) -> tuple[int, dict]:
        status, body = http_get(self.url(f"/api/v1/{path}?{urllib.parse.urlencode(params)}"),
                                timeout=10)
        return status, json.loads(body)

    def query(self, expr: str) -> list[dict]:
        """The result vector of an instant query (an AssertionError on any error)."""
        status, answer = self.api("query", query=expr)
        assert status == 200 and answer["status"] == "success", (expr, answer)
        return answer["data"]["result"]

    def wait_query(self, expr: str, timeout: float = 60) -> list[dict]:
        return wait_for(lambda: self.query(expr), timeout=timeout, interval=0.5,
                        what=f"a result for {expr}")
