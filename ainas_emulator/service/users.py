"""代理人ユーザー検索, 代理人拠点管理者ユーザー登録, 代理人担当者ユーザー登録, ユーザー更新 and
ユーザー削除, under the start guide's user-type table: admins manage site managers and staff; a
site manager manages the staff of its own site; nobody here manages admins (the association
does)."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping

from ainas_emulator.errors import AinasError
from ainas_emulator.rules import check_form, screen
from ainas_emulator.service.base import (
    ADMIN_ROLE,
    SITE_MANAGER,
    STAFF_ROLES,
    USER_ROLES,
    Actor,
    ServiceBase,
    forbidden,
    not_found,
)

STAFF_ONLY = (
    "default_destination_prefecture",
    "default_destination_office",
    "kei_default_destination_prefecture",
    "kei_default_destination_office",
    "default_menu",
)
EMPTY_STAFF_ONLY = dict.fromkeys(STAFF_ONLY)


class Users(ServiceBase):
    def list_users(
        self,
        actor: Actor,
        *,
        offset: int = 0,
        limit: int | None = None,
        site_ids: Collection[str] | None = None,
        login_ids: Collection[str] | None = None,
    ) -> tuple[list[dict], int]:
        """Users (admins included), ログインID order; a site manager sees its own site's;
        optionally only the given ログインIDs (the search screen's filter)."""
        rows, total = self._user_rows(actor, offset, limit, site_ids, login_ids)
        items = [
            {
                "login_id": login_id,
                "user_name": name,
                "role": role,
                "site": site_id,
                **form,  # a dict of its own for each user: the form's values are scalars
                "last_login": last_login,
            }
            for login_id, name, role, site_id, form, last_login in rows
        ]
        return items, total

    def read_users(
        self, actor: Actor, *, site_ids: Collection[str] | None = None
    ) -> list[tuple[str, str, str, str | None, Mapping[str, object], str | None]]:
        """What :meth:`list_users` gives, as rows: ログインID, ユーザー名, 権限, 所属拠点, the
        user's other screen fields (デフォルト申請先 …) — one mapping shared by every user whose
        fields are the same, not to be changed — and 最終ログイン日時. The embedded sandbox reads a
        tenant's users this way at every plan: 20,000 users hold a handful of distinct forms."""
        return self._user_rows(actor, 0, None, site_ids, None)[0]

    def _user_rows(
        self,
        actor: Actor,
        offset: int,
        limit: int | None,
        site_ids: Collection[str] | None,
        login_ids: Collection[str] | None,
    ) -> tuple[list[tuple], int]:
        self._usable(actor)
        where, args = "org_id = ?", [actor.org_id]
        if not actor.is_admin:
            where += " AND site_id = ?"
            args.append(actor.site_id or "")
        if login_ids is not None:
            where += f" AND login_id IN ({','.join('?' * len(login_ids))})"
            args.extend(login_ids)
        if site_ids is not None:
            where += f" AND (site_id IN ({','.join('?' * len(site_ids))}) OR role = ?)"
            args.extend([*site_ids, ADMIN_ROLE])
        with self.store.snapshot() as db:
            total = db.execute(f"SELECT COUNT(*) FROM users WHERE {where}", args).fetchone()[0]
            cursor = db.cursor()
            cursor.row_factory = None  # plain tuples: a tenant's users are read at every plan
            rows = cursor.execute(
                f"SELECT login_id, name, role, site_id, fields, last_login FROM users WHERE {where} "
                "ORDER BY login_id LIMIT ? OFFSET ?",
                [*args, -1 if limit is None else limit, offset],
            ).fetchall()
        # the stored screen fields (pull-down choices) repeat from user to user: each distinct
        # text is decoded once, into one mapping for all the users that have it
        forms: dict[str, dict] = {}
        out = []
        for login_id, name, role, site_id, fields, last_login in rows:
            form = forms.get(fields)
            if form is None:
                form = forms[fields] = {**EMPTY_STAFF_ONLY, **json.loads(fields)}
            out.append((login_id, name, role, site_id, form, last_login))
        return out, total

    def _check_user_permission(
        self, actor: Actor, role: str, site_id: str | None, what: str
    ) -> None:
        self._usable(actor)
        if role == ADMIN_ROLE:
            raise AinasError(
                "forbidden", "管理者ユーザーの登録・変更・削除は利活用協会が行います。", 403
            )
        if actor.is_admin:
            return
        if actor.is_site_manager and role in STAFF_ROLES and site_id == actor.site_id:
            return
        if actor.is_site_manager and role == SITE_MANAGER:
            raise forbidden(f"拠点管理者ユーザーの{what}は管理者ユーザーのみ行えます")
        raise forbidden(f"他拠点の担当者ユーザーの{what}はできません")

    @staticmethod
    def _staff_only(role: str, values: dict) -> dict:
        extra = {name: values.get(name) for name in STAFF_ONLY}
        if role == SITE_MANAGER and any(value is not None for value in extra.values()):
            raise AinasError(
                "staff-only", "デフォルト申請先等は担当者ユーザーのみ設定できます。"
            )
        return extra

    def _create_user(self, db, actor: Actor, fields: dict, parent) -> str:
        """代理人拠点管理者ユーザー登録 (a site manager) or 代理人担当者ユーザー登録 (staff)."""
        role = fields.get("role")
        if role not in USER_ROLES:
            raise AinasError("invalid-selection", "権限は選択肢から選択してください。")
        form = "site_manager_register" if role == SITE_MANAGER else "staff_register"
        given = dict(fields)
        if role == SITE_MANAGER:
            del given["role"]
            extra = self._staff_only(role, given)  # refused when set, dropped when empty
            given = {k: v for k, v in given.items() if k not in STAFF_ONLY}
        self._check_user_permission(actor, role, fields.get("site"), "登録")
        values = check_form(form, given)
        self._site_row(db, actor, values["site"])
        extra = self._staff_only(role, values)
        # [project decision] a password an admin sets is the user's own from the start
        self._insert_user(
            db,
            actor.org_id,
            values["login_id"],
            values["user_name"],
            role,
            values["site"],
            self.hash(values["password"]),
            False,
            extra,
        )
        return values["login_id"]

    def _user_row(self, db, actor: Actor, login_id: str):
        row = db.execute(
            "SELECT * FROM users WHERE login_id = ? AND org_id = ?", (login_id, actor.org_id)
        ).fetchone()
        if row is None:
            raise not_found("ユーザー")
        return row

    def _update_user(self, db, actor: Actor, id: str, fields: dict) -> None:
        """ユーザー更新: 名称変更, パスワード初期化 (which ends the user's sessions), 代理人拠点,
        the staff's defaults. [project decision] a user moves between 拠点管理者 and 担当者 only
        by being deleted and registered again (they are registered on different screens)."""
        row = self._user_row(db, actor, id)
        self._check_user_permission(actor, row["role"], row["site_id"], "変更")
        stored = {
            "user_name": row["name"],
            "role": row["role"],
            "site": row["site_id"],
            **json.loads(row["fields"]),
        }
        given = {k: v for k, v in fields.items() if k != "login_id"}
        merged = {**stored, **{k: v for k, v in given.items() if k != "password"}}
        if "password" in given:
            merged["password"] = given["password"]
        values = check_form("user_update", merged)
        role = values["role"]
        if (role == SITE_MANAGER) != (row["role"] == SITE_MANAGER):
            raise AinasError(
                "role-change", "拠点管理者ユーザーと担当者ユーザーの間で権限は変更できません。", 409
            )
        if values["site"] != row["site_id"]:
            self._site_row(db, actor, values["site"])
            self._check_user_permission(actor, role, values["site"], "変更")
        extra = self._staff_only(role, values)
        db.execute(
            "UPDATE users SET name = ?, role = ?, site_id = ?, fields = ? WHERE login_id = ?",
            (values["user_name"], role, values["site"], json.dumps(extra, ensure_ascii=False), id),
        )
        if values.get("password") is not None:  # パスワード初期化
            db.execute(
                "UPDATE users SET password = ? WHERE login_id = ?",
                (self.hash(values["password"]), id),
            )
            self.end_sessions(db, id)

    def _delete_user(self, db, actor: Actor, id: str) -> None:
        row = self._user_row(db, actor, id)
        self._check_user_permission(actor, row["role"], row["site_id"], "削除")
        if id == actor.login_id:
            raise AinasError("forbidden", "ログイン中のユーザーは削除できません。", 403)
        self.end_sessions(db, id)
        db.execute("DELETE FROM users WHERE login_id = ?", (id,))


__all__ = ["STAFF_ONLY", "Users", "screen"]
