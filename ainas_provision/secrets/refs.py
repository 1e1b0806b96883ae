"""Secret references in manifests: ``{env: NAME}``, ``{file: path}``, ``{encrypted: "…"}``.

Resolution reads the environment and files; every error names the field (and the variable or
file, which are not secret), never a value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ainas_provision.files import MAX_SECRET_BYTES, read_regular
from ainas_provision.i18n import _
from ainas_provision.secrets.values import Secret

SOURCES = ("env", "file", "encrypted")  # where a reference says the value lives
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class SecretError(Exception):
    """A secret that cannot be used; ``rule`` is the rule ID, the message names no value.

    The message says what is wrong with the field, to follow its name ("… needs the environment
    variable X, which is not set"): the rule puts the two together with ``_("{field} {problem}")``."""

    def __init__(self, rule: str, message: str, *, needs_key: bool = False) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.needs_key = needs_key  # an encrypted value, and no key to decrypt it


@dataclass(frozen=True)
class SecretRef:
    """Where a secret's value comes from: a variable, a file, a ciphertext or the manifest."""

    source: str  # env | file | encrypted | plain (written in the manifest itself)
    ref: str  # the variable name, the path, the ciphertext; "" for plain

    def describe(self) -> str:
        if self.source == "plain":
            return "a plain value"
        if self.source == "encrypted":
            return "{encrypted: …}"
        return f"{{{self.source}: {self.ref}}}"


def parse_ref(value) -> SecretRef:
    """Read the form of a secret field's value; raises :class:`SecretError` (rule
    ``secret-form``) with what to write instead."""
    if isinstance(value, str):
        if not value:
            raise SecretError(
                "secret-form", _("is empty: give {env: NAME}, {file: path} or {encrypted: …}")
            )
        return SecretRef("plain", "")
    if isinstance(value, dict):
        keys = list(value)
        unknown = [k for k in keys if k not in SOURCES]
        if unknown:
            key = str(unknown[0])
            import difflib  # a misspelt source only

            close = difflib.get_close_matches(key, SOURCES, n=1)
            form = "{env: NAME}, {file: path} " + _("or") + " {encrypted: …}"
            raise SecretError(
                "secret-form",
                _("has an unknown key '{key}' — did you mean '{close}'? A secret is {form}").format(
                    key=key, close=close[0], form=form
                )
                if close
                else _("has an unknown key '{key}'. A secret is {form}").format(key=key, form=form),
            )
        if len(keys) != 1:
            raise SecretError(
                "secret-form",
                _("names more than one source; give exactly one of env, file or encrypted"),
            )
        source = keys[0]
        ref = value[source]
        if not isinstance(ref, str) or not ref:
            raise SecretError(
                "secret-form",
                _("{form} needs a non-empty text value").format(form=f"{{{source}: …}}"),
            )
        if source == "env" and not ENV_NAME.fullmatch(ref):
            raise SecretError(
                "secret-form",
                _(
                    "'{name}' is not an environment variable name (letters, digits and _, "
                    "not starting with a digit)"
                ).format(name=ref),
            )
        return SecretRef(source, ref)
    raise SecretError(
        "secret-form",
        _("must be {form}").format(form="{env: NAME}, {file: path} " + _("or") + " {encrypted: …}")
        + (
            _(" (a number here is a plain value: never put secrets in manifests)")
            if isinstance(value, int | float)
            else ""
        ),
    )


Decryptor = Callable[[str, str], str]


def resolve(
    ref: SecretRef,
    *,
    field_path: str,
    base_dir: Path,
    env: Mapping[str, str],
    allow_plaintext: bool,
    plaintext: str | None = None,
    decrypt: Decryptor | None = None,
) -> Secret:
    """The secret's value. ``field_path`` is the manifest path (the associated data of an
    encrypted value); ``plaintext`` is the value of a plain string. A value that is not valid
    Unicode text (an environment variable's undecodable bytes arrive as lone surrogates) is an
    error here, where it can be placed, not when it is first encoded to be sent."""
    secret = _resolve(
        ref,
        field_path=field_path,
        base_dir=base_dir,
        env=env,
        allow_plaintext=allow_plaintext,
        plaintext=plaintext,
        decrypt=decrypt,
    )
    if not is_text(secret.reveal()):
        rule = {"env": "secret-env", "file": "secret-file"}.get(ref.source, "secret-form")
        raise SecretError(rule, _("{source} is not valid UTF-8 text").format(source=ref.describe()))
    return secret


def is_text(value: str) -> bool:
    """Whether ``value`` can be sent as UTF-8 (no lone surrogate)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _resolve(
    ref: SecretRef,
    *,
    field_path: str,
    base_dir: Path,
    env: Mapping[str, str],
    allow_plaintext: bool,
    plaintext: str | None,
    decrypt: Decryptor | None,
) -> Secret:
    if ref.source == "plain":
        if not allow_plaintext:
            raise SecretError(
                "secret-plaintext",
                _(
                    "holds a plain-text secret: use {form} (or set "
                    "policy.allow_plaintext_secrets: true for demos and tests)"
                ).format(form="{env: NAME}, {file: path} " + _("or") + " {encrypted: …}"),
            )
        return Secret(plaintext or "", "a plain value")
    if ref.source == "env":
        if ref.ref not in env:
            raise SecretError(
                "secret-env",
                _("needs the environment variable {name}, which is not set").format(name=ref.ref),
            )
        value = env[ref.ref]
        if value == "":
            raise SecretError(
                "secret-env",
                _("needs the environment variable {name}, which is empty").format(name=ref.ref),
            )
        return Secret(value, ref.describe())
    if ref.source == "file":
        path = base_dir / ref.ref
        try:
            data = read_regular(path, limit=MAX_SECRET_BYTES, shown=ref.ref)
        except FileNotFoundError:
            raise SecretError(
                "secret-file", _("reads {file}, which does not exist").format(file=ref.ref)
            ) from None
        except OSError as exc:
            raise SecretError(
                "secret-file",
                _("cannot read {file}: {reason}").format(file=ref.ref, reason=exc.strerror),
            ) from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise SecretError(
                "secret-file", _("reads {file}, which is not UTF-8 text").format(file=ref.ref)
            ) from None
        if text.endswith("\r\n"):
            text = text[:-2]
        elif text.endswith("\n"):
            text = text[:-1]
        if text == "":
            raise SecretError("secret-file", _("reads {file}, which is empty").format(file=ref.ref))
        return Secret(text, ref.describe())
    if decrypt is None:
        raise SecretError(
            "secret-encrypted", _("is encrypted, and no secrets key is set"), needs_key=True
        )
    return Secret(decrypt(ref.ref, field_path), ref.describe())
