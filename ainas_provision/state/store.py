"""Keeping the state in a local file, safely.

``ainas.state.json`` is only ever replaced whole and atomically (a temporary file, fsync,
rename, fsync of the directory). During an apply every successful change is appended at once to
``ainas.state.json.journal`` (one JSON line), and made durable (fsync) before the change is
reported, so that an apply that dies half-way leaves a true record: loading replays the journal
onto the state (a torn last line — the change that was being written when the process died — is
ignored). When the apply ends, the state file is rewritten with the new serial and the journal
removed. This costs one small append per change instead of rewriting a large state file
thousands of times.

The append and the fsync are apart (:mod:`.group`): a line is written at once, in order, by
``append`` (a write to the page cache: a killed process loses none of it), and ``sync`` waits
for an fsync that covers it — one fsync for all the lines the parallel workers wrote meanwhile,
not one each in turn. An fsync that fails ends the journal: that change and every later one
fail, and the run stops (see :mod:`.group` for why a later fsync proves nothing).

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
from ainas_provision.i18n import _
from ainas_provision.state.group import GroupCommit
from ainas_provision.state.keys import default_key_path
from ainas_provision.state.lock import FileLocker
from ainas_provision.state.model import Record, State, StateFormatError, record_from_json
from ainas_provision.state.protocols import LockInfo

# a state file or journal: a regular file, read whole (a tenant of 100,000 users is ~30 MB)
MAX_STATE_BYTES = 512 * 1024 * 1024


class StateError(AinasProvisionError):
    """The state file cannot be read or written."""


class JournalNotDurable(StateError):
    """A journal write or fsync failed: nothing more is recorded in this apply."""

    halts = True  # the executor starts no more changes


class LocalStateStore:
    """The state in a JSON file, its journal and its lock beside it."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.journal_path = self.path.with_name(self.path.name + ".journal")
        self.locker = FileLocker(self.path.with_name(self.path.name + ".lock"))
        self._journal: int | None = None  # the journal's descriptor during an apply
        self._mutex = threading.Lock()
        self._group: GroupCommit[None] = GroupCommit(self._fsync)

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
                state = State.from_json(_decode(read_regular(self.path, limit=MAX_STATE_BYTES)))
            except (OSError, ValueError, StateFormatError) as exc:
                raise StateError(
                    _("cannot read the state file {path}: {reason}").format(
                        path=self.path, reason=exc
                    )
                ) from None
        if self.journal_path.exists():
            self._replay(state)
        return state

    def _replay(self, state: State) -> None:
        try:
            data = read_regular(self.journal_path, limit=MAX_STATE_BYTES)
            lines = data.decode("utf-8").splitlines()
        except (OSError, ValueError) as exc:
            raise StateError(
                _("cannot read the state journal {path}: {reason}").format(
                    path=self.journal_path, reason=exc
                )
            ) from None
        for number, line in enumerate(lines, 1):
            try:
                data = json.loads(line)
            except ValueError:
                if number == len(lines):
                    break  # torn last line: the change being written when the process died
                raise StateError(
                    _("the state journal {path} is damaged at line {number}").format(
                        path=self.journal_path, number=number
                    )
                ) from None
            try:
                if isinstance(data, dict) and data.get("op") == "begin":
                    state.lineage, state.serial = str(data["lineage"]), int(data["serial"])
                    continue
                state.apply(record_from_json(data))
            except (StateFormatError, KeyError, TypeError, ValueError, AttributeError) as exc:
                raise StateError(
                    _("the state journal {path} is damaged at line {number}: {reason}").format(
                        path=self.journal_path, number=number, reason=exc
                    )
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
        self._journal = fd
        self._group.reset()
        self.sync(
            self.append_line({"op": "begin", "lineage": state.lineage, "serial": state.serial})
        )

    def record(self, state: State, record: Record) -> None:
        """Apply one change to ``state`` and make it durable before returning."""
        self.sync(self.append(state, record))

    def append(self, state: State, record: Record) -> int:
        """Apply one change to ``state`` and write it to the journal (not yet durable: see
        :meth:`sync`); returns its ticket. Thread-safe; records are journaled in call order."""
        line = _line(record.to_json())
        with self._mutex:
            return self._group.append(None, lambda: self._apply(state, record, line))

    def append_line(self, data: dict) -> int:
        with self._mutex:
            return self._group.append(None, lambda: self._write(_line(data)))

    def _apply(self, state: State, record: Record, line: bytes) -> None:
        state.apply(record)  # a record the state refuses is not journaled
        if self._journal is not None:
            self._write(line)

    def _write(self, line: bytes) -> None:
        try:
            written = os.write(self._journal, line)
            if written != len(line):  # a full disk: the rest would not fit either
                raise OSError(0, "the disk took only part of the record")
        except OSError as exc:
            # a partial line is left last (a torn line, ignored on load) by writing no more
            error = JournalNotDurable(
                _(
                    "cannot write the state journal {path}: {reason}; the run stops here, what "
                    "was recorded before is kept: run apply again"
                ).format(path=self.journal_path, reason=exc.strerror or exc)
            )
            self._group.fail(error)
            raise error from None

    def sync(self, ticket: int | None = None) -> None:
        """Return once the record with ``ticket`` (None: all) is on disk. Records written
        meanwhile by other threads share the fsync (group commit)."""
        self._group.sync(ticket)

    def _fsync(self, _batch: list) -> None:
        fd = self._journal
        if fd is None:
            return  # not in an apply: nothing journaled
        try:
            os.fsync(fd)
        except OSError as exc:
            raise JournalNotDurable(
                _(
                    "cannot make the state journal {path} durable (fsync: {reason}); the changes "
                    "since the last durable record are not recorded and the run stops here: run "
                    "apply again"
                ).format(path=self.journal_path, reason=exc.strerror or exc)
            ) from None

    def commit(self, state: State) -> None:
        """Write the whole state and end the journal."""
        if not self._group.failed:
            self.sync()  # nothing is pending after an apply; a caller may not have waited
        with self._mutex:
            self.write(state)
            self._close()
            self.journal_path.unlink(missing_ok=True)

    def abandon(self) -> None:
        """Stop recording without writing the state: what an interrupted apply leaves behind
        (the journal), for the next load to replay."""
        with self._mutex:
            self._close()

    def _close(self) -> None:
        if self._journal is not None:
            fd, self._journal = self._journal, None
            os.close(fd)

    def write(self, state: State) -> None:
        text = json.dumps(state.to_json(), ensure_ascii=False, indent=2, sort_keys=False) + "\n"
        try:
            write_atomically(self.path, text)
        except OSError as exc:
            raise StateError(
                _("cannot write the state file {path}: {reason}").format(
                    path=self.path, reason=exc.strerror
                )
            ) from None


def _line(data: dict) -> bytes:
    return (json.dumps(data, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")


def _decode(data: bytes) -> object:
    """A state file's JSON, as the standard library decodes it. The file is read at every plan
    (3.6 MB at 20,000 users): orjson decodes it in about half the time. What orjson refuses
    (NaN, an escaped lone surrogate…) is decoded by the standard library, which accepts what it
    always did or raises the error it always raised; and since orjson turns an integer beyond 64
    bits into a float, a number outside the tables of sites and users (which hold only text)
    that came out a float is decoded again by the standard library too, exactly."""
    import orjson  # with what it imports: only where a state is read

    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data.decode("utf-8"))
    if isinstance(value, dict) and any(
        _holds_float(item) for key, item in value.items() if key not in ("sites", "users")
    ):
        return json.loads(data.decode("utf-8"))
    return value


def _holds_float(value: object) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_holds_float(item) for item in value.values())
    if isinstance(value, list):
        return any(_holds_float(item) for item in value)
    return False
