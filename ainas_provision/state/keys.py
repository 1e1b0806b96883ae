"""The fingerprint key: how the tool recognises a write-only secret it wrote, without keeping it.

A fingerprint is HMAC-SHA256(key, resource address, field, value). Without the key, a
fingerprint tells nothing about the value, not even whether two fields hold the same one (the
address and field are part of the message). The key is never in the state: it comes from
``AINAS_STATE_KEY`` (CI keeps it as a secret), from the file named by ``AINAS_STATE_KEY_FILE``,
or from the key file the state store names (for a state file, ``ainas.state.key`` beside it,
mode 0600, made on first use; keep it out of git). The state holds a *key check* so that a wrong key is told apart from changed
secrets.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ainas_provision import keyfile
from ainas_provision.errors import AinasProvisionError
from ainas_provision.i18n import _

KEY_ENV = "AINAS_STATE_KEY"
KEY_FILE_ENV = "AINAS_STATE_KEY_FILE"
PREFIX = "ainas-state-key-v1:"


class StateKeyError(AinasProvisionError):
    """The fingerprint key is missing, malformed or not the one the state was made with."""


def default_key_path(state_path: Path) -> Path:
    return state_path.with_name(state_path.name.removesuffix(".json") + ".key")


def _parse(text: str, source: str) -> bytes:
    body = text.strip().removeprefix(PREFIX)
    try:
        key = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise StateKeyError(
            _(
                "{source} is not a state key (expected '{prefix}' and 32 bytes in base64); "
                "restore the right key, or make a new one by deleting the key file (the tool "
                "then treats every write-only secret as unknown)"
            ).format(source=source, prefix=PREFIX)
        )
    return key


def key_text(key: bytes) -> str:
    return PREFIX + base64.urlsafe_b64encode(key).decode().rstrip("=")


@dataclass
class KeySource:
    """The fingerprint key found, where it was found, and the file to create when none was."""

    key: bytes | None
    description: str  # where it came from, for messages
    path: Path | None  # the key file to create, when there is none yet


def find_key(key_file: Path | None, env: Mapping[str, str] = os.environ) -> KeySource:
    """The key from the environment, else from ``key_file`` (the state store's; None for a store
    that keeps no key file)."""
    value = keyfile.from_env(env, KEY_ENV, StateKeyError)
    if value is not None:
        return KeySource(_parse(value, KEY_ENV), KEY_ENV, None)
    named = keyfile.from_env(env, KEY_FILE_ENV, StateKeyError)
    if named is not None:
        path = Path(named)
        text = keyfile.read_key_file(path, KEY_FILE_ENV, StateKeyError)
        return KeySource(_parse(text, str(path)), str(path), None)
    if key_file is None:
        raise StateKeyError(
            _(
                "this state store keeps no fingerprint key: set {variable} (or {file_variable})"
            ).format(variable=KEY_ENV, file_variable=KEY_FILE_ENV)
        )
    path = key_file
    if path.exists():
        text = keyfile.read_key_file(path, None, StateKeyError)
        return KeySource(_parse(text, str(path)), str(path), None)
    return KeySource(None, str(path), path)


def new_key() -> bytes:
    return secrets.token_bytes(32)


def create_key_file(path: Path, key: bytes | None = None) -> bytes:
    """Write ``key`` (a new one if None) to a key file readable by its owner only."""
    key = new_key() if key is None else key
    keyfile.write_key_file(path, key_text(key))
    return key


class Fingerprinter:
    """Keyed fingerprints of secret values."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        # the key's HMAC state, copied for each message instead of set up again from the key:
        # a plan of 20,000 users fingerprints 24,000 secrets
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)

    @property
    def key(self) -> bytes:
        """The key itself, for writing the key file of a first run (never shown)."""
        return self._key

    @property
    def key_check(self) -> str:
        return hmac.new(self._key, b"ainas-provision state key check", hashlib.sha256).hexdigest()[
            :16
        ]

    def __call__(self, address: str, field: str, value: str) -> str:
        mac = self._keyed.copy()
        mac.update(f"{address}\0{field}\0{value}".encode())
        return mac.hexdigest()

    def __repr__(self) -> str:
        return "Fingerprinter(key=…)"
