"""Paths and helpers shared by the customs tests (a plain module: conftest is not importable)."""

import json
from pathlib import Path

DATA = Path(__file__).parent / "data"
SHARED = Path("/work/shared/customs/cn-ceb-2022")
EXAMPLE = json.loads((DATA / "shipment.json").read_text(encoding="utf-8"))


def rule_hits(findings, rule_id):
    return [f for f in findings if f.rule_id == rule_id]


def error_ids(findings):
    return sorted({f.rule_id for f in findings if f.severity == "error"})
