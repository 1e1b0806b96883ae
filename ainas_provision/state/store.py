"""Keeping the state in a local file, safely.

``ainas.state.json`` is only ever replaced whole and atomically (a temporary file, fsync,
rename, fsync of the directory). During an apply every successful change is appended at once to
``ainas.state.json.journal`` (one JSON line, fsync'ed), so that an apply that dies half-way
leaves a true record: loading replays the journal onto the state (a torn last line — the change
that was being written when the process died — is ignored). When the apply ends, the state file
is rewritten with the new serial and the journal removed. This costs one small append per
change instead of rewriting a large state file thousands of times.

A store is the seam for a shared state (a database with row locks): it offers load, lock,
begin/record/commit, and nothing else.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import uuid
from pathlib import Path

from ainas_provision.errors import AinasProvisionError
from ainas_provision.files import read_regular
from ainas_provision.state.lock import FileLock
from ainas_provision.state.model import State, StateFormatError

# a state file or journal: a regular file, read whole (a tenant of 100,000 users is ~30 MB)
MAX_STATE_BYTES = 512 * 1024 * 1024


class StateError(AinasProvisionError):
    """The state file cannot be read or written."""


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``: readers see the old file or the new one, never a mix."""
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
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class LocalStateStore:
    """The state in a JSON file, its journal and its lock beside it."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.journal_path = self.path.with_name(self.path.name + ".journal")
        self.lock = FileLock(self.path.with_name(self.path.name + ".lock"))
        self._journal = None
        self._mutex = threading.Lock()

    kind = "file"

    def describe(self) -> str:
        """How messages name the state."""
        return str(self.path)

    @property
    def home(self) -> Path:
        """The directory the state's own paths (the embedded sandbox's) are relative to."""
        return self.path.parent

    @property
    def default_key_path(self) -> Path:
        from ainas_provision.state.keys import default_key_path

        return default_key_path(self.path)

    def close(self) -> None:
        """Nothing to close: the journal is closed by commit or abandon."""

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
                record = json.loads(line)
            except ValueError:
                if number == len(lines):
                    break  # torn last line: the change being written when the process died
                raise StateError(
                    f"the state journal {self.journal_path} is damaged at line {number}"
                ) from None
            try:
                if record.get("op") == "begin":
                    state.lineage = str(record["lineage"])
                    state.serial = int(record["serial"])
                    continue
                state.apply(record)
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
        if hasattr(os, "fchmod"):  # one left by an older version may be 0644
            os.fchmod(fd, 0o600)
        self._journal = os.fdopen(fd, "a", encoding="utf-8")
        self._append({"op": "begin", "lineage": state.lineage, "serial": state.serial})

    def record(self, state: State, record: dict) -> None:
        """Apply one change to ``state`` and make it durable before returning."""
        with self._mutex:
            state.apply(record)
            if self._journal is not None:
                self._append(record)

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
