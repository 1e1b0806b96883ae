"""The backend protocol: read a tenant's current state, perform one change at a time.

A backend knows nothing about diffing, ordering or the state file. It reads everything it can
in as few calls as its target allows (lists, not one read per object) and performs single
creates, updates and deletes, returning the IDs AINAS assigns. Secret field values reach it as
:class:`~ainas_provision.secrets.values.Secret` objects; it reveals them only to send them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Protocol

from ainas_provision.errors import AinasProvisionError
from ainas_provision.secrets.values import Secret


@dataclass
class LiveResource:
    """One resource as AINAS shows it. ``id`` is AINAS's: a 拠点ID, a ログインID, a
    registration number; ``fields`` never include write-only secrets."""

    kind: str
    id: str
    fields: dict[str, object]


@dataclass
class Session:
    """Who the tool acts as."""

    login_id: str
    role: str  # 管理者 | 拠点管理者 | 担当者(送信可) | 担当者(送信不可)
    site_id: str | None = None
    must_change_password: bool = False


@dataclass
class CurrentState:
    """A tenant as read. Sites and batch accounts are keyed by 拠点ID, users by ログインID
    (admins are users with the role 管理者); certificates are listed oldest first."""

    organization: LiveResource
    certificates: list[LiveResource] = field(default_factory=list)
    sites: dict[str, LiveResource] = field(default_factory=dict)
    batch_accounts: dict[str, LiveResource] = field(default_factory=dict)
    kei_batch_accounts: dict[str, LiveResource] = field(default_factory=dict)
    users: dict[str, LiveResource] = field(default_factory=dict)
    # what a site screen also shows and the tool never manages: its APIアカウント and 会員
    api_accounts: dict[str, LiveResource] = field(default_factory=dict)
    members: dict[str, list[dict]] = field(default_factory=dict)
    session: Session | None = None
    scope: list[str] | None = None  # the 拠点IDs read, when the read was limited to some

    def digest(self) -> str:
        """A digest of everything read: a saved plan is refused when it changed."""
        text = json.dumps(self, ensure_ascii=False, sort_keys=True, default=_plain)
        return hashlib.sha256(text.encode()).hexdigest()


def _plain(value):
    return value.__dict__ if hasattr(value, "__dict__") else str(value)


class BackendError(AinasProvisionError):
    """AINAS refused or failed a request. ``code`` is machine-readable; ``message`` is
    AINAS's own (Japanese) message where there is one; ``retriable`` says whether trying the
    same request again may succeed (a server error, a dropped connection)."""

    def __init__(self, code: str, message: str, *, retriable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retriable = retriable


class Backend(Protocol):
    """What the planner and the executor need from a target."""

    description: str  # for people: "embedded sandbox ainas.sandbox.sqlite", "https://…"

    def session(self) -> Session:
        """Who the tool acts as (logs in if needed)."""

    def organization_id(self) -> str:
        """The 代理人組織ID of the tenant, read before anything else."""

    def read(self, *, sites: Collection[str] | None = None) -> CurrentState:
        """The tenant's current state; with ``sites``, only those 拠点IDs and their users."""

    def create(self, kind: str, fields: dict[str, object], *, parent: str | None = None) -> str:
        """Create one resource; returns the ID AINAS assigned (for batch accounts: the site's)."""

    def update(self, kind: str, id: str, fields: dict[str, object]) -> None:
        """Change the given fields of one resource."""

    def delete(self, kind: str, id: str) -> None:
        """Delete one resource."""

    def change_password(self, password: Secret) -> None:
        """Replace the password of the account the tool acts as (AINAS's first-login
        パスワード更新; nothing else is allowed before it)."""

    def close(self) -> None:
        """Release connections and files."""


class CountingBackend:
    """Wraps a backend and counts its calls (for tests, benchmarks and ``--debug``)."""

    WRITES = ("create", "update", "delete")

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.calls: dict[str, int] = {}
        self.description = inner.description

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    @property
    def writes(self) -> int:
        return sum(self.calls.get(name, 0) for name in self.WRITES)

    @property
    def reads(self) -> int:
        return self.calls.get("read", 0)

    def session(self) -> Session:
        self._count("session")
        return self.inner.session()

    def organization_id(self) -> str:
        self._count("organization_id")
        return self.inner.organization_id()

    def read(self, *, sites=None) -> CurrentState:
        self._count("read")
        return self.inner.read(sites=sites)

    def create(self, kind, fields, *, parent=None) -> str:
        self._count("create")
        return self.inner.create(kind, fields, parent=parent)

    def update(self, kind, id, fields) -> None:
        self._count("update")
        self.inner.update(kind, id, fields)

    def delete(self, kind, id) -> None:
        self._count("delete")
        self.inner.delete(kind, id)

    def change_password(self, password) -> None:
        self._count("update")
        self.inner.change_password(password)

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name):
        return getattr(self.inner, name)
