"""Group commit of the state journal: parallel workers share one fsync (or one database commit),
each change is durable before it is reported, and a failed fsync fails every change that waited
on it and stops the run."""

from __future__ import annotations

import errno
import os
import threading
import time

import pytest

from ainas_provision.apply.executor import Executor
from ainas_provision.domain.desired import DesiredState, Resource
from ainas_provision.plan.changes import Change
from ainas_provision.plan.plan import Plan
from ainas_provision.secrets.values import Secret
from ainas_provision.state.group import GroupCommit
from ainas_provision.state.model import Put, SiteEntry, UserEntry
from ainas_provision.state.store import JournalNotDurable, LocalStateStore
from tests.helpers import RecordingBackend

WORKERS = 16


def run_threads(count: int, work) -> list[BaseException | None]:
    """``work(i)`` in ``count`` threads started together; what each raised (None: nothing)."""
    start = threading.Barrier(count)
    errors: list[BaseException | None] = [None] * count

    def body(i: int) -> None:
        start.wait()
        try:
            work(i)
        except BaseException as exc:  # collected for the test to look at
            errors[i] = exc

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return errors


# -- the mechanism -------------------------------------------------------------------------------
def test_records_waited_on_together_share_a_flush_and_each_waits_for_its_own():
    flushed: list[int] = []

    def flush(batch: list[int]) -> None:
        time.sleep(0.02)  # a disk: long enough for the other workers to queue behind it
        flushed.extend(batch)

    group = GroupCommit(flush)

    def work(i: int) -> None:
        ticket = group.append(i)
        group.sync(ticket)
        assert i in flushed  # not back before its own record was flushed

    assert run_threads(WORKERS, work) == [None] * WORKERS
    assert sorted(flushed) == list(range(WORKERS))
    assert group.flushes < WORKERS  # shared: a leader's flush took what queued meanwhile


def test_a_failed_flush_fails_every_record_of_its_batch_and_every_later_one():
    group = GroupCommit(lambda batch: (_ for _ in ()).throw(OSError(errno.EIO, "I/O error")))
    tickets = [group.append(i) for i in range(3)]
    errors = run_threads(3, lambda i: group.sync(tickets[i]))
    assert all(isinstance(e, OSError) and e.errno == errno.EIO for e in errors)
    with pytest.raises(OSError):
        group.append(3)
    with pytest.raises(OSError):
        group.sync()


# -- the file store --------------------------------------------------------------------------------
class JournalDisk:
    """os.fsync watched for the journal's descriptor: how many, how far each got, and optionally
    slow (a real disk) or failing from the ``fail_from``-th one."""

    def __init__(self, monkeypatch, store: LocalStateStore, delay=0.005, fail_from=None):
        self.store, self.delay, self.fail_from = store, delay, fail_from
        self.count = 0
        self.durable = 0  # bytes of the journal covered by an fsync that returned
        self._lock = threading.Lock()
        self._real = os.fsync
        monkeypatch.setattr(os, "fsync", self.fsync)

    def fsync(self, fd: int) -> None:
        if fd != self.store._journal:
            return self._real(fd)
        with self._lock:
            self.count += 1
            number = self.count
        size = os.fstat(fd).st_size  # what this fsync covers: everything written before it
        time.sleep(self.delay)
        if self.fail_from is not None and number >= self.fail_from:
            raise OSError(errno.EIO, "Input/output error")
        self._real(fd)
        with self._lock:
            self.durable = max(self.durable, size)

    def end_of(self, text: str) -> int:
        """The offset in the journal right after the line holding ``text``."""
        data = self.store.journal_path.read_bytes()
        return data.index(text.encode()) + data[data.index(text.encode()) :].index(b"\n") + 1


def test_concurrent_records_are_durable_when_they_return_with_fewer_fsyncs(tmp_path, monkeypatch):
    store = LocalStateStore(tmp_path / "ainas.state.json")
    state = store.load()
    disk = JournalDisk(monkeypatch, store)
    store.begin(state)
    begun = disk.count

    def work(i: int) -> None:
        store.sync(store.append(state, Put("users", f"user{i:03}", UserEntry({"pw": "f"}))))
        # back only once an fsync that started after its line was written has returned
        assert disk.durable >= disk.end_of(f'"key": "user{i:03}"')

    assert run_threads(WORKERS, work) == [None] * WORKERS
    assert disk.count - begun < WORKERS
    store.abandon()
    assert len(LocalStateStore(tmp_path / "ainas.state.json").load().users) == WORKERS


def test_a_failing_fsync_fails_the_records_that_waited_on_it_and_stops_the_journal(
    tmp_path, monkeypatch
):
    store = LocalStateStore(tmp_path / "ainas.state.json")
    state = store.load()
    JournalDisk(monkeypatch, store, fail_from=2)  # the begin line is durable, nothing after
    store.begin(state)
    tickets = [store.append(state, Put("users", f"u{i}", UserEntry())) for i in range(4)]
    errors = run_threads(4, lambda i: store.sync(tickets[i]))
    assert all(isinstance(e, JournalNotDurable) for e in errors), errors
    assert all(e.halts for e in errors)
    assert "cannot make the state journal" in str(errors[0]) and "run apply again" in str(errors[0])
    assert "Input/output error" in str(errors[0])
    with pytest.raises(JournalNotDurable):  # a later record is not taken on a sick disk
        store.record(state, Put("users", "later", UserEntry()))
    store.abandon()


# -- the executor ----------------------------------------------------------------------------------
def users_desired(count: int) -> DesiredState:
    desired = DesiredState.empty("1")
    for i in range(count):
        desired.users[f"dairi{i:03}"] = Resource(
            "user", f"dairi{i:03}", {"name": "担当"}, {"initial_password": Secret("pw", "{env: P}")}
        )
    return desired


def user_changes(count: int) -> list[Change]:
    return [
        Change(
            "create",
            "user",
            f"dairi{i:03}",
            payload={"name": "担当", "role": "担当者(送信可)", "site": "s"},
            secrets={"initial_password": "fp"},
        )
        for i in range(count)
    ]


def users_executor(backend, store, state, count: int, **options) -> Executor:
    """An executor of ``count`` users' creations (``users_desired``) through ``backend``."""
    return Executor(backend, store, state, users_desired(count), lambda *a: "fp", **options)


def store_with_a_site(tmp_path) -> tuple[LocalStateStore, object]:
    """A file store whose state has the site the users belong to."""
    store = LocalStateStore(tmp_path / "ainas.state.json")
    state = store.load()
    state.sites["s"] = SiteEntry("100000001")
    return store, state


class SlowBackend(RecordingBackend):
    """A target with network latency, so that the workers overlap."""

    def create(self, kind, fields, *, parent=None) -> str:
        time.sleep(0.005)
        return super().create(kind, fields, parent=parent)


def test_the_executor_reports_a_change_only_once_its_records_are_durable(tmp_path, monkeypatch):
    count = 40
    store, state = store_with_a_site(tmp_path)
    disk = JournalDisk(monkeypatch, store, delay=0.003)
    late: list[str] = []

    def progress(status, change, outcome, done, total) -> None:
        if status == "done" and disk.durable < disk.end_of(f'"key": "{change.key}"'):
            late.append(change.address)

    backend = SlowBackend()
    run = users_executor(backend, store, state, count, parallelism=8, progress=progress)
    # the journal is kept to look at: commit would remove it
    monkeypatch.setattr(store, "commit", lambda state: store.sync())
    outcomes = run.run(Plan(changes=user_changes(count)))
    assert [o.status for o in outcomes] == ["done"] * count
    assert late == []
    # a user's creation records its fingerprints before it is sent: one record per change, and
    # with eight workers at once far fewer fsyncs than records
    assert disk.count < count
    store.abandon()


def test_a_failing_fsync_fails_the_changes_waiting_on_it_and_starts_no_more(tmp_path, monkeypatch):
    count = 30
    store, state = store_with_a_site(tmp_path)
    JournalDisk(monkeypatch, store, delay=0.002, fail_from=6)
    backend = SlowBackend()
    run = Executor(backend, store, state, users_desired(count), lambda *a: "fp", parallelism=4)
    outcomes = run.run(Plan(changes=user_changes(count)))
    by_status: dict[str, list] = {}
    for outcome in outcomes:
        by_status.setdefault(outcome.status, []).append(outcome)
    assert by_status["failed"], by_status
    assert all("cannot make the state journal" in o.message for o in by_status["failed"])
    skipped = by_status.get("skipped", [])
    assert skipped and all(
        o.message == "not attempted: the state cannot be written" for o in skipped
    )
    assert len(outcomes) == count
    # nothing was sent after the failure but what was already on its way
    assert len(backend.calls) < count
