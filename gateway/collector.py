"""How the daemon runs Python's cycle collector.

CPython 3.11 starts a young-generation collection every 700 container allocations, and every
100 of those a full one that walks every object alive. The gateway allocates in bursts of tens
of thousands of short-lived dicts and lists (a batch of parsed documents and their rows, an
unwrapped message), almost none of them in reference cycles, while what it loaded at start
(configuration, X12 guides and maps, JSON schemas, code lists) lives as long as the process. With
the defaults the reconciliation worker spent about a fifth of its CPU in the collector
(``bench/reconcile.py``); the threshold below and freezing what startup loaded remove most of it.
Reference counting still frees everything that is not in a cycle at once; cycles are found a
little later, which costs only the memory they hold until then.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000   # container allocations between young collections (default 700)


def tune() -> None:
    """Call once startup has loaded what lives for the whole process: it is collected once and
    moved out of the collector's view, and young collections run less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, 10, 10)
