"""Raw payloads, content-addressed: streamed to a spool file, fsynced, renamed to their sha256.

Writers never hold a payload in memory; readers verify the hash, so a corrupted file is noticed
instead of being sent on or translated.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

CHUNK = 1024 * 1024


class ArchiveError(Exception):
    pass


class TooLarge(ArchiveError):
    def __init__(self, limit: int):
        super().__init__(f"payload exceeds the {limit}-byte limit")
        self.limit = limit


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_copy(source, target: Path) -> None:
    """Copy a binary file object to ``target`` via ``target.partial``, fsynced, then renamed.

    The partial name is fixed, so a retry after a crash overwrites its own leftovers.
    """
    partial = target.with_name(target.name + ".partial")
    with open(partial, "wb") as out:
        shutil.copyfileobj(source, out, CHUNK)
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, target)
    fsync_dir(target.parent)


class SpoolFile:
    """A payload being received. ``write`` chunks, then ``commit`` into the archive or ``discard``."""

    def __init__(self, archive: Archive, limit: int | None):
        self.archive = archive
        self.limit = limit
        self.size = 0
        self.sha256: str | None = None
        self._hash = hashlib.sha256()
        fd, name = tempfile.mkstemp(dir=archive.spool, prefix="in-")
        self.path = Path(name)
        self._file = os.fdopen(fd, "wb")

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.limit is not None and self.size > self.limit:
            self.discard()
            raise TooLarge(self.limit)
        self._hash.update(data)
        self._file.write(data)

    def commit(self) -> tuple[str, int]:
        """Make the payload durable under its sha256; returns (sha256, size)."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        digest = self._hash.hexdigest()
        target = self.archive.path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.path, target)   # same content, same name: a re-receive is harmless
        fsync_dir(target.parent)
        self.sha256 = digest
        return digest, self.size

    def discard(self) -> None:
        if not self._file.closed:
            self._file.close()
        self.path.unlink(missing_ok=True)

    # twisted.web treats a request body as a file: it rewinds it and closes it when done.
    def seek(self, offset: int, whence: int = 0) -> int:
        return 0 if self._file.closed else self._file.seek(offset, whence)

    def tell(self) -> int:
        return self.size

    def close(self) -> None:
        """Discard unless committed: a body nobody committed was never acknowledged."""
        if self.sha256 is None:
            self.discard()


class Archive:
    def __init__(self, root: Path):
        self.root = root / "archive"
        self.spool = root / "spool"
        self.root.mkdir(parents=True, exist_ok=True)
        self.spool.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise ArchiveError(f"not a sha256 reference: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def spool_file(self, limit: int | None = None) -> SpoolFile:
        return SpoolFile(self, limit)

    def put(self, data: bytes) -> tuple[str, int]:
        spool = self.spool_file()
        spool.write(data)
        return spool.commit()

    def put_chunks(self, chunks: Iterable[bytes], limit: int | None = None) -> tuple[str, int]:
        """Archive a payload that arrives in chunks (never whole in memory)."""
        spool = self.spool_file(limit)
        for chunk in chunks:
            spool.write(chunk)
        return spool.commit()

    def put_file(self, source: Path, limit: int | None = None) -> tuple[str, int]:
        spool = self.spool_file(limit)
        with open(source, "rb") as f:
            while chunk := f.read(CHUNK):
                spool.write(chunk)
        return spool.commit()

    def verify(self, sha256: str) -> Path:
        """The archived file's path, after checking its content still hashes to its name."""
        path = self.path(sha256)
        digest = hashlib.sha256()
        try:
            with open(path, "rb") as f:
                while chunk := f.read(CHUNK):
                    digest.update(chunk)
        except FileNotFoundError:
            raise ArchiveError(f"archived payload {sha256} is missing") from None
        if digest.hexdigest() != sha256:
            raise ArchiveError(f"archived payload {sha256} is corrupt (hashes to "
                               f"{digest.hexdigest()})")
        return path

    def read(self, sha256: str) -> bytes:
        return self.verify(sha256).read_bytes()

    def clean_spool(self, older_than: float) -> int:
        """Remove spool files untouched since ``older_than`` (a Unix time): left by a crash
        mid-receive, never acknowledged, so nothing is lost. Recent ones may belong to another
        process sharing this directory."""
        removed = 0
        for leftover in self.spool.glob("in-*"):
            if leftover.stat().st_mtime < older_than:
                leftover.unlink(missing_ok=True)
                removed += 1
        return removed
