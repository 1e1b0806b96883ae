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
from ainas_provision.manifest.marks import MarkedMap, mark_of
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
    values: dict[str, Secret] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def resolve_all(
    merged: MarkedMap,
    origin: Mapping[str, Document],
    *,
    env: Mapping[str, str] | None = None,
    decrypt: Callable[[str, str], str] | None = None,
    key_problem: str | None = None,
) -> ResolvedSecrets:
    """Resolve every secret of the manifests. Malformed references were reported by the schema
    and are skipped here; every other failure is a diagnostic naming the field."""
    env = os.environ if env is None else env
    policy = merged.get("policy") if isinstance(merged.get("policy"), dict) else {}
    allow_plaintext = policy.get("allow_plaintext_secrets") is True
    result = ResolvedSecrets()
    # a large manifest names the same variable or file many times: resolve and check it once
    resolved: dict[tuple, Secret | SecretError] = {}
    checked: dict[int, str | None] = {}
    need_key: list[tuple[str, object]] = []  # encrypted fields, when there is no key
    refs: dict[tuple, SecretRef] = {}  # {env: NAME} written 20,000 times is read once
    bases: dict[int, tuple[Path, str]] = {}
    for path, holder, key in iter_secret_values(merged):
        value = holder[key]
        dotted_path = ".".join(map(str, path))
        single = next(iter(value.items())) if isinstance(value, dict) and len(value) == 1 else None
        ref = refs.get(single) if single and isinstance(single[1], str) else None
        if ref is None:
            try:
                ref = parse_ref(value)
            except SecretError:
                continue  # the schema check has said so
            if single and isinstance(single[1], str):
                refs[single] = ref
        doc = _document_for(path, origin)
        # the folder a {file:} is relative to, once per document (Path arithmetic and hashing
        # cost more than the rest of this loop)
        base, base_key = bases.get(id(doc)) or bases.setdefault(id(doc), _base_of(doc))
        # plain and encrypted values are per field (an encrypted value is bound to its path)
        cache_key = (ref.source, ref.ref, base_key) if ref.source in ("env", "file") else None
        outcome = resolved.get(cache_key) if cache_key else None
        if outcome is None:
            try:
                outcome = resolve(
                    ref,
                    field_path=dotted_path,
                    base_dir=base,
                    env=env,
                    allow_plaintext=allow_plaintext,
                    plaintext=value if isinstance(value, str) else None,
                    decrypt=decrypt,
                )
            except SecretError as exc:
                outcome = exc
            if cache_key:
                resolved[cache_key] = outcome
        if isinstance(outcome, SecretError) and outcome.needs_key:
            need_key.append((dotted_path, mark_of(holder, key)))
            continue
        if isinstance(outcome, SecretError):
            result.diagnostics.append(
                Diagnostic(
                    mark_of(holder, key),
                    _("{field} {problem}").format(
                        field=f"{_label(path, key)} ({key})", problem=outcome.message
                    ),
                    outcome.rule,
                    dotted_path,
                )
            )
            continue
        secret = outcome
        result.values[dotted_path] = secret
        if (path[0], "*", path[-1]) in PASSWORD_FIELDS or tuple(path) in PASSWORD_FIELDS:
            if id(secret) not in checked:
                checked[id(secret)] = password_problem(secret.reveal())
            problem = checked[id(secret)]
            if problem:
                whose = _(" of user '{user}'").format(user=path[1]) if path[0] == "users" else ""
                result.diagnostics.append(
                    Diagnostic(
                        mark_of(holder, key),
                        f"{_label(path, key)} ({key}){whose} {problem}",
                        "password",
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
