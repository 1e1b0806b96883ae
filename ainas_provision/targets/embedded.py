"""The embedded sandbox backend: the AINAS emulator, in process, in one SQLite file.

It is the default target, so that a new user can plan and apply the examples with no server and
no credentials. It acts as the tenant's first admin without logging in; with ``AINAS_LOGIN_ID``
(and ``AINAS_PASSWORD``) it logs in as that user instead and is bound by what that user may do.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

from ainas_emulator.errors import SandboxError
from ainas_emulator.service import Actor, AinasError, AinasSandbox
from ainas_provision.domain import screens
from ainas_provision.errors import AinasProvisionError
from ainas_provision.i18n import _
from ainas_provision.targets import convert
from ainas_provision.targets.base import BackendError, CurrentState, Session

if TYPE_CHECKING:
    import tempfile


def _error(exc: AinasError) -> BackendError:
    return BackendError(exc.code, exc.message, retriable=exc.status >= 500)


class SandboxBackend:
    def __init__(
        self,
        path: Path,
        org_id: str,
        *,
        login_id: str | None = None,
        password: str | None = None,
        scratch: tempfile.TemporaryDirectory | None = None,
    ) -> None:
        self.path = Path(path)
        self.scratch = scratch  # a plan's stand-in for a tenant not created yet: removed on close
        self.description = _("embedded sandbox {location}").format(location=path)
        try:
            self.sandbox = AinasSandbox(self.path)
        except SandboxError as exc:
            raise AinasProvisionError(str(exc)) from None
        self.org_id = org_id
        self._login = (login_id, password)
        self._actor: Actor | None = None

    def tenant_exists(self) -> bool:
        return self.sandbox.tenant_exists(self.org_id)

    def create_tenant(self, name: str, short_name: str, admins: list[tuple[str, str]]) -> None:
        try:
            self.sandbox.create_tenant(self.org_id, name, short_name, admins)
        except AinasError as exc:
            raise _error(exc) from None

    def _acting(self) -> Actor:
        if self._actor is None:
            login_id, password = self._login
            try:
                if login_id:
                    if password is None:
                        raise BackendError(
                            "no-password",
                            _("AINAS_LOGIN_ID is {login_id}, but AINAS_PASSWORD is not set").format(
                                login_id=login_id
                            ),
                        )
                    self._actor = self.sandbox.login(login_id, password)
                else:
                    admin = self.sandbox.first_admin(self.org_id)
                    # acting as the tenant's admin, not a login session: no forced change
                    self._actor = Actor(admin.login_id, admin.org_id, admin.role, None, False)
            except AinasError as exc:
                raise _error(exc) from None
        return self._actor

    def session(self) -> Session:
        actor = self._acting()
        return Session(actor.login_id, actor.role, actor.site_id, actor.must_change_password)

    def organization_id(self) -> str:
        return self._acting().org_id

    def read(self, *, sites: Collection[str] | None = None) -> CurrentState:
        actor = self._acting()
        try:
            org = self.sandbox.read_organization(actor)
            certificates = self.sandbox.list_certificates(actor)
            site_list, _ = self.sandbox.list_sites(actor, site_ids=sites)
            users = self.sandbox.read_users(actor, site_ids=sites)  # as list_users, in rows
        except AinasError as exc:
            raise _error(exc) from None
        current = convert.state(
            org, certificates, site_list, [], self.session(), sorted(sites) if sites else None
        )
        current.users = convert.users_from_rows(users)
        return current

    def create(self, kind: str, fields: dict, *, parent: str | None = None) -> str:
        """The emulator speaks the screen catalogue's field names: the fields are renamed."""
        try:
            return self.sandbox.create(
                self._acting(), kind, screens.to_screen(kind, fields), parent=parent
            )
        except AinasError as exc:
            raise _error(exc) from None

    def update(self, kind: str, id: str, fields: dict) -> None:
        try:
            self.sandbox.update(self._acting(), kind, id, screens.to_screen(kind, fields))
        except AinasError as exc:
            raise _error(exc) from None

    def change_password(self, password) -> None:
        """パスワード更新, with the password the session logged in with (none when acting as
        the tenant's admin without a login)."""
        login_id, current = self._login
        try:
            self.sandbox.change_password(
                self._acting(), password, current_password=current, require_current=bool(login_id)
            )
        except AinasError as exc:
            raise _error(exc) from None
        self._actor = self.sandbox.actor(self._actor.login_id)

    def delete(self, kind: str, id: str) -> None:
        try:
            self.sandbox.delete(self._acting(), kind, id)
        except AinasError as exc:
            raise _error(exc) from None

    def close(self) -> None:
        self.sandbox.close()
        if self.scratch is not None:
            self.scratch.cleanup()
