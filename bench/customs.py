"""Benchmark of the customs library: check and generate filings for N consignments per regime
(EU H7 and China CEB303/505/603), as the customs handler does for each routed order.

Consignments are varied from tests/unit/customs/data/shipment.json: unique ids and waybills,
1 to 3 lines of SKUs from the test product master (products.csv) with quantities 1 or 2, and
destinations across the EU (EU) or abroad (China); the seller's identities, with the ``cn``
profile for China, come from identities.yaml. Every consignment is clean, so each one is filed.
Timed per regime and consignment, one at a time as the handler takes them: ``load`` (JSON dict
-> Consignment), ``check`` (the regime's rules), ``file`` (``build_filings``, which checks again
before it builds, as in the handler); ``all`` is the three together. Prints consignments/s and
the peak RSS (``ru_maxrss``); never passes or fails on time.

Usage: .venv/bin/python bench/customs.py [--count 10000] [--seed 1]
"""

from __future__ import annotations

import os
import sys

# Run as a script, this directory would come first on sys.path and bench/queue.py would shadow
# the standard library's queue module.
if sys.path[0] == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

import argparse
import copy
import json
import platform
import random
import resource
import time
from pathlib import Path

from ruamel.yaml import YAML

from gateway import customs

DATA = Path(__file__).resolve().parents[1] / "tests/unit/customs/data"
DESTINATIONS = {"eu": ("DE", "FR", "NL", "IT", "ES"), "cn": ("DE", "GB", "JP", "FR", "US")}


def consignments(regime: str, count: int, rng: random.Random, products: dict):
    """``count`` consignment dicts varied from the example shipment, one at a time."""
    template = json.loads((DATA / "shipment.json").read_text(encoding="utf-8"))
    skus = sorted(products)
    for n in range(count):
        doc = copy.deepcopy(template)
        doc["id"] = f"{regime.upper()}-{n:07d}"
        doc["waybill"] = f"LP{n:011d}CN"
        doc["destination"] = doc["consignee"]["country"] = rng.choice(DESTINATIONS[regime])
        doc["lines"] = [{"sku": sku, "qty": rng.randint(1, 2),
                         "unit_price": str(products[sku].customs_value)}
                        for sku in rng.sample(skus, rng.randint(1, len(skus)))]
        yield doc


def run(regime: str, docs, products: dict, identities, data) -> dict:
    """Seconds spent per phase over ``docs``, and what came out; nothing is kept."""
    totals = dict.fromkeys(("load", "check", "file", "errors", "filings", "bytes"), 0)
    for doc in docs:
        t0 = time.perf_counter()
        consignment = customs.load_consignment(doc, products, identities)
        t1 = time.perf_counter()
        findings = customs.check(consignment, regime, data)
        t2 = time.perf_counter()
        filings = customs.build_filings(consignment, regime, data)
        t3 = time.perf_counter()
        totals["load"] += t1 - t0
        totals["check"] += t2 - t1
        totals["file"] += t3 - t2
        totals["errors"] += len(customs.errors(findings))
        totals["filings"] += len(filings)
        totals["bytes"] += sum(len(f.content) for f in filings)
    return totals


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=10_000, help="consignments per regime")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    products = customs.load_products(DATA / "products.csv")
    identities = customs.load_identities(
        YAML(typ="safe").load((DATA / "identities.yaml").read_text(encoding="utf-8")))
    data = customs.default_data()
    rng = random.Random(args.seed)
    print(f"customs: {args.count} consignments per regime, Python {platform.python_version()}")
    print(f"{'regime':6} {'load c/s':>9} {'check c/s':>10} {'file c/s':>9} {'all c/s':>8} "
          f"{'filings':>8} {'MB':>6} {'errors':>6}")
    for regime in ("eu", "cn"):
        r = run(regime, consignments(regime, args.count, rng, products), products, identities,
                data)
        total = r["load"] + r["check"] + r["file"]
        print(f"{regime:6} {args.count / r['load']:9.0f} {args.count / r['check']:10.0f} "
              f"{args.count / r['file']:9.0f} {args.count / total:8.0f} {r['filings']:8d} "
              f"{r['bytes'] / 1e6:6.1f} {r['errors']:6d}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # KiB on Linux
    print(f"peak RSS: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
