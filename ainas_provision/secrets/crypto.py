"""Encrypted secrets in manifests (``{encrypted: "v1:…"}``), with a local key and no key service.

The key is 32 random bytes, kept out of the repository: in ``AINAS_SECRETS_KEY`` or in the file
named by ``AINAS_SECRETS_KEY_FILE`` (one line ``ainas-secrets-key-v1:<base64url>``).

A value is encrypted with AES-256-GCM, a random 96-bit nonce, and its manifest path
(``sites.akihabara.registered.batch_account.arrival_number_password``) as associated data, so a
ciphertext copied into another field does not decrypt. The text form is::

    v1:<key id>:<field id>:<base64url(nonce + ciphertext + tag)>

The key ID (HMAC-SHA256 of the key) tells a wrong key apart; the field ID (HMAC-SHA256 of the
path under the key) tells a value moved from another field apart from a damaged one. Both are
8 base64url characters and reveal nothing without the key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path

from ainas_provision import keyfile
from ainas_provision.errors import AinasProvisionError
from ainas_provision.i18n import _
from ainas_provision.secrets.refs import SecretError

# cryptography's AES-GCM is imported by encrypt and decrypt, when a value is encrypted: most
# manifests have none, and validating them should not pay for loading it

KEY_ENV = "AINAS_SECRETS_KEY"
KEY_FILE_ENV = "AINAS_SECRETS_KEY_FILE"
KEY_PREFIX = "ainas-secrets-key-v1:"
KEY_SIZE = 32
NONCE_SIZE = 12
VERSION = "v1"
ID_SIZE = 6  # bytes of HMAC: 8 base64url characters


class SecretsKeyError(AinasProvisionError):
    """The secrets key is missing or malformed; the message never contains the key."""


class SecretDecryptError(AinasProvisionError):
    """An encrypted value that cannot be decrypted; never contains plaintext or key.

    ``reason`` is ``malformed``, ``other-key``, ``other-field`` or ``damaged``; ``detail`` is the
    message without the field's name, to follow it ("… (password) was encrypted for …").
    """

    def __init__(self, reason: str, detail: str, field_path: str) -> None:
        super().__init__(f"the encrypted value of {field_path} {detail}")
        self.reason = reason
        self.detail = detail
        self.field_path = field_path


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    text = text.strip()
    padded = text + "=" * (-len(text) % 4)
    alphabet = str.maketrans("+/", "-_")  # accept standard base64 as well
    return base64.b64decode(padded.translate(alphabet), altchars=b"-_", validate=True)


def generate_key() -> bytes:
    return secrets.token_bytes(KEY_SIZE)


def key_text(key: bytes) -> str:
    """The key's one-line text form, as written to a key file."""
    return KEY_PREFIX + _b64encode(key)


def key_id(key: bytes) -> str:
    """A short public name of the key: the same key always gives the same ID."""
    return _b64encode(hmac.new(key, b"ainas-key-id", hashlib.sha256).digest()[:ID_SIZE])


def _field_id(key: bytes, field_path: str) -> str:
    mac = hmac.new(key, b"ainas-field-id\0" + field_path.encode(), hashlib.sha256)
    return _b64encode(mac.digest()[:ID_SIZE])


def _aad(field_path: str) -> bytes:
    return f"ainas-secret:{VERSION}:{field_path}".encode()


def parse_key(text: str, source: str) -> bytes:
    """A key from its text form (with or without the ``ainas-secrets-key-v1:`` prefix)."""
    text = text.strip()
    if text.startswith(KEY_PREFIX):
        text = text[len(KEY_PREFIX) :]
    elif ":" in text:
        raise SecretsKeyError(
            _(
                "{source} is not an ainas-provision secrets key: it must be '{prefix}' followed "
                "by base64 (as written by `ainas-provision secrets keygen`)"
            ).format(source=source, prefix=KEY_PREFIX)
        )
    try:
        key = _b64decode(text)
    except (binascii.Error, ValueError):
        raise SecretsKeyError(
            _(
                "{source} is not a valid secrets key: its text is not base64 "
                "(write it as `ainas-provision secrets keygen` does)"
            ).format(source=source)
        ) from None
    if len(key) != KEY_SIZE:
        raise SecretsKeyError(
            _(
                "{source} is not a valid secrets key: it decodes to {count} bytes, not {size}"
            ).format(source=source, count=len(key), size=KEY_SIZE)
        )
    return key


def write_key_file(path: str | os.PathLike[str], *, force: bool = False) -> bytes:
    """Create a key file readable by its owner only (mode 0600) and return the new key.
    An existing file is refused unless ``force``: overwriting a key loses every value
    encrypted with it."""
    path = Path(path)
    if path.exists() and not force:
        raise SecretsKeyError(
            _(
                "{path} already exists: overwriting a key makes every value encrypted with it "
                "unreadable; choose another file, or delete it first if you are sure"
            ).format(path=path)
        )
    if force:
        path.unlink(missing_ok=True)
    key = generate_key()
    keyfile.write_key_file(path, key_text(key))
    return key


def load_key(env: Mapping[str, str] = os.environ) -> bytes | None:
    """The key from ``AINAS_SECRETS_KEY`` (which wins) or from the file named by
    ``AINAS_SECRETS_KEY_FILE``; None when neither is set."""
    value = keyfile.from_env(env, KEY_ENV, SecretsKeyError)
    if value is not None:
        return parse_key(value, KEY_ENV)
    name = keyfile.from_env(env, KEY_FILE_ENV, SecretsKeyError)
    if name is not None:
        text = keyfile.read_key_file(Path(name), KEY_FILE_ENV, SecretsKeyError)
        return parse_key(text, _("the key file {name}").format(name=name))
    return None


def require_key(env: Mapping[str, str] = os.environ) -> bytes:
    """:func:`load_key`, or an error saying how to provide the key."""
    key = load_key(env)
    if key is None:
        raise SecretsKeyError(
            _(
                "no secrets key: set {variable} to the key, or {file_variable} to the file "
                "holding it (make one with `ainas-provision secrets keygen`)"
            ).format(variable=KEY_ENV, file_variable=KEY_FILE_ENV)
        )
    return key


def encrypt(value: str, field_path: str, key: bytes) -> str:
    """``value`` encrypted for the manifest field ``field_path``: ``v1:<kid>:<fid>:<data>``."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # (when used: start-up)

    nonce = secrets.token_bytes(NONCE_SIZE)
    sealed = AESGCM(key).encrypt(nonce, value.encode(), _aad(field_path))
    return ":".join((VERSION, key_id(key), _field_id(key, field_path), _b64encode(nonce + sealed)))


def _reencrypt_hint(field_path: str) -> str:
    return _(
        "re-encrypt it for this field with `ainas-provision secrets encrypt --path {path}`"
    ).format(path=field_path)


def decrypt(token: str, field_path: str, key: bytes) -> str:
    """The value of an encrypted token for ``field_path``; raises :class:`SecretDecryptError`."""
    parts = token.strip().split(":")
    if len(parts) != 4 or parts[0] != VERSION:
        raise SecretDecryptError(
            "malformed",
            _(
                "is not an ainas-provision encrypted value ('{version}:…' with four parts): {hint}"
            ).format(version=VERSION, hint=_reencrypt_hint(field_path)),
            field_path,
        )
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    _version, kid, fid, data = parts
    if not hmac.compare_digest(kid, key_id(key)):
        raise SecretDecryptError(
            "other-key",
            _(
                "was encrypted with another key (key ID {key_id}; the key in use is {in_use}): "
                "use that key, or {hint}"
            ).format(key_id=kid, in_use=key_id(key), hint=_reencrypt_hint(field_path)),
            field_path,
        )
    if not hmac.compare_digest(fid, _field_id(key, field_path)):
        raise SecretDecryptError(
            "other-field",
            _(
                "was encrypted for another field: an encrypted value is bound to its field's "
                "path; {hint}"
            ).format(hint=_reencrypt_hint(field_path)),
            field_path,
        )
    try:
        raw = _b64decode(data)
        if len(raw) < NONCE_SIZE + 16:
            raise ValueError("too short")
        plain = AESGCM(key).decrypt(raw[:NONCE_SIZE], raw[NONCE_SIZE:], _aad(field_path))
        return plain.decode()
    except (binascii.Error, ValueError, InvalidTag, UnicodeDecodeError):
        raise SecretDecryptError(
            "damaged",
            _(
                "does not decrypt: it was altered or damaged (or its field ID was edited); {hint}"
            ).format(hint=_reencrypt_hint(field_path)),
            field_path,
        ) from None


def make_decryptor(key: bytes) -> Callable[[str, str], str]:
    """A ``decrypt(token, field_path)`` for :func:`ainas_provision.secrets.refs.resolve`: its
    failures are :class:`SecretError` (rule ``secret-encrypted``), reported as diagnostics."""

    def decrypt_field(token: str, field_path: str) -> str:
        try:
            return decrypt(token, field_path, key)
        except SecretDecryptError as exc:
            raise SecretError("secret-encrypted", exc.detail) from None

    return decrypt_field
