"""Reading the files manifests name, without being led astray by them.

Manifests, data files, templates, certificate files and ``{file: …}`` secrets are named by
whoever writes the repository; a hostile one may name ``/dev/zero`` (memory exhausted), a FIFO
(a read that never ends), ``/proc/self/environ`` (another process's secrets, copied into a field
and printed in a plan), or a link inside the manifest directory that points out of it. So every
such read goes through :func:`read_regular`:

- the path is resolved (every link followed) first; with ``within``, the resolved path must be
  inside that directory (itself resolved), else the read is refused naming the link;
- nothing under ``/proc`` or ``/sys`` is read: their files say they are regular, with size 0;
- the file is opened without blocking (a FIFO's open would wait for a writer) and without
  following a link put in place since, and must then be a regular file (``fstat``);
- at most ``limit`` bytes are read; a larger file is refused, not truncated.

A refusal is an :class:`UnsafeFile`, an :class:`OSError` whose ``strerror`` says why in plain
words: code that already reports ``cannot read …: {strerror}`` reports it as such, at the place
that named the file.

:func:`recording` lists what :func:`read_regular` reads meanwhile — each read as it was asked
(path, ``within``, ``limit``) with a hash of the bytes — so that a result computed from files can
be kept and used again as long as each of them reads the same (the cache of validated trees).
It is switched on only around the reading of manifests, templates and data files, never while
secrets or certificates are read: what it lists is never a secret.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MAX_MANIFEST_BYTES = 64 * 1024 * 1024  # a manifest, a template, a data file
MAX_SECRET_BYTES = 64 * 1024  # a {file: …} secret
MAX_KEY_FILE_BYTES = 4 * 1024 * 1024  # a certificate (.p12/.pfx)
PSEUDO_FILESYSTEMS = ("/proc", "/sys")
_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
_FLAGS |= getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


# one read: (path as asked, within as asked or None, limit, SHA-256 of the bytes, or b"" when
# it could not be read)
Read = tuple[str, str | None, int, bytes]
_recorders: list[list[Read]] = []


@contextmanager
def recording() -> Iterator[list[Read]]:
    """The reads of :func:`read_regular` until the block ends, in order (see the module)."""
    reads: list[Read] = []
    _recorders.append(reads)
    try:
        yield reads
    finally:
        _recorders.remove(reads)


def digest(data: bytes) -> bytes:
    """What :func:`recording` keeps of a file's bytes: their SHA-256, which processors compute
    in hardware (x86's SHA extensions, ARMv8's), twice as fast as BLAKE2b here: a second run
    hashes every file again (5 MB at 20,000 users)."""
    return hashlib.sha256(data).digest()


class UnsafeFile(OSError):
    """A file that is refused: not a regular file, too large, or outside its directory."""

    def __init__(self, path: Path | str, reason: str, *, outside: bool = False) -> None:
        super().__init__(errno.EPERM, reason, str(path))
        self.outside = outside

    def __str__(self) -> str:
        return self.strerror


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _real_folder(directory: Path | str, folders: dict[str, str]) -> str:
    key = os.path.abspath(directory)
    real = folders.get(key)
    if real is None:
        real = folders[key] = os.path.realpath(directory)
    return real


def _inside(path: str, directory: str) -> bool:
    if os.name == "posix":  # the same answer as commonpath's, for resolved paths, at a tenth
        return path == directory or path.startswith(directory.rstrip("/") + "/")
    try:
        return os.path.commonpath([path, directory]) == directory
    except ValueError:  # another drive on Windows
        return False


def _realpath(path: Path | str, folders: dict[str, str] | None) -> str:
    """``os.path.realpath``; with ``folders``, the resolved folders met so far: a file that is
    no link, in a folder already resolved, is that folder's resolution and its name."""
    if folders is None:
        return os.path.realpath(path)
    text = os.fspath(path)
    head, tail = os.path.split(os.path.abspath(text))
    parts = text.replace(os.altsep, os.sep).split(os.sep) if os.altsep else text.split(os.sep)
    if not tail or os.pardir in parts:  # abspath would drop ".." before links are seen
        return os.path.realpath(text)
    try:
        if stat.S_ISLNK(os.lstat(text).st_mode):
            return os.path.realpath(text)
    except OSError:
        return os.path.realpath(text)
    real = folders.get(head)
    if real is None:
        real = folders[head] = os.path.realpath(head)
    return os.path.join(real, tail)


def resolve_within(
    path: Path | str,
    within: Path | str | None,
    shown: str | None = None,
    folders: dict[str, str] | None = None,
) -> str:
    """``path`` with every link followed; with ``within``, refused unless it stays inside it.
    ``folders``: see :func:`read_again`."""
    resolved = _realpath(path, folders)
    if within is not None:
        root = os.path.realpath(within) if folders is None else _real_folder(within, folders)
        if not _inside(resolved, root):
            name = shown or str(path)
            # inside before links are followed: a link took it out, and is named as such
            linked = _inside(os.path.abspath(path), os.path.abspath(within))
            how = "is a link to" if linked else "is"
            raise UnsafeFile(
                path,
                f"{name} {how} {resolved}, outside the manifest directory {root}: files named "
                "by manifests are read only from inside it",
                outside=True,
            )
    if any(_inside(resolved, root) for root in PSEUDO_FILESYSTEMS):
        raise UnsafeFile(path, f"{shown or path} is a system file (/proc, /sys): never read")
    return resolved


def read_regular(
    path: Path,
    *,
    within: Path | None = None,
    limit: int = MAX_MANIFEST_BYTES,
    shown: str | None = None,
) -> bytes:
    """The bytes of the regular file at ``path`` (see the module's docstring). Raises
    :class:`FileNotFoundError` and other :class:`OSError` as opening would, and
    :class:`UnsafeFile`."""
    if not _recorders:
        return _read(path, within, limit, shown)
    read = (str(path), None if within is None else str(within), limit)
    try:
        data = _read(path, within, limit, shown)
    except OSError:
        for reads in _recorders:
            reads.append((*read, b""))  # could not be read: must still not be, to read the same
        raise
    for reads in _recorders:
        reads.append((*read, digest(data)))
    return data


def read_again(read: Read, folders: dict | None = None) -> bool:
    """Whether a recorded read reads the same now (a read that failed must fail again), read as
    :func:`read_regular` reads. ``folders``, kept across the calls of one check, remembers
    where each folder's links lead (and the working directory), so that a thousand files of
    one folder cost one resolution of it and, each, what :func:`_read_plain` does."""
    path, within, limit, was = read
    if folders is not None and _PLAIN_READS:
        data = _read_plain(path, within, limit, folders)
        if data is not None:
            return was == digest(data)
    try:
        data = _read(path, within, limit, None, folders)
    except OSError:
        return was == b""
    return was == digest(data)


# the quick way of :func:`_read_plain` needs an open that refuses a link (and says so)
_PLAIN_READS = os.name == "posix" and hasattr(os, "O_NOFOLLOW")
_CWD = "\0cwd"  # the working directory's entry in ``folders`` (no folder is named so)


def _read_plain(path: str, within: str | None, limit: int, folders: dict) -> bytes | None:
    """The bytes of a file that is no link, in a folder that stays inside ``within`` once its
    links are followed, read with an ``open``, a ``fstat`` and a ``read``; None for anything
    else — a link, a path with ``..``, a folder outside ``within`` or in /proc or /sys, an open
    that fails, not a regular file, another size than it said — which :func:`_read` then
    reads, refuses or fails to read as ever.

    As strict as :func:`_read`: what is opened is the folder's resolution and the file's name,
    without following a link (``O_NOFOLLOW``: a file that is a link fails to open, and is read
    the long way, through every link). A name in a folder that is inside ``within`` is inside
    it too, and a folder outside /proc and /sys, other than ``/``, holds no name in them: so
    ``within`` and the system folders are checked once per folder (with its links followed,
    once per check), not once per file. What it saves, a thousand times over: the working
    directory asked twice per file (it is asked once), the ``lstat`` (the open refuses a link
    itself), the path arithmetic, the second ``read`` that finds the end (a regular file
    holding as many bytes as ``fstat`` said has ended)."""
    folder, _sep, name = path.rpartition(os.sep)
    real = folders.get((folder, within))
    if real is None:
        real = folders[(folder, within)] = _plain_folder(folder, within, folders)
    if not real or name in ("", os.curdir, os.pardir):
        return None
    try:
        fd = os.open(real + name, _FLAGS)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        data = os.read(fd, info.st_size + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    return data if len(data) == info.st_size else None


def _plain_folder(folder: str, within: str | None, folders: dict) -> str:
    """A folder's resolution and a separator, where :func:`_read_plain` may open its files;
    "" where it leaves them to :func:`_read`."""
    if not folder or os.pardir in folder.split(os.sep):
        return ""  # a name alone (rare: read the long way); ".." (seen before links, by abspath)
    cwd = folders.get(_CWD)
    if cwd is None:
        cwd = folders[_CWD] = os.getcwd()
    real = os.path.realpath(os.path.join(cwd, folder))
    if real == os.sep:
        return ""  # its names include /proc and /sys themselves
    if within is not None:
        root = folders.get((None, within))
        if root is None:  # as resolve_within resolves it (the working directory is real)
            root = folders[(None, within)] = os.path.realpath(os.path.join(cwd, within))
        if not _inside(real, root):
            return ""
    if any(_inside(real, system) for system in PSEUDO_FILESYSTEMS):
        return ""
    return real + os.sep


def _read(
    path: Path | str,
    within: Path | str | None,
    limit: int,
    shown: str | None,
    folders: dict[str, str] | None = None,
) -> bytes:
    resolved = resolve_within(path, within, shown, folders)
    fd = os.open(resolved, _FLAGS)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeFile(path, f"it is {_kind(info.st_mode)}: only regular files are read")
        if info.st_size > limit:
            raise UnsafeFile(path, _too_large(info.st_size, limit))
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise UnsafeFile(path, _too_large(size, limit))
        return b"".join(chunks)
    finally:
        os.close(fd)


def _too_large(size: int, limit: int) -> str:
    return f"it is larger than {limit:,} bytes ({size:,} or more): refused, not read"
