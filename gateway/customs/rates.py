"""Dated exchange rates: each rate holds from its date until the next one for that currency."""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import io
from decimal import Decimal, InvalidOperation


class RateError(LookupError):
    """No rate for a currency on a date, or an unreadable rate table."""


class RateTable:
    """Rates quoted as units of currency per one EUR, the way the ECB and the EU publish them."""

    def __init__(self, rows: list[tuple[dt.date, str, Decimal]]):
        self._by_currency: dict[str, list[tuple[dt.date, Decimal]]] = {}
        for day, currency, rate in sorted(rows):
            self._by_currency.setdefault(currency, []).append((day, rate))

    @classmethod
    def from_csv(cls, text: str) -> RateTable:
        rows = []
        for n, row in enumerate(csv.DictReader(io.StringIO(text)), 2):
            try:
                rate = Decimal(row["per_eur"])
                rows.append((dt.date.fromisoformat(row["valid_from"]), row["currency"], rate))
            except (KeyError, TypeError, ValueError, InvalidOperation):
                raise RateError(f"rate table line {n}: unreadable row {row}") from None
            if not rate.is_finite() or rate <= 0:
                raise RateError(f"rate table line {n}: rate must be positive")
        return cls(rows)

    def per_eur(self, currency: str, on: dt.date) -> Decimal:
        if currency == "EUR":
            return Decimal(1)
        history = self._by_currency.get(currency, [])
        i = bisect.bisect_right(history, on, key=lambda entry: entry[0])
        if i == 0:
            raise RateError(f"no {currency} rate valid on {on.isoformat()}")
        return history[i - 1][1]

    def convert(self, amount: Decimal, currency: str, to: str, on: dt.date) -> Decimal:
        """``amount`` in ``currency`` expressed in ``to`` at the rates valid ``on`` that day."""
        if currency == to:
            return amount
        return amount / self.per_eur(currency, on) * self.per_eur(to, on)
