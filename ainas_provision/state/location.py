"""Where the state is: a file, or a PostgreSQL database — and the store that keeps it there.

The first of these names the state:

1. ``--state`` (a path, or ``postgresql://…``);
2. ``AINAS_STATE`` (likewise);
3. ``state:`` in the manifests' ``connection`` section (a path relative to the manifest that
   defines it, or a URL without a password: the manifests are in git, the password is not);
4. ``ainas.state.json`` beside the manifests.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ainas_provision.errors import AinasProvisionError
from ainas_provision.i18n import _
from ainas_provision.state.store import LocalStateStore

if TYPE_CHECKING:  # the PostgreSQL store is imported for a postgresql:// state only
    from ainas_provision.state.postgres import PostgresStateStore

    StateStore = LocalStateStore | PostgresStateStore

STATE_NAME = "ainas.state.json"
STATE_ENV = "AINAS_STATE"
SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(spec: str | Path | None) -> bool:
    return isinstance(spec, str) and spec.startswith(SCHEMES)


def manifest_dir(path: Path) -> Path:
    return path if path.is_dir() else path.parent


def state_setting(path: Path) -> tuple[str, Path] | None:
    """``connection.state`` of the plain manifest files at ``path``, with the directory of the
    file that sets it — read without validating the rest (for ``state`` commands, which need
    no secrets). Templates are not rendered for it."""
    from ainas_provision.manifest.loader import load_file, manifest_files

    files, _problems = manifest_files(path) if path.exists() else ([], [])
    for file in files:
        if not file.name.endswith((".yaml", ".yml")):
            continue
        document, _problem = load_file(file)
        if document is None:
            continue
        connection = document.root.get("connection")
        if isinstance(connection, Mapping) and isinstance(connection.get("state"), str):
            return str(connection["state"]), document.directory
    return None


def resolve_store(
    spec: str | Path | None,
    manifest_path: Path,
    env: Mapping[str, str] = os.environ,
    *,
    setting: tuple[str, Path] | None = None,
    announce: Callable[[str], None] = lambda message: None,
) -> StateStore:
    """The store of the state named by ``spec`` (``--state``), else ``AINAS_STATE``, else the
    manifests' ``connection.state`` (``setting``: its value and the directory it is relative
    to), else the file beside the manifests."""
    home = manifest_dir(manifest_path)
    chosen: str | Path | None = spec or env.get(STATE_ENV) or None
    relative_to = None
    if chosen is None and setting is not None:
        chosen, relative_to = setting
        url = _postgres().PostgresLocation.parse(chosen) if is_postgres_url(chosen) else None
        if url is not None and url.password is not None:
            raise AinasProvisionError(
                _(
                    "connection.state in the manifests ({directory}) holds a password: the "
                    "manifests are kept in git — give the password with PGPASSWORD or ~/.pgpass, "
                    "and remove it from the URL"
                ).format(directory=relative_to)
            )
    if chosen is None:
        return LocalStateStore(home / STATE_NAME)
    if is_postgres_url(chosen):
        return _postgres().PostgresStateStore(str(chosen), key_dir=home, announce=announce)
    if isinstance(chosen, str) and "://" in chosen:
        raise AinasProvisionError(
            _("--state {scheme}://…: a state is a file path or a postgresql:// URL").format(
                scheme=chosen.split("://", 1)[0]
            )
        )
    if str(chosen).startswith(("postgresql:/", "postgres:/")):
        # a URL that went through a path option ("//" collapsed): never a file to create
        raise AinasProvisionError(
            _(
                "--state: a postgresql:// URL was read as a file path by this command; give it "
                "with AINAS_STATE, or to a command that takes a URL"
            )
        )
    path = Path(chosen)
    if relative_to is not None and not path.is_absolute():
        path = relative_to / path
    return LocalStateStore(path)


def _postgres():
    """The PostgreSQL store's module, imported when a state is named by a postgresql:// URL: a
    file state's run does without it (and without its imports)."""
    from ainas_provision.state import postgres

    return postgres
