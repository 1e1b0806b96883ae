"""The plan/apply workflow: validate, open the target and the state, read, diff, apply.

Commands are thin; this module holds the sequence and its safety checks, in the order a person
would want them: nothing is read from the target before the manifests are valid, nothing else is
read before the tenant's 代理人組織ID is confirmed, nothing is written before the plan is shown
(and approved), and a saved plan is applied only while everything it was made from still holds.
"""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ainas_provision import i18n, portable
from ainas_provision import validation as validation_flags
from ainas_provision.domain import kinds
from ainas_provision.domain.desired import DesiredState
from ainas_provision.domain.screens import Labels
from ainas_provision.errors import AinasProvisionError, ManifestError
from ainas_provision.plan.changes import Note
from ainas_provision.plan.diff import DiffOptions, diff
from ainas_provision.plan.plan import Plan, PlanRefused, first_difference
from ainas_provision.secrets.refs import is_text
from ainas_provision.secrets.values import Secret
from ainas_provision.state.keys import (
    Fingerprinter,
    StateKeyError,
    create_key_file,
    find_key,
    new_key,
)
from ainas_provision.state.location import resolve_store
from ainas_provision.state.model import Put, SiteEntry, State, UserEntry
from ainas_provision.state.protocols import LockInfo
from ainas_provision.targets.base import Backend, CountingBackend, CurrentState, LiveResource
from ainas_provision.targets.registry import (
    Target,
    describe_identity,
    manifest_dir,
    open_backend,
    resolve,
    same_tenant,
)
from ainas_provision.validation.engine import Validation, gc_paused
from ainas_provision.validation.tree import validate_tree

if TYPE_CHECKING:
    from ainas_provision.apply.executor import Outcome, Progress
    from ainas_provision.state.location import StateStore
    from ainas_provision.workflow.importing import Imported

STATE_NAME = "ainas.state.json"
log = logging.getLogger("ainas_provision")
Announce = Callable[[str], None]


@dataclass
class Options:
    """What a plan or an apply was asked to do, from the command line and the environment."""

    path: Path = Path(".")
    state_path: str | Path | None = None  # a file or postgresql://… (--state)
    target: str | None = None
    sites: list[str] = field(default_factory=list)
    vars_files: list[str] = field(default_factory=list)
    rewrite_unknown_secrets: bool = False
    lock_timeout: float = 0.0
    parallelism: int = 4
    # a plan that is not saved: it writes nothing (no state key, no sandbox tenant)
    dry_run: bool = False
    supervised: bool = False  # browser target: the operator presses 確定
    trace: bool = False  # browser target: record a Playwright trace (it holds typed secrets)
    env: Mapping[str, str] = field(default_factory=lambda: os.environ)


@dataclass
class Run:
    """Everything one plan or apply works with."""

    options: Options
    validation: Validation
    desired: DesiredState
    target: Target
    store: StateStore
    state: State
    fingerprint: Fingerprinter
    backend: Backend | None = None
    current: CurrentState | None = None
    new_key_file: Path | None = None  # no key yet: written by save_new_key
    # the manifests' moved: entries applied to the state in memory, written by execute()
    pending_moves: list = field(default_factory=list)
    move_notes: list[Note] = field(default_factory=list)
    announce: Announce = print
    lock_id: str | None = None  # the state lock, for an apply

    @property
    def identity(self) -> dict:
        return self.target.identity(self.desired.organization_id, self.store.location_base())

    def new_password(self) -> Secret | None:
        value = self.options.env.get("AINAS_NEW_PASSWORD")
        if value:
            if not is_text(value):
                raise AinasProvisionError(
                    i18n._("{variable} is not valid UTF-8 text").format(
                        variable="AINAS_NEW_PASSWORD"
                    )
                )
            return Secret(value, "AINAS_NEW_PASSWORD")
        return self.desired.connection_secrets.get("new_password")

    def close(self) -> None:
        try:
            if self.backend is not None:
                calls = getattr(self.backend, "calls", None)
                if calls is not None:
                    log.debug(
                        "backend calls: %s",
                        ", ".join(f"{name} {count}" for name, count in sorted(calls.items()))
                        or "none",
                    )
                self.backend.close()
        finally:
            try:
                if self.lock_id is not None:
                    self.store.unlock(self.lock_id)
                    self.lock_id = None
            finally:
                self.store.close()
                if validation_flags.ONE_SHOT_PROCESS:
                    # the process ends with the command: what the run holds (at 20,000 users
                    # a million objects, frozen: see load_desired) is left to the process's
                    # end, instead of freed one by one when the command returns, then scanned
                    # again by the collector's last pass once unfrozen (~50 ms together)
                    _ENDED.append(self)
                else:
                    gc.unfreeze()  # see load_desired


_ENDED: list[Run] = []  # the closed runs of a command's own process (see Run.close)


def default_state_path(path: Path) -> Path:
    return manifest_dir(path) / STATE_NAME


def open_store(options: Options, desired: DesiredState, announce: Announce) -> StateStore:
    """The store of the state: ``--state``, ``AINAS_STATE``, the manifests' ``connection.state``,
    else the file beside the manifests (see :mod:`ainas_provision.state.location`)."""
    setting = desired.connection.get("state")
    where = desired.connection_dir or manifest_dir(options.path)
    return resolve_store(
        options.state_path,
        options.path,
        options.env,
        setting=(str(setting), where) if setting else None,
        announce=announce,
    )


def load_desired(
    path: Path, env: Mapping[str, str], vars_files=()
) -> tuple[Validation, DesiredState]:
    with gc_paused():
        validation, desired = validate_tree(path, env=env, vars_files=vars_files, desired=True)
        if not validation.ok or desired is None:
            raise ManifestError(validation.diagnostics)
        # from here on a run needs the desired state only: the parsed documents and their merged
        # tree (most of a large manifest's memory: the place of every value in its file) are let
        # go before the target is read and the plan made — and so is what still holds parts of
        # that tree, for the places of secret fields and the certificate's inputs
        validation.documents, validation.merged, validation.origin = [], None, {}
        validation.secret_sites = validation.certificate_inputs = None
    # what was loaded lives as long as the run: keep the collector from rescanning it
    gc.freeze()
    return validation, desired


def open_run(
    options: Options, announce: Announce, *, lock: bool = False, operation: str = "apply"
) -> Run:
    """Validate the manifests, take the state lock (for an apply, or ``operation``) and load the
    state; the target is opened later, by :func:`connect`."""
    validation, desired = load_desired(options.path, options.env, options.vars_files)
    target = resolve(options.target, options.path, options.env)
    store = open_store(options, desired, announce)
    try:
        lock_id = (
            store.lock(LockInfo.mine(operation), timeout=options.lock_timeout) if lock else None
        )
    except BaseException:
        store.close()
        raise
    try:
        with gc_paused():  # tens of thousands of entries, no cycles (see load_desired)
            state = store.load()
        fingerprint, new_key_file = _fingerprinter(store, state, options)
        run = Run(options, validation, desired, target, store, state, fingerprint)
        run.new_key_file = new_key_file
        run.announce = announce
        if state.target is not None and not same_tenant(state.target, run.identity):
            raise AinasProvisionError(
                i18n._(
                    "the state {state} belongs to {owner}, not to {target}; use another --state "
                    "for another target"
                ).format(
                    state=store.describe(),
                    owner=_describe(state.target),
                    target=_describe(run.identity),
                )
            )
    except BaseException:
        try:
            if lock_id is not None:
                store.unlock(lock_id)
        finally:
            store.close()
        raise
    run.lock_id = lock_id
    return run


def _describe(identity: dict) -> str:
    return i18n._("代理人組織ID {organization_id} at {where}").format(
        organization_id=identity.get("organization_id"), where=describe_identity(identity)
    )


def _fingerprinter(
    store: StateStore, state: State, options: Options
) -> tuple[Fingerprinter, Path | None]:
    """The fingerprint key's fingerprinter, and the key file still to write when there is no
    key yet (see :func:`save_new_key`: nothing is written before the target is confirmed)."""
    source = find_key(store.key_file(), options.env)
    key, pending = source.key, None
    if key is None:
        if state.key_check is not None:
            raise StateKeyError(
                i18n._(
                    "the state {state} was written with a fingerprint key that is not "
                    "available: set AINAS_STATE_KEY, or restore {source}"
                ).format(state=store.describe(), source=source.description)
            )
        key, pending = new_key(), source.path
    fingerprint = Fingerprinter(key)
    if state.key_check is not None and state.key_check != fingerprint.key_check:
        raise StateKeyError(
            i18n._(
                "the fingerprint key from {source} is not the one the state {state} was written "
                "with: use the right key (AINAS_STATE_KEY or the key file)"
            ).format(source=source.description, state=store.describe())
        )
    return fingerprint, pending


def save_new_key(run: Run) -> None:
    """Write the key file of a first run, once the target is known to be the right one."""
    if run.new_key_file is None:
        return
    path, run.new_key_file = run.new_key_file, None
    try:
        create_key_file(path, run.fingerprint.key)
    except FileExistsError:  # a run that started at the same moment made one: use it
        run.fingerprint, _ = _fingerprinter(run.store, run.state, run.options)
        return
    run.announce(
        i18n._(
            "created the state key {path} ({protection}): keep it, and keep it out of git; "
            "CI keeps it as the secret AINAS_STATE_KEY"
        ).format(path=path, protection=portable.private_note())
    )


def _target_options(run: Run):
    """What a target takes from the run (the browser: supervised or not, a trace or not, and
    where failure evidence goes: ``.ainas/`` beside the state)."""
    base = run.store.location_base() or manifest_dir(run.options.path)
    return run.target.type.own_options(
        supervised=run.options.supervised, trace=run.options.trace, evidence_dir=base / ".ainas"
    )


def connect(run: Run) -> None:
    """Open the target and confirm it is the manifests' tenant before reading anything else."""
    run.backend = CountingBackend(
        open_backend(
            run.target,
            run.desired,
            run.options.env,
            run.announce,
            parallelism=run.options.parallelism,
            dry_run=run.options.dry_run,
            state=run.state,
            browser=_target_options(run),
        )
    )
    org_id = run.backend.organization_id()
    if org_id != run.desired.organization_id:
        raise AinasProvisionError(
            i18n._(
                "{target} is the tenant of 代理人組織ID {actual}, but the manifests describe "
                "代理人組織ID {wanted}: refusing to plan against another organization"
            ).format(
                target=run.target.describe(),
                actual=org_id,
                wanted=run.desired.organization_id,
            )
        )
    if not run.options.dry_run:
        save_new_key(run)


def _scope(run: Run, session) -> set[str] | None:
    scope = set(run.options.sites) or None
    if scope:
        unknown = sorted(scope - set(run.desired.sites))
        if unknown:
            raise AinasProvisionError(
                i18n._(
                    "--site {handles}: no such site handle in the manifests (sites: {sites})"
                ).format(
                    handles=", ".join(unknown),
                    sites=", ".join(sorted(run.desired.sites)) or i18n._("none"),
                )
            )
    if session is not None and session.role == kinds.SITE_MANAGER:
        own = _own_site(run, session)
        if scope and scope != {own}:
            raise AinasProvisionError(
                i18n._(
                    "{login_id} is the 拠点管理者 of site '{handle}' and can plan only that site"
                ).format(login_id=session.login_id, handle=own)
            )
        scope = {own}
    return scope


def _own_site(run: Run, session) -> str:
    handle = run.state.handle_of(session.site_id) if session.site_id else None
    if handle is None:
        live = run.backend.read().sites.get(session.site_id)
        for candidate, site in run.desired.sites.items():
            fields = site.fields
            if live is not None and (
                (fields.get("code") and fields.get("code") == live.fields.get("code"))
                or fields.get("name") == live.fields.get("name")
            ):
                handle = candidate
                break
    if handle is None:
        raise AinasProvisionError(
            i18n._(
                "{login_id} is a 拠点管理者 of 拠点ID {site_id}, which no site of the manifests "
                "describes"
            ).format(login_id=session.login_id, site_id=session.site_id)
        )
    return handle


def read_current(run: Run, scope: set[str] | None, session) -> CurrentState:
    if session.must_change_password:
        placeholder = LiveResource("organization", run.desired.organization_id, {})
        return CurrentState(placeholder, session=session)
    site_ids = None
    if scope is not None:
        ids = [run.state.site_id(handle) for handle in scope]
        if all(ids):
            site_ids = ids
    return run.backend.read(sites=site_ids)


def make_plan(run: Run) -> Plan:
    """Read the target and diff it against the manifests and the state. What is read and
    built here (a tenant's every resource, the plan: hundreds of thousands of small objects)
    lives until the command ends: the collector is paused, as it is for the manifests (see
    :func:`load_desired`), instead of rescanning them all as they are made."""
    with gc_paused():
        return _make_plan(run)


def _make_plan(run: Run) -> Plan:
    if run.backend is None:
        connect(run)
    session = run.backend.session()
    scope = _scope(run, session) if not session.must_change_password else None
    run.current = read_current(run, scope, session)
    _apply_moves(run)
    plan = diff(
        run.desired,
        run.current,
        run.state,
        run.fingerprint,
        DiffOptions(
            scope=scope,
            new_password=run.new_password(),
            rewrite_unknown_secrets=run.options.rewrite_unknown_secrets,
            target=run.identity,
            # the labels the screens print, with the catalogue override beside the manifests
            labels=Labels.for_directory(manifest_dir(run.options.path), run.options.env),
        ),
    )
    plan.notes[:0] = run.move_notes
    plan.target_description = run.target.describe()
    plan.target_digest = run.current.digest()
    plan.manifest_digest = run.desired.digest()
    plan.key_check = run.fingerprint.key_check
    if not run.target.type.reads_ainas:
        from ainas_provision.targets.runbook import CANNOT_READ

        plan.notes.insert(0, Note("info", "target", CANNOT_READ))
    return plan


def check_saved_plan(run: Run, plan: Plan, expect_digest: str | None = None) -> Plan:
    """A saved plan is applied only if nothing it was made from has moved, and only if it is
    the plan those things make: the plan is made afresh, the saved changes must be the fresh
    ones change by change, and the fresh plan is returned — what is applied, with its own
    guard rails (errors, ``max_deletes`` from the manifests' policy). Its scope (``--site``) is
    the plan's own: the check reads what the plan read."""
    if expect_digest is not None and plan.digest() != expect_digest.strip():
        raise PlanRefused(
            i18n._(
                "the plan's digest is {digest}, not the reviewed {expected}: "
                "this file is not the plan that was reviewed; nothing was changed"
            ).format(digest=plan.digest(), expected=expect_digest.strip())
        )
    if run.options.sites and sorted(run.options.sites) != (plan.scope or []):
        raise PlanRefused(
            i18n._(
                "the plan was made for sites {planned}, not for --site {given}; "
                "apply it without --site"
            ).format(
                planned=", ".join(plan.scope or []) or i18n._("(all)"),
                given=", ".join(run.options.sites),
            )
        )
    run.options.sites = list(plan.scope or [])
    if plan.target != run.identity:
        raise PlanRefused(
            i18n._("the plan was made for {planned}, not {target}").format(
                planned=_describe(plan.target), target=_describe(run.identity)
            )
        )
    if plan.lineage != run.state.lineage or plan.serial != run.state.serial:
        raise PlanRefused(
            (
                i18n._(
                    "the plan is stale: it was made from state serial {planned}, and the state "
                    "{store} is now at serial {serial}; make a new plan"
                )
                if plan.lineage == run.state.lineage
                else i18n._(
                    "the plan is stale: it was made from state serial {planned}, and the state "
                    "{store} is now at serial {serial} of another lineage; make a new plan"
                )
            ).format(planned=plan.serial, store=run.store.describe(), serial=run.state.serial)
        )
    if plan.manifest_digest != run.desired.digest():
        raise PlanRefused(i18n._("the manifests changed since the plan was made; make a new plan"))
    if plan.key_check != run.fingerprint.key_check:
        raise PlanRefused(i18n._("the plan was made with another fingerprint key; make a new plan"))
    fresh = make_plan(run)
    if fresh.target_digest != plan.target_digest:
        raise PlanRefused(
            i18n._(
                "the plan is stale: {target} changed since the plan was made; make a new plan"
            ).format(target=run.target.describe())
        )
    fresh.created_at = plan.created_at  # the same plan has the same digest
    difference = first_difference(plan, fresh)
    # the target's description is not compared with the fresh plan's (it is said in the language
    # of the run that made the plan), but it must be this target's, in one of the languages
    if difference is None and plan.target_description not in i18n.in_every_language(
        run.target.describe
    ):
        difference = i18n._("its '{key}' differs from the fresh plan's").format(
            key="target_description"
        )
    if difference is not None:
        raise PlanRefused(
            i18n._(
                "the saved plan is not the plan the manifests, the state and the target make: "
                "{difference}; it was changed after it was made — make a new plan and review it "
                "(nothing was changed)"
            ).format(difference=difference)
        )
    return fresh


def _apply_moves(run: Run) -> None:
    """The manifests' ``moved:`` entries not yet in the state: applied to the state in memory
    (the plan is made as if they were; ``execute`` writes them), each said in the plan. An entry
    whose move is done already is skipped: it may stay in the manifests."""
    from ainas_provision.state import edit

    for old, new in run.desired.moved:
        old_key, new_key = old.removeprefix("site."), new.removeprefix("site.")
        if old_key not in run.state.sites or new_key in run.state.sites:
            continue
        records, dropped = edit.move(
            run.state, old, new, run.fingerprint, edit.secret_lookup(run.desired)
        )
        for record in records:
            run.state.apply(record)
        run.pending_moves.extend(records)
        args = {"old": old, "site_id": str(run.state.sites[new_key].site_id)}
        if not dropped:
            template = i18n.N_("moved from {old} (moved:): 拠点ID {site_id} kept; apply records it")
        elif len(dropped) == 1:
            template = i18n.N_(
                "moved from {old} (moved:): 拠点ID {site_id} kept; apply records it; 1 write-only "
                "value whose manifest secret differs from what this tool wrote will be noted as "
                "never written"
            )
        else:
            template = i18n.N_(
                "moved from {old} (moved:): 拠点ID {site_id} kept; apply records it; {count} "
                "write-only values whose manifest secret differs from what this tool wrote will "
                "be noted as never written"
            )
            args["count"] = str(len(dropped))
        run.move_notes.append(Note("info", new, template, args))


def save_moves(run: Run) -> None:
    """Write the moves the plan was made with (a journaled edit of the state, as state mv)."""
    if not run.pending_moves:
        return
    run.store.begin(run.state)
    try:
        for record in run.pending_moves:
            run.store.record(run.state, record)
    finally:
        run.store.commit(run.state)
    run.pending_moves = []


def execute(
    run: Run, plan: Plan, parallelism: int, progress: Progress | None, *, last: bool = False
) -> list[Outcome]:
    """Apply ``plan`` through the run's target; ``last``: nothing is sent after it (see
    :meth:`Executor.run`)."""
    from ainas_provision.apply.executor import Executor  # an apply's only: a plan does without

    save_moves(run)
    executor = Executor(
        run.backend,
        run.store,
        run.state,
        run.desired,
        run.fingerprint,
        parallelism=parallelism,
        new_password=run.new_password(),
        progress=progress,
    )
    return executor.run(plan, target=run.identity, key_check=run.fingerprint.key_check, last=last)


# -- import ------------------------------------------------------------------------------------
@dataclass
class ImportOptions:
    """What an import was asked to do."""

    out: Path = Path(".")
    target: str | None = None
    state_path: str | Path | None = None
    organization_id: str | None = None
    force: bool = False
    env: Mapping[str, str] = field(default_factory=lambda: os.environ)


def _import_organization(target: Target, options: ImportOptions) -> str:
    if options.organization_id:
        return options.organization_id
    tenants = target.type.organizations(target.location)
    if tenants is None:
        return ""  # the login tells
    if len(tenants) == 1:
        return tenants[0]
    raise AinasProvisionError(
        i18n.ngettext(
            "{location} holds {count} tenant ({tenants}): name one with --organization-id",
            "{location} holds {count} tenants ({tenants}): name one with --organization-id",
            len(tenants),
        ).format(
            location=target.location,
            count=len(tenants),
            tenants=", ".join(tenants) or i18n._("none"),
        )
    )


def import_tenant(
    options: ImportOptions, announce: Announce, wrote: Callable[[str, int, int], None]
) -> tuple[Imported, Path]:
    """Read the target, write manifests describing it into ``options.out``, and bind the
    state to them. Returns what was written and the state file."""
    from ainas_provision.workflow import importing as importer

    target = resolve(options.target, options.out / "manifest", options.env)
    org_id = _import_organization(target, options)
    backend = CountingBackend(
        open_backend(target, DesiredState.empty(org_id), options.env, announce, create_tenant=False)
    )
    try:
        actual = backend.organization_id()
        if org_id and actual != org_id:
            raise AinasProvisionError(
                i18n._("{target} is the tenant of 代理人組織ID {actual}, not {wanted}").format(
                    target=target.describe(), actual=actual, wanted=org_id
                )
            )
        session = backend.session()
        if session.must_change_password:
            raise AinasProvisionError(
                i18n._(
                    "the password of {login_id} is still the initial one: AINAS allows nothing "
                    "until it is changed — change it (log in once, or apply with "
                    "AINAS_NEW_PASSWORD), then import"
                ).format(login_id=session.login_id)
            )
        current = backend.read()
        log.debug(
            "backend calls: %s", ", ".join(f"{k} {v}" for k, v in sorted(backend.calls.items()))
        )
    finally:
        backend.close()
    store = resolve_store(
        options.state_path, options.out / STATE_NAME, options.env, announce=announce
    )
    try:
        lock_id = store.lock(LockInfo.mine("import"))
    except BaseException:
        store.close()
        raise
    try:
        state = store.load()
        if state.sites or state.users:
            raise AinasProvisionError(
                i18n._(
                    "the state {state} already manages sites or users: import into a new "
                    "directory, or give another --state"
                ).format(state=store.describe())
            )
        existing = [p for p in options.out.rglob("*.yaml")] if options.out.exists() else []
        if existing and not options.force:
            raise AinasProvisionError(
                i18n._(
                    "{directory} already holds manifests ({file}…): import into an empty "
                    "directory, or pass --force to overwrite"
                ).format(directory=options.out, file=existing[0].name)
            )
        fingerprint, new_key_file = _fingerprinter(store, state, Options(env=options.env))
        if new_key_file is not None:
            create_key_file(new_key_file, fingerprint.key)
            announce(
                i18n._(
                    "created the state key {path} ({protection}): keep it, and keep it out of "
                    "git; CI keeps it as the secret AINAS_STATE_KEY"
                ).format(path=new_key_file, protection=portable.private_note())
            )
        imported = importer.build(current, state.handle_of)
        total = len(imported.files)
        for number, (name, text) in enumerate(sorted(imported.files.items()), 1):
            path = options.out / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            wrote(name, number, total)
        identity = target.identity(current.organization.id, store.location_base())
        store.begin(state)
        records = [
            Put("target", None, identity),
            Put("key_check", None, fingerprint.key_check),
            *(Put("sites", h, SiteEntry(site_id)) for h, site_id in imported.bindings.items()),
            *(Put("users", login_id, UserEntry()) for login_id in imported.users),
        ]
        for record in records:
            store.record(state, record)
        store.commit(state)
    finally:
        try:
            store.unlock(lock_id)
        finally:
            store.close()
    return imported, store.describe()
