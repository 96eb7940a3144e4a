"""Map a partner's SFTP paths onto its directory without any way out: pure, lexical, no disk access.

The partner sees a virtual root "/"; a client path is normalised here (never by the OS) so that
`..`, absolute paths and odd characters cannot reach outside <root>/<partner>/.
"""

from __future__ import annotations

from pathlib import Path

MAX_PATH_BYTES = 1024
MAX_NAME_BYTES = 255


class JailError(ValueError):
    """A client path that is malformed or would leave the partner's virtual root."""


def split(virtual_path: str | bytes) -> tuple[str, ...]:
    """Normalise a client path to its components below the virtual root ("/" is `()`)."""
    if isinstance(virtual_path, bytes):
        try:
            virtual_path = virtual_path.decode("utf-8")
        except UnicodeDecodeError:
            raise JailError("path is not valid UTF-8") from None
    if len(virtual_path.encode("utf-8")) > MAX_PATH_BYTES:
        raise JailError(f"path longer than {MAX_PATH_BYTES} bytes")
    # Control characters (NUL above all) truncate or confuse paths in C code and logs; a
    # backslash is a separator to Windows clients and so ambiguous.
    if any(ord(c) < 32 or ord(c) == 127 or c == "\\" for c in virtual_path):
        raise JailError("path contains a control character or backslash")
    parts: list[str] = []
    # The virtual root is the only working directory, so relative and absolute client paths
    # both start there.
    for part in virtual_path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise JailError("path leads above the root")
            parts.pop()
            continue
        if len(part.encode("utf-8")) > MAX_NAME_BYTES:
            raise JailError(f"path component longer than {MAX_NAME_BYTES} bytes")
        parts.append(part)
    return tuple(parts)


def virtual(parts: tuple[str, ...]) -> str:
    """The canonical client-facing spelling of normalised components."""
    return "/" + "/".join(parts)


def resolve(root: Path, virtual_path: str | bytes) -> Path:
    """The on-disk path below `root` (the partner's directory) for a client path."""
    path = root.joinpath(*split(virtual_path))
    # Belt and braces: split() already guarantees this lexically.
    if path != root and root not in path.parents:
        raise JailError("path leads outside the partner directory")
    return path
