"""The association's side: registering an agent organization with its admins, and finding the
user behind a login ID."""

from __future__ import annotations

import json
from collections.abc import Iterable

from ainas_emulator.errors import AinasError
from ainas_emulator.rules import check_admin_login_id
from ainas_emulator.service.base import (
    ADMIN_ROLE,
    INITIAL_PASSWORD,
    Actor,
    ServiceBase,
    not_found,
    now_text,
)
from ainas_emulator.store import hash_password

PERMISSIONS = {
    "新車新規申請可否": "可能",
    "中古新規申請可否": "可能",
    "移転登録申請可否": "可能",
    "変更登録申請可否": "可能",
    "記載変更申請可否": "可能",
    "一時抹消申請可否": "可能",
    "永久抹消申請可否": "可能",
    "移転一時申請可否": "不可",
    "移転永久申請可否": "不可",
    "変更一時申請可否": "不可",
    "継続検査申請可否": "可能",
    "(軽)新車新規申請可否": "可能",
    "(軽)継続検査申請可否": "可能",
}


class Tenants(ServiceBase):
    def tenant_exists(self, org_id: str) -> bool:
        row = (
            self.store.connection()
            .execute("SELECT 1 FROM tenants WHERE org_id = ?", (org_id,))
            .fetchone()
        )
        return row is not None

    def tenants(self) -> list[str]:
        rows = self.store.connection().execute("SELECT org_id FROM tenants ORDER BY org_id")
        return [row["org_id"] for row in rows]

    def create_tenant(
        self,
        org_id: str,
        name: str,
        short_name: str,
        admins: Iterable[tuple[str, str]],
        *,
        initial_password: str = INITIAL_PASSWORD,
    ) -> None:
        """Register an agent organization with its admins, as the association does: every admin
        starts with the initial password and must change it at first login. Admin login IDs
        follow the 利用登録通知書's rule: 5 characters of a-z and 2-8."""
        admins = list(admins)
        for login_id, _ in admins:
            check_admin_login_id(login_id)
        with self.store.transaction() as db:
            if db.execute("SELECT 1 FROM tenants WHERE org_id = ?", (org_id,)).fetchone():
                raise AinasError("tenant-exists", f"代理人組織ID {org_id} は登録済みです。", 409)
            db.execute(
                "INSERT INTO tenants VALUES (?, ?, ?, ?, ?, ?)",
                (
                    org_id,
                    name,
                    short_name,
                    "OSS申請可能",
                    json.dumps(PERMISSIONS, ensure_ascii=False),
                    now_text(),
                ),
            )
            hashed = hash_password(initial_password, self.hash_cost)
            for login_id, admin_name in admins:
                self._insert_user(
                    db, org_id, login_id, admin_name, ADMIN_ROLE, None, hashed, True, {}
                )

    def _insert_user(
        self, db, org_id, login_id, name, role, site_id, hashed, must_change, extra
    ) -> None:
        if db.execute("SELECT 1 FROM users WHERE login_id = ?", (login_id,)).fetchone():
            raise AinasError(
                "login-id-taken", f"ログインID {login_id} は既に使用されています。", 409
            )
        db.execute(
            "INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
            (
                login_id,
                org_id,
                name,
                role,
                site_id,
                hashed,
                int(must_change),
                json.dumps(extra, ensure_ascii=False),
                now_text(),
            ),
        )

    def actor(self, login_id: str) -> Actor:
        row = (
            self.store.connection()
            .execute("SELECT * FROM users WHERE login_id = ?", (login_id,))
            .fetchone()
        )
        if row is None:
            raise not_found("ユーザー")
        return Actor(
            row["login_id"],
            row["org_id"],
            row["role"],
            row["site_id"],
            bool(row["must_change_password"]),
        )

    def first_admin(self, org_id: str) -> Actor:
        row = (
            self.store.connection()
            .execute(
                "SELECT login_id FROM users WHERE org_id = ? AND role = ? ORDER BY login_id LIMIT 1",
                (org_id, ADMIN_ROLE),
            )
            .fetchone()
        )
        if row is None:
            raise AinasError("no-admin", f"代理人組織ID {org_id} に管理者がいません。", 404)
        return self.actor(row["login_id"])
