"""Group commit: many threads' records made durable by one write, each waiting for its own.

Making a record durable costs the same for one record as for many: an fsync of the journal
(milliseconds on a disk), a committed transaction of the database (a round trip and the
server's own flush). When ten workers each recorded a change and made it durable one after the
other, holding the executor's lock, they queued on the disk instead of on the network.

A store therefore splits recording in two (:class:`GroupCommit`):

- ``append`` puts the record in order — applied to the in-memory state, written to the page
  cache or queued for the database — and returns its ticket (a sequence number). It is cheap and
  is what the executor does while holding its lock, so that each record is computed against the
  state as the records before it left it.
- ``sync(ticket)`` returns once that record, and every record appended before it, is durable.
  The first thread to ask becomes the leader: it takes everything queued so far and makes it
  durable in one go (``flush``), outside every lock but the store's own; threads that ask
  meanwhile wait, and those whose records came after the leader took its batch then elect the
  next leader, which takes everything that arrived during the first flush. So with ten workers
  one fsync serves up to ten records, and nobody waits longer than two flushes.

A change is reported only after ``sync`` returned for its last record: what was reported is on
disk. A flush that fails fails every record of its batch — each waiting thread gets the error —
and every later one: after a failed fsync the kernel may have dropped the pages it could not
write, so a later fsync that succeeds proves nothing about them (the lesson PostgreSQL learned
in 2018); the run stops starting changes (the error ``halts``) and the next apply starts from
what is durable.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class GroupCommit(Generic[T]):
    """Records appended by any thread, made durable in batches by whichever thread waits first.

    ``flush(batch)`` makes a batch durable (the items appended since the last flush, in order);
    it runs in one thread at a time, without the group's lock held. ``flushes`` counts the
    flushes that succeeded."""

    def __init__(self, flush: Callable[[list[T]], None]) -> None:
        self._flush = flush
        self._cond = threading.Condition()
        self._pending: list[T] = []
        self._appended = 0  # tickets given
        self._durable = 0  # every ticket up to this one is durable
        self._flushing = False
        self._failure: BaseException | None = None
        self.flushes = 0

    def append(self, item: T, apply: Callable[[], None] | None = None) -> int:
        """Queue ``item`` (after running ``apply``, in the same order as the items: an error
        there queues nothing); returns its ticket for :meth:`sync`."""
        with self._cond:
            if self._failure is not None:
                raise _again(self._failure)
            if apply is not None:
                apply()
            self._pending.append(item)
            self._appended += 1
            return self._appended

    def fail(self, error: BaseException) -> None:
        """Nothing more can be made durable (a write failed half-way): every waiting and later
        :meth:`sync` and :meth:`append` raises ``error``."""
        with self._cond:
            if self._failure is None:
                self._failure = error
            self._cond.notify_all()

    @property
    def failed(self) -> bool:
        return self._failure is not None

    def sync(self, ticket: int | None = None) -> None:
        """Return once the record with ``ticket`` (None: every record appended so far) and
        all before it are durable; raise the flush's error if that failed."""
        with self._cond:
            wanted = self._appended if ticket is None else ticket
            while True:
                if self._durable >= wanted:
                    return
                if self._failure is not None:
                    raise _again(self._failure)
                if not self._flushing:
                    break  # this thread leads the next flush
                self._cond.wait()
            batch, self._pending = self._pending, []
            upto = self._appended
            self._flushing = True
        try:
            self._flush(batch)
        except BaseException as exc:
            with self._cond:
                self._flushing = False
                if self._failure is None:
                    self._failure = exc
                self._cond.notify_all()
            raise
        with self._cond:
            self._flushing = False
            self._durable = max(self._durable, upto)
            self.flushes += 1
            self._cond.notify_all()

    def reset(self) -> None:
        """Start over (a new apply): nothing pending, no failure remembered."""
        with self._cond:
            self._pending = []
            self._durable = self._appended
            self._failure = None


def _again(error: BaseException) -> BaseException:
    """The flush's error for one more thread: a copy, so that threads raising it at once do not
    share (and overwrite) one traceback."""
    try:
        again = copy.copy(error)
    except Exception:  # pragma: no cover - an exception that cannot be copied
        return error
    again.__traceback__ = None
    return again
