"""Run ``ainas-provision`` with a tap on its state lock and journal, for the concurrency tests.

``python -m tests.reliability.tap AUDIT GO -- ARGS…`` runs ``ainas-provision ARGS…`` in this
process after wrapping three methods, which keep doing what they did and also append one JSON
line to the AUDIT file per event (a single ``write`` on an ``O_APPEND`` descriptor, so that the
lines of several processes never mix):

- ``FileLock.acquire``: first ``ready``, then (a start barrier) it waits for the file GO to
  exist, so that all processes ask for the lock at the same moment; then ``acquired`` once the
  lock file is created, or ``refused`` (with the holder's pid and the seconds waited);
- ``FileLock.release``: ``released``, before the lock file is removed;
- ``LocalStateStore._append``: ``record`` with each journal record (``begin`` included).

A holder's ``acquired`` line is written after it creates the lock file and its ``released`` line
before it removes it, so in the file's order the holding intervals of two processes can only
overlap if the lock let two hold it at once.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from ainas_provision.state.lock import FileLock, LockHeld
from ainas_provision.state.store import LocalStateStore


def main() -> None:
    audit, go = Path(sys.argv[1]), Path(sys.argv[2])
    args = sys.argv[sys.argv.index("--") + 1 :]
    fd = os.open(audit, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def log(event: str, **fields) -> None:
        line = json.dumps({"pid": os.getpid(), "event": event, **fields}, ensure_ascii=False)
        os.write(fd, (line + "\n").encode())

    acquire, release, append = FileLock.acquire, FileLock.release, LocalStateStore._append

    def tapped_acquire(self, operation: str, timeout: float = 0.0):
        log("ready")
        while not go.exists():
            time.sleep(0.005)
        started = time.monotonic()
        try:
            info = acquire(self, operation, timeout)
        except LockHeld as exc:
            holder = exc.info.pid if exc.info else None
            log("refused", holder=holder, waited=round(time.monotonic() - started, 3))
            raise
        log("acquired", waited=round(time.monotonic() - started, 3))
        return info

    def tapped_release(self) -> None:
        if self.info is not None:
            log("released")
        release(self)

    def tapped_append(self, record: dict) -> None:
        append(self, record)
        log("record", record=record)

    FileLock.acquire = tapped_acquire
    FileLock.release = tapped_release
    LocalStateStore._append = tapped_append
    sys.argv = ["ainas-provision", *args]
    from ainas_provision.cli.main import main as cli

    cli()


if __name__ == "__main__":
    main()
