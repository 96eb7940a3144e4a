"""Configuration problems: what is wrong, in which file, at which key and line."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError


@dataclass(frozen=True)
class Problem:
    file: str
    key: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.key or '(file)'}: {self.message}"


class ConfigError(Exception):
    """Raised with every problem found, never just the first."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def dotted(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def yaml_line(data, loc: tuple) -> int | None:
    """Line (1-based) of the deepest key of ``loc`` present in a ruamel round-trip document."""
    line = None
    node = data
    for part in loc:
        lc = getattr(node, "lc", None)
        try:
            if lc is not None:
                line = (lc.key(part) if isinstance(part, str) else lc.item(part))[0] + 1
            node = node[part]
        except (KeyError, IndexError, TypeError, AttributeError):
            break
    return line


def toml_line(text: str, loc: tuple) -> int | None:
    """Line (1-based) of ``section.key`` in a TOML text (tomllib keeps no positions); the
    section's header line when the key itself is absent."""
    if not loc:
        return None
    section, key = str(loc[0]), (str(loc[1]) if len(loc) > 1 else None)
    current = section_line = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        header = re.match(r"^\[\s*([^\]]+?)\s*\]$", line)
        if header:
            current = header.group(1)
            if current == section and section_line is None:
                section_line = number
        elif key is None and current is None and re.match(rf"^{re.escape(section)}\s*=", line):
            return number
        elif key is not None and current == section and re.match(rf"^{re.escape(key)}\s*=", line):
            return number
    return section_line


def from_validation(err: ValidationError, file: Path | str, locate=None, prefix=()) -> list[Problem]:
    """One Problem per pydantic error, located by ``locate(loc)`` when given."""
    problems = []
    for e in err.errors():
        loc = tuple(prefix) + tuple(p for p in e["loc"] if not str(p).startswith("function-"))
        message = e["msg"]
        if e["type"] == "extra_forbidden":
            message = "unknown key"
        elif e["type"] == "missing":
            message = "required key is missing"
        problems.append(Problem(str(file), dotted(loc), message, locate(loc) if locate else None))
    return problems
