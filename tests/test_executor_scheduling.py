"""How the executor schedules a plan's changes: at most ``parallelism`` at once and every worker
busy while there is work, a change only after what it depends on, a failure's dependents skipped,
nothing new started once the target is gone, and an exception in the middle of an apply (a broken
pipe, Ctrl+C) stops the run with what was done recorded."""

from __future__ import annotations

import itertools
import threading
import time

import pytest

from ainas_provision.plan.plan import Plan
from ainas_provision.targets.base import BackendError
from tests.test_group_commit import (
    RecordingBackend,
    store_with_a_site,
    user_changes,
    users_executor,
)


class InFlight(RecordingBackend):
    """A target with latency that counts the creations in flight, and fails those named."""

    def __init__(self, fail: dict[str, str] | None = None, delay: float = 0.004) -> None:
        super().__init__()
        self.failing = fail or {}
        self.delay = delay
        self.now = 0
        self.most = 0
        self.order: list[str] = []
        self.failed_at: int | None = None  # how many had been started when one failed
        self.lock = threading.Lock()

    def create(self, kind, fields, *, parent=None) -> str:
        login_id = fields["login_id"]
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
            self.order.append(login_id)
        try:
            time.sleep(self.delay)
            if login_id in self.failing:
                with self.lock:
                    self.failed_at = len(self.order)
                raise BackendError(self.failing[login_id], f"{login_id} refused")
            return super().create(kind, fields, parent=parent)
        finally:
            with self.lock:
                self.now -= 1


def executor(tmp_path, count, backend, parallelism, progress=None):
    store, state = store_with_a_site(tmp_path)
    run = users_executor(backend, store, state, count, parallelism=parallelism, progress=progress)
    return run, store, state


def test_parallelism_bounds_the_changes_in_flight_and_keeps_every_worker_busy(tmp_path):
    together = threading.Barrier(4, timeout=10)  # broken unless four are in flight at once

    class FourAtOnce(InFlight):
        def create(self, kind, fields, *, parent=None) -> str:
            if fields["login_id"] < "dairi004":  # the first four: all running together
                together.wait()
            return super().create(kind, fields, parent=parent)

    backend = FourAtOnce()
    run, _store, _state = executor(tmp_path, 40, backend, parallelism=4)
    outcomes = run.run(Plan(changes=user_changes(40)))
    assert [o.status for o in outcomes] == ["done"] * 40
    assert backend.most == 4  # and never more


def test_a_change_starts_only_once_what_it_depends_on_is_done(tmp_path):
    changes = user_changes(6)
    for before, after in itertools.pairwise(changes):
        after.depends_on = [before.address]  # a chain: one at a time, in order
    backend = InFlight()
    run, _store, _state = executor(tmp_path, 6, backend, parallelism=4)
    outcomes = run.run(Plan(changes=changes))
    assert [o.status for o in outcomes] == ["done"] * 6
    assert backend.most == 1
    assert backend.order == [f"dairi{i:03}" for i in range(6)]


def test_a_failed_change_skips_its_dependents_and_the_others_go_on(tmp_path):
    changes = user_changes(10)
    changes[5].depends_on = [changes[2].address]
    changes[6].depends_on = [changes[5].address]
    backend = InFlight(fail={"dairi002": "refused"})
    run, _store, state = executor(tmp_path, 10, backend, parallelism=3)
    outcomes = {o.change.key: o for o in run.run(Plan(changes=changes))}
    assert outcomes["dairi002"].status == "failed"
    assert outcomes["dairi005"].status == "skipped"
    assert outcomes["dairi005"].message == "skipped: user.dairi002 did not succeed"
    assert outcomes["dairi006"].status == "skipped"
    assert outcomes["dairi006"].message == "skipped: user.dairi005 did not succeed"
    done = {key for key, o in outcomes.items() if o.status == "done"}
    assert done == {f"dairi{i:03}" for i in (0, 1, 3, 4, 7, 8, 9)}
    assert set(state.users) == done
    assert "dairi005" not in backend.order and "dairi006" not in backend.order


def test_once_the_target_is_unreachable_nothing_more_is_attempted(tmp_path):
    backend = InFlight(fail={"dairi003": "unreachable"})
    run, _store, _state = executor(tmp_path, 30, backend, parallelism=2)
    outcomes = run.run(Plan(changes=user_changes(30)))
    statuses = [o.status for o in outcomes]
    assert statuses.count("failed") == 1
    skipped = [o for o in outcomes if o.status == "skipped"]
    # every change not started is reported, as not attempted
    assert len(skipped) == 30 - len(backend.order) > 20
    assert {o.message for o in skipped} == {"not attempted: the target cannot be reached"}
    # nothing was started once the failure was known; the other worker may have taken one
    # change in the instant between the target's answer and its being judged
    assert len(backend.order) <= backend.failed_at + 1


@pytest.mark.parametrize("exception", [BrokenPipeError, KeyboardInterrupt])
def test_an_exception_while_reporting_stops_the_run_and_keeps_what_was_done(tmp_path, exception):
    """The progress (a closed pipe, Ctrl+C) raising in the middle of an apply: the run ends
    with that exception, starts nothing more, and the state records every change performed."""
    reported: list[str] = []

    def progress(status, change, outcome, done, total) -> None:
        if status == "done":
            reported.append(change.key)
            if len(reported) == 5:
                raise exception()

    backend = InFlight()
    run, store, _state = executor(tmp_path, 40, backend, parallelism=3, progress=progress)
    with pytest.raises(exception):
        run.run(Plan(changes=user_changes(40)))
    # the workers busy at that moment finished their change; none started another
    assert 5 <= len(backend.order) <= 5 + 3
    kept = store.load()
    assert set(kept.users) == set(backend.order)


@pytest.mark.parametrize("last", [True, False])
def test_the_last_plan_of_a_run_tells_the_target_before_the_state_is_written(tmp_path, last):
    """``finish`` (the HTTPS target's logout, sent meanwhile) comes after the last change and
    before the state is written; a plan that is not the run's last (the first login's password
    change, planned again after it) does not end the session."""
    events: list[str] = []

    class Finishing(InFlight):
        def finish(self) -> None:
            events.append(f"finish after {len(self.order)}")

    backend = Finishing()
    run, store, _state = executor(tmp_path, 6, backend, parallelism=2)
    commit = store.commit
    store.commit = lambda state: (events.append("commit"), commit(state))
    run.run(Plan(changes=user_changes(6)), last=last)
    assert events == (["finish after 6", "commit"] if last else ["commit"])
