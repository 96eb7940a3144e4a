"""What a filing is: a named document in one format, refused while error findings remain."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Filing:
    format: str  # xml | json
    filename: str
    content: bytes


class FilingRefused(ValueError):
    """Raised instead of a filing when the consignment has error findings."""

    def __init__(self, findings):
        self.findings = findings
        super().__init__("; ".join(f"{f.rule_id} at {f.where}: {f.message}" for f in findings))


def filename(kind: str, consignment_id: str, suffix: str, version: int = 1) -> str:
    """``H7_SO-1001.json``; an amendment's own ``H7_SO-1001_v2.json``, never the first's."""
    # Ids come from partners: keep file names portable and free of path separators.
    safe = re.sub(r"[^A-Za-z0-9_-]+", "_", consignment_id).strip("_")[:60] or "unnamed"
    return f"{kind}_{safe}{f'_v{version}' if version > 1 else ''}.{suffix}"


def json_filing(kind: str, consignment_id: str, document: dict, version: int = 1) -> Filing:
    """The document with its ``version``: 1 first, then one more per amendment re-filed."""
    content = json.dumps({**document, "version": version}, ensure_ascii=False,
                         indent=2).encode("utf-8")
    return Filing("json", filename(kind, consignment_id, "json", version), content)
