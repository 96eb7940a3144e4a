"""Benchmark of X12 intake end to end: parse + envelope checks + guide validation + translation
into schema-checked JSON documents + the 997, by the function the daemon's ``process`` job runs
(gateway.x12flow.examine), without the store. Prints MB/s, documents/s, MB per CPU second
(the process's own CPU time, which other work on a shared machine disturbs far less than
the clock) and peak RSS.

Inputs, generated here in Amazon Vendor Central's shapes (valid under its guides): 850s with
ship-to and bill-to N1 loops and 20-60 PO1 lines each, and 856s with a shipment -> orders ->
packages (SSCC) -> items hierarchy. Each run is a subprocess, so its peak RSS (ru_maxrss) is its
own; runs on 10 MB and on 50 MB of the same shape show whether memory stays flat as the file
grows. pyx12's validation (x12n_document with maps generated from the same guides, as the oracle
test does) runs on a 2 MB file of the same shape, for the ratio (pyx12 on 50 MB would take
many minutes).

Usage: python bench/x12.py [MB]   (default 50; prints figures, never passes or fails on time)
"""

import io
import json
import logging
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gateway.edi.x12 import Delimiters, gs, interchange, isa, write_segments  # noqa: E402
from gateway.partners import Partner  # noqa: E402
from gateway.translate import find_map, render  # noqa: E402

DELIMS = Delimiters("*", ">", "~")
PROFILE = "amazon-vc"
PARTNER = {"id": "amazon-vc", "name": "Amazon",
           "x12": {"isa_qualifier": "ZZ", "isa_id": "AMAZON", "gs_id": "AMAZON",
                   "profile": PROFILE, "ack": "997"},
           "sftp": {"username": "amazon", "authorized_keys": [
               "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGxHQ0hNDo7p9a8m9XqPpWQmA0GUtZ5W2x+LyRq7bXhm"]}}
PLACEHOLDER = "REFXXXXXXX"  # replaced by a distinct number per set, same length
SETS_PER_GROUP = 500
FUNCTIONAL_IDS = {"850": "PO", "856": "SH"}


def _party(rng, role, code):
    return {"role": role, "id": code, "id_qualifier": "92",
            "name": f"Amazon.com Services {code}",
            "address": {"lines": [f"{rng.randint(1, 9999)} Logistics Way"], "city": "Reno",
                        "state": "NV", "postcode": "89506", "country": "US"}}


def order(rng) -> dict:
    lines = [{"line_number": str(n), "quantity": rng.randint(1, 240), "unit": "EA",
              "unit_price": f"{rng.randint(99, 99999) / 100:.2f}",
              "product_ids": {"upc": f"{rng.randrange(10 ** 11, 10 ** 12)}"},
              "description": f"Item {rng.randint(1, 10 ** 6)} assorted colours"}
             for n in range(1, rng.randint(20, 60) + 1)]
    return {"po_number": PLACEHOLDER, "purpose": "original", "order_type": "NE",
            "po_date": "2024-01-05", "currency": "USD",
            "dates": {"deliver_not_before": "2024-01-10", "deliver_no_later": "2024-01-20"},
            "terms": {"net_days": 60},
            "parties": [_party(rng, "ship_to", "RNO1"), _party(rng, "bill_to", "AMZN")],
            "lines": lines}


def ship_notice(rng) -> dict:
    serial = iter(range(10 ** 6))
    orders = [{"po_number": f"PO{rng.randint(10 ** 7, 10 ** 8 - 1)}", "packages": [
        {"sscc": f"00{rng.randint(10 ** 7, 10 ** 8 - 1)}{next(serial):08d}", "items": [
            {"line_number": str(i), "quantity_shipped": rng.randint(1, 24), "unit": "EA",
             "product_ids": {"upc": f"{rng.randrange(10 ** 11, 10 ** 12)}"},
             "description": "Widget"}
            for i in range(1, rng.randint(1, 4) + 1)]}
        for _ in range(rng.randint(4, 20))]} for _ in range(rng.randint(1, 3))]
    return {"shipment_id": PLACEHOLDER, "issued_at": "2024-01-05T12:00",
            "ship_date": "2024-01-05T16:30", "estimated_delivery": "2024-01-08",
            "carrier": {"scac": "UPSN", "mode": "M", "tracking": "1Z9999999999",
                        "bol": "BOL123456"},
            "gross_weight": rng.randint(10, 900),
            "ship_from": {"role": "ship_from", "id": "VENDOR1", "id_qualifier": "92",
                          "name": "ACME"},
            "ship_to": _party(rng, "ship_to", "RNO1"),
            "orders": orders}


def generate(set_id: str, megabytes: float, path: Path) -> int:
    """A file of interchanges of `set_id` sets, about `megabytes` long; returns the set count."""
    rng = random.Random(int(set_id))
    make = order if set_id == "850" else ship_notice
    m = find_map(set_id, "004010", PROFILE)
    templates = [write_segments(render(make(rng), m, 1)[1:-1], DELIMS) for _ in range(40)]
    target, written, count, isa_control = megabytes * 1e6, 0, 0, 0
    with path.open("w") as out:
        while written < target:
            isa_control += 1
            sets = []
            for _ in range(SETS_PER_GROUP):
                count += 1
                body = templates[count % len(templates)].replace(PLACEHOLDER, f"R{count:09d}")
                control = f"{count % 10 ** 9:09d}"
                n = body.count("~") + 2
                sets.append(f"ST*{set_id}*{control}~{body}SE*{n}*{control}~")
            header = gs(FUNCTIONAL_IDS[set_id], "AMAZON", "GATEWAY", isa_control)
            text = interchange(isa(("ZZ", "AMAZON"), ("ZZ", "GATEWAY"), isa_control, DELIMS),
                               [(header, [])], DELIMS)
            # The sets go between GS and GE; GE01 is their count.
            gs_text, _, rest = text.partition("~GE*0*")
            text = gs_text + "~" + "".join(sets) + f"GE*{len(sets)}*" + rest
            out.write(text + "\n")
            written += len(text) + 1
    return count


def run_ours(path: Path) -> dict:
    """One run in this process: the process job's examination, documents serialised and
    dropped (the job stores them), the 997s built."""
    from gateway.x12flow import acknowledgment, examine, translator

    partner = Partner.model_validate(PARTNER)
    translate = translator(partner, REPO / "mapping")
    stats = {"documents": 0, "json_bytes": 0, "errors": 0}

    def keep_nothing(ts):
        reference, document = translate(ts)
        stats["documents"] += 1
        stats["json_bytes"] += len(json.dumps(document))
        return reference, None

    start, cpu = time.perf_counter(), time.process_time()
    exam = examine(partner, path, REPO / "mapping", keep_nothing)
    acks = [acknowledgment(partner, ic, 1, 1) for ic in exam.interchanges]
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu
    stats["errors"] = sum(1 for ic in exam.interchanges for o in ic.sets
                          if o.status == "R" or o.error)
    stats.update(seconds=elapsed, cpu_seconds=cpu, acks=len(acks), fatal=exam.fatal,
                 rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return stats


def run_pyx12(path: Path, set_id: str) -> dict:
    import pyx12.params
    import pyx12.x12n_document

    from gateway.edi.x12.guide import find_guide
    from tests.unit.edi.pyx12_oracle import map_directory

    logging.getLogger("pyx12").setLevel(logging.CRITICAL)
    maps = map_directory(find_guide(set_id, "004010", PROFILE), FUNCTIONAL_IDS[set_id],
                         Path(tempfile.mkdtemp()))
    out = io.StringIO()
    start = time.perf_counter()
    with path.open() as fh:
        pyx12.x12n_document.x12n_document(pyx12.params.params(), fh, out, None,
                                          map_path=str(maps))
    return {"seconds": time.perf_counter() - start,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def child(kind: str, path: str, set_id: str) -> dict:
    result = subprocess.run([sys.executable, __file__, "--child", kind, path, set_id],
                            capture_output=True, text=True, check=True, cwd=REPO)
    return json.loads(result.stdout.splitlines()[-1])


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        kind, path, set_id = sys.argv[2:5]
        print(json.dumps(run_ours(Path(path)) if kind == "ours" else
                         run_pyx12(Path(path), set_id)))
        return
    megabytes = float(sys.argv[1]) if len(sys.argv) > 1 else 50
    print("X12 intake, one process per run (the machine may be shared: figures vary)")
    with tempfile.TemporaryDirectory() as tmp:
        for set_id in ("850", "856"):
            sizes = {}
            for mb in sorted({10.0, megabytes}):
                path = Path(tmp) / f"{set_id}-{mb:g}.x12"
                sets = generate(set_id, mb, path)
                size = path.stat().st_size / 1e6
                r = child("ours", str(path), set_id)
                sizes[mb] = r["rss_mb"]
                print(f"{set_id} {size:6.1f} MB {sets:7d} sets: {size / r['seconds']:5.2f} MB/s "
                      f"{r['documents'] / r['seconds']:7.0f} documents/s "
                      f"({size / r['cpu_seconds']:5.2f} MB per CPU second)  peak RSS "
                      f"{r['rss_mb']:6.1f} MB  ({r['errors']} rejected, {r['acks']} 997 "
                      f"interchanges, {r['json_bytes'] / 1e6:.0f} MB of JSON)")
                path.unlink()
                ours = size / r["seconds"]
            print(f"{set_id} memory: peak RSS {sizes[min(sizes)]:.1f} MB at {min(sizes):g} MB "
                  f"of X12, {sizes[max(sizes)]:.1f} MB at {max(sizes):g} MB")
            path = Path(tmp) / f"{set_id}-pyx12.x12"
            generate(set_id, 2, path)
            size = path.stat().st_size / 1e6
            r = child("pyx12", str(path), set_id)
            theirs = size / r["seconds"]
            print(f"{set_id} pyx12 validation only, on a {size:.1f} MB slice: {theirs:5.2f} MB/s "
                  f"(peak RSS {r['rss_mb']:.1f} MB); ours end to end is {ours / theirs:.1f} "
                  "times faster")


if __name__ == "__main__":
    main()
