"""Value conversions: X12 dates, times, numbers with implied decimals, countries, SSCCs."""

import pytest

from gateway.translate.values import CONVERSIONS

IN = {name: pair[0] for name, pair in CONVERSIONS.items()}
OUT = {name: pair[1] for name, pair in CONVERSIONS.items()}


@pytest.mark.parametrize(("kind", "text", "value"), [
    ("date", "20240229", "2024-02-29"),
    ("date", "240105", "2024-01-05"),
    ("date", "971107", "1997-11-07"),
    ("time", "1630", "16:30"),
    ("time", "163005", "16:30:05"),
    ("time", "16300525", "16:30:05.25"),
    ("number", "10", 10),
    ("number", "2.5", 2.5),
    ("number", ".5", 0.5),
    ("integer", "30", 30),
    ("decimal", "12.50", "12.50"),
    ("decimal", ".8", "0.8"),
    ("decimal", "-3.2", "-3.2"),
    ("decimal", "1E3", "1000"),
    ("n2", "1234579", "12345.79"),
    ("n2", "-250", "-2.50"),
    ("negated", "-5.33", "5.33"),
    ("country", "MEX", "MX"),
    ("country", "us", "US"),
    ("sscc", "00000012345600000018", "000012345600000018"),
    ("sscc", "000012345600000018", "000012345600000018"),
    ("text", " 2397 ", "2397"),
])
def test_inbound(kind, text, value):
    assert IN[kind](text) == value


def test_datetime_both_ways():
    assert IN["datetime"]("20240105", "1200") == "2024-01-05T12:00"
    assert IN["datetime"]("20240105") == "2024-01-05"
    assert OUT["datetime"]("2024-01-05T12:00") == ("20240105", "1200")
    assert OUT["datetime"]("2024-01-05T12:00:30Z") == ("20240105", "120030")
    assert OUT["datetime"]("2024-01-05") == ("20240105", "")


@pytest.mark.parametrize(("kind", "value", "text"), [
    ("date", "2024-01-05", "20240105"),
    ("time", "16:30", "1630"),
    ("number", 10, "10"),
    ("number", 2.5, "2.5"),
    ("number", 1e-7, "0.0000001"),
    ("decimal", "12.50", "12.50"),
    ("n2", "158.50", "15850"),
    ("n2", 7, "700"),
    ("negated", "10.00", "-10.00"),
])
def test_outbound(kind, value, text):
    assert OUT[kind](value) == text


@pytest.mark.parametrize(("kind", "text"), [
    ("date", "20240230"), ("date", "2024011"), ("date", "2024O105"), ("time", "2561"),
    ("time", "12"), ("number", "1O"), ("number", "NaN"), ("integer", "2.5"), ("n2", "12.5"),
    ("country", "XYZ"),
])
def test_inbound_refuses(kind, text):
    with pytest.raises(ValueError):
        IN[kind](text)


@pytest.mark.parametrize(("kind", "value"), [
    ("n2", "1.234"), ("datetime", "2024-01-05T12:00+02:00"), ("date", "05/01/2024"),
])
def test_outbound_refuses(kind, value):
    with pytest.raises(ValueError):
        OUT[kind](value)
