"""A partner's SFTP view: upload into /inbound, download from /outbound, nothing else.

Uploads land under a hidden temporary name and become visible (and are handed to the gateway)
only on a clean close; downloads report a completed read of the whole file.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from twisted.conch.interfaces import ISFTPFile, ISFTPServer
from twisted.conch.ls import lsLine
from twisted.conch.ssh import filetransfer
from twisted.conch.ssh.filetransfer import (
    FX_FAILURE,
    FX_FILE_ALREADY_EXISTS,
    FX_NO_SUCH_FILE,
    FX_PERMISSION_DENIED,
    FXF_APPEND,
    FXF_CREAT,
    FXF_READ,
    FXF_TRUNC,
    FXF_WRITE,
    SFTPError,
)
from twisted.internet import defer
from twisted.internet.threads import deferToThread
from twisted.logger import Logger
from zope.interface import implementer

from gateway.sftp import jail
from gateway.sftp.model import SftpEvents, SftpLimits

log = Logger()

INBOUND = "inbound"
OUTBOUND = "outbound"
TEMP_PREFIX = ".upload-"
# A READ request names its own length (up to 4 GiB); answer at most this much per request.
MAX_READ = 256 * 1024
MAX_READ_RANGES = 1024
# Each open handle holds a file descriptor; a client must not be able to exhaust ours.
MAX_OPEN_FILES = 32


@dataclass(frozen=True)
class Transfers:
    """What the file layer needs from the server: the gateway's hooks, limits and events."""

    on_upload: Callable[[str, Path], Awaitable[None]]
    on_download: Callable[[str, Path], Awaitable[None]]
    limits: SftpLimits
    events: SftpEvents


def _denied(message: str) -> SFTPError:
    return SFTPError(FX_PERMISSION_DENIED, message)


def _missing() -> SFTPError:
    return SFTPError(FX_NO_SUCH_FILE, "no such file")


def _attrs(st: os.stat_result) -> dict:
    return {
        "size": st.st_size,
        "permissions": st.st_mode,
        "atime": int(st.st_atime),
        "mtime": int(st.st_mtime),
    }


def _entry(name: str, st: os.stat_result) -> tuple[bytes, bytes, dict]:
    return name.encode(), lsLine(name, st).encode(), _attrs(st)


@implementer(ISFTPServer)
class PartnerFiles:
    """The ISFTPServer for one partner session, rooted at <root>/<partner>/."""

    def __init__(self, partner_id: str, home: Path, transfers: Transfers):
        self.partner_id = partner_id
        self.home = home
        self.transfers = transfers
        self.handles: set[Upload | Download] = set()

    def _parts(self, path: bytes) -> tuple[str, ...]:
        try:
            return jail.split(path)
        except jail.JailError as e:
            raise _denied(str(e)) from None

    def _file_stat(self, parts: tuple[str, ...]) -> os.stat_result:
        """lstat of /inbound/<name> or /outbound/<name>; hidden, links and specials do not exist."""
        if len(parts) != 2 or parts[0] not in (INBOUND, OUTBOUND) or parts[1].startswith("."):
            raise _missing()
        try:
            st = os.lstat(self.home.joinpath(*parts))
        except OSError:
            raise _missing() from None
        if not stat.S_ISREG(st.st_mode):
            raise _missing()
        return st

    def gotVersion(self, otherVersion, extData):
        return {}

    def openFile(self, filename, flags, attrs):
        if len(self.handles) >= MAX_OPEN_FILES:
            raise SFTPError(FX_FAILURE, f"more than {MAX_OPEN_FILES} files open at once")
        parts = self._parts(filename)
        if flags & (FXF_WRITE | FXF_CREAT | FXF_TRUNC | FXF_APPEND):
            return self._open_upload(parts, flags)
        if parts[:1] == (INBOUND,):
            raise _denied("files are downloaded from /outbound")
        self._file_stat(parts)
        path = self.home.joinpath(*parts)
        try:
            # O_NOFOLLOW: a link swapped in since the lstat above is refused, never followed.
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            raise _missing() from None
        size = os.fstat(fd).st_size
        return Download(self, path, fd, size)

    def _open_upload(self, parts: tuple[str, ...], flags: int) -> Upload:
        if len(parts) != 2 or parts[0] != INBOUND:
            raise _denied("files are uploaded into /inbound")
        if flags & FXF_READ or flags & FXF_APPEND:
            raise _denied("uploads are written whole: no reading back, appending or resuming")
        if parts[1].startswith("."):
            raise _denied("file names starting with '.' are reserved")
        final = self.home.joinpath(*parts)
        if os.path.lexists(final):
            raise SFTPError(FX_FILE_ALREADY_EXISTS, f"{jail.virtual(parts)} already exists")
        return Upload(self, final)

    def removeFile(self, filename):
        raise _denied("files cannot be removed")

    def renameFile(self, oldpath, newpath):
        raise _denied("files cannot be renamed")

    def makeDirectory(self, path, attrs):
        raise _denied("directories cannot be created")

    def removeDirectory(self, path):
        raise _denied("directories cannot be removed")

    def openDirectory(self, path):
        parts = self._parts(path)
        if parts == ():
            return Listing([_entry(a, os.lstat(self.home / a)) for a in (INBOUND, OUTBOUND)])
        if len(parts) != 1 or parts[0] not in (INBOUND, OUTBOUND):
            raise _missing()
        entries = []
        with os.scandir(self.home / parts[0]) as it:
            for item in it:
                if item.name.startswith(".") or not item.is_file(follow_symlinks=False):
                    continue
                try:
                    entries.append(_entry(item.name, item.stat(follow_symlinks=False)))
                except OSError:  # removed while listing
                    continue
        return Listing(sorted(entries))

    def getAttrs(self, path, followLinks):
        parts = self._parts(path)
        if len(parts) == 0 or (len(parts) == 1 and parts[0] in (INBOUND, OUTBOUND)):
            return _attrs(os.lstat(self.home.joinpath(*parts)))
        return _attrs(self._file_stat(parts))

    def setAttrs(self, path, attrs):
        # Clients set times and modes after an upload (`put -p`); the gateway keeps its own.
        self.getAttrs(path, False)

    def readLink(self, path):
        raise _missing()

    def makeLink(self, linkPath, targetPath):
        raise _denied("symbolic links are not allowed")

    def realPath(self, path):
        return jail.virtual(self._parts(path)).encode()

    def extendedRequest(self, extendedName, extendedData):
        raise NotImplementedError("no extensions")


class Listing:
    """An open directory handle over a listing taken when it was opened."""

    def __init__(self, entries: list[tuple[bytes, bytes, dict]]):
        self._entries = iter(entries)

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._entries)

    def close(self):
        pass


def _make_durable(fd: int, temp: Path, final: Path) -> None:
    """Make a finished upload durable and visible under its final name (runs in a thread)."""
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        # link, unlike rename, never replaces a file another upload put there meanwhile.
        os.link(temp, final)
    finally:
        os.unlink(temp)
    dir_fd = os.open(final.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@implementer(ISFTPFile)
class Upload:
    def __init__(self, files: PartnerFiles, final: Path):
        self._files = files
        self._final = final
        self._temp = final.with_name(TEMP_PREFIX + secrets.token_hex(8))
        self._fd = os.open(self._temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o640)
        files.handles.add(self)
        self._size = 0
        self._state = "open"  # -> "closing" -> "closed"
        self._error: str | None = None

    def _fail(self, reason: str, message: str) -> SFTPError:
        self._files.transfers.events.transfer_failed(self._files.partner_id, reason)
        self._error = message
        self._discard()
        return SFTPError(FX_FAILURE, message)

    def _discard(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
            self._temp.unlink(missing_ok=True)
        self._files.handles.discard(self)

    def writeChunk(self, offset, data):
        if self._error or self._state != "open":
            raise SFTPError(FX_FAILURE, self._error or "file is closing")
        limit = self._files.transfers.limits.max_file_bytes
        if offset + len(data) > limit:
            self._files.transfers.events.limit_reached(self._files.partner_id, "max_file_bytes")
            raise self._fail("file-too-large", f"file exceeds the limit of {limit} bytes")
        os.pwrite(self._fd, data, offset)
        self._size = max(self._size, offset + len(data))

    def readChunk(self, offset, length):
        raise _denied("uploads cannot be read back")

    def getAttrs(self):
        return _attrs(os.fstat(self._fd)) if self._fd >= 0 else {}

    def setAttrs(self, attrs):
        pass

    def close(self):
        return defer.ensureDeferred(self._close())

    async def _close(self) -> None:
        if self._error:
            raise SFTPError(FX_FAILURE, self._error)
        self._state = "closing"
        try:
            await self._commit()
        finally:
            self._state = "closed"
            self._files.handles.discard(self)

    async def _commit(self) -> None:
        partner, transfers = self._files.partner_id, self._files.transfers
        fd, self._fd = self._fd, -1
        try:
            await deferToThread(_make_durable, fd, self._temp, self._final)
        except FileExistsError:
            transfers.events.transfer_failed(partner, "file-exists")
            raise SFTPError(FX_FILE_ALREADY_EXISTS, f"{self._final.name} already exists") from None
        except OSError:
            log.failure("partner {p}: could not store upload {f}", p=partner, f=self._final.name)
            transfers.events.transfer_failed(partner, "store-failed")
            raise SFTPError(FX_FAILURE, "the gateway could not store the file") from None
        try:
            await transfers.on_upload(partner, self._final)
        except Exception:
            log.failure("partner {p}: upload {f} was not recorded", p=partner, f=self._final.name)
            transfers.events.transfer_failed(partner, "not-recorded")
            # Unrecorded means not received: clear the name so the partner's retry can succeed.
            self._final.unlink(missing_ok=True)
            raise SFTPError(FX_FAILURE, "the gateway could not record the file") from None
        transfers.events.file_received(partner, self._size)

    def abort(self) -> None:
        """The connection went away: an upload not yet closed leaves nothing behind."""
        if self._state == "open":
            if not self._error:
                self._files.transfers.events.transfer_failed(self._files.partner_id, "interrupted")
            self._discard()
            self._state = "closed"


@implementer(ISFTPFile)
class Download:
    def __init__(self, files: PartnerFiles, path: Path, fd: int, size: int):
        self._files = files
        self._path = path
        self._fd = fd
        files.handles.add(self)
        self._size = size
        self._ranges: list[tuple[int, int]] = []  # byte ranges handed out, to tell a whole read

    def _merge(self) -> None:
        merged: list[tuple[int, int]] = []
        for start, end in sorted(self._ranges):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        self._ranges = merged

    def readChunk(self, offset, length):
        data = os.pread(self._fd, min(length, MAX_READ), offset)
        if data:
            self._ranges.append((offset, offset + len(data)))
            if len(self._ranges) > MAX_READ_RANGES:
                self._merge()
        return data

    def writeChunk(self, offset, data):
        raise _denied("downloads cannot be written")

    def getAttrs(self):
        return _attrs(os.fstat(self._fd))

    def setAttrs(self, attrs):
        pass

    def close(self):
        return defer.ensureDeferred(self._close())

    def _whole_file_read(self) -> bool:
        self._merge()
        return self._size == 0 or (
            bool(self._ranges) and self._ranges[0][0] == 0 and self._ranges[0][1] >= self._size
        )

    async def _close(self) -> None:
        self.abort()
        if not self._whole_file_read():
            return
        partner, transfers = self._files.partner_id, self._files.transfers
        try:
            await transfers.on_download(partner, self._path)
        except Exception:
            log.failure("partner {p}: download of {f} not recorded", p=partner, f=self._path.name)
            transfers.events.transfer_failed(partner, "not-recorded")
            raise SFTPError(FX_FAILURE, "the gateway could not record the download") from None
        transfers.events.file_sent(partner, self._size)

    def abort(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self._files.handles.discard(self)


class PartnerFileTransferServer(filetransfer.FileTransferServer):
    def connectionLost(self, reason):
        # Twisted's own connectionLost *closes* open files, which would commit a half-written
        # upload; abort them instead.
        for handle in self.openFiles.values():
            handle.abort()
        self.openFiles = {}
        super().connectionLost(reason)
