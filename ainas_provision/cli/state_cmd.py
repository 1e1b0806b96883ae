"""``ainas-provision state``: look at the state, make its tables, move it, break a lock."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ainas_provision.errors import AinasProvisionError
from ainas_provision.i18n import N_, _, ngettext
from ainas_provision.state.location import is_postgres_url, resolve_store, state_setting
from ainas_provision.state.postgres import PostgresStateStore
from ainas_provision.state.protocols import LockInfo

if TYPE_CHECKING:
    from ainas_provision.state.location import StateStore

state_path_option = click.option(
    "--state",
    "state_path",
    default=None,
    metavar="FILE|postgresql://…",
    help=N_(
        "The state: a file, or postgresql://…/DB[?schema=S][#NAME] [default: $AINAS_STATE, "
        "else connection.state, else ainas.state.json beside PATH]."
    ),
)


def _announce(message: str) -> None:
    click.echo(message, err=True)


def _store(path: Path, state_path: str | None) -> StateStore:
    import os

    setting = None
    if not state_path and not os.environ.get("AINAS_STATE"):
        setting = state_setting(path)
    return resolve_store(state_path, path, os.environ, setting=setting, announce=_announce)


@click.group(
    "state",
    help=N_(
        "Inspect the state, make its tables, move it; break a lock.\n"
        "\n"
        "Also: list what it manages, rename a site's handle (mv), forget something "
        "(rm)."
    ),
)
def command() -> None:
    pass


@command.command(
    "show",
    help=N_("Print the state (it holds no secret values)."),
)
@click.argument("path", type=click.Path(path_type=Path), default=".", required=False)
@state_path_option
def show(path: Path, state_path: str | None) -> None:
    store = _store(path, state_path)
    try:
        if not store.exists():
            raise AinasProvisionError(_no_state(store))
        click.echo(json.dumps(store.load().to_json(), ensure_ascii=False, indent=2))
    finally:
        store.close()


def _no_state(store: StateStore) -> str:
    if isinstance(store, PostgresStateStore):
        names = store.names()
        if names:
            return _("no state at {store} (the states in that schema: {names})").format(
                store=store.describe(), names=", ".join("#" + n for n in names)
            )
    return _("no state at {store}").format(store=store.describe())


@command.command(
    "init",
    help=N_("Make the state tables in a PostgreSQL database (apply also does it on first use)."),
)
@click.argument("path", type=click.Path(path_type=Path), default=".", required=False)
@state_path_option
def init(path: Path, state_path: str | None) -> None:
    store = _store(path, state_path)
    try:
        if not isinstance(store, PostgresStateStore):
            raise AinasProvisionError(
                _(
                    "state init makes the tables of a PostgreSQL state; {store} is a file, made "
                    "by the first apply: give --state postgresql://…"
                ).format(store=store.describe())
            )
        if not store.ensure_schema():
            click.echo(
                _(
                    "the state tables in schema {schema} are ready (schema version {version})"
                ).format(schema=store.location.schema, version=store.version())
            )
    finally:
        store.close()


@command.command(
    "migrate",
    help=N_(
        "Copy the state to another store (a file to PostgreSQL, or back), both "
        "locked; the destination must hold no state. The source is left as it was."
    ),
)
@click.argument("path", type=click.Path(path_type=Path), default=".", required=False)
@state_path_option
@click.option(
    "--to",
    "destination",
    required=True,
    metavar="FILE|postgresql://…",
    help=N_("Where to copy the state: a file, or postgresql://…/DB[?schema=S][#NAME]."),
)
def migrate(path: Path, state_path: str | None, destination: str) -> None:
    source = _store(path, state_path)
    target = resolve_store(destination, path, {}, announce=_announce)
    lock_ids: dict[int, str] = {}
    try:
        if source.describe() == target.describe():
            raise AinasProvisionError(
                _("--to {store} is the state itself").format(store=target.describe())
            )
        for store in (source, target):
            lock_ids[id(store)] = store.lock(LockInfo.mine("migrate"))
        if not source.exists():
            raise AinasProvisionError(
                _("no state at {store}: nothing to migrate").format(store=source.describe())
            )
        if target.exists():
            held = target.load()
            raise AinasProvisionError(
                _(
                    "{store} already holds a state (serial {serial}, {sites} sites, {users} "
                    "users): migrate into an empty destination (another file, or another #NAME)"
                ).format(
                    store=target.describe(),
                    serial=held.serial,
                    sites=len(held.sites),
                    users=len(held.users),
                )
            )
        state = source.load()
        target.write(state)
        copied = target.load()
        if copied.to_json() != state.to_json():  # pragma: no cover - a store's own bug
            raise AinasProvisionError(
                _("{store} does not read back what was written").format(store=target.describe())
            )
    finally:
        for store in (target, source):
            try:
                if id(store) in lock_ids:
                    store.unlock(lock_ids[id(store)])
            finally:
                store.close()
    click.echo(
        _(
            "copied the state (lineage {lineage}, serial {serial}, {sites} sites, {users} users) "
            "from {source} to {target}; use it with --state (or AINAS_STATE, or "
            "connection.state). The source is left as it was: remove it once every operator "
            "and CI job uses the new one"
        ).format(
            lineage=state.lineage,
            serial=state.serial,
            sites=len(state.sites),
            users=len(state.users),
            source=source.describe(),
            target=target.describe(),
        )
        + (
            _(".")
            if not is_postgres_url(destination)
            else _(
                " (the fingerprint key stays out of the database: keep AINAS_STATE_KEY or the "
                "key file as before)."
            )
        )
    )


@command.command(
    "unlock",
    help=N_(
        "Break the state lock. A lock goes away with its process (file) or its "
        "connection (PostgreSQL), so this is needed only for a holder that hangs "
        "(with --force)."
    ),
)
@click.argument("path", type=click.Path(path_type=Path), default=".", required=False)
@state_path_option
@click.option(
    "--force",
    is_flag=True,
    help=N_("Remove the lock even while its holder is running (PostgreSQL: end its connection)."),
)
def unlock(path: Path, state_path: str | None, force: bool) -> None:
    store = _store(path, state_path)
    try:
        if force:
            removed = store.force_unlock()
        else:
            removed = None
            holder = store.holder()
            if holder is not None:
                raise AinasProvisionError(
                    _(
                        "the state {store} is locked by {holder} and its holder is still "
                        "running; use --force only if you are sure it is wedged"
                    ).format(store=store.describe(), holder=holder.describe())
                )
    finally:
        store.close()
    if removed is None:
        click.echo(_("{store}: not locked").format(store=store.describe()))
    else:
        click.echo(_("removed the lock held by {holder}").format(holder=removed.describe()))


# -- what the state manages: list, mv, rm (AINAS is not touched) ---------------------------------
@command.command(
    "list",
    help=N_("List what the state manages, one address a line (as plans name them)."),
)
@click.argument("path", type=click.Path(path_type=Path), default=".", required=False)
@state_path_option
def list_(path: Path, state_path: str | None) -> None:
    from ainas_provision.state import edit

    store = _store(path, state_path)
    try:
        if not store.exists():
            raise AinasProvisionError(_no_state(store))
        state = store.load()
    finally:
        store.close()
    for address, bound in edit.addresses(state):
        click.echo(f"{address}\t{bound}")


def _edit(path: Path, state_path: str | None, operation: str, make) -> tuple:
    """Lock the state, build the edit's records with ``make(state)``, write them as an apply
    does (journal, then the whole state), unlock."""
    store = _store(path, state_path)
    try:
        lock_id = store.lock(LockInfo.mine(operation))
        try:
            if not store.exists():
                raise AinasProvisionError(_no_state(store))
            state = store.load()
            records, extra = make(state)
            store.begin(state)
            try:
                for record in records:
                    store.record(state, record)
                store.commit(state)
            except BaseException:
                store.abandon()
                raise
        finally:
            store.unlock(lock_id)
    finally:
        store.close()
    return store, state, extra


@command.command(
    "mv",
    help=N_(
        "Rename a site's handle in the state (site.OLD site.NEW): the live 代理人拠点 "
        "keeps its 拠点ID. Run it with the manifests at PATH already renamed, so that "
        "the fingerprints of its write-only secrets are carried over."
    ),
)
@click.argument("old")
@click.argument("new")
@click.argument("path", type=click.Path(path_type=Path), default=".", required=False)
@state_path_option
def mv(old: str, new: str, path: Path, state_path: str | None) -> None:
    import os

    from ainas_provision.state import edit
    from ainas_provision.workflow.run import Options, _fingerprinter, load_desired

    lookup, fingerprinter, why = None, None, ""
    try:
        _validation, desired = load_desired(path, os.environ)
        lookup = edit.secret_lookup(desired)
    except AinasProvisionError as exc:
        why = _(" (the manifests at {path} could not be read: {reason})").format(
            path=path, reason=str(exc).splitlines()[0]
        )

    def make(state):
        nonlocal fingerprinter
        if lookup is not None and state.key_check is not None:
            store = _store(path, state_path)
            try:
                fingerprinter, _pending = _fingerprinter(store, state, Options(path=path))
            except AinasProvisionError:
                fingerprinter = None
            finally:
                store.close()
        return edit.move(state, old, new, fingerprinter, lookup)

    store, state, dropped = _edit(path, state_path, "state mv", make)
    click.echo(
        _("moved {old} to {new} in {store} (serial {serial}); AINAS is unchanged").format(
            old=old, new=new, store=store.describe(), serial=state.serial
        )
    )
    if dropped:
        click.echo(
            ngettext(
                "{count} fingerprint of write-only secrets could not be carried over "
                "({fields}){why}: the next plan notes them as values this tool never wrote",
                "{count} fingerprints of write-only secrets could not be carried over "
                "({fields}){why}: the next plan notes them as values this tool never wrote",
                len(dropped),
            ).format(count=len(dropped), fields=", ".join(dropped), why=why),
            err=True,
        )


@command.command(
    "rm",
    help=N_(
        "Stop managing ADDRESS (site.HANDLE, user.LOGIN_ID, certificate) without "
        "deleting it in AINAS: the next plan lists it as not managed (or adopts it "
        "again if the manifests name it)."
    ),
)
@click.argument("address")
@click.argument("path", type=click.Path(path_type=Path), default=".", required=False)
@state_path_option
def rm(address: str, path: Path, state_path: str | None) -> None:
    from ainas_provision.state import edit

    store, state, _nothing = _edit(
        path, state_path, "state rm", lambda s: (edit.remove(s, address), None)
    )
    click.echo(
        _("removed {address} from {store} (serial {serial}); AINAS is unchanged").format(
            address=address, store=store.describe(), serial=state.serial
        )
    )
