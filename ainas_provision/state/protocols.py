"""The state's contracts: what the workflow, the executor and the CLI may ask of a state store.

Two small protocols, after Terraform's ``statemgr``:

- a :class:`Locker` gives one apply at a time: ``lock(info) -> id`` takes the lock or raises a
  :class:`LockError` that carries the holder; ``unlock(id)`` gives back the lock taken with that
  id (and nothing else); ``holder()`` says who holds it now; ``force_unlock()`` breaks any lock
  (``state unlock --force``) and must work whatever is left behind.
- a :class:`StateStore` is a locker that also loads the state and records an apply change by
  change: ``begin`` (the serial goes up), ``record`` (one :class:`~.model.Record`, durable before
  it returns) — or, for parallel workers, ``append`` (in order, cheap) then ``sync`` (wait until
  durable, sharing one flush with the other workers: :mod:`.group`) — ``commit`` (the whole
  state, the records folded in) or ``abandon`` (the process is going away: what was recorded
  stays, and the next ``load`` includes it).

Callers never see a file path: a store says what it is for messages (``describe``), where a
fingerprint key is kept when the environment gives none (``key_file``; None for a store that
keeps no key, where ``AINAS_STATE_KEY`` is required), and what local target paths are relative to
in the target identity (``location_base``).

Implementations: :class:`~.store.LocalStateStore` (a JSON file, its journal and an OS lock beside
it) and :class:`~.postgres.PostgresStateStore` (rows, and an advisory lock held by its
connection).
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from ainas_provision.errors import AinasProvisionError
from ainas_provision.i18n import _
from ainas_provision.state.model import Record, State


@dataclass(frozen=True)
class LockInfo:
    """Who holds a lock, for the message another run shows."""

    id: str
    holder: str  # user@host
    host: str
    pid: int
    operation: str  # apply | import
    since: str  # ISO 8601, UTC

    @classmethod
    def mine(cls, operation: str) -> LockInfo:
        import getpass  # who and where: asked when a lock is taken (a plan takes none)
        import socket

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

    def describe(self) -> str:
        return _("{holder} (pid {pid}, {operation}) since {since}").format(
            holder=self.holder, pid=self.pid, operation=self.operation, since=self.since
        )

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: object) -> LockInfo | None:
        """The holder written by :meth:`to_json`; None for anything else (never raises)."""
        if not isinstance(data, dict):
            return None
        try:
            info = cls(
                id=str(data["id"]),
                holder=str(data["holder"]),
                host=str(data["host"]),
                pid=int(data["pid"]),
                operation=str(data["operation"]),
                since=str(data["since"]),
            )
        except (KeyError, TypeError, ValueError, OverflowError):
            return None
        return info


class LockError(AinasProvisionError):
    """The state is locked by someone else (``holder``; None when the holder cannot be told),
    or the lock cannot be taken at all (``holder`` None, the reason in the message)."""

    def __init__(self, message: str, holder: LockInfo | None = None) -> None:
        super().__init__(message)
        self.holder = holder

    @classmethod
    def held(cls, holder: LockInfo | None, timeout: float = 0.0) -> LockError:
        who = holder.describe() if holder else _("a run whose holder record is unreadable")
        # --lock-timeout is suggested only to someone who did not give it
        then = (
            _("it was still held after waiting {seconds} s").format(seconds=f"{timeout:g}")
            if timeout
            else _("wait for it to finish, or use --lock-timeout SECONDS to wait")
        )
        return cls(_("the state is locked by {who}; {then}").format(who=who, then=then), holder)


@runtime_checkable
class Locker(Protocol):
    """One holder at a time. A lock taken by a process that has ended is free."""

    def lock(self, info: LockInfo, *, timeout: float = 0.0) -> str:
        """Take the lock for ``info``, waiting up to ``timeout`` seconds; returns the lock id.
        Raises :class:`LockError` (with the holder) when it stays held."""

    def unlock(self, lock_id: str) -> None:
        """Give back the lock taken with ``lock_id``; a lock since broken is left alone."""

    def holder(self) -> LockInfo | None:
        """Who holds the lock now; None when it is free."""

    def force_unlock(self) -> LockInfo | None:
        """Break the lock whoever holds it; returns the holder it had (None: it was free)."""


@runtime_checkable
class StateStore(Locker, Protocol):
    """Where the state lives. Every method but ``describe`` may raise a subclass of
    :class:`~ainas_provision.errors.AinasProvisionError` with a message naming the store."""

    def describe(self) -> str:
        """The store for messages: a file name, a database and workspace."""

    def exists(self) -> bool:
        """Whether any state (or an interrupted apply's records) is there."""

    def load(self) -> State:
        """The state, with the records of an interrupted apply included."""

    def begin(self, state: State) -> None:
        """Start an apply: gives the state a lineage if it has none and raises its serial."""

    def record(self, state: State, record: Record) -> None:
        """Apply ``record`` to ``state`` and make it durable before returning (thread-safe)."""

    def append(self, state: State, record: Record) -> int:
        """Apply ``record`` to ``state`` and queue it to be made durable, after every record
        appended before it; returns its ticket for :meth:`sync` (thread-safe, cheap)."""

    def sync(self, ticket: int | None = None) -> None:
        """Return once the record with ``ticket`` (None: every record appended) is durable;
        raise the store's error if it cannot be made durable (that error ``halts`` the run)."""

    def commit(self, state: State) -> None:
        """Write the whole state and end the apply."""

    def abandon(self) -> None:
        """End the apply without writing: the records stay for the next load."""

    def key_file(self) -> Path | None:
        """Where the fingerprint key is kept when the environment names none; None when this
        store keeps no key file (the key must then come from ``AINAS_STATE_KEY``)."""

    def location_base(self) -> Path | None:
        """The directory local target paths are written relative to in the target identity
        (so that a state moved with its manifests still names its sandbox); None: absolute."""

    def close(self) -> None:
        """Release connections (after the lock is given back)."""
