"""``ainas-provision state``: look at the state, break a stale lock."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ainas_provision.state.store import LocalStateStore
from ainas_provision.workflow import run as workflow

state_path_option = click.option(
    "--state",
    "state_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The state file [default: ainas.state.json beside PATH].",
)


def _store(path: Path, state_path: Path | None) -> LocalStateStore:
    return LocalStateStore(state_path or workflow.default_state_path(path))


@click.group("state")
def command() -> None:
    """Inspect the state; break a stale lock."""


@command.command("show")
@click.argument("path", type=click.Path(path_type=Path), default=".", required=False)
@state_path_option
def show(path: Path, state_path: Path | None) -> None:
    """Print the state (it holds no secret values)."""
    store = _store(path, state_path)
    if not store.exists():
        raise click.ClickException(f"no state at {store.path}")
    click.echo(json.dumps(store.load().to_json(), ensure_ascii=False, indent=2))


@command.command("unlock")
@click.argument("path", type=click.Path(path_type=Path), default=".", required=False)
@state_path_option
@click.option("--force", is_flag=True, help="Remove the lock even if its holder may be running.")
def unlock(path: Path, state_path: Path | None, force: bool) -> None:
    """Break the lock of an apply that died (its holder process is gone)."""
    store = _store(path, state_path)
    removed = store.lock.break_lock(force=force)
    if removed is None:
        click.echo(f"{store.lock.path}: not locked")
    else:
        click.echo(f"removed the lock held by {removed.describe()}")
