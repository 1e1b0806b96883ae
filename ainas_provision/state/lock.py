"""The file lock: one apply at a time on a state file, and who holds it.

The lock is an operating-system lock (:mod:`ainas_provision.portable`) on ``ainas.state.json.lock``
beside the state; the operating system drops it when the holding process ends, however it ends,
so a lock can never outlive its holder and there is no "stale lock" to diagnose. The same file
holds the holder's description (JSON, written once the lock is taken), for the message another run
shows; it is read only to be shown, so a damaged or empty one never stops anything.

Taking it: open (creating) the file, lock it without waiting, then check that the path still names
the file that was locked — a holder that finished removed it, or ``state unlock --force`` broke it,
between our open and our lock; then we locked a file nobody else will open, so we start again.
Giving it back: remove the file while still holding it (the next taker then finds a new file), then
unlock. ``force_unlock`` removes the file whoever holds it: a holder still running keeps its lock on
a file no one else opens, and gives back nothing of the next holder's when it ends.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import time
from pathlib import Path

from ainas_provision import portable
from ainas_provision.i18n import _
from ainas_provision.state.protocols import LockError, LockInfo

HOLDER_WAIT = 1.0  # seconds a refused run waits for the holder's record to be written


class FileLocker:
    """A :class:`~ainas_provision.state.protocols.Locker` on one lock file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._held: dict[str, int] = {}  # lock id -> the locked descriptor

    def describe(self) -> str:
        return str(self.path)

    # -- Locker --------------------------------------------------------------------------
    def lock(self, info: LockInfo, *, timeout: float = 0.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            fd = self._try(info)
            if fd is not None:
                self._held[info.id] = fd
                return info.id
            if time.monotonic() >= deadline:
                raise LockError.held(self._settled_holder(), timeout)
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))

    def unlock(self, lock_id: str) -> None:
        fd = self._held.pop(lock_id, None)
        if fd is None:
            return
        try:
            if _same_file(fd, self.path):
                with contextlib.suppress(OSError):  # Windows: an open file stays; see below
                    os.unlink(self.path)
        finally:
            portable.unlock(fd)
            os.close(fd)
        if portable.WINDOWS:  # pragma: no cover - only there can an open file not be removed
            with contextlib.suppress(OSError):
                os.unlink(self.path)

    def holder(self) -> LockInfo | None:
        if not self.is_locked():
            return None
        return self.holder_record() or LockInfo("?", "an unknown holder", "?", 0, "?", "?")

    def force_unlock(self) -> LockInfo | None:
        held = self.holder()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise LockError(
                _(
                    "cannot remove the lock {path}: {reason}; remove the file by hand once no "
                    "apply is running"
                ).format(path=self.path, reason=exc.strerror)
            ) from None
        return held

    # -- the mechanism ---------------------------------------------------------------------
    def is_locked(self) -> bool:
        """Whether a live process holds the lock (tried without taking it for long)."""
        try:
            fd = os.open(self.path, os.O_RDWR)
        except FileNotFoundError:
            return False
        except OSError:
            return True  # it exists and cannot be opened: do not claim it is free
        try:
            if not portable.try_lock(fd):
                return True
            portable.unlock(fd)
            return False
        finally:
            os.close(fd)

    def holder_record(self) -> LockInfo | None:
        """The holder described in the file, or None when there is none or it is unreadable."""
        try:
            with open(self.path, "rb") as handle:
                data = handle.read(64 * 1024)
            return LockInfo.from_json(json.loads(data.decode("utf-8")))
        except (OSError, ValueError):
            return None

    def _settled_holder(self) -> LockInfo | None:
        """The holder record, given a moment to appear: a holder writes it just after taking
        the lock, so one refused at that instant would otherwise name nobody."""
        deadline = time.monotonic() + HOLDER_WAIT
        while True:
            record = self.holder_record()
            if record is not None or time.monotonic() >= deadline:
                return record
            time.sleep(0.01)

    def _try(self, info: LockInfo) -> int | None:
        for _attempt in range(100):  # a file removed between open and lock: open the new one
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as exc:
                raise _cannot(self.path, exc) from None
            if not portable.try_lock(fd):
                os.close(fd)
                return None
            if not _same_file(fd, self.path):
                portable.unlock(fd)
                os.close(fd)
                continue
            try:
                _write_holder(fd, info)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    os.unlink(self.path)
                portable.unlock(fd)
                os.close(fd)
                raise _cannot(self.path, exc) from None
            return fd
        raise LockError(
            _("cannot take the lock {path}: it keeps being removed").format(path=self.path)
        )


def _same_file(fd: int, path: Path) -> bool:
    try:
        mine, there = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino)


def _write_holder(fd: int, info: LockInfo) -> None:
    data = json.dumps(info.to_json(), ensure_ascii=False).encode("utf-8")
    os.lseek(fd, 0, os.SEEK_SET)
    os.ftruncate(fd, 0)
    os.write(fd, data)
    os.fsync(fd)


def _cannot(path: Path, exc: OSError) -> LockError:
    if exc.errno == errno.ENOSPC:
        why = _("the disk is full")
    elif exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        why = _("the directory {path} is not writable ({reason})").format(
            path=path.parent, reason=exc.strerror
        )
    else:
        why = exc.strerror or str(exc)
    return LockError(_("cannot take the state lock {path}: {reason}").format(path=path, reason=why))
