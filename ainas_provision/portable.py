"""What differs between operating systems, in one place.

Everything the tool does differently on Windows goes through here, so that no other module
needs a POSIX-only call (process signals, ``fcntl``, ``fchmod``), and the suite can force the
Windows paths on Linux (``portable.WINDOWS`` is read when the functions below are called, except for the lock).

The lock: an exclusive lock on an open file that the operating system drops when the holding
process ends, however it ends (``kill -9``, a crash, a power cut of a container). On POSIX it is
``fcntl.flock`` on the whole file; on Windows ``msvcrt.locking`` on one byte far beyond any
content (the way SQLite does), so that the rest of the file stays readable by others — a Windows
byte-range lock is mandatory, and a reader must still see who holds the lock.
"""

from __future__ import annotations

import codecs
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    import socket  # (imported where sockets are made: not at start-up)

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


# --- file modes ---------------------------------------------------------------------------------
# Windows keeps no POSIX mode: ``os.chmod`` there only sets or clears the read-only flag, and
# ``os.fchmod`` is absent before Python 3.13. A file under the user's profile is protected by the
# profile's ACL (the user, SYSTEM and administrators), which is what the messages then say instead
# of promising a mode that does not exist. The functions read ``WINDOWS`` when called, so that the
# suite can force the Windows path on Linux.


def make_private(path: str | os.PathLike[str]) -> None:
    """Make ``path`` readable by its owner only (mode 0600) where file modes exist."""
    if not WINDOWS:
        os.chmod(path, 0o600)


def make_private_fd(fd: int) -> None:
    """:func:`make_private` for an open file (a file made by an older version may be 0644)."""
    if not WINDOWS and hasattr(os, "fchmod") and os.fstat(fd).st_mode & 0o077:
        os.fchmod(fd, 0o600)


def make_private_directory(path: str | os.PathLike[str]) -> None:
    """Make a directory its owner's only (mode 0700) where file modes exist."""
    if not WINDOWS:
        os.chmod(path, 0o700)


def private_note() -> str:
    """How a private file is protected, for the messages that tell where one was written."""
    from ainas_provision.i18n import _

    if WINDOWS:
        return _("protected by your Windows profile's permissions, not by a file mode")
    return _("mode 0600")


# --- paths --------------------------------------------------------------------------------------


def relpath(path: str | os.PathLike[str], start: str | os.PathLike[str] | None = None) -> str:
    """``os.path.relpath``, or the absolute path when there is no relative one (on Windows a path
    on another drive, or a UNC share, has none: ``relpath`` raises ValueError)."""
    try:
        return os.path.relpath(path, start) if start is not None else os.path.relpath(path)
    except ValueError:
        return os.path.abspath(path)


# --- listening sockets --------------------------------------------------------------------------


def exclusive_address(sock: socket.socket) -> None:
    """Before ``bind``: no other socket may listen on this address while ``sock`` does.
    On POSIX ``SO_REUSEADDR`` only lets a restarted server take its port back from connections in
    TIME_WAIT — two listeners still cannot share it. On Windows ``SO_REUSEADDR`` would let a second
    server steal a listening port; ``SO_EXCLUSIVEADDRUSE`` forbids that instead."""
    import socket

    if WINDOWS:
        sock.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_EXCLUSIVEADDRUSE", -5), 1)
    else:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)


# --- the console --------------------------------------------------------------------------------
# Whatever the console's encoding, output never crashes on a character it cannot show: such a
# character is written as a look-alike the encoding has (cp932 has no EM DASH but has HORIZONTAL
# BAR) or as "?". On Windows under mintty (Git Bash), where the output is a pipe in the ANSI code
# page although mintty shows UTF-8, the output is UTF-8 unless PYTHONIOENCODING says otherwise.

_LOOKALIKES = {
    "\u2014": "\u2015",  # — EM DASH -> ― (cp932)
    "\u2212": "\uff0d",  # − MINUS SIGN -> －
    "\u301c": "\uff5e",  # 〜 WAVE DASH -> ～
    "\u00a0": " ",
}
_ASCII = {
    "\u2014": "--", "\u2015": "--", "\u2013": "-", "\u2026": "...", "\u2018": "'",
    "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2192": "->", "\u00b7": "*", "\u2022": "*",
}  # fmt: skip
ERRORS = "ainas-console"


def _substitute(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    out = []
    for char in error.object[error.start : error.end]:
        for candidate in (_LOOKALIKES.get(char), _ASCII.get(char)):
            if candidate is None:
                continue
            try:
                candidate.encode(error.encoding)
            except (UnicodeError, LookupError):
                continue
            out.append(candidate)
            break
        else:
            out.append("?")
    return "".join(out), error.end


codecs.register_error(ERRORS, _substitute)


def under_mintty(env: Mapping[str, str] = os.environ) -> bool:
    """Windows, in mintty (Git Bash, MSYS2, Cygwin): stdin and stdout are pipes, not consoles,
    although a person types and reads."""
    return WINDOWS and bool(env.get("MSYSTEM") or env.get("TERM_PROGRAM") == "mintty")


def configure_console(
    streams: tuple[TextIO, ...] | None = None, env: Mapping[str, str] = os.environ
) -> None:
    """Make stdout and stderr safe for any console encoding (see above)."""
    for stream in streams if streams is not None else (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is None:  # a test's capture, or a stream replaced by a caller
            continue
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("_", "-")
        if under_mintty(env) and not env.get("PYTHONIOENCODING") and encoding != "utf-8":
            reconfigure(encoding="utf-8")
        elif encoding not in ("utf-8", "utf8") and stream.errors == "strict":
            reconfigure(errors=ERRORS)


def interactive_stdin(env: Mapping[str, str] = os.environ) -> bool:
    """Whether a person can answer a question on stdin: a terminal, or mintty on Windows (whose
    stdin is a pipe: ``isatty`` is false there although a person is typing)."""
    return sys.stdin.isatty() or (under_mintty(env) and sys.stdin is not None)
