"""Reading a sandbox tenant and its state back, and comparing them with manifests.

Everything here reads the SQLite file and the state as they are on disk: the tenant through
:class:`AinasSandbox`'s list calls (what AINAS shows), the write-only secrets through the
sandbox's password hashes and the state's keyed fingerprints (never through the tool's own plan).
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from collections import Counter
from contextlib import closing
from pathlib import Path

from ainas_emulator.service import Actor, AinasSandbox
from ainas_emulator.store import verify_password
from ainas_provision.domain import screens
from ainas_provision.domain.kinds import BATCH_FIELDS, KEI_BATCH_FIELDS, SITE_FIELDS
from ainas_provision.state.keys import Fingerprinter, find_key
from ainas_provision.state.model import State
from ainas_provision.state.store import LocalStateStore
from tests.conftest import REPO
from tests.reliability.strategies import ORG_ID, batch_of, secret_values

SANDBOX = "ainas.sandbox.sqlite"
STATE = "ainas.state.json"
SECRET_FIELDS = ("batch_password", "arrival_number_password")
STAFF_FIELDS = ("default_destination", "kei_default_destination", "default_menu")


def load_state(directory: Path) -> State:
    return LocalStateStore(directory / STATE).load()


def fingerprinter(directory: Path) -> Fingerprinter:
    """The state's fingerprint function, with the key file beside the state."""
    key = find_key(LocalStateStore(directory / STATE).key_file(), env={}).key
    assert key is not None, "no state key beside the state"
    return Fingerprinter(key)


def _admin(sandbox: AinasSandbox, org_id: str) -> Actor:
    admin = sandbox.first_admin(org_id)
    return Actor(admin.login_id, org_id, admin.role, None, False)


def read_tenant(directory: Path, org_id: str = ORG_ID) -> dict:
    """The tenant as AINAS shows it, named as the manifest names it: organization, sites
    (with batch accounts) by 拠点ID and users (admins left out) by ログインID."""
    sandbox = AinasSandbox(directory / SANDBOX)
    try:
        actor = _admin(sandbox, org_id)
        sites, _ = sandbox.list_sites(actor)
        users, _ = sandbox.list_users(actor)
        return {
            "organization": sandbox.read_organization(actor),
            "sites": {site["site_id"]: _named_site(site) for site in sites},
            "users": {
                user["login_id"]: screens.from_screen("user", user)
                for user in users
                if user["role"] != "管理者"
            },
        }
    finally:
        sandbox.close()


def _named_site(site: dict) -> dict:
    out = {**site, "fields": screens.from_screen("site", site["fields"])}
    for kind in ("batch_account", "kei_batch_account"):
        if site[kind] is not None:
            out[kind] = screens.from_screen(kind, site[kind])
    return out


def rows(directory: Path, sql: str, args=()) -> list[tuple]:
    """Rows of the sandbox file, read only; none when an apply died before making the file (or
    its table)."""
    path = directory / SANDBOX
    if not path.exists():
        return []
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        try:
            return db.execute(sql, args).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            raise


def site_fields(site: dict) -> dict:
    """The 代理人拠点 form of a generated site, as the sandbox stores it."""
    out = {}
    for name in SITE_FIELDS:
        node = site
        for part in name.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        out[name] = node
    if out["kei.client_receipt_selectable"] is None:
        out["kei.client_receipt_selectable"] = False  # a checkbox left empty
    return out


def batch_fields(account: dict, kei: bool) -> dict:
    names = KEI_BATCH_FIELDS if kei else BATCH_FIELDS
    return {name: account.get(name) for name in names if name not in SECRET_FIELDS}


def assert_tenant_matches(directory: Path, manifest: dict) -> None:
    """The tenant and the state hold exactly what ``manifest`` says: every non-secret field as
    AINAS shows it; every secret by its hash in the sandbox and by its fingerprint in the state."""
    tenant = read_tenant(directory)
    state = load_state(directory)
    assert tenant["organization"]["short_name"] == manifest["organization"]["short_name"]
    # sites: one live site per handle, bound in the state, with the manifest's fields
    assert set(state.sites) == set(manifest["sites"])
    bound = {handle: entry.site_id for handle, entry in state.sites.items()}
    assert sorted(bound.values()) == sorted(tenant["sites"]), (bound, sorted(tenant["sites"]))
    for handle, site in manifest["sites"].items():
        live = tenant["sites"][bound[handle]]
        assert live["fields"] == site_fields(site), handle
        for section, kind in (("registered", "batch_account"), ("kei", "kei_batch_account")):
            account = batch_of(site, section)
            if account is None:
                assert live[kind] is None, (handle, kind)
            else:
                assert live[kind] == batch_fields(account, kind.startswith("kei")), (handle, kind)
    # users: the manifest's, no more, at the site their handle is bound to
    assert set(tenant["users"]) == set(manifest["users"]) == set(state.users)
    for login, user in manifest["users"].items():
        live = tenant["users"][login]
        assert live["name"] == user["name"] and live["role"] == user["role"], login
        assert live["site_id"] == bound[user["site"]], login
        for name in STAFF_FIELDS:
            assert live.get(name) == user.get(name), (login, name)
    assert_secrets_match(directory, manifest, state, bound)


def assert_secrets_match(directory: Path, manifest: dict, state: State, bound: dict) -> None:
    fingerprint = fingerprinter(directory)
    hashes = {}
    for site_id, kind, batch, arrival in rows(
        directory,
        "SELECT site_id, kind, batch_password, arrival_number_password FROM batch_accounts",
    ):
        hashes[(site_id, kind, "batch_password")] = batch
        hashes[(site_id, kind, "arrival_number_password")] = arrival
    users = dict(rows(directory, "SELECT login_id, password FROM users"))
    for (section, key, name), value in secret_values(manifest).items():
        if section == "sites":
            kind, field = name.split(".")
            address = f"{kind}.{key}"
            assert verify_password(value, hashes[(bound[key], kind, field)]), (key, name)
        else:
            address, field = f"user.{key}", name
            assert verify_password(value, users[key]), (key, name)
        recorded = state.fingerprints(section, key).get(name)
        assert recorded == fingerprint(address, field, value), (section, key, name)


def duplicates(directory: Path) -> dict[str, list]:
    """Sites sharing a code or a name, users sharing a ログインID (none, ever)."""
    fields = [json.loads(row[0]) for row in rows(directory, "SELECT fields FROM sites")]
    codes = Counter(f.get("site_code") for f in fields if f.get("site_code"))
    names = Counter(f.get("site_name") for f in fields)
    logins = Counter(row[0] for row in rows(directory, "SELECT login_id FROM users"))
    return {
        "site codes": [c for c, n in codes.items() if n > 1],
        "site names": [c for c, n in names.items() if n > 1],
        "login IDs": [c for c, n in logins.items() if n > 1],
    }


def counts(directory: Path) -> tuple[int, int]:
    """(sites, non-admin users) in the sandbox."""
    sites = rows(directory, "SELECT site_id FROM sites")
    users = rows(directory, "SELECT login_id FROM users WHERE role != '管理者'")
    return len(sites), len(users)


def cli_command(*args: str) -> list[str]:
    """``ainas-provision ARGS`` as a subprocess of this interpreter."""
    return [sys.executable, "-m", "ainas_provision", *args]


def subprocess_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a CLI subprocess: this one (without AINAS_* settings, removed by the
    shared fixture), unbuffered output so that progress lines arrive as they are printed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AINAS_")}
    env.update(PYTHONUNBUFFERED="1", COLUMNS="200", PYTHONPATH=str(REPO))
    env.update(extra or {})
    return env
