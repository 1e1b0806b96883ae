"""Run ``ainas-provision`` with a tap on its state lock and journal, for the concurrency tests.

``python -m tests.reliability.tap AUDIT GO -- ARGS…`` runs ``ainas-provision ARGS…`` in this
process after wrapping three methods, which keep doing what they did and also append one JSON
line to the AUDIT file per event (a single ``write`` on an ``O_APPEND`` descriptor, so that the
lines of several processes never mix):

- ``FileLocker.lock``: first ``ready``, then (a start barrier) it waits for the file GO to
  exist, so that all processes ask for the lock at the same moment; then ``acquired`` once the
  lock is taken, or ``refused`` (with the holder's pid and the seconds waited);
- ``FileLocker.unlock``: ``released``, before the lock is given back;
- ``LocalStateStore._write``: ``record`` with each journal line (``begin`` included), as it is
  written (made durable after, by the journal's group commit).

A holder's ``acquired`` line is written after it takes the lock and its ``released`` line
before it removes it, so in the file's order the holding intervals of two processes can only
overlap if the lock let two hold it at once.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from ainas_provision.state.lock import FileLocker
from ainas_provision.state.protocols import LockError
from ainas_provision.state.store import LocalStateStore


def main() -> None:
    audit, go = Path(sys.argv[1]), Path(sys.argv[2])
    args = sys.argv[sys.argv.index("--") + 1 :]
    fd = os.open(audit, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def log(event: str, **fields) -> None:
        line = json.dumps({"pid": os.getpid(), "event": event, **fields}, ensure_ascii=False)
        os.write(fd, (line + "\n").encode())

    acquire, release, write = FileLocker.lock, FileLocker.unlock, LocalStateStore._write

    def tapped_acquire(self, info, *, timeout: float = 0.0):
        log("ready")
        while not go.exists():
            time.sleep(0.005)
        started = time.monotonic()
        try:
            lock_id = acquire(self, info, timeout=timeout)
        except LockError as exc:
            holder = exc.holder.pid if exc.holder else None
            log("refused", holder=holder, waited=round(time.monotonic() - started, 3))
            raise
        log("acquired", waited=round(time.monotonic() - started, 3))
        return lock_id

    def tapped_release(self, lock_id: str) -> None:
        if lock_id in self._held:
            log("released")
        release(self, lock_id)

    def tapped_write(self, line: bytes) -> None:
        write(self, line)
        log("record", record=json.loads(line))

    FileLocker.lock = tapped_acquire
    FileLocker.unlock = tapped_release
    LocalStateStore._write = tapped_write
    sys.argv = ["ainas-provision", *args]
    from ainas_provision.cli.main import main as cli

    cli()


if __name__ == "__main__":
    main()
