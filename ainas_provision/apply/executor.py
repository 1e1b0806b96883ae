"""The executor: performs a plan's changes, in order, concurrently where they are independent.

Each change becomes steps (:mod:`ainas_provision.apply.operations`); the executor performs each
step through the target and records the step's effects through the state store, each made
durable before the step goes on (the state journal), so that an apply that dies half-way leaves a
true record. Recording is in two parts (:mod:`ainas_provision.state.group`): the records are
computed and appended under the executor's lock — each against the state as the records before
it left it — and the worker then waits for them to be durable outside that lock, so that one
fsync or database commit serves the records of every worker that finished meanwhile instead of
the workers taking turns at the disk. A change is reported only once its records are durable.
It knows no kind of resource: what a change means is the steps' business. A failing change does not
stop the others: its dependents are skipped, everything independent goes on, and the outcome says
what happened to each change. Secret values are taken from the manifests at apply time (by the
change's address) and checked against the fingerprints the plan recorded.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

from ainas_provision.apply.operations import (
    RESULT,
    BindSite,
    DropFingerprints,
    Effect,
    FileBytes,
    Forget,
    Operation,
    SecretOf,
    SetCertificate,
    SetFingerprints,
    SiteIdOf,
    Step,
    steps_for,
)
from ainas_provision.domain.desired import DesiredState
from ainas_provision.domain.kinds import SITES_SECTION, USERS_SECTION
from ainas_provision.errors import AinasProvisionError
from ainas_provision.files import MAX_KEY_FILE_BYTES, read_regular
from ainas_provision.i18n import _
from ainas_provision.plan.changes import Change
from ainas_provision.plan.plan import Plan, PlanRefused
from ainas_provision.secrets.values import Secret
from ainas_provision.state.model import Put, Remove, SiteEntry, State, UserEntry
from ainas_provision.state.protocols import StateStore
from ainas_provision.targets.base import Backend, BackendError

# failures that mean the target is gone: the changes not yet started are not attempted
HALT_CODES = ("unreachable",)


@dataclass
class Outcome:
    """What became of one change: done, failed (with AINAS's or the tool's message) or skipped."""

    change: Change
    status: str  # done | failed | skipped
    message: str = ""


Progress = Callable[[str, Change, Outcome | None, int, int], None]


class Executor:
    def __init__(
        self,
        backend: Backend,
        store: StateStore,
        state: State,
        desired: DesiredState,
        fingerprint: Callable[[str, str, str], str],
        *,
        parallelism: int = 4,
        new_password: Secret | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.backend = backend
        self.store = store
        self.state = state
        self.desired = desired
        self.fp = fingerprint
        self.parallelism = max(1, parallelism)
        self.new_password = new_password
        self.progress = progress or (lambda *args: None)
        self._lock = threading.Lock()
        self._resources = {r.address: r for r in desired.resources()}

    # -- secrets -------------------------------------------------------------------------
    def secret(self, change: Change, name: str) -> Secret:
        """The value the manifests give now for secret ``name`` of the change's resource (found
        by the change's address, the one spelling of the secret's identity)."""
        if change.spec.gates_all:  # the first-login password: from the connection settings
            secret = self.new_password
        else:
            resource = self._resources.get(change.address)
            secret = resource.secrets.get(name) if resource else None
        if secret is None:
            raise PlanRefused(
                f"{change.address}: the manifests no longer give {name}; make a new plan"
            )
        return secret

    def check_secrets(self, plan: Plan) -> None:
        """Refuse a plan whose secrets differ from the values the manifests give now."""
        changed = []
        for change in plan.changes:
            for name, recorded in change.secrets.items():
                if self.fp(change.address, name, self.secret(change, name).reveal()) != recorded:
                    changed.append(f"{change.address}.{name}")
        if changed:
            raise PlanRefused(
                # the runbook's words for the same refusal (one catalog entry)
                _(
                    "the value of {fields} is not the one the plan was made with (by "
                    "fingerprint); make a new plan"
                ).format(fields=", ".join(changed))
            )

    # -- references and effects ------------------------------------------------------------
    def _site_id(self, handle: str) -> str:
        site_id = self.state.site_id(handle)
        if site_id is None:
            raise AinasProvisionError(
                _("site.{handle} has no 拠点ID yet (its creation did not succeed)").format(
                    handle=handle
                )
            )
        return site_id

    def resolve(self, value: object, change: Change) -> object:
        """A step's value as it is sent: references resolved (a secret stays a Secret)."""
        if isinstance(value, SiteIdOf):
            return self._site_id(value.handle)
        if isinstance(value, SecretOf):
            return self.secret(change, value.field)
        if isinstance(value, FileBytes):  # a regular file inside the manifests' reach only
            return read_regular(value.path, limit=MAX_KEY_FILE_BYTES)
        return value

    def record(self, effect: Effect, result: str | None) -> None:
        """Record one effect of a step through the state store; durable when this returns."""
        ticket = None
        with self._lock:
            for record in self._records(effect, result):
                ticket = self.store.append(self.state, record)
        if ticket is not None:
            self.store.sync(ticket)  # outside the lock: the other workers append meanwhile

    def _records(self, effect: Effect, result: str | None) -> list:
        return effect_records(self.state, effect, result)

    # -- one change ----------------------------------------------------------------------
    def perform(self, step: Step, change: Change) -> str | None:
        """Do one step through the target; returns the ID it answered (creations)."""
        fields = {f.name: self.resolve(f.value, change) for f in step.fields}
        target_id = self.resolve(step.id, change)
        backend, operation = self.backend, step.operation
        if operation is Operation.CREATE:
            parent = self.resolve(step.parent, change)
            return backend.create(step.kind, fields, parent=parent)
        if operation is Operation.UPDATE:
            backend.update(step.kind, target_id, fields)
        elif operation is Operation.DELETE:
            backend.delete(step.kind, target_id)
        elif operation is Operation.CHANGE_PASSWORD:
            backend.change_password(fields["password"])
        return None

    def execute(self, change: Change) -> str:
        """Perform one change, step by step; returns what its last step reports."""
        outcome = ""
        for step in steps_for(change, self.desired):
            for effect in step.before:
                self.record(effect, None)
            try:
                result = self.perform(step, change)
            except Exception:
                for effect in step.on_failure:
                    self.record(effect, None)
                raise
            for effect in step.after:
                self.record(effect, result)
            # the step says what it did in English (the catalog key), shown translated
            outcome = _(step.outcome).format(id=result, live_id=change.live_id)
        return outcome

    # -- the whole plan ------------------------------------------------------------------
    def run(
        self,
        plan: Plan,
        *,
        target: dict | None = None,
        key_check: str | None = None,
        last: bool = False,
    ) -> list[Outcome]:
        """Apply ``plan``. The state is recorded as changes succeed and written at the end.
        ``last``: the run sends nothing after this plan, so the target is told so (its
        ``finish``: the HTTPS target logs out meanwhile) before the state is written."""
        self.check_secrets(plan)
        if not plan.changes and not plan.forget:
            return []
        self.store.begin(self.state)
        try:
            if target is not None and self.state.target != target:
                self.store.record(self.state, Put("target", None, target))
            if key_check is not None and self.state.key_check != key_check:
                self.store.record(self.state, Put("key_check", None, key_check))
            for section, key in plan.forget:
                self.record(Forget(section, key), None)
            outcomes = self._run_graph(plan.changes)
            finish = getattr(self.backend, "finish", None) if last else None
            if finish is not None:
                finish()
        finally:
            self.store.commit(self.state)
        return outcomes

    def _run_graph(self, changes: list[Change]) -> list[Outcome]:
        by_address = {c.address: c for c in changes}
        # the first-login password change comes before anything else AINAS allows
        session = [c.address for c in changes if c.spec.gates_all]
        waiting: dict[str, set[str]] = {}
        dependents: dict[str, list[str]] = {c.address: [] for c in changes}
        for change in changes:
            needs = {d for d in change.depends_on if d in by_address}
            if not change.spec.gates_all:
                needs.update(session)
            waiting[change.address] = needs
            for need in needs:
                dependents[need].append(change.address)
        outcomes: dict[str, Outcome] = {}
        ready = [(c.rank, c.address) for c in changes if not waiting[c.address]]
        heapq.heapify(ready)
        total = len(changes)
        done = 0

        def finish(outcome: Outcome) -> None:
            nonlocal done
            done += 1
            outcomes[outcome.change.address] = outcome
            self.progress(outcome.status, outcome.change, outcome, done, total)
            for dependent in dependents[outcome.change.address]:
                if dependent in outcomes:
                    continue
                if outcome.status != "done":
                    finish(
                        Outcome(
                            by_address[dependent],
                            "skipped",
                            _("skipped: {address} did not succeed").format(
                                address=outcome.change.address
                            ),
                        )
                    )
                    continue
                waiting[dependent].discard(outcome.change.address)
                if not waiting[dependent]:
                    heapq.heappush(ready, (by_address[dependent].rank, dependent))

        halted: list[str] = []  # the target is gone: start nothing more

        def attempt(change: Change) -> Outcome:
            try:
                return Outcome(change, "done", self.execute(change))
            except BackendError as exc:
                if exc.code in HALT_CODES:
                    halted.append(exc.code)
                return Outcome(change, "failed", f"{exc.message} [{exc.code}]")
            except AinasProvisionError as exc:
                if getattr(exc, "halts", False):  # the state's connection (and lock) is gone
                    halted.append("state")
                return Outcome(change, "failed", str(exc))

        # Each worker takes the next ready change itself, as soon as its own is recorded: no
        # hand-over through another thread between one change and the next. The scheduling
        # (and the progress, which is not thread-safe) is done under one condition's lock.
        scheduling = threading.Condition()
        running = 0
        fatal: list[BaseException] = []  # a bug, an interrupt or a broken pipe: start nothing

        def take() -> Change | None:
            """The next change to perform (None: nothing is left for this worker); called
            with the lock held, waits while every ready change depends on one running."""
            nonlocal running
            while True:
                while ready and not fatal:
                    _rank, address = heapq.heappop(ready)
                    if address in outcomes:
                        continue
                    change = by_address[address]
                    if halted:
                        finish(
                            Outcome(
                                change,
                                "skipped",
                                _("not attempted: the state cannot be written")
                                if "state" in halted
                                else _("not attempted: the target cannot be reached"),
                            )
                        )
                        continue
                    self.progress("start", change, None, done, total)
                    running += 1
                    return change
                if not running or fatal:
                    scheduling.notify_all()  # the others see there is nothing left, too
                    return None
                scheduling.wait()

        def worker() -> None:
            nonlocal running
            try:
                with scheduling:
                    change = take()
                while change is not None:
                    outcome = attempt(change)
                    with scheduling:
                        running -= 1
                        finish(outcome)
                        scheduling.notify_all()
                        change = take()
            except BaseException as exc:  # handed to the thread that waits, raised there
                with scheduling:
                    fatal.append(exc)
                    scheduling.notify_all()

        workers = [
            threading.Thread(target=worker, name=f"apply-{n}", daemon=True)
            for n in range(min(self.parallelism, total))
        ]
        for thread in workers:
            thread.start()
        try:
            _join(workers)
        except BaseException as exc:  # Ctrl+C: the changes running finish and are recorded
            with scheduling:
                fatal.append(exc)
                scheduling.notify_all()
            _join(workers)
            raise
        if fatal:
            raise fatal[0]
        return [outcomes[c.address] for c in sorted(changes) if c.address in outcomes]


def _join(threads: list[threading.Thread]) -> None:
    """Wait for every thread; in short waits, so that Ctrl+C is seen on every platform."""
    for thread in threads:
        while thread.is_alive():
            thread.join(0.25)


def effect_records(state: State, effect: Effect, result: str | None) -> list[Put | Remove]:
    """The state records of one effect, against ``state`` as it is now (an apply records each
    effect before the next is computed; so does a runbook's confirmation). ``result`` is what the
    step's operation answered (the ID AINAS assigned), for effects that refer to it."""
    if isinstance(effect, BindSite):
        site_id = result if effect.site_id is RESULT else effect.site_id
        entry = state.sites.get(effect.handle)
        prints = entry.fingerprints if entry and entry.site_id == site_id else {}
        return [Put(SITES_SECTION, effect.handle, SiteEntry(site_id, prints))]
    if isinstance(effect, SetFingerprints):
        if effect.section == USERS_SECTION:  # a user's own entry; else its site's
            old = {} if effect.fresh else state.fingerprints(USERS_SECTION, effect.key)
            return [Put(USERS_SECTION, effect.key, UserEntry({**old, **effect.prints}))]
        entry = state.sites[effect.key]
        prints = {**({} if effect.fresh else entry.fingerprints), **effect.prints}
        return [Put(SITES_SECTION, effect.key, SiteEntry(entry.site_id, prints))]
    if isinstance(effect, DropFingerprints):
        table = getattr(state, effect.section)
        entry = table.get(effect.key)
        if entry is None:
            return []
        kept = {k: v for k, v in entry.fingerprints.items() if k not in effect.names}
        return [Put(effect.section, effect.key, replace(entry, fingerprints=kept))]
    if isinstance(effect, Forget):
        return [Remove(effect.section, effect.key)]
    if isinstance(effect, SetCertificate):
        cert_id = result if effect.id is RESULT else effect.id
        value = {
            "id": cert_id,
            "fingerprint": effect.fingerprint,
            "expiry_date": effect.expiry_date,
        }
        return [Put("certificate", None, value)]
    raise TypeError(f"unknown effect {effect!r}")  # pragma: no cover
