"""Keys from the environment or a key file: the one helper for the state's fingerprint key and
the secrets key.

Both are found the same way: the variable holding the key itself wins (``AINAS_STATE_KEY``,
``AINAS_SECRETS_KEY``), else the variable naming a key file (``…_KEY_FILE``), else the caller's
default (the state store's key file; none for secrets). A variable set to the empty string (or
blanks) is an error naming it: that is what a CI system gives for a secret that is not defined,
and going on without it would make a new state key in a runner that forgets it, or fail later
further from the cause. A key file is a regular text file of at most a few kilobytes, written
owner-only (0600) and never overwritten.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ainas_provision import portable
from ainas_provision.errors import AinasProvisionError
from ainas_provision.files import read_regular
from ainas_provision.i18n import _

MAX_KEY_FILE = 64 * 1024


def from_env(env: Mapping[str, str], name: str, error: type[AinasProvisionError]) -> str | None:
    """The value of variable ``name``; None when it is unset; an error when it is empty."""
    value = env.get(name)
    if value is None:
        return None
    if not value.strip():
        raise error(_("{name} is set but empty: give the key, or unset it").format(name=name))
    return value


def read_key_file(path: Path, named_by: str | None, error: type[AinasProvisionError]) -> str:
    """The text of a key file; ``named_by`` is the variable that named it (for messages)."""

    def problem(what: str) -> str:
        if named_by:
            return _("{variable} names {path}, which {problem}").format(
                variable=named_by, path=path, problem=what
            )
        return _("the key file {path} {problem}").format(path=path, problem=what)

    try:
        return read_regular(Path(path), limit=MAX_KEY_FILE).decode("ascii")
    except FileNotFoundError:
        raise error(problem(_("does not exist"))) from None
    except UnicodeDecodeError:
        raise error(problem(_("cannot be read: it is not a text key file"))) from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise error(problem(_("cannot be read: {reason}").format(reason=reason))) from None


def write_key_file(path: Path, text: str) -> None:
    """Create ``path`` holding ``text`` (one line), readable by its owner only; an existing file
    is never overwritten (``FileExistsError``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(text + "\n")
    portable.make_private(path)  # whatever the umask (on Windows: the profile's ACL)
