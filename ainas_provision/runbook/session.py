"""A runbook in progress: its plan, the state it is tied to, and what the person reports.

**Opening.** ``runbook PATH`` plans against the ``runbook:`` target — what the state records as
done — so that what was confirmed before is no longer a step: a runbook closed half-way resumes
at its first unconfirmed step. ``runbook --plan FILE`` carries out a saved plan (made with
``plan --target runbook: --out FILE``) and is checked like ``apply --plan``: same target,
manifests and fingerprint key, and the state still at the plan's serial — or moved only by this
same plan's own confirmations, which the state's ``runbook`` record lists; anything else makes
the plan stale, and it is refused. The state lock is held while the runbook is open (another
apply would race the person), and the secrets are checked against the plan's fingerprints.

**Confirming.** Steps are confirmed in order (a batch account needs its site). A confirmed step's
effects — those of the change's steps in :mod:`ainas_provision.apply.operations`, the same an
apply records — are written to the state at once: a new site's 拠点ID
(which the person reads on 代理人拠点照会 and types in: nine digits, not bound to another site),
the fingerprints of the secrets entered, the users now managed. The state's ``runbook`` section
keeps the rest: the fields the person entered, by address, so that the ``runbook:`` target can
compare them later, and who (the OS user) and when.
Each confirmation is one state write: the serial moves by one, and the ``runbook`` record says
which plan and serial the runbook is at. Before writing, the state is read again: a state moved
by anything else makes the runbook stale.

**Failing.** A step marked failed, with AINAS's message, is recorded (who, when, the message),
and the runbook ends: the state holds exactly the steps that were done.
"""

from __future__ import annotations

import datetime as dt
import getpass
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ainas_provision.apply import operations
from ainas_provision.apply.executor import effect_records
from ainas_provision.apply.operations import Effect
from ainas_provision.errors import AinasProvisionError
from ainas_provision.i18n import _
from ainas_provision.plan.changes import Change
from ainas_provision.plan.plan import Plan, PlanRefused
from ainas_provision.runbook import steps as runbook_steps
from ainas_provision.runbook.steps import SITE_ID_READ_BACK, Step
from ainas_provision.secrets.values import Secret
from ainas_provision.state.model import Put, State
from ainas_provision.targets.runbook import recorded
from ainas_provision.workflow import run as workflow

MESSAGE_LIMIT = 2000  # characters of AINAS's message kept in the state
LOCK_OPERATION = "runbook"


class RunbookRefused(AinasProvisionError):
    """A report the runbook cannot accept (a wrong 拠点ID, a step out of order, a stale state)."""


def plan_id(plan: Plan) -> str:
    """The plan a runbook carries out, as the state records it: the plan's digest."""
    return plan.digest()


def short(digest: str) -> str:
    """A plan's digest as people compare it at a glance."""
    return digest.removeprefix("sha256:")[:12]


def who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass
class Status:
    """What the person recorded for one step: done or failed, by whom, when, with what answers."""

    status: str  # done | failed
    by: str
    at: str
    message: str | None = None
    answers: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        out = {"status": self.status, "by": self.by, "at": self.at}
        if self.message is not None:
            out["message"] = self.message
        if self.answers:
            out["answers"] = self.answers
        return out


class RunbookSession:
    """One open runbook. Thread-safe: the page's requests may arrive concurrently."""

    def __init__(self, run: workflow.Run, plan: Plan, lang: str) -> None:
        self.run = run
        self.plan = plan
        self.id = plan_id(plan)
        self.lang = lang
        self.changes = {c.address: c for c in runbook_steps.order(plan.changes)}
        self.addresses = list(self.changes)
        self.statuses: dict[str, Status] = {}
        book = run.state.runbook or {}
        if book.get("plan") == self.id:
            for address, entry in (book.get("steps") or {}).items():
                if entry.get("status") == "done" and address in self.changes:
                    self.statuses[address] = Status("done", entry["by"], entry["at"])
        self.expected = (run.state.lineage, run.state.serial)
        self.failed: Status | None = None
        self._lock = threading.Lock()

    # -- reading ---------------------------------------------------------------------------
    @property
    def state(self) -> State:
        return self.run.state

    @property
    def ended(self) -> str | None:
        if self.failed is not None:
            return "failed"
        if all(a in self.statuses for a in self.addresses):
            return "done"
        return None

    @property
    def current(self) -> str | None:
        if self.failed is not None:
            return None
        for address in self.addresses:
            if address not in self.statuses:
                return address
        return None

    def steps(self) -> list[Step]:
        with self._lock:
            return runbook_steps.build(self.plan, self.run.desired, self.state, self.lang)

    def view(self) -> dict:
        """What the page shows: the steps, each one's status, the current one. No secret."""
        built = self.steps()
        return {
            "organization_id": self.run.desired.organization_id,
            "plan": short(self.id),
            "serial": self.state.serial,
            "steps": [step.to_json() for step in built],
            "status": {a: s.to_json() for a, s in self.statuses.items()},
            "current": self.current,
            "ended": self.ended,
            "failed": self.failed.to_json() if self.failed else None,
        }

    def secret(self, address: str, name: str) -> str:
        """A secret of a step, for the person who pressed its show/copy control."""
        change = self.changes.get(address)
        if change is None or name not in change.secrets:
            raise RunbookRefused(
                _("{address} has no secret {name}").format(address=address, name=name)
            )
        return self._secret(change, name).reveal()

    def _secret(self, change: Change, name: str) -> Secret:
        resource = self._resource(change)
        secret = resource.secrets.get(name) if resource is not None else None
        if secret is None:
            raise PlanRefused(
                _("{address}: the manifests no longer give {name}; make a new plan").format(
                    address=change.address, name=name
                )
            )
        return secret

    def check_secrets(self) -> None:
        """Refuse a plan whose secrets differ from what the manifests give now."""
        fp = self.run.fingerprint
        changed = [
            f"{change.address}.{name}"
            for change in self.changes.values()
            for name, recorded_fp in change.secrets.items()
            if fp(change.address, name, self._secret(change, name).reveal()) != recorded_fp
        ]
        if changed:
            raise PlanRefused(
                _(
                    "the value of {fields} is not the one the plan was made with (by "
                    "fingerprint); make a new plan"
                ).format(fields=", ".join(changed))
            )

    # -- reporting -------------------------------------------------------------------------
    def confirm(self, address: str, answers: dict | None = None) -> None:
        with self._lock:
            change = self._current(address)
            answers = self._check_answers(change, dict(answers or {}))
            status = Status("done", who(), now(), answers=answers)
            self._write(change, status, *self.effects(change, answers))
            self.statuses[address] = status

    def fail(self, address: str, message: str) -> None:
        with self._lock:
            change = self._current(address)
            message = (message or "").strip()[:MESSAGE_LIMIT]
            if not message:
                raise RunbookRefused(
                    _("paste the message AINAS showed, so that the state says why")
                )
            status = Status("failed", who(), now(), message=message)
            self._write(change, status, [], {})
            self.failed = status

    def _current(self, address: str) -> Change:
        if self.ended is not None:
            ended = _("its last step is done") if self.ended == "done" else _("a step failed")
            raise RunbookRefused(_("the runbook has ended: {how}").format(how=ended))
        if address not in self.changes:
            raise RunbookRefused(
                _("{address} is not a step of this runbook").format(address=address)
            )
        if address in self.statuses:
            raise RunbookRefused(_("{address} is already confirmed").format(address=address))
        if address != self.current:
            raise RunbookRefused(
                _(
                    "{address} comes after {current}: AINAS needs the steps in order; "
                    "confirm {current} first"
                ).format(address=address, current=self.current)
            )
        return self.changes[address]

    def _check_answers(self, change: Change, answers: dict) -> dict:
        wanted = {"site_id"} if change.spec.id_label and change.action == "create" else set()
        unknown = sorted(set(answers) - wanted)
        if unknown:
            raise RunbookRefused(
                _("{address} asks for nothing named {names}").format(
                    address=change.address, names=", ".join(unknown)
                )
            )
        if "site_id" in wanted:
            site_id = str(answers.get("site_id") or "").strip()
            if not site_id:
                raise RunbookRefused(
                    _("enter the 代理人拠点ID that AINAS shows on 代理人拠点照会 after 確定")
                )
            if not (len(site_id) == 9 and site_id.isascii() and site_id.isdigit()):
                raise RunbookRefused(
                    _(
                        "'{site_id}' is not a 代理人拠点ID: AINAS assigns 9 half-width digits "
                        "(e.g. 100702242); copy it from 代理人拠点照会"
                    ).format(site_id=site_id)
                )
            other = self.state.handle_of(site_id)
            if other is not None and other != change.key:
                raise RunbookRefused(
                    _(
                        "代理人拠点ID {site_id} is already recorded for {address}: check the ID "
                        "shown on 代理人拠点照会 for this site"
                    ).format(site_id=site_id, address=f"site.{other}")
                )
            answers["site_id"] = site_id
        return answers

    def _write(
        self,
        change: Change,
        status: Status,
        effects: list[tuple[Effect, str | None]],
        fields: dict[str, dict | None],
    ) -> None:
        store = self.run.store
        state = store.load()
        if (state.lineage, state.serial) != self.expected:
            raise RunbookRefused(
                _(
                    "the runbook is stale: the state {store} is at serial {serial}, and this "
                    "runbook expected serial {expected}: something else wrote it. Nothing was "
                    "recorded; open the runbook again"
                ).format(store=store.describe(), serial=state.serial, expected=self.expected[1])
            )
        book = dict(state.runbook or {})
        entered = dict(book.get("recorded") or {})  # kept from runbook to runbook
        for address, values in fields.items():
            if values is None:
                entered.pop(address, None)
            else:
                entered[address] = {"fields": values, "by": status.by, "at": status.at}
        if book.get("plan") != self.id:
            book = {"plan": self.id, "from_serial": self.plan.serial, "steps": {}}
        steps = dict(book.get("steps") or {})
        steps[change.address] = status.to_json()
        store.begin(state)
        try:
            if state.target is None:
                store.record(state, _set("target", self.run.identity))
            if state.key_check is None:
                store.record(state, _set("key_check", self.run.fingerprint.key_check))
            for effect, result in effects:
                # each effect against the state as the one before left it, as an apply does
                for record in effect_records(state, effect, result):
                    store.record(state, record)
            store.record(
                state,
                _set(
                    "runbook",
                    {**book, "serial": state.serial, "steps": steps, "recorded": entered},
                ),
            )
        finally:
            store.commit(state)
        self.run.state = state
        self.expected = (state.lineage, state.serial)

    # -- what a step does to the state -----------------------------------------------------
    def effects(
        self, change: Change, answers: dict
    ) -> tuple[list[tuple[Effect, str | None]], dict[str, dict | None]]:
        """What a confirmed step does to the state: the effects of the change's steps
        (:mod:`ainas_provision.apply.operations`: a site's binding, fingerprints, the users
        managed, the certificate in force), with what the person read back in place of what a
        target answers — and the fields the person entered, by address (None: forget them),
        for the ``runbook:`` target to compare later. Both are written at once."""
        effects: list[tuple[Effect, str | None]] = []
        for op in operations.steps_for(change, self.run.desired):
            # what the operation answered: the 拠点ID the person read (a certificate
            # registration has no ID AINAS shows: none is recorded)
            result = answers.get("site_id") if op.reads_back == SITE_ID_READ_BACK else None
            effects += [(effect, result) for effect in (*op.before, *op.after)]
        return effects, self.entered(change)

    def entered(self, change: Change) -> dict[str, dict | None]:
        """The fields a person entered for the change's resource, by address."""
        action, key, address = change.action, change.key, change.address
        payload = {
            k: v for k, v in change.payload.items() if k not in ("previous_role", "fingerprint")
        }
        if action == "delete":
            # a site's batch accounts go with it
            return {(f"{k.name}.{key}" if key else k.name): None for k in change.spec.deleted_with}
        if action in ("create", "renew", "replace"):
            return {address: payload}
        base = recorded(self.state, address)
        if base is None:
            # confirmed before by no person (an apply did it): start from the manifests
            wanted = self._resource(change)
            base = dict(wanted.fields) if wanted is not None else {}
        return {address: {**base, **payload}}

    def _resource(self, change: Change):
        return self.run.desired.resource(change.kind, change.key)

    # -- closing ---------------------------------------------------------------------------
    def close(self) -> None:
        self.run.close()


def _set(section: str, value, key: str | None = None) -> Put:
    return Put(section, key, value)


def open_session(
    options: workflow.Options,
    plan_file: Path | None,
    lang: str,
    announce,
    *,
    allow_deletes: int | None = None,
) -> RunbookSession:
    """Plan (or load the saved plan), check it, take the state lock: a runbook ready to serve."""
    options.target = "runbook:"
    run = workflow.open_run(options, announce, lock=True, operation=LOCK_OPERATION)
    try:
        workflow.connect(run)
        if plan_file is None:
            plan = workflow.make_plan(run)
        else:
            plan = check_saved_plan(run, Plan.load(plan_file))
        plan.raise_if_unsafe(allow_deletes)
        session = RunbookSession(run, plan, lang)
        session.check_secrets()
    except BaseException:
        run.close()
        raise
    return session


def check_saved_plan(run: workflow.Run, plan: Plan) -> Plan:
    """The plan to carry out for a saved ``plan``. Unstarted, it is checked as ``apply --plan``
    checks one (made afresh, compared change by change) and the fresh plan is returned. Started,
    the state's ``runbook`` record must name this very plan (by its digest) and the serial its
    last confirmation left: then it resumes. Anything else moved the state: the plan is stale."""
    if plan.target != run.identity:
        raise PlanRefused(
            _(
                "the plan was made for {target}, not for the runbook: make it with "
                "`plan --target runbook: --out FILE`"
            ).format(target=workflow._describe(plan.target))
        )
    state = run.state
    same_lineage = plan.lineage in ("", state.lineage)
    if same_lineage and plan.serial == state.serial:
        return workflow.check_saved_plan(run, plan)
    book = state.runbook or {}
    if (
        same_lineage
        and book.get("plan") == plan_id(plan)
        and book.get("from_serial") == plan.serial
        and book.get("serial") == state.serial
    ):
        if plan.manifest_digest != run.desired.digest():
            raise PlanRefused(_("the manifests changed since the plan was made; make a new plan"))
        if plan.key_check != run.fingerprint.key_check:
            raise PlanRefused(_("the plan was made with another fingerprint key; make a new plan"))
        run.options.sites = list(plan.scope or [])
        return plan
    if same_lineage:
        message = _(
            "the plan is stale: it was made from state serial {planned}, and the state {store} is "
            "now at serial {serial}, moved by something other than this plan's runbook; make a "
            "new plan"
        )
    else:
        message = _(
            "the plan is stale: it was made from state serial {planned}, and the state {store} is "
            "now at serial {serial} of another lineage; make a new plan"
        )
    raise PlanRefused(
        message.format(planned=plan.serial, store=run.store.describe(), serial=state.serial)
    )
