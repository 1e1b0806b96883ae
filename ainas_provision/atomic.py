"""Replacing a file whole: readers see the old file or the new one, never a mix.

A temporary file in the same directory (``mkstemp``: readable by its owner only), written and
fsync'ed, renamed over the target, then the directory fsync'ed so that the rename itself survives
a power cut. Used for the state and for saved plans.
"""

from __future__ import annotations

import os
from pathlib import Path


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8)."""
    import tempfile  # a write's only: a run that writes nothing does without it (and shutil)

    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:  # platforms without directory descriptors (Windows)
        return
    try:
        os.fsync(dir_fd)
    except OSError:  # pragma: no cover - file systems that refuse to sync a directory
        pass
    finally:
        os.close(dir_fd)
