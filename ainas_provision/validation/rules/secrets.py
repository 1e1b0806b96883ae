"""Secret fields: their form, their resolution, and the password rule on what they resolve to."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ainas_provision import schema as manifest_schema
from ainas_provision.diagnostics import Diagnostic
from ainas_provision.i18n import _, ngettext
from ainas_provision.manifest.loader import Document
from ainas_provision.manifest.marks import Mark, MarkedMap, mark_of
from ainas_provision.secrets.refs import SecretError, SecretRef, parse_ref, resolve
from ainas_provision.secrets.values import Secret
from ainas_provision.secrets.walk import iter_secret_values
from ainas_provision.validation.rules.passwords import password_problem
from ainas_provision.validation.rules.registry import Explanation, explainer, register

register(
    "secret-plaintext",
    "secret fields take {env:}, {file:} or {encrypted:}, not plain text",
    "secrets",
)
register("secret-env", "an {env: NAME} secret's variable is set and not empty", "secrets")
register("secret-file", "a {file: path} secret's file exists and is readable UTF-8", "secrets")
register(
    "secret-encrypted",
    "an {encrypted: …} secret decrypts with the key, for its own field",
    "secrets",
)

# secrets checked against the AINAS password rule once resolved
PASSWORD_FIELDS = {("users", "*", "initial_password"), ("connection", "new_password")}


@explainer("secret-form", "secret fields are {env: NAME}, {file: path} or {encrypted: …}")
def secret_form(value, label, schema) -> Explanation:
    try:
        parse_ref(value)
    except SecretError as exc:
        return Explanation(_("{field} {problem}").format(field=label, problem=exc.message))
    return Explanation(
        _("{label} must be {form}").format(
            label=label, form="{env: NAME}, {file: path} " + _("or") + " {encrypted: …}"
        )
    )


@dataclass
class ResolvedSecrets:
    """The secrets' values by address, and the problems met resolving them."""

    values: dict[str, Secret] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)


@dataclass
class SecretSites:
    """Every secret field of the manifests in use, as resolution needs it and nothing more: its
    path, its reference as written, the folder a ``{file:}`` is relative to, and its place.

    Fields that name the same reference from the same folder form one *group*: a large
    manifest names ``{env: USER_PASSWORD}`` 20,000 times, and it is read, checked and
    decrypted once. Encrypted values and plain text are a group each (an encrypted value is
    bound to its field). Built from the merged manifests by :func:`secret_sites`, or kept by
    the cache of validated trees (references only: a tree with a plain-text secret is not
    kept) — the secrets are resolved from it on every run, by :func:`resolve_sites`.
    """

    paths: list[tuple] = field(default_factory=list)
    site_group: list[int] = field(default_factory=list)  # each site's group
    groups: list[tuple[object, int]] = field(default_factory=list)  # (reference, folder index)
    folders: list[str] = field(default_factory=list)
    allow_plaintext: bool = False
    # the places: (holder, key) pairs while the manifests are in memory, else as kept:
    # (index in place_files, line, column, note), made a Mark only for a field reported
    holders: list[tuple[Mapping, str]] | None = None
    places: list[tuple | None] | None = None
    place_files: list[str] | None = None

    def mark(self, index: int) -> Mark | None:
        if self.holders is not None:
            holder, key = self.holders[index]
            return mark_of(holder, key)
        place = self.places[index]
        if place is None:
            return None
        file, line, col, note = place
        return Mark(self.place_files[file], line, col, note)

    @property
    def has_plaintext(self) -> bool:
        return any(isinstance(reference, str) for reference, _folder in self.groups)


def secret_sites(merged: MarkedMap, origin: Mapping[str, Document]) -> SecretSites:
    """The secret fields of the merged manifests. Malformed references were reported by the
    schema and are left out here."""
    policy = merged.get("policy") if isinstance(merged.get("policy"), dict) else {}
    sites = SecretSites(allow_plaintext=policy.get("allow_plaintext_secrets") is True, holders=[])
    grouped: dict[tuple, int] = {}
    folders: dict[int, int] = {}  # id of a document -> its folder's index
    folder_index: dict[str, int] = {}
    parsed: dict[tuple, SecretRef] = {}  # {env: NAME} written 20,000 times is parsed once
    for path, holder, key in iter_secret_values(merged):
        value = holder[key]
        single = next(iter(value.items())) if isinstance(value, dict) and len(value) == 1 else None
        ref = parsed.get(single) if single and isinstance(single[1], str) else None
        if ref is None:
            try:
                ref = parse_ref(value)
            except SecretError:
                continue  # the schema check has said so
            if single and isinstance(single[1], str):
                parsed[single] = ref
        doc = _document_for(path, origin)
        # the folder a {file:} is relative to, once per document (Path arithmetic and hashing
        # cost more than the rest of this loop)
        folder = folders.get(id(doc))
        if folder is None:
            base = _base_of(doc)[1]
            folder = folders[id(doc)] = folder_index.setdefault(base, len(folder_index))
            if folder == len(sites.folders):
                sites.folders.append(base)
        if ref.source in ("env", "file"):
            group = grouped.get((ref.source, ref.ref, folder))
            if group is None:
                group = grouped[(ref.source, ref.ref, folder)] = len(sites.groups)
                sites.groups.append(({ref.source: ref.ref}, folder))
        else:  # an encrypted value (bound to its field) or plain text: its own group
            group = len(sites.groups)
            sites.groups.append((value if isinstance(value, str) else dict(value), folder))
        sites.paths.append(path)
        sites.site_group.append(group)
        sites.holders.append((holder, key))
    return sites


def _is_password(path: tuple) -> bool:
    return (path[0], "*", path[-1]) in PASSWORD_FIELDS or tuple(path) in PASSWORD_FIELDS


def resolve_sites(
    sites: SecretSites,
    *,
    env: Mapping[str, str] | None = None,
    decrypt: Callable[[str, str], str] | None = None,
    key_problem: str | None = None,
) -> ResolvedSecrets:
    """Resolve every secret: each group once (the environment, the file, the key), then each
    field; every failure is a diagnostic naming the field. The same on every run, whether the
    sites come from the manifests or from the cache."""
    env = os.environ if env is None else env
    result = ResolvedSecrets()
    outcomes: list[Secret | SecretError] = []
    first_site: dict[int, int] = {}  # a group's first field: an encrypted value's own
    for index, group in enumerate(sites.site_group):
        first_site.setdefault(group, index)
    for group, (reference, folder) in enumerate(sites.groups):
        site = first_site.get(group)
        if site is None:
            outcomes.append(SecretError("secret-form", ""))  # no field uses it
            continue
        try:
            outcome: Secret | SecretError = resolve(
                SecretRef("plain", "") if isinstance(reference, str) else parse_ref(reference),
                field_path=".".join(map(str, sites.paths[site])),
                base_dir=Path(sites.folders[folder]),
                env=env,
                allow_plaintext=sites.allow_plaintext,
                plaintext=reference if isinstance(reference, str) else None,
                decrypt=decrypt,
            )
        except SecretError as exc:
            outcome = exc
        outcomes.append(outcome)
    # the password rule, once per value
    problems: dict[int, str | None] = {}
    need_key: list[tuple[str, object]] = []  # encrypted fields, when there is no key
    values = result.values
    for index, (group, path) in enumerate(zip(sites.site_group, sites.paths, strict=True)):
        outcome = outcomes[group]
        if outcome.__class__ is Secret:
            try:
                values[".".join(path)] = outcome
            except TypeError:  # a key YAML read as a number
                values[".".join(map(str, path))] = outcome
            if problems.get(group, True) is None:
                continue  # its value passed the password rule (or needs none)
            if not _is_password(path):
                continue
            if group not in problems:
                problems[group] = password_problem(outcome.reveal())
            problem = problems[group]
            if problem:
                key = path[-1]
                whose = _(" of user '{user}'").format(user=path[1]) if path[0] == "users" else ""
                result.diagnostics.append(
                    Diagnostic(
                        sites.mark(index),
                        f"{_label(path, key)} ({key}){whose} {problem}",
                        "password",
                        ".".join(map(str, path)),
                    )
                )
            continue
        dotted_path = ".".join(map(str, path))
        if outcome.needs_key:
            need_key.append((dotted_path, sites.mark(index)))
            continue
        key = path[-1]
        result.diagnostics.append(
            Diagnostic(
                sites.mark(index),
                _("{field} {problem}").format(
                    field=f"{_label(path, key)} ({key})", problem=outcome.message
                ),
                outcome.rule,
                dotted_path,
            )
        )
    if need_key:
        fields = ", ".join(path for path, _mark in need_key)
        why = (
            _("the secrets key cannot be used: {problem}").format(problem=key_problem)
            if key_problem
            else _(
                "no secrets key is set: set AINAS_SECRETS_KEY to the key, or "
                "AINAS_SECRETS_KEY_FILE to the file holding it"
            )
        )
        count = len(need_key)
        result.diagnostics.append(
            Diagnostic(
                need_key[0][1],
                ngettext(
                    "{count} encrypted secret cannot be decrypted — {why}. "
                    "Fields that need it: {fields}",
                    "{count} encrypted secrets cannot be decrypted — {why}. "
                    "Fields that need it: {fields}",
                    count,
                ).format(count=count, why=why, fields=fields),
                "secret-encrypted",
                need_key[0][0],
            )
        )
    return result


def resolve_all(
    merged: MarkedMap,
    origin: Mapping[str, Document],
    *,
    env: Mapping[str, str] | None = None,
    decrypt: Callable[[str, str], str] | None = None,
    key_problem: str | None = None,
) -> ResolvedSecrets:
    """Resolve every secret of the merged manifests (see :func:`resolve_sites`)."""
    return resolve_sites(
        secret_sites(merged, origin), env=env, decrypt=decrypt, key_problem=key_problem
    )


def _base_of(doc: Document | None) -> tuple[Path, str]:
    base = doc.path.parent if doc else Path.cwd()
    return base, str(base)


def _label(path: tuple, key: str) -> str:
    """The AINAS label of a secret field (``sites.*.…``: the key of a keyed section does not
    change the label, so the pattern is looked up — and cached — instead of the path)."""
    pattern = tuple(
        "*" if i == 1 and path[0] in ("sites", "users") else p for i, p in enumerate(path)
    )
    return manifest_schema.label(pattern) or key


def _document_for(path: tuple, origin: Mapping[str, Document]) -> Document | None:
    """The document a value came from: keyed entries by ``section.key``, sections by name."""
    if len(path) >= 2 and f"{path[0]}.{path[1]}" in origin:
        return origin[f"{path[0]}.{path[1]}"]
    return origin.get(str(path[0]))
