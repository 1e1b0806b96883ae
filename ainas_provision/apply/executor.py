"""The executor: performs a plan's changes, in order, concurrently where they are independent.

Each change becomes one or two backend calls; after each success the state is updated and the
update made durable at once (the state journal), so that an apply that dies half-way leaves a
true record; a creation with secrets records their fingerprints just before it, so that dying
right after it loses none of them. A failing change does not stop the others: its dependents are skipped, everything
independent goes on, and the outcome says what happened to each change. Secret values are taken
from the manifests at apply time and checked against the fingerprints the plan recorded.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass

from ainas_provision.domain.desired import DesiredState, Resource
from ainas_provision.errors import AinasProvisionError
from ainas_provision.files import MAX_KEY_FILE_BYTES, read_regular
from ainas_provision.plan.changes import Change
from ainas_provision.plan.plan import Plan, PlanRefused
from ainas_provision.secrets.values import Secret
from ainas_provision.state.model import Put, Remove, SiteEntry, State, UserEntry
from ainas_provision.state.protocols import StateStore
from ainas_provision.targets.base import Backend, BackendError

BATCH_KINDS = ("batch_account", "kei_batch_account")
# failures that mean the target is gone: the changes not yet started are not attempted
HALT_CODES = ("unreachable",)


@dataclass
class Outcome:
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

    # -- secrets -------------------------------------------------------------------------
    def _resource(self, change: Change) -> Resource | None:
        if change.kind == "certificate":
            return self.desired.certificate
        group = {
            "batch_account": self.desired.batch_accounts,
            "kei_batch_account": self.desired.kei_batch_accounts,
            "user": self.desired.users,
            "site": self.desired.sites,
        }.get(change.kind)
        return group.get(change.key) if group is not None else None

    def secret(self, change: Change, name: str) -> Secret:
        if change.kind == "session":
            secret = self.new_password
        else:
            resource = self._resource(change)
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
                "the value of "
                + ", ".join(changed)
                + " is not the one the plan was made with (by fingerprint); make a new plan"
            )

    # -- state records -------------------------------------------------------------------
    def _set(self, section: str, key: str | None, update: Callable | object) -> None:
        with self._lock:
            entry = getattr(self.state, section).get(key) if section in ("sites", "users") else None
            value = update(entry) if callable(update) else update
            self.store.record(self.state, Put(section, key, value))

    def _delete(self, section: str, key: str) -> None:
        with self._lock:
            self.store.record(self.state, Remove(section, key))

    @contextmanager
    def _recorded_first(
        self,
        section: str,
        key: str,
        update: Callable | object,
        take_back: Callable | None,
    ) -> Iterator[None]:
        """Record a creation's fingerprints *before* creating it, and take them back if the
        creation fails (``take_back``; None: remove the entry). An apply that dies once AINAS
        has created the resource then leaves a state that knows its secrets: the next plan
        finds it managed, instead of adopting it as a resource whose secrets no one wrote. (One
        that dies before the creation, or between a failure and its taking back, leaves an entry
        whose resource is missing: the next plan creates it.)"""
        self._set(section, key, update)
        try:
            yield
        except Exception:
            if take_back is None:
                self._delete(section, key)
            else:
                self._set(section, key, take_back)
            raise

    def _fingerprints(self, change: Change, prefix: str = "") -> dict[str, str]:
        return {f"{prefix}{name}": fp for name, fp in change.secrets.items()}

    # -- one change ----------------------------------------------------------------------
    def _site_id(self, handle: str) -> str:
        site_id = self.state.site_id(handle)
        if site_id is None:
            raise AinasProvisionError(
                f"site.{handle} has no 拠点ID yet (its creation did not succeed)"
            )
        return site_id

    def _user_fields(self, change: Change, *, creating: bool) -> dict:
        fields: dict[str, object] = {}
        for name, value in change.payload.items():
            if name == "site":
                fields["site_id"] = self._site_id(value)
            elif name != "previous_role":
                fields[name] = value
        if "initial_password" in change.secrets:
            fields["password"] = self.secret(change, "initial_password")
        if creating:
            fields["login_id"] = change.key
        return fields

    def execute(self, change: Change) -> str:
        """Perform one change; returns a short description of what was done."""
        kind, action, backend = change.kind, change.action, self.backend
        if kind == "session":
            backend.update("session", change.live_id, {"password": self.secret(change, "password")})
            return "password changed"
        if kind == "organization":
            backend.update("organization", change.live_id, dict(change.payload))
            return "updated"
        if kind == "certificate":
            return self._certificate(change)
        if kind == "site":
            return self._site(change)
        if kind in BATCH_KINDS:
            fields = {**change.payload, **{n: self.secret(change, n) for n in change.secrets}}
            site_id = self._site_id(change.key)
            prints = self._fingerprints(change, f"{kind}.")

            def record(entry: SiteEntry) -> SiteEntry:
                return SiteEntry(entry.site_id, {**entry.fingerprints, **prints})

            def take_back(entry: SiteEntry) -> SiteEntry:
                kept = {k: v for k, v in entry.fingerprints.items() if k not in prints}
                return SiteEntry(entry.site_id, kept)

            if action == "create":
                with self._recorded_first("sites", change.key, record, take_back):
                    backend.create(kind, fields, parent=site_id)
            else:
                backend.update(kind, site_id, fields)
                self._set("sites", change.key, record)
            return "created" if action == "create" else "updated"
        if kind == "user":
            return self._user(change)
        raise AinasProvisionError(f"{change.address}: nothing knows how to {action} a {kind}")

    def _certificate(self, change: Change) -> str:
        cert = self.desired.certificate
        if cert is None or cert.info is None or cert.path is None:
            raise PlanRefused("the manifests no longer name the certificate; make a new plan")
        password = self.secret(change, "password")
        if change.action in ("create", "renew"):
            if cert.info.fingerprint_sha256 != change.payload.get("fingerprint"):
                raise PlanRefused(
                    f"{cert.path} is not the certificate the plan was made with; make a new plan"
                )
            fields = {k: v for k, v in change.payload.items() if k != "fingerprint"}
            cert_id = self.backend.create(
                "certificate",
                {
                    **fields,
                    "p12": read_regular(cert.path, limit=MAX_KEY_FILE_BYTES),
                    "password": password,
                },
            )
        else:
            cert_id = change.live_id
            self.backend.update("certificate", cert_id, {**change.payload, "password": password})
        self._set(
            "certificate",
            None,
            {
                "id": cert_id,
                "fingerprint": cert.info.fingerprint_sha256,
                "expiry_date": cert.info.expiry_date.isoformat(),
            },
        )
        return {"create": "registered", "renew": "renewed"}.get(change.action, "updated")

    def _site(self, change: Change) -> str:
        action, backend = change.action, self.backend
        if action == "create":
            site_id = backend.create("site", dict(change.payload))
            self._set("sites", change.key, SiteEntry(site_id))
            return f"created (拠点ID {site_id})"
        if action == "delete":
            backend.delete("site", change.live_id)
            if not change.key.startswith("["):
                self._delete("sites", change.key)
            return "deleted"
        if change.payload:
            backend.update("site", change.live_id, dict(change.payload))
        if action == "adopt":
            self._set("sites", change.key, SiteEntry(change.live_id))
            return f"adopted (拠点ID {change.live_id})"
        return "updated"

    def _user(self, change: Change) -> str:
        action, backend, login_id = change.action, self.backend, change.key
        prints = self._fingerprints(change)
        if action == "delete":
            backend.delete("user", login_id)
            self._delete("users", login_id)
            return "deleted"
        if action in ("create", "replace"):
            if action == "replace":
                backend.delete("user", login_id)
                self._delete("users", login_id)
            fields = self._user_fields(change, creating=True)
            with self._recorded_first("users", login_id, UserEntry(prints), None):
                backend.create("user", fields)
            return "replaced" if action == "replace" else "created"
        if change.fields:
            backend.update("user", login_id, self._user_fields(change, creating=False))
        self._set(
            "users",
            login_id,
            lambda e: UserEntry({**(e.fingerprints if e else {}), **prints}),
        )
        return "adopted" if action == "adopt" else "updated"

    # -- the whole plan ------------------------------------------------------------------
    def run(
        self, plan: Plan, *, target: dict | None = None, key_check: str | None = None
    ) -> list[Outcome]:
        """Apply ``plan``. The state is recorded as changes succeed and written at the end."""
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
                self._delete(section, key)
            outcomes = self._run_graph(plan.changes)
        finally:
            self.store.commit(self.state)
        return outcomes

    def _run_graph(self, changes: list[Change]) -> list[Outcome]:
        by_address = {c.address: c for c in changes}
        session = [c.address for c in changes if c.kind == "session"]
        waiting: dict[str, set[str]] = {}
        dependents: dict[str, list[str]] = {c.address: [] for c in changes}
        for change in changes:
            needs = {d for d in change.depends_on if d in by_address}
            if change.kind != "session":
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
                            f"skipped: {outcome.change.address} did not succeed",
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

        with ThreadPoolExecutor(max_workers=self.parallelism) as pool:
            running = {}
            while ready or running:
                while ready and len(running) < self.parallelism:
                    _, address = heapq.heappop(ready)
                    if address in outcomes:
                        continue
                    change = by_address[address]
                    if halted:
                        finish(
                            Outcome(
                                change,
                                "skipped",
                                "not attempted: the state cannot be written"
                                if "state" in halted
                                else "not attempted: the target cannot be reached",
                            )
                        )
                        continue
                    self.progress("start", change, None, done, total)
                    running[pool.submit(attempt, change)] = change
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    running.pop(future)
                    finish(future.result())
        return [outcomes[c.address] for c in sorted(changes) if c.address in outcomes]
