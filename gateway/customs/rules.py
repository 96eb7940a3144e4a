"""The rule engine: rules are data (mapping/customs/rules.yaml), checks are registered functions.

A rule names a check, its parameters, a severity and a message template; a check yields a
Hit per problem with the line, field and the values its message refers to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

CHECKS: dict[str, Callable] = {}


@dataclass(frozen=True)
class Where:
    consignment: str
    line: int | None = None
    field: str = ""

    def __str__(self) -> str:
        line = f" line {self.line}" if self.line is not None else ""
        return f"{self.consignment}{line}{': ' + self.field if self.field else ''}"


@dataclass(frozen=True)
class Finding:
    rule_id: str
    severity: str  # error | warning
    message: str
    where: Where


@dataclass(frozen=True)
class Hit:
    field: str
    line: int | None = None
    values: dict = field(default_factory=dict)


def check(name: str):
    """Register a check function ``fn(subject, data, params) -> Iterable[Hit]`` under ``name``."""

    def register(fn):
        CHECKS[name] = fn
        return fn

    return register


class _Blank(dict):
    # A template naming a value its check does not supply must still render, not raise.
    def __missing__(self, key):
        return "?"


def run(rules: Iterable[dict], subject, subject_id: str, data) -> list[Finding]:
    findings = []
    for rule in rules:
        fn = CHECKS.get(rule.get("check"))
        if fn is None:
            raise ValueError(f"rule {rule.get('id')}: unknown check {rule.get('check')!r}")
        for hit in fn(subject, data, rule.get("params") or {}):
            findings.append(Finding(
                rule_id=rule["id"],
                severity=rule.get("severity", "error"),
                message=rule["message"].format_map(_Blank(hit.values)),
                where=Where(subject_id, hit.line, hit.field),
            ))
    return findings


def errors(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "error"]
