"""Import: manifests that describe a live tenant, so that it can be brought under management.

The output is deterministic — the same tenant gives the same files, whatever its 拠点IDs — so
that an import can be reviewed in git and a round trip (import, apply elsewhere, import again)
gives identical files:

- ``organization.yaml``: the organization, its admins, a policy, and the certificate in force as
  a comment (AINAS never gives the ``.p12`` back: put the file beside the manifests and uncomment);
- ``sites/<handle>.yaml``: one file per site with its batch accounts. The handle is the
  代理人拠点コード in lower case, else ``site-<n>`` in 代理人拠点名 order;
- ``users.yaml``: site managers and staff users.

Write-only secrets become ``{env: NAME}`` placeholders: ``BRANCH_<HANDLE>_BATCH_PASSWORD``,
``BRANCH_<HANDLE>_ARRIVAL_PASSWORD``, ``BRANCH_<HANDLE>_KEI_BATCH_PASSWORD``,
``BRANCH_<HANDLE>_KEI_ARRIVAL_PASSWORD`` and ``USER_<LOGIN>_PASSWORD`` (upper case, any other
character than a letter or digit as ``_``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import yaml

from ainas_provision.domain import kinds
from ainas_provision.targets.base import CurrentState, LiveResource

SCHEMA_FILE = "ainas-manifest.schema.json"


def env_name(*parts: str) -> str:
    return "_".join(re.sub(r"[^A-Za-z0-9]", "_", part).upper() for part in parts)


def site_secret_env(handle: str, kind: str, name: str) -> str:
    prefix = "KEI_" if kinds.KINDS[kind].system == "kei" else ""
    short = "BATCH" if name == "batch_password" else "ARRIVAL"
    return env_name("BRANCH", handle, f"{prefix}{short}", "PASSWORD")


def user_secret_env(login_id: str) -> str:
    return env_name("USER", login_id, "PASSWORD")


class _Dumper(yaml.SafeDumper):
    """Block style, Japanese as is, secret references on one line."""


def _flow_mapping(dumper, data):
    return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True)


class Ref(dict):
    """A secret reference, written on one line: ``{env: NAME}``."""


class Pair(list):
    """A short list written on one line: ``[東京都, 練馬]``."""


_Dumper.add_representer(Ref, _flow_mapping)
_Dumper.add_representer(
    Pair,
    lambda dumper, data: dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True),
)


def dump(data: dict) -> str:
    return yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=1000)


@dataclass
class Imported:
    """The files to write (relative path -> text) and the site bindings for the state."""

    files: dict[str, str] = field(default_factory=dict)
    bindings: dict[str, str] = field(default_factory=dict)  # handle -> 拠点ID
    users: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)  # the placeholder variables, for the notes


def site_handles(current: CurrentState, known: Callable[[str], str | None]) -> dict[str, str]:
    """拠点ID -> handle: the state's binding, else from the code, else ``site-<n>``."""
    handles: dict[str, str] = {}
    used: set[str] = set()
    for site_id in current.sites:
        handle = known(site_id)
        if handle:
            handles[site_id] = handle
            used.add(handle)
    pending = sorted(
        (s for s in current.sites.values() if s.id not in handles),
        key=lambda s: (str(s.fields.get("code") or ""), str(s.fields.get("name") or ""), s.id),
    )
    counter = 0
    for live in pending:
        code = live.fields.get("code")
        base = re.sub(r"[^a-z0-9_-]+", "-", str(code).lower()).strip("-_") if code else ""
        if not base or not base[0].isalnum():
            counter += 1
            base = f"site-{counter}"
        handle, n = base, 1
        while handle in used:
            n += 1
            handle = f"{base}-{n}"
        handles[live.id] = handle
        used.add(handle)
    return handles


def _nest(flat: dict) -> dict:
    """``{"registered.review_deadline": "16:00"}`` -> ``{"registered": {"review_deadline": …}}``."""
    out: dict = {}
    for name, value in flat.items():
        node = out
        *parents, last = name.split(".")
        for parent in parents:
            node = node.setdefault(parent, {})
        node[last] = value
    return out


def _present(value) -> bool:
    return value is not None and value != ""


def _batch(kind: kinds.Kind, handle: str, live: LiveResource, imported: Imported) -> dict:
    out: dict = {}
    for spec in kind.fields:
        if spec.secret:
            name = site_secret_env(handle, kind.name, spec.name)
            imported.secrets.append(name)
            out[spec.name] = Ref(env=name)
        elif _present(live.fields.get(spec.name)):
            out[spec.name] = live.fields[spec.name]
    return out


def _site(handle: str, live: LiveResource, current: CurrentState, imported: Imported) -> dict:
    fields = {
        spec.name: live.fields.get(spec.name)
        for spec in kinds.SITE.fields
        if _present(live.fields.get(spec.name))
    }
    site = _nest(fields)
    kei_present = any(
        name.startswith("kei.") and name != "kei.client_receipt_selectable" for name in fields
    )
    if not kei_present:
        site.pop("kei", None)
    registered = current.batch_accounts.get(live.id)
    if registered is not None:
        site.setdefault("registered", {})["batch_account"] = _batch(
            kinds.BATCH_ACCOUNT, handle, registered, imported
        )
    kei = current.kei_batch_accounts.get(live.id)
    if kei is not None:
        site.setdefault("kei", {})["batch_account"] = _batch(
            kinds.KEI_BATCH_ACCOUNT, handle, kei, imported
        )
    return site


def _certificate_comment(current: CurrentState) -> str:
    if not current.certificates:
        return ""
    cert = current.certificates[-1].fields
    lines = [
        "certificate:",
        f"  type: {cert.get('type') or '行政書士電子証明書'}",
        "  file: certs/REPLACE-WITH-THE-P12-FILE.p12",
        "  password: {env: AINAS_CERT_PASSWORD}",
    ]
    for name in kinds.CERTIFICATE_TYPED:
        if _present(cert.get(name)):
            lines.append(f"  {name}: {dump({name: cert[name]}).split(': ', 1)[1].strip()}")
    lines.append("  expect:")
    for name in ("trade_name", "representative_name", "address"):
        if _present(cert.get(name)):
            lines.append(f"    {name}: {dump({name: cert[name]}).split(': ', 1)[1].strip()}")
    header = (
        f"# The certificate in force (registered {cert.get('registered_at')}, expires "
        f"{cert.get('expiry_date')}). AINAS does not give the .p12 file back: put it beside the\n"
        "# manifests, set the file and its password, and uncomment.\n"
    )
    return header + "".join(f"# {line}\n" for line in lines)


def _schema_comment(depth: int) -> str:
    return f"# yaml-language-server: $schema={'../' * depth}{SCHEMA_FILE}\n"


def build(current: CurrentState, known: Callable[[str], str | None]) -> Imported:
    """The manifests describing ``current``; ``known(site_id)`` gives a handle the state has.
    The files point editors at the schema, written beside them."""
    from ainas_provision.schema import schema_text

    imported = Imported()
    imported.files[SCHEMA_FILE] = schema_text()
    org = current.organization
    organization = {"id": org.id}
    for name in ("name", "short_name"):
        if _present(org.fields.get(name)):
            organization[name] = org.fields[name]
    admins = {
        login: {"name": user.fields.get("name")}
        for login, user in sorted(current.users.items())
        if user.fields.get("role") == kinds.ADMIN_ROLE
    }
    top = {"version": 1, "organization": organization}
    if admins:
        top["admins"] = admins
    top["policy"] = {"prune": False, "max_deletes": 0}
    imported.files["organization.yaml"] = (
        _schema_comment(0) + dump(top) + _certificate_comment(current)
    )
    handles = site_handles(current, known)
    for site_id, handle in sorted(handles.items(), key=lambda item: item[1]):
        site = _site(handle, current.sites[site_id], current, imported)
        text = dump({"version": 1, "sites": {handle: site}})
        imported.files[f"sites/{handle}.yaml"] = _schema_comment(1) + text
        imported.bindings[handle] = site_id
    users: dict = {}
    for login_id, live in sorted(current.users.items()):
        role = live.fields.get("role")
        if role == kinds.ADMIN_ROLE:
            continue
        user = {"name": live.fields.get("name"), "role": role}
        site_id = live.fields.get("site_id")
        if site_id in handles:
            user["site"] = handles[site_id]
        name = user_secret_env(login_id)
        imported.secrets.append(name)
        user["initial_password"] = Ref(env=name)
        for extra in ("default_destination", "kei_default_destination"):
            if _present(live.fields.get(extra)):
                user[extra] = Pair(live.fields[extra])
        if _present(live.fields.get("default_menu")):
            user["default_menu"] = live.fields["default_menu"]
        users[login_id] = user
        imported.users.append(login_id)
    if users:
        imported.files["users.yaml"] = _schema_comment(0) + dump({"version": 1, "users": users})
    return imported
