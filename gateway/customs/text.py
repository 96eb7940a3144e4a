"""Text a filing can carry: Unicode that encodes as UTF-8 and is allowed in XML 1.0, without
control characters. Partners' JSON and the seller's YAML can spell anything else ("\\ud800")."""

from __future__ import annotations

import re

_UNFILEABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be filed, naming the character and its position; None if it can."""
    bad = _UNFILEABLE.search(text)
    if bad is None:
        return None
    char = ord(bad.group())
    kind = ("a lone surrogate" if 0xD800 <= char <= 0xDFFF else
            "a non-character" if char >= 0xFFFE else "a control character")
    return f"text holds {kind} (U+{char:04X}) at position {bad.start()}, which cannot be filed"
