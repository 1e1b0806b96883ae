"""Operations: what applying one change means, as data a person can read and a target can do.

Each :class:`~ainas_provision.plan.changes.Change` becomes one or more :class:`Step`\\ s. A step
names the AINAS screen it happens on (the catalogue's screen id), the operation (create, update,
delete, change the password, or only bind the state), the resource it acts on, its fields in
order — each a plain value or a reference to a secret of the manifests, never the secret itself —
what AINAS answers that must be read back (the 拠点ID of a new site), and the step's effects on
the state:

- ``before``: recorded before the step is performed (the fingerprints of the secrets a creation
  sends: an apply that dies right after AINAS created the resource still knows them);
- ``after``: recorded once it succeeded (``BindSite(handle, RESULT)`` binds the 拠点ID read back);
- ``on_failure``: recorded if it failed (taking the ``before`` fingerprints back).

A step does not touch a target or the state itself: :class:`~ainas_provision.apply.executor.
Executor` performs it through a target and records its effects through the state store, and a
runbook can print it for a person who performs it and types back what it reads. Values that only
exist when the step runs — the 拠点ID of a site created earlier in the same apply, a secret's
value, the bytes of a ``.p12`` — are references (:class:`SiteIdOf`, :class:`SecretOf`,
:class:`FileBytes`), resolved at that moment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from pathlib import Path

from ainas_provision.domain import kinds, screens
from ainas_provision.domain.desired import DesiredState
from ainas_provision.domain.kinds import KINDS, Kind
from ainas_provision.i18n import N_, _
from ainas_provision.plan.changes import Change
from ainas_provision.plan.plan import PlanRefused


class Operation(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    CHANGE_PASSWORD = "change_password"
    BIND = "bind"  # nothing is sent: the state takes note of what AINAS already holds


# -- references, resolved when the step runs -----------------------------------------------
@dataclass(frozen=True)
class SiteIdOf:
    """The 拠点ID the state binds to a site handle (known once the site exists)."""

    handle: str

    def describe(self) -> str:
        return _("the 拠点ID of site.{handle}").format(handle=self.handle)


@dataclass(frozen=True)
class SecretOf:
    """A secret field of the manifests' resource at ``address`` (its value is read only to be
    sent)."""

    address: str
    field: str

    def describe(self) -> str:
        return f"(secret: {self.address}.{self.field})"


@dataclass(frozen=True)
class FileBytes:
    """The content of a file named by the manifests (the certificate's ``.p12``)."""

    path: Path

    def describe(self) -> str:
        return f"(file: {self.path})"


class _Result:
    """The ID the step's operation returns (what a person reads back from the screen)."""

    def describe(self) -> str:
        return "(the ID AINAS assigns)"

    def __repr__(self) -> str:
        return "RESULT"


RESULT = _Result()
Ref = SiteIdOf | SecretOf | FileBytes | _Result


# -- effects on the state -----------------------------------------------------------------
@dataclass(frozen=True)
class BindSite:
    """Bind a site handle to its 拠点ID (keeping any fingerprints already recorded)."""

    handle: str
    site_id: str | _Result


@dataclass(frozen=True)
class SetFingerprints:
    """Record fingerprints of secrets sent. ``section`` is ``sites`` (a site's batch accounts) or
    ``users``; ``fresh`` starts the entry over (a new user) instead of merging into it."""

    section: str
    key: str
    prints: Mapping[str, str]
    fresh: bool = False


@dataclass(frozen=True)
class DropFingerprints:
    """Take back fingerprints recorded before a step that then failed."""

    section: str
    key: str
    names: tuple[str, ...]


@dataclass(frozen=True)
class Forget:
    """The state stops managing an entry (a deleted site or user, a user about to be recreated)."""

    section: str
    key: str


@dataclass(frozen=True)
class SetCertificate:
    """The certificate registration in force."""

    id: str | _Result
    fingerprint: str
    expiry_date: str


Effect = BindSite | SetFingerprints | DropFingerprints | Forget | SetCertificate


@dataclass(frozen=True)
class FieldValue:
    """One field of a step: its name (the manifest's), its AINAS label, and a value or a
    reference."""

    name: str
    label: str
    value: object

    def describe(self) -> str:
        if isinstance(self.value, Ref):
            return self.value.describe()
        return repr(self.value)


@dataclass(frozen=True)
class Step:
    """One thing done on one AINAS screen, with what it does to the state."""

    address: str  # the change's resource
    operation: Operation
    kind: str  # what the target acts on
    screen: str | None  # the catalogue's screen id
    id: str | SiteIdOf | None = None  # the resource acted on (update, delete)
    parent: SiteIdOf | None = None  # the site a batch account belongs to
    fields: tuple[FieldValue, ...] = ()
    reads_back: str | None = None  # what AINAS answers and the state needs (拠点ID)
    before: tuple[Effect, ...] = ()
    after: tuple[Effect, ...] = ()
    on_failure: tuple[Effect, ...] = ()
    outcome: str = ""  # what it reports when done; {id} is the result


@dataclass
class Steps:
    """A change's steps, in order."""

    change: Change
    steps: list[Step] = field(default_factory=list)


@cache
def _labels() -> screens.Labels:
    return screens.Labels()  # the catalogue's, read once, on the first step


def _label(kind: Kind | None, name: str) -> str:
    """A step field's label as its screen prints it."""
    return name if kind is None else _labels().of(kind, name)


def _fields(change: Change, values: Mapping[str, object]) -> tuple[FieldValue, ...]:
    kind = KINDS.get(change.kind)
    return tuple(FieldValue(name, _label(kind, name), value) for name, value in values.items())


def _secrets(change: Change, prefix: str = "") -> dict[str, str]:
    return {f"{prefix}{name}": fp for name, fp in change.secrets.items()}


def _screen(change: Change, operation: Operation) -> str | None:
    if operation is Operation.CREATE:
        return change.spec.create_screen_for(change.payload)
    return change.spec.screens.update  # 削除 too: a button of the 照会 screen


# -- one builder per kind of resource ------------------------------------------------------
def _password(change: Change, desired: DesiredState) -> list[Step]:
    return [
        Step(
            change.address,
            Operation.CHANGE_PASSWORD,
            change.kind,
            _screen(change, Operation.CHANGE_PASSWORD),
            fields=(FieldValue("password", "新パスワード", SecretOf(change.address, "password")),),
            outcome=N_("password changed"),
        )
    ]


def _organization(change: Change, desired: DesiredState) -> list[Step]:
    return [
        Step(
            change.address,
            Operation.UPDATE,
            change.kind,
            _screen(change, Operation.UPDATE),
            id=change.live_id,
            fields=_fields(change, change.payload),
            outcome=N_("updated"),
        )
    ]


def _certificate(change: Change, desired: DesiredState) -> list[Step]:
    cert = desired.certificate
    if cert is None or cert.info is None or cert.path is None:
        raise PlanRefused("the manifests no longer name the certificate; make a new plan")
    password = SecretOf(change.address, "password")
    creating = change.action in ("create", "renew")
    if creating and cert.info.fingerprint_sha256 != change.payload.get("fingerprint"):
        raise PlanRefused(
            f"{cert.path} is not the certificate the plan was made with; make a new plan"
        )
    recorded = SetCertificate(
        RESULT if creating else change.live_id,
        cert.info.fingerprint_sha256,
        cert.info.expiry_date.isoformat(),
    )
    if creating:
        values = {k: v for k, v in change.payload.items() if k != "fingerprint"}
        values |= {"p12": FileBytes(cert.path), "password": password}
        operation = Operation.CREATE
    else:
        values = {**change.payload, "password": password}
        operation = Operation.UPDATE
    return [
        Step(
            change.address,
            operation,
            change.kind,
            _screen(change, operation),
            id=None if creating else change.live_id,
            fields=_fields(change, values),
            reads_back="証明書ID" if creating else None,
            after=(recorded,),
            outcome={"create": N_("registered"), "renew": N_("renewed")}.get(
                change.action, N_("updated")
            ),
        )
    ]


def _site(change: Change, desired: DesiredState) -> list[Step]:
    handle, action = change.key, change.action
    if action == "create":
        return [
            Step(
                change.address,
                Operation.CREATE,
                change.kind,
                _screen(change, Operation.CREATE),
                fields=_fields(change, change.payload),
                reads_back="拠点ID",
                after=(BindSite(handle, RESULT),),
                outcome=N_("created (拠点ID {id})"),
            )
        ]
    if action == "delete":
        # a live site no handle names is shown as "[拠点ID]": there is nothing to forget
        forget = () if handle.startswith("[") else (Forget(kinds.SITE.state_section, handle),)
        return [
            Step(
                change.address,
                Operation.DELETE,
                change.kind,
                _screen(change, Operation.DELETE),
                id=change.live_id,
                after=forget,
                outcome=N_("deleted"),
            )
        ]
    adopting = action == "adopt"
    bind = (BindSite(handle, change.live_id),) if adopting else ()
    outcome = N_("adopted (拠点ID {live_id})") if adopting else N_("updated")
    if not change.payload:
        return [
            Step(change.address, Operation.BIND, change.kind, None, after=bind, outcome=outcome)
        ]
    return [
        Step(
            change.address,
            Operation.UPDATE,
            change.kind,
            _screen(change, Operation.UPDATE),
            id=change.live_id,
            fields=_fields(change, change.payload),
            after=bind,
            outcome=outcome,
        )
    ]


def _batch_account(change: Change, desired: DesiredState) -> list[Step]:
    values = {**change.payload, **{n: SecretOf(change.address, n) for n in change.secrets}}
    prints = _secrets(change, f"{change.kind}.")
    site = SiteIdOf(change.key)
    recorded = SetFingerprints(kinds.SITE.state_section, change.key, prints)
    if change.action == "create":
        return [
            Step(
                change.address,
                Operation.CREATE,
                change.kind,
                _screen(change, Operation.CREATE),
                parent=site,
                fields=_fields(change, values),
                before=(recorded,),
                on_failure=(DropFingerprints(kinds.SITE.state_section, change.key, tuple(prints)),),
                outcome=N_("created"),
            )
        ]
    return [
        Step(
            change.address,
            Operation.UPDATE,
            change.kind,
            _screen(change, Operation.UPDATE),
            id=site,
            fields=_fields(change, values),
            after=(recorded,),
            outcome=N_("updated"),
        )
    ]


def _user_values(change: Change, *, creating: bool) -> dict[str, object]:
    values: dict[str, object] = {}
    for name, value in change.payload.items():
        if name == "site":
            values["site_id"] = SiteIdOf(value)
        elif name != "previous_role":
            values[name] = value
    if "initial_password" in change.secrets:
        values["password"] = SecretOf(change.address, "initial_password")
    if creating:
        values["login_id"] = change.key
    return values


def _user(change: Change, desired: DesiredState) -> list[Step]:
    login_id, action = change.key, change.action
    prints = _secrets(change)
    deleting = Step(
        change.address,
        Operation.DELETE,
        change.kind,
        _screen(change, Operation.DELETE),
        id=login_id,
        after=(Forget(kinds.USER.state_section, login_id),),
        outcome=N_("deleted"),
    )
    if action == "delete":
        return [deleting]
    if action in ("create", "replace"):
        creating = Step(
            change.address,
            Operation.CREATE,
            change.kind,
            _screen(change, Operation.CREATE),
            fields=_fields(change, _user_values(change, creating=True)),
            before=(SetFingerprints(kinds.USER.state_section, login_id, prints, fresh=True),),
            on_failure=(Forget(kinds.USER.state_section, login_id),),
            outcome=N_("replaced") if action == "replace" else N_("created"),
        )
        return [deleting, creating] if action == "replace" else [creating]
    recorded = SetFingerprints(kinds.USER.state_section, login_id, prints)
    outcome = N_("adopted") if action == "adopt" else N_("updated")
    if not change.fields:
        return [
            Step(
                change.address,
                Operation.BIND,
                change.kind,
                None,
                after=(recorded,),
                outcome=outcome,
            )
        ]
    return [
        Step(
            change.address,
            Operation.UPDATE,
            change.kind,
            _screen(change, Operation.UPDATE),
            id=login_id,
            fields=_fields(change, _user_values(change, creating=False)),
            after=(recorded,),
            outcome=outcome,
        )
    ]


Builder = Callable[[Change, DesiredState], list[Step]]
# each kind's steps, keyed by the Kind objects: the one place a kind's way of working is chosen
BUILDERS: dict[Kind, Builder] = {
    kinds.SESSION: _password,
    kinds.ORGANIZATION: _organization,
    kinds.CERTIFICATE: _certificate,
    kinds.SITE: _site,
    kinds.BATCH_ACCOUNT: _batch_account,
    kinds.KEI_BATCH_ACCOUNT: _batch_account,
    kinds.USER: _user,
}


def steps_for(change: Change, desired: DesiredState) -> list[Step]:
    """The steps of ``change``; raises PlanRefused when the manifests no longer allow it."""
    spec = KINDS.get(change.kind)
    builder = BUILDERS.get(spec) if spec is not None else None
    if builder is None:
        raise PlanRefused(f"{change.address}: nothing knows how to {change.action} a {change.kind}")
    return builder(change, desired)
