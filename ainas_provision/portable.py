"""What differs between operating systems, in one place.

Today: an exclusive lock on an open file that the operating system drops when the holding
process ends, however it ends (``kill -9``, a crash, a power cut of a container). On POSIX it is
``fcntl.flock`` on the whole file; on Windows ``msvcrt.locking`` on one byte far beyond any
content (the way SQLite does), so that the rest of the file stays readable by others — a Windows
byte-range lock is mandatory, and a reader must still see who holds the lock.
"""

from __future__ import annotations

import os
import sys

WINDOWS = sys.platform == "win32"
_LOCK_OFFSET = 1 << 30  # Windows: the locked byte, beyond any holder text

if WINDOWS:  # pragma: no cover - exercised on Windows only
    import msvcrt

    def try_lock(fd: int) -> bool:
        """Take the exclusive lock of ``fd`` without waiting; False when another process holds it."""
        position = os.lseek(fd, 0, os.SEEK_CUR)
        os.lseek(fd, _LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        finally:
            os.lseek(fd, position, os.SEEK_SET)
        return True

    def unlock(fd: int) -> None:
        """Give the lock of ``fd`` back (closing ``fd`` does too)."""
        position = os.lseek(fd, 0, os.SEEK_CUR)
        os.lseek(fd, _LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        except OSError:
            pass
        finally:
            os.lseek(fd, position, os.SEEK_SET)

else:
    import fcntl

    def try_lock(fd: int) -> bool:
        """Take the exclusive lock of ``fd`` without waiting; False when another process holds it."""
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def unlock(fd: int) -> None:
        """Give the lock of ``fd`` back (closing ``fd`` does too)."""
        fcntl.flock(fd, fcntl.LOCK_UN)
