"""Keeping the state in a local file, safely.

``ainas.state.json`` is only ever replaced whole and atomically (a temporary file, fsync,
rename, fsync of the directory). During an apply every successful change is appended at once to
``ainas.state.json.journal`` (one JSON line, fsync'ed), so that an apply that dies half-way
leaves a true record: loading replays the journal onto the state (a torn last line — the change
that was being written when the process died — is ignored). When the apply ends, the state file
is rewritten with the new serial and the journal removed. This costs one small append per
change instead of rewriting a large state file thousands of times.

This is the file implementation of :class:`~ainas_provision.state.protocols.StateStore`; its
lock is a :class:`~ainas_provision.state.lock.FileLocker` on ``ainas.state.json.lock`` and its
fingerprint key file, when the environment names none, is ``ainas.state.key`` beside it.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from pathlib import Path

from ainas_provision import portable
from ainas_provision.atomic import write_atomically
from ainas_provision.errors import AinasProvisionError
from ainas_provision.files import read_regular
from ainas_provision.state.keys import default_key_path
from ainas_provision.state.lock import FileLocker
from ainas_provision.state.model import Record, State, StateFormatError, record_from_json
from ainas_provision.state.protocols import LockInfo

# a state file or journal: a regular file, read whole (a tenant of 100,000 users is ~30 MB)
MAX_STATE_BYTES = 512 * 1024 * 1024


class StateError(AinasProvisionError):
    """The state file cannot be read or written."""


class LocalStateStore:
    """The state in a JSON file, its journal and its lock beside it."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.journal_path = self.path.with_name(self.path.name + ".journal")
        self.locker = FileLocker(self.path.with_name(self.path.name + ".lock"))
        self._journal = None
        self._mutex = threading.Lock()

    # -- what the store is ------------------------------------------------------------------
    def describe(self) -> str:
        return str(self.path)

    def close(self) -> None:
        """Nothing to close: the journal is closed by commit or abandon."""

    def key_file(self) -> Path | None:
        return default_key_path(self.path)

    def location_base(self) -> Path | None:
        return self.path.parent

    # -- Locker (delegated to the lock file) -------------------------------------------------
    def lock(self, info: LockInfo, *, timeout: float = 0.0) -> str:
        return self.locker.lock(info, timeout=timeout)

    def unlock(self, lock_id: str) -> None:
        self.locker.unlock(lock_id)

    def holder(self) -> LockInfo | None:
        return self.locker.holder()

    def force_unlock(self) -> LockInfo | None:
        return self.locker.force_unlock()

    def exists(self) -> bool:
        return self.path.exists() or self.journal_path.exists()

    def load(self) -> State:
        """The state, with the journal of an interrupted apply replayed onto it."""
        state = State()
        if self.path.exists():
            try:
                text = read_regular(self.path, limit=MAX_STATE_BYTES).decode("utf-8")
                state = State.from_json(json.loads(text))
            except (OSError, ValueError, StateFormatError) as exc:
                raise StateError(f"cannot read the state file {self.path}: {exc}") from None
        if self.journal_path.exists():
            self._replay(state)
        return state

    def _replay(self, state: State) -> None:
        try:
            data = read_regular(self.journal_path, limit=MAX_STATE_BYTES)
            lines = data.decode("utf-8").splitlines()
        except (OSError, ValueError) as exc:
            raise StateError(f"cannot read the state journal {self.journal_path}: {exc}") from None
        for number, line in enumerate(lines, 1):
            try:
                data = json.loads(line)
            except ValueError:
                if number == len(lines):
                    break  # torn last line: the change being written when the process died
                raise StateError(
                    f"the state journal {self.journal_path} is damaged at line {number}"
                ) from None
            try:
                if isinstance(data, dict) and data.get("op") == "begin":
                    state.lineage, state.serial = str(data["lineage"]), int(data["serial"])
                    continue
                state.apply(record_from_json(data))
            except (StateFormatError, KeyError, TypeError, ValueError, AttributeError) as exc:
                raise StateError(
                    f"the state journal {self.journal_path} is damaged at line {number}: {exc}"
                ) from None

    # -- an apply --------------------------------------------------------------------------
    def begin(self, state: State) -> None:
        """Start recording changes. A journal left by an interrupted apply is folded into the
        state file first, so that each journal describes one apply."""
        if self.journal_path.exists():
            self.write(state)
            self.journal_path.unlink()
        if not state.lineage:
            state.lineage = str(uuid.uuid4())
        state.serial += 1
        # owner-only, as the state is: it holds the same records
        fd = os.open(self.journal_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        portable.make_private_fd(fd)  # one left by an older version may be 0644
        self._journal = os.fdopen(fd, "a", encoding="utf-8")
        self._append({"op": "begin", "lineage": state.lineage, "serial": state.serial})

    def record(self, state: State, record: Record) -> None:
        """Apply one change to ``state`` and make it durable before returning."""
        with self._mutex:
            state.apply(record)
            if self._journal is not None:
                self._append(record.to_json())

    def _append(self, record: dict) -> None:
        self._journal.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
        self._journal.flush()
        os.fsync(self._journal.fileno())

    def commit(self, state: State) -> None:
        """Write the whole state and end the journal."""
        with self._mutex:
            self.write(state)
            if self._journal is not None:
                self._journal.close()
                self._journal = None
            self.journal_path.unlink(missing_ok=True)

    def abandon(self) -> None:
        """Stop recording without writing the state: what an interrupted apply leaves behind
        (the journal), for the next load to replay."""
        with self._mutex:
            if self._journal is not None:
                self._journal.close()
                self._journal = None

    def write(self, state: State) -> None:
        text = json.dumps(state.to_json(), ensure_ascii=False, indent=2, sort_keys=False) + "\n"
        try:
            write_atomically(self.path, text)
        except OSError as exc:
            raise StateError(f"cannot write the state file {self.path}: {exc.strerror}") from None
