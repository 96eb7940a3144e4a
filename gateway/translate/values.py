"""Value conversions between X12 element text and internal JSON values, both ways.

Each conversion is a pair (inbound, outbound) registered in CONVERSIONS under the name a map's
`as:` uses. Inbound functions take the element text (never empty) and outbound ones the JSON
value; both raise ValueError with a message fit for a positioned error.
"""

from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cache

import pycountry

# Two-digit years: X12 YYMMDD dates before this year of the century are 20YY, the others 19YY.
CENTURY_PIVOT = 50


def _digits(text: str, what: str) -> str:
    if not text.isdigit():
        raise ValueError(f"{text!r} is not {what}")
    return text


@cache
def date_in(text: str) -> str:
    """CCYYMMDD or YYMMDD -> YYYY-MM-DD."""
    _digits(text, "a date (CCYYMMDD)")
    if len(text) == 6:
        text = ("20" if int(text[:2]) < CENTURY_PIVOT else "19") + text
    if len(text) != 8:
        raise ValueError(f"{text!r} is not a date (CCYYMMDD)")
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:])).isoformat()
    except ValueError:
        raise ValueError(f"{text!r} is not a valid calendar date") from None


def date_out(value: str) -> str:
    return date.fromisoformat(value[:10]).strftime("%Y%m%d")


@cache
def time_in(text: str) -> str:
    """HHMM[SS[d..]] -> HH:MM[:SS[.d..]]."""
    _digits(text, "a time (HHMM)")
    if len(text) < 4 or len(text) == 5 or int(text[:2]) > 23 or int(text[2:4]) > 59 or (
            len(text) >= 6 and int(text[4:6]) > 59):
        raise ValueError(f"{text!r} is not a time (HHMM[SS])")
    out = f"{text[:2]}:{text[2:4]}"
    if len(text) >= 6:
        out += f":{text[4:6]}" + (f".{text[6:]}" if len(text) > 6 else "")
    return out


def time_out(value: str) -> str:
    hms, _, fraction = value.partition(".")
    digits = hms.replace(":", "")
    if digits.endswith("00") and len(digits) == 6 and not fraction:
        digits = digits[:4]
    return digits + fraction


def datetime_in(day: str, clock: str = "") -> str:
    """A date and an optional time element -> an ISO date or date-time."""
    return date_in(day) + (f"T{time_in(clock)}" if clock else "")


def datetime_out(value: str) -> tuple[str, str]:
    if value.endswith("Z"):
        value = value[:-1]
    day, _, clock = value.replace(" ", "T").partition("T")
    if any(sign in clock for sign in "+-"):
        raise ValueError(f"{value!r}: X12 dates carry no UTC offset; give the time in UTC")
    return date_out(day), time_out(clock) if clock else ""


def _decimal(text: str) -> Decimal:
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number") from None
    if not number.is_finite():
        raise ValueError(f"{text!r} is not a number")
    return number


def _plain(number: Decimal) -> str:
    """Fixed-point text: no exponent, no '+', '0.5' rather than '.5'."""
    return f"{number:f}"


def decimal_in(text: str) -> str:
    """An R value -> a decimal string (exact, as money is kept)."""
    return _plain(_decimal(text))


def decimal_out(value) -> str:
    return _plain(_decimal(str(value)))


def negated_in(text: str) -> str:
    """An R value whose sign the document reverses (X12 ADX01: negative is a deduction)."""
    return _plain(-_decimal(text))


def negated_out(value) -> str:
    return _plain(-_decimal(str(value)))


def number_in(text: str) -> int | float:
    """An R or N0 value -> a JSON number (an integer when it is whole)."""
    number = _decimal(text)
    return int(number) if number == number.to_integral_value() else float(number)


def integer_in(text: str) -> int:
    number = _decimal(text)
    if number != number.to_integral_value():
        raise ValueError(f"{text!r} is not a whole number")
    return int(number)


def implied_in(places: int) -> Callable[[str], str]:
    """Nn values carry n implied decimal places: N2 '1234579' -> '12345.79'."""
    def convert(text: str) -> str:
        if not text.lstrip("-").isdigit():
            raise ValueError(f"{text!r} is not a whole number (N{places})")
        return _plain(Decimal(text).scaleb(-places))
    return convert


def implied_out(places: int) -> Callable[[object], str]:
    def convert(value) -> str:
        scaled = _decimal(str(value)).scaleb(places)
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{value!r} has more than {places} decimal places")
        return str(int(scaled))
    return convert


@cache
def country_in(text: str) -> str:
    """X12 country codes come as ISO 3166 alpha-2 or, from many senders, alpha-3."""
    code = text.upper()
    if len(code) == 3:
        found = pycountry.countries.get(alpha_3=code)
        if found is None:
            raise ValueError(f"{text!r} is not an ISO 3166 country code")
        return found.alpha_2
    return code


def sscc_in(text: str) -> str:
    """MAN02 often carries the SSCC with its GS1 application identifier (00) in front."""
    return text[2:] if len(text) == 20 and text.startswith("00") else text


def _same(value) -> str:
    return str(value)


def _strip(text: str) -> str:
    return text.strip()


CONVERSIONS: dict[str, tuple[Callable, Callable]] = {
    "text": (_strip, _same),
    "date": (date_in, date_out),
    "time": (time_in, time_out),
    "datetime": (datetime_in, datetime_out),
    "number": (number_in, decimal_out),
    "integer": (integer_in, decimal_out),
    "decimal": (decimal_in, decimal_out),
    "negated": (negated_in, negated_out),
    "n2": (implied_in(2), implied_out(2)),
    "country": (country_in, _same),
    "sscc": (sscc_in, _same),
}
