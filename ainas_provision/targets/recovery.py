"""Finding a lost creation again, by natural key, whatever the target.

A create whose answer was lost (a dropped connection, a timeout, a server error after the work was
done) may or may not have happened. Before sending it again, a target looks for it: among the
resources it did not know before (read at the start of the apply), one whose natural key and every
field sent match is the one asked for. Two creates of identical resources each take a different
one (:class:`Claims`). The natural keys are the kinds' own (:attr:`Kind.natural_keys`): a site by
its code (else its name), a batch account by its site and its write-once IDs, a user by its login
ID, a certificate by its fingerprint.

Any target that can lose an answer uses this: it supplies the reading, this module the matching.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping

from ainas_provision.domain.kinds import Kind


def same(wanted: Mapping[str, object], live: Mapping[str, object]) -> bool:
    """Whether ``live`` shows every field of ``wanted`` (an empty string reads as absent)."""

    def norm(value):
        return list(value) if isinstance(value, tuple) else (None if value == "" else value)

    return all(norm(value) == norm(live.get(name)) for name, value in wanted.items())


def natural_query(kind: Kind, fields: Mapping[str, object]) -> dict[str, object]:
    """The first natural key the creation gives, as a search (a site: its code, else its name)."""
    for name in kind.natural_keys:
        if fields.get(name):
            return {name: fields[name]}
    return {}


def identifying(kind: Kind, fields: Mapping[str, object]) -> dict[str, object]:
    """The fields that identify an existing resource of ``kind`` as the one sent: for a batch
    account its write-once IDs (its secrets are never shown back)."""
    names = [spec.name for spec in kind.write_once if not spec.secret]
    return {name: fields.get(name) for name in names}


class Claims:
    """Which IDs were known before the apply, and which lost creations took which new one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: set[str] = set()
        self._claimed: set[str] = set()

    def know(self, ids: Iterable[str]) -> None:
        """IDs that existed before the apply: never the result of one of its creations."""
        with self._lock:
            self._known.update(ids)

    def is_new(self, id: str) -> bool:
        with self._lock:
            return id not in self._known

    def take(self, id: str) -> None:
        """``id`` is the result of a creation of this apply (answered or found)."""
        with self._lock:
            self._claimed.add(id)

    def claim(self, candidates: Iterable[str]) -> str | None:
        """One of the new resources matching a lost create, not yet taken by another: they
        match every field sent, so any of them is the one asked for."""
        with self._lock:
            free = sorted(c for c in candidates if c not in self._claimed and c not in self._known)
            if free:
                self._claimed.add(free[0])
                return free[0]
        return None
