"""The AINAS emulator's service: AINAS's behaviour, on its own, behind any front end.

One implementation with several faces: the tool's embedded target calls it in process, the
sandbox server's JSON API over HTTPS, and web screens may call it too. Each concern is a module —
``tenants`` (the association's side), ``sessions`` (ログイン, パスワード更新, ログアウト),
``organization``, ``certificates``, ``sites``, ``batch_accounts``, ``users``, ``faults`` — and
:class:`AinasSandbox` puts them together. Field names are the screen catalogue's
(``ainas_catalogue``); every form is checked as AINAS checks it (``ainas_emulator.rules``), and
refusals are :class:`AinasError` with AINAS's Japanese message naming the field.

A front end calls :meth:`AinasSandbox.create`, ``update`` and ``delete`` by resource kind, or
:meth:`AinasSandbox.submit` by screen id (what a screen's 確定 or 削除 does). Where the guide
is silent, the emulator decides, and says so (**[project decision]**).
"""

from __future__ import annotations

from ainas_emulator.errors import AinasError
from ainas_emulator.rules import ADMIN_LOGIN_ID
from ainas_emulator.service.base import (
    ADMIN_ROLE,
    INITIAL_PASSWORD,
    SITE_MANAGER,
    STAFF_ROLES,
    USER_ROLES,
    Actor,
)
from ainas_emulator.service.batch_accounts import BatchAccounts
from ainas_emulator.service.certificates import Certificates
from ainas_emulator.service.faults import Faults
from ainas_emulator.service.organization import Organization
from ainas_emulator.service.sessions import Sessions
from ainas_emulator.service.sites import Sites
from ainas_emulator.service.tenants import PERMISSIONS, Tenants
from ainas_emulator.service.users import Users

KINDS = ("organization", "certificate", "site", "batch_account", "kei_batch_account", "user")
HASHED_FIELDS = {
    "batch_account": ("batch_password", "arrival_number_password"),
    "kei_batch_account": ("batch_password", "arrival_number_password"),
    "user": ("password",),
}
# what a screen's button does: (operation, resource kind)
SCREEN_ACTIONS = {
    "organization_update": ("update", "organization"),
    "certificate_register": ("create", "certificate"),
    "certificate_update": ("update", "certificate"),
    "site_register": ("create", "site"),
    "site_update": ("update", "site"),
    "site_delete": ("delete", "site"),
    "batch_account_register": ("create", "batch_account"),
    "batch_account_update": ("update", "batch_account"),
    "kei_batch_account_register": ("create", "kei_batch_account"),
    "kei_batch_account_update": ("update", "kei_batch_account"),
    "site_manager_register": ("create", "user"),
    "staff_register": ("create", "user"),
    "user_update": ("update", "user"),
    "user_delete": ("delete", "user"),
}


class AinasSandbox(
    Tenants, Sessions, Organization, Certificates, Sites, BatchAccounts, Users, Faults
):
    """The emulator over one SQLite file."""

    def _handler(self, operation: str, kind: str):
        handler = getattr(self, f"_{operation}_{kind}", None) if kind in KINDS else None
        if handler is None:
            verb = {"create": "登録", "update": "更新", "delete": "削除"}[operation]
            raise AinasError("unknown-kind", f"{verb}できない種類です: {kind}", 404)
        return handler

    def create(
        self,
        actor: Actor,
        kind: str,
        fields: dict,
        *,
        parent: str | None = None,
        idempotency_key: str | None = None,
    ) -> str:
        """Register one resource; returns its ID. With an ``idempotency_key``, a request that
        comes again with the same key (a client retrying a create whose answer it lost, or the
        lost request itself, arriving late) gets the first one's answer instead of a second
        resource: the key is stored in the transaction that makes the change."""
        handler = self._handler("create", kind)
        with (
            self.hashed_before_locking(fields, HASHED_FIELDS.get(kind, ())),
            self.store.transaction() as db,
        ):
            if idempotency_key is not None:
                row = db.execute(
                    "SELECT result FROM idempotency WHERE key = ? AND login_id = ?",
                    (idempotency_key, actor.login_id),
                ).fetchone()
                if row is not None:
                    return row["result"]
            self._fault(db, "create", kind, fields)
            result = handler(db, actor, fields, parent)
            if idempotency_key is not None:
                db.execute(
                    "INSERT INTO idempotency VALUES (?, ?, ?, datetime('now'))",
                    (idempotency_key, actor.login_id, result),
                )
            return result

    def update(self, actor: Actor, kind: str, id: str, fields: dict) -> None:
        handler = self._handler("update", kind)
        with (
            self.hashed_before_locking(fields, HASHED_FIELDS.get(kind, ())),
            self.store.transaction() as db,
        ):
            self._fault(db, "update", kind, {**fields, "id": id})
            handler(db, actor, id, fields)

    def delete(self, actor: Actor, kind: str, id: str) -> None:
        handler = self._handler("delete", kind)
        with self.store.transaction() as db:
            self._fault(db, "delete", kind, {"id": id})
            handler(db, actor, id)

    def submit(
        self, actor: Actor, screen_id: str, fields: dict, *, target: str | None = None
    ) -> str | None:
        """What pressing a screen's button does: ``fields`` are the screen's (catalogue ids);
        ``target`` is the 拠点ID or ログインID the screen is about (the site of a batch-account
        registration). Returns the new resource's ID for a registration."""
        if screen_id not in SCREEN_ACTIONS:
            raise AinasError("unknown-screen", f"操作できない画面です: {screen_id}", 404)
        operation, kind = SCREEN_ACTIONS[screen_id]
        if operation == "create":
            if screen_id == "site_manager_register":
                fields = {**fields, "role": SITE_MANAGER}
            return self.create(actor, kind, fields, parent=target)
        if operation == "update":
            self.update(actor, kind, target or actor.org_id, fields)
            return None
        self.delete(actor, kind, target or "")
        return None


__all__ = [
    "ADMIN_LOGIN_ID",
    "ADMIN_ROLE",
    "INITIAL_PASSWORD",
    "PERMISSIONS",
    "SCREEN_ACTIONS",
    "SITE_MANAGER",
    "STAFF_ROLES",
    "USER_ROLES",
    "Actor",
    "AinasError",
    "AinasSandbox",
]
