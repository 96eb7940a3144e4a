"""The rule files themselves: every rule is well formed and names a registered check."""

import pytest

from gateway.customs import REGIMES, default_data, run
from gateway.customs.rules import CHECKS

ALL_RULES = [rule for rules in default_data().rules.values() for rule in rules]


def test_rule_ids_are_unique():
    ids = [rule["id"] for rule in ALL_RULES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda rule: rule["id"])
def test_rule_is_well_formed(rule):
    assert rule["check"] in CHECKS
    assert rule["severity"] in ("error", "warning")
    assert rule["message"] and rule["id"].split("-")[0] in ("EU", "CN", "US")


def test_every_regime_has_rules():
    assert set(REGIMES) | {"cn_return"} == set(default_data().rules)


def test_unknown_check_is_a_clear_error():
    with pytest.raises(ValueError, match="rule X-1: unknown check 'nope'"):
        run([{"id": "X-1", "check": "nope", "message": "m"}], None, "S-1", default_data())


def test_message_with_a_missing_value_still_renders(make, doc):
    rule = {"id": "X-2", "check": "positive", "message": "{field} {nonsense}"}
    doc["lines"][0]["qty"] = 0
    (finding,) = run([rule], make(doc), "SO-1001", default_data())
    assert finding.message == "qty ?"
    assert str(finding.where) == "SO-1001 line 1: qty"
