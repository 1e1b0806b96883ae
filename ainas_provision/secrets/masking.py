"""Secrets masked for display: what ``render`` prints in place of each secret field.

A reference names where a secret lives, not the secret: ``{env: NAME}`` and ``{file: path}`` are
shown as written. An encrypted value is shown as ``{encrypted: (sensitive)}`` (the ciphertext
is of no use to a reader, and stays out of logs), a plain-text secret as ``(sensitive)``.
"""

from __future__ import annotations

from collections.abc import Mapping

from ainas_provision.schema import secret_paths

SENSITIVE = "(sensitive)"


class ShownSecret(dict):
    """A secret field's value as shown (``{env: NAME}``, ``{encrypted: (sensitive)}``): a dict,
    marked so that YAML output can write it on one line, as people write it."""


def masked_secret(value: object) -> object:
    """How the value of a secret field is shown."""
    if value is None:
        return None
    if isinstance(value, Mapping) and len(value) == 1:
        ((source, ref),) = value.items()
        if source in ("env", "file") and isinstance(ref, str):
            return ShownSecret({source: ref})
        if source == "encrypted":
            return ShownSecret({"encrypted": SENSITIVE})
    return SENSITIVE


def plain(value: object) -> object:
    """A copy made of plain dicts, lists and scalars (marked containers become plain ones)."""
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def mask_secrets(manifest: Mapping) -> dict:
    """A plain copy of ``manifest`` with every secret field masked."""
    copy = plain(manifest)
    for pattern in secret_paths():
        _mask(copy, pattern)
    return copy


def _mask(node: object, pattern: tuple[str, ...]) -> None:
    if not isinstance(node, dict):
        return
    head, rest = pattern[0], pattern[1:]
    for key in list(node) if head == "*" else [head]:
        if key not in node:
            continue
        if rest:
            _mask(node[key], rest)
        else:
            node[key] = masked_secret(node[key])
