"""Benchmark of the X12 engine: reads and validates the sample corpus repeated, prints MB/s.

Two inputs: the sample corpus repeated (many partners' styles, validated against the Amazon
guides, so error-heavy) and clean Amazon-style 850s generated here (production-like).
Usage: python bench/x12.py [repeat]   (prints figures, never passes or fails on time)
"""

import io
import sys
import time
from pathlib import Path

from gateway.edi.x12 import Delimiters, TransactionSet, read_units
from gateway.edi.x12.guide import GuideError, find_guide
from gateway.edi.x12.validate import Validator
from gateway.edi.x12.writer import gs, interchange, isa, transaction_set

CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus" / "x12"


def corpus_bytes() -> bytes:
    # EBCDIC cannot share a stream with ASCII interchanges; the rest concatenate as a mailbag.
    return b"\n".join(p.read_bytes() for p in sorted(CORPUS.glob("*.x12"))
                      if not p.read_bytes().startswith(b"\xc9"))


def amazon_orders(orders: int = 2000, lines: int = 40) -> bytes:
    """Clean Amazon-style 850s, the shape of production traffic (long PO1 loops)."""
    delims = Delimiters("*", ">", "~", "^")
    sets = []
    for n in range(orders):
        body = [["BEG", "00", "NE", f"PO{n:08d}", "", "20240105"], ["CUR", "BY", "USD"],
                ["DTM", "064", "20240110"], ["DTM", "063", "20240120"],
                ["N1", "ST", "", "92", "RNO1"]]
        for line in range(1, lines + 1):
            body.append(["PO1", str(line), str(line % 7 + 1), "EA", f"{line * 1.25:.2f}", "NT",
                         "UP", f"{line:012d}"])
            body.append(["CTP", "", "RES", f"{line * 2.5:.2f}"])
        body.append(["CTT", str(lines)])
        sets.append(transaction_set("850", n + 1, body))
    text = interchange(isa(("ZZ", "AMAZON"), ("ZZ", "VENDOR"), 1, delims),
                       [(gs("PO", "AMAZON", "VENDOR", 1), sets)], delims, newline=True)
    return text.encode()


def validator_for(ts: TransactionSet, cache: dict) -> Validator | None:
    key = ts.id
    if key not in cache:
        try:
            cache[key] = Validator(find_guide(ts.id, "004010", "amazon-vc"))
        except GuideError:
            cache[key] = None
    return cache[key]


def run(data: bytes, validate: bool) -> tuple[float, int, int]:
    cache: dict = {}
    segments = problems = 0
    start = time.perf_counter()
    for unit in read_units(io.BytesIO(data)):
        if isinstance(unit, TransactionSet):
            segments += len(unit.segments)
            validator = validator_for(unit, cache) if validate else None
            if validator is not None:
                problems += len(validator.validate(unit))
    return time.perf_counter() - start, segments, problems


def main() -> None:
    repeat = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    inputs = ((f"corpus x{repeat}", corpus_bytes() * repeat), ("amazon 850s", amazon_orders()))
    for name, data in inputs:
        size = len(data) / 1e6
        for label, validate in (("read", False), ("read + validate", True)):
            elapsed, segments, problems = run(data, validate)
            print(f"{name:12s} {label:16s} {size:6.1f} MB  {size / elapsed:6.2f} MB/s  "
                  f"{segments / elapsed:9.0f} segments/s  ({problems} problems)")


if __name__ == "__main__":
    main()
