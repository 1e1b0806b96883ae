"""The state lock: one apply at a time, and who holds it when it is held.

A lock is a file beside the state, created atomically (``O_EXCL``), holding who took it, when,
and for what. A lock whose holder process is gone (same host, no such process) is *stale*:
it is reported as such and broken with ``ainas-provision state unlock``. The lock belongs to
the state store, so that a shared store (a database) can lock the same way.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from ainas_provision.errors import AinasProvisionError


@dataclass(frozen=True)
class LockInfo:
    id: str
    holder: str  # user@host
    host: str
    pid: int
    operation: str
    since: str  # ISO 8601, UTC

    @classmethod
    def mine(cls, operation: str) -> LockInfo:
        host = socket.gethostname()
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "unknown"
        return cls(
            id=str(uuid.uuid4()),
            holder=f"{user}@{host}",
            host=host,
            pid=os.getpid(),
            operation=operation,
            since=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        )

    def is_stale(self) -> bool | None:
        """True when the holder is known to be gone; None when it cannot be told (another host)."""
        if self.host != socket.gethostname():
            return None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def describe(self) -> str:
        return f"{self.holder} (pid {self.pid}, {self.operation}) since {self.since}"


class LockHeld(AinasProvisionError):
    def __init__(self, path: Path, info: LockInfo | None) -> None:
        self.info = info
        if info is None:
            message = f"the state is locked ({path}), by an unreadable lock file"
        else:
            message = f"the state is locked by {info.describe()}"
            stale = info.is_stale()
            if stale:
                message += (
                    "; that process is no longer running, so the lock is stale: break it with "
                    "`ainas-provision state unlock` (after checking that no apply is running)"
                )
            else:
                message += "; wait for it to finish, or use --lock-timeout to wait"
        super().__init__(message)


def _write(path: Path, info: LockInfo, flags: int) -> None:
    fd = os.open(path, flags, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(info.__dict__, handle)
        handle.flush()
        os.fsync(handle.fileno())


class FileLock:
    """A lock file beside the state."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.info: LockInfo | None = None

    def read(self) -> LockInfo | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return LockInfo(**data)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError):
            return LockInfo("?", "unknown", "?", 0, "?", "?")

    def acquire(self, operation: str, timeout: float = 0.0) -> LockInfo:
        """Take the lock, waiting up to ``timeout`` seconds; raises :class:`LockHeld`."""
        info = LockInfo.mine(operation)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._create(info)
            except FileExistsError:
                if time.monotonic() >= deadline:
                    raise LockHeld(self.path, self.read()) from None
                time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
                continue
            self.info = info
            return info

    def _create(self, info: LockInfo) -> None:
        """Create the lock file with its holder in it, at once: the holder is written to a
        temporary file that is then linked into place (``link`` fails when the lock exists).
        A process that dies while taking the lock leaves no lock, or a whole one — never an
        empty one, which would name no holder and could not be told stale."""
        temporary = self.path.with_name(f"{self.path.name}.{info.id}.tmp")
        _write(temporary, info, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        try:
            os.link(temporary, self.path)
        except FileExistsError:
            raise
        except OSError:  # a file system without hard links: create, then write
            _write(self.path, info, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        finally:
            temporary.unlink(missing_ok=True)

    def release(self) -> None:
        if self.info is None:
            return
        current = self.read()
        if current is not None and current.id == self.info.id:
            self.path.unlink(missing_ok=True)
        self.info = None

    def break_lock(self, *, force: bool = False) -> LockInfo | None:
        """Remove a stale lock (or any lock, with ``force``); returns what was removed."""
        current = self.read()
        if current is None:
            return None
        stale = current.is_stale()
        if not stale and not force:
            why = (
                "its holder is still running"
                if stale is False
                else "it was taken on another host, where its holder may still be running"
            )
            raise AinasProvisionError(
                f"the state lock is held by {current.describe()} and {why}; "
                "use --force only if you are sure no apply is running"
            )
        self.path.unlink(missing_ok=True)
        return current
