"""Benchmark of the map engine: translation of transaction sets into schema-checked documents,
and rendering of documents back into X12. Prints documents/s and MB/s (of X12 text).

Inputs: every 850/855/856/810/820 set of the sample corpus (many senders' styles: about half
fail, positioned, which costs a second traced pass), and clean Amazon-style 850s and rendered
856s (production-like).
Usage: python bench/translate.py [seconds per figure]   (prints figures, never passes or fails)
"""

import io
import sys
import time
from pathlib import Path

from gateway.edi.x12 import Delimiters, TransactionSet, load
from gateway.edi.x12.writer import gs, interchange, isa, transaction_set, write_segments
from gateway.translate import TranslationError, find_map, render, translate

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "x12"
MAPPED = {"850", "855", "856", "810", "820"}
DELIMS = Delimiters("*", ">", "~")


def sets_of(data: bytes) -> list[TransactionSet]:
    return [ts for ic in load(io.BytesIO(data)) for g in ic.groups for ts in g.sets
            if ts.id in MAPPED]


def size(ts: TransactionSet) -> int:
    # The X12 text of the set: its elements, separators and terminators.
    return sum(len(e) + 1 for seg in ts.segments for e in seg.elements)


def amazon_orders(orders: int = 200, lines: int = 40) -> bytes:
    sets = []
    for n in range(orders):
        body = [["BEG", "00", "NE", f"PO{n:08d}", "", "20240105"], ["CUR", "BY", "USD"],
                ["DTM", "064", "20240110"], ["DTM", "063", "20240120"],
                ["N1", "ST", "", "92", "RNO1"]]
        for line in range(1, lines + 1):
            body.append(["PO1", str(line), str(line % 7 + 1), "EA", f"{line * 1.25:.2f}", "NT",
                         "UP", f"{line:012d}"])
            body.append(["PID", "F", "", "", "", f"Item {line}"])
        body.append(["CTT", str(lines)])
        sets.append(transaction_set("850", n + 1, body))
    return interchange(isa(("ZZ", "AMAZON"), ("ZZ", "VENDOR"), 1, DELIMS),
                       [(gs("PO", "AMAZON", "VENDOR", 1), sets)], DELIMS).encode()


def ship_notice(packages: int = 50, items: int = 4) -> dict:
    return {"shipment_id": "ASN1", "issued_at": "2024-01-05T12:00", "ship_date": "2024-01-05",
            "orders": [{"po_number": "PO1", "packages": [
                {"sscc": f"{c:018d}", "items": [
                    {"line_number": str(i), "quantity_shipped": 2, "unit": "EA",
                     "product_ids": {"upc": f"{i:012d}"}} for i in range(1, items + 1)]}
                for c in range(packages)]}]}


def run(label: str, work, units: int, nbytes: int, seconds: float) -> None:
    rounds, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        work()
        rounds += 1
    elapsed = time.perf_counter() - start
    print(f"{label:<44} {units * rounds / elapsed:10.0f} documents/s "
          f"{nbytes * rounds / elapsed / 1e6:8.2f} MB/s")


def translate_all(sets: list[TransactionSet]) -> None:
    for ts in sets:
        try:
            translate(ts)
        except TranslationError:
            pass


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    corpus = [ts for p in sorted(CORPUS.glob("*.x12")) for ts in sets_of(p.read_bytes())]
    failing = 0
    for ts in corpus:
        try:
            translate(ts)
        except TranslationError:
            failing += 1
    print(f"corpus: {len(corpus)} sets, {failing} rejected with a positioned error")
    run("corpus sets, translate + schema check", lambda: translate_all(corpus), len(corpus),
        sum(map(size, corpus)), seconds)
    orders = sets_of(amazon_orders())
    run("Amazon 850s (40 lines), translate + check", lambda: translate_all(orders), len(orders),
        sum(map(size, orders)), seconds)
    run("Amazon 850s, translate without check",
        lambda: [translate(ts, check=False) for ts in orders], len(orders),
        sum(map(size, orders)), seconds)
    asn, m = ship_notice(), find_map("856")
    nbytes = len(write_segments(render(asn, m, 1), DELIMS))
    run("856 (50 packages x 4 items), render + check", lambda: render(asn, m, 1), 1, nbytes,
        seconds)


if __name__ == "__main__":
    main()
