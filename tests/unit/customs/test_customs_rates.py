"""Dated exchange rates and the EUR 150 threshold across rate dates."""

import datetime as dt
from decimal import Decimal

import pytest

from gateway.customs import check
from gateway.customs.rates import RateError, RateTable

TABLE = RateTable.from_csv(
    "valid_from,currency,per_eur\n"
    "2026-01-01,USD,1.20\n"
    "2026-04-01,USD,1.00\n"
)


@pytest.mark.parametrize("day, rate", [
    (dt.date(2026, 1, 1), "1.20"),
    (dt.date(2026, 3, 31), "1.20"),
    (dt.date(2026, 4, 1), "1.00"),
    (dt.date(2027, 1, 1), "1.00"),
])
def test_rate_valid_on_date(day, rate):
    assert TABLE.per_eur("USD", day) == Decimal(rate)


def test_no_rate_before_first_or_for_unknown_currency():
    with pytest.raises(RateError, match="no USD rate valid on 2025-12-31"):
        TABLE.per_eur("USD", dt.date(2025, 12, 31))
    with pytest.raises(RateError):
        TABLE.per_eur("XYZ", dt.date(2026, 5, 1))


def test_convert_through_eur():
    assert TABLE.convert(Decimal(180), "USD", "EUR", dt.date(2026, 2, 1)) == Decimal(150)
    assert TABLE.convert(Decimal(150), "EUR", "USD", dt.date(2026, 2, 1)) == Decimal(180)


def test_same_currency_needs_no_rate_on_any_date():
    assert TABLE.convert(Decimal("19.90"), "USD", "USD", dt.date(1999, 1, 1)) == Decimal("19.90")


@pytest.mark.parametrize("text", [
    "valid_from,currency,per_eur\n2026-13-01,USD,1\n",
    "valid_from,currency,per_eur\n2026-01-01,USD,abc\n",
    "valid_from,currency,per_eur\n2026-01-01,USD,0\n",
    "day,ccy\n2026-01-01,USD\n",
])
def test_bad_rate_table(text):
    with pytest.raises(RateError, match="line 2"):
        RateTable.from_csv(text)


def test_eur_threshold_follows_the_rate_of_the_consignment_date(make, doc):
    # USD 170: at 1.12 USD/EUR (from 2026-04-01) it is EUR 151.79, at 1.15 (from 2026-07-01)
    # EUR 147.83: the same parcel is over the limit in June and under it in July.
    doc["lines"] = [{"sku": "MUG-01", "qty": 1, "unit_price": "170"}]
    doc["date"] = "2026-06-30"
    over = [f for f in check(make(doc), "eu") if f.rule_id == "EU-H7-VALUE"]
    assert len(over) == 1 and "151.79" in over[0].message
    doc["date"] = "2026-07-01"
    assert not [f for f in check(make(doc), "eu") if f.rule_id == "EU-H7-VALUE"]


def test_missing_rate_is_a_finding(make, doc):
    doc["currency"] = "XAU"
    found = check(make(doc), "eu")
    assert [f.rule_id for f in found if f.severity == "error"] == ["EU-RATE"]
    assert found[0].where.field == "currency"
