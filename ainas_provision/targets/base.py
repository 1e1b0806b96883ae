"""The backend protocol: read a tenant's current state, perform one change at a time.

A backend knows nothing about diffing, ordering or the state file. It reads everything it can
in as few calls as its target allows (lists, not one read per object) and performs single
creates, updates and deletes, returning the IDs AINAS assigns. Secret field values reach it as
:class:`~ainas_provision.secrets.values.Secret` objects; it reveals them only to send them.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from ainas_provision.domain.live import CurrentState, LiveResource, Session
from ainas_provision.errors import AinasProvisionError
from ainas_provision.i18n import _
from ainas_provision.secrets.values import Secret

# what a backend reads into (the domain's live state), for the backends' convenience
__all__ = ["Backend", "BackendError", "CountingBackend", "CurrentState", "LiveResource", "Session"]


class BackendError(AinasProvisionError):
    """AINAS refused or failed a request. ``code`` is machine-readable; ``message`` is
    AINAS's own (Japanese) message where there is one; ``retriable`` says whether trying the
    same request again may succeed (a server error, a dropped connection)."""

    def __init__(self, code: str, message: str, *, retriable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retriable = retriable


class ConnectionProblem(BackendError):
    """The endpoint cannot be used: unreachable, not trusted, refusing the client certificate,
    or refusing the login. The message says what to fix."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message, retriable=False)


def require_credentials(login_id: str | None, has_password: bool, url: str) -> None:
    """Refuse to log in to ``url`` without a login ID or a password, saying where to set them
    (the same for every target that logs in)."""
    if not login_id:
        raise ConnectionProblem(
            "no-login-id",
            _(
                "no login ID for {url}: set AINAS_LOGIN_ID (a ログインID of the 利用登録通知書, "
                "or of a site manager) or connection.login_id in the manifests"
            ).format(url=url),
        )
    if not has_password:
        raise ConnectionProblem(
            "no-password",
            _(
                "no password for {login_id} at {url}: set AINAS_PASSWORD "
                "(or connection.password); the initial password of a new admin is 99999999"
            ).format(login_id=login_id, url=url),
        )


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

    def finish(self) -> None:
        """The run sends nothing more (see :meth:`HttpsBackend.finish`); a target without
        anything to end early has no ``finish``."""
        finish = getattr(self.inner, "finish", None)
        if finish is not None:
            finish()

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
