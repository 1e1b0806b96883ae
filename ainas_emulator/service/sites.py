"""代理人拠点検索, 代理人拠点登録, 代理人拠点照会, 代理人拠点更新 and 代理人拠点削除."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Collection

from ainas_emulator.errors import AinasError
from ainas_emulator.rules import check_form, screen
from ainas_emulator.service.base import Actor, ServiceBase, not_found, now_text


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Sites(ServiceBase):
    def _visible_sites(self, actor: Actor, site_ids: Collection[str] | None) -> tuple[str, list]:
        where, args = "org_id = ?", [actor.org_id]
        if not actor.is_admin:
            where += " AND site_id = ?"
            args.append(actor.site_id or "")
        if site_ids is not None:
            where += f" AND site_id IN ({','.join('?' * len(site_ids))})"
            args.extend(site_ids)
        return where, args

    def list_sites(
        self,
        actor: Actor,
        *,
        offset: int = 0,
        limit: int | None = None,
        site_ids: Collection[str] | None = None,
        name: str | None = None,
        code: str | None = None,
    ) -> tuple[list[dict], int]:
        """代理人拠点検索: sites with their batch accounts (write-only values never included),
        拠点ID order; optionally only those of a 代理人拠点名 or 代理人拠点コード."""
        self._usable(actor)
        where, args = self._visible_sites(actor, site_ids)
        for key, value in (("site_name", name), ("site_code", code)):
            if value is not None:
                where += f" AND json_extract(fields, '$.{key}') = ?"
                args.append(value)
        with self.store.snapshot() as db:
            total = db.execute(f"SELECT COUNT(*) FROM sites WHERE {where}", args).fetchone()[0]
            page = db.execute(
                f"SELECT site_id, fields FROM sites WHERE {where} ORDER BY site_id LIMIT ? OFFSET ?",
                [*args, -1 if limit is None else limit, offset],
            ).fetchall()
            ids = [row["site_id"] for row in page]
            accounts: dict[tuple[str, str], dict] = {}
            api: dict[str, dict] = {}
            members: dict[str, list[dict]] = {}
            for chunk in _chunks(ids, 500):
                marks = ",".join("?" * len(chunk))
                rows = db.execute(
                    f"SELECT site_id, kind, fields FROM batch_accounts WHERE site_id IN ({marks})",
                    chunk,
                )
                for row in rows:
                    accounts[(row["site_id"], row["kind"])] = json.loads(row["fields"])
                for row in db.execute(
                    f"SELECT * FROM api_accounts WHERE site_id IN ({marks})", chunk
                ):
                    # as the site screen shows it: whether an APIキー is registered, never the key
                    api[row["site_id"]] = {
                        "api_key_registered": row["api_key"] is not None,
                        "password_expiry": row["password_expiry"],
                        "registered_at": row["registered_at"],
                    }
                for row in db.execute(
                    f"SELECT * FROM members WHERE site_id IN ({marks}) ORDER BY member_id", chunk
                ):
                    members.setdefault(row["site_id"], []).append(
                        {"member_id": row["member_id"], "name": row["name"]}
                    )
        items = [
            {
                "site_id": row["site_id"],
                "fields": json.loads(row["fields"]),
                "batch_account": accounts.get((row["site_id"], "batch_account")),
                "kei_batch_account": accounts.get((row["site_id"], "kei_batch_account")),
                "api_account": api.get(row["site_id"]),
                "members": members.get(row["site_id"], []),
            }
            for row in page
        ]
        return items, total

    # -- what the site screen also holds, registered there by the agent -------------------------
    def set_api_account(
        self, site_id: str, *, api_key: str | None, password_expiry: str | None
    ) -> None:
        """The site's APIアカウント (APIキー, a 32-hex key, and its パスワード有効期限), as the agent
        registers it on the site screen; the tool reads it and never manages it."""
        if api_key is not None and not re.fullmatch(r"[0-9a-f]{32}", api_key):
            raise AinasError("invalid-api-key", "APIキーは32桁の16進数で入力してください")
        with self.store.transaction() as db:
            if not db.execute("SELECT 1 FROM sites WHERE site_id = ?", (site_id,)).fetchone():
                raise AinasError("not-found", f"代理人拠点が存在しません: {site_id}", 404)
            db.execute(
                "INSERT OR REPLACE INTO api_accounts VALUES (?, ?, ?, ?)",
                (site_id, api_key, password_expiry, now_text()),
            )

    def add_member(self, site_id: str, member_id: str, name: str) -> None:
        """A 会員 of the site (registered on the site screen; the tool lists, never manages)."""
        with self.store.transaction() as db:
            if not db.execute("SELECT 1 FROM sites WHERE site_id = ?", (site_id,)).fetchone():
                raise AinasError("not-found", f"代理人拠点が存在しません: {site_id}", 404)
            db.execute("INSERT INTO members VALUES (?, ?, ?)", (site_id, member_id, name))

    def _site_row(self, db, actor: Actor, site_id: str):
        row = db.execute(
            "SELECT fields FROM sites WHERE site_id = ? AND org_id = ?", (site_id, actor.org_id)
        ).fetchone()
        if row is None:
            raise not_found("代理人拠点")
        return row

    def _create_site(self, db, actor: Actor, fields: dict, parent) -> str:
        """代理人拠点登録: the 拠点ID is assigned by the system (9 digits)."""
        self._require_admin(actor, "代理人拠点登録")
        values = check_form("site_register", fields)
        while True:
            site_id = str(secrets.randbelow(900_000_000) + 100_000_000)
            if not db.execute("SELECT 1 FROM sites WHERE site_id = ?", (site_id,)).fetchone():
                break
        db.execute(
            "INSERT INTO sites VALUES (?, ?, ?, ?)",
            (site_id, actor.org_id, json.dumps(values, ensure_ascii=False), now_text()),
        )
        return site_id

    def _update_site(self, db, actor: Actor, id: str, fields: dict) -> None:
        """代理人拠点更新: the form as shown, with the fields sent changed."""
        self._require_site_access(actor, id, "代理人拠点更新")
        stored = json.loads(self._site_row(db, actor, id)["fields"])
        known = {field.id for field in screen("site_update").inputs}
        merged = {**{k: v for k, v in stored.items() if k in known}, **fields}
        values = check_form("site_update", merged)
        db.execute(
            "UPDATE sites SET fields = ? WHERE site_id = ?",
            (json.dumps(values, ensure_ascii=False), id),
        )

    def _delete_site(self, db, actor: Actor, id: str) -> None:
        """代理人拠点削除. [project decision] a site that still has users cannot be deleted;
        its batch accounts go with it."""
        self._site_row(db, actor, id)
        self._require_admin(actor, "代理人拠点削除")
        users = db.execute("SELECT COUNT(*) FROM users WHERE site_id = ?", (id,)).fetchone()[0]
        if users:
            raise AinasError(
                "site-has-users",
                f"所属するユーザーが{users}名いるため、代理人拠点を削除できません。先にユーザーを削除してください。",
                409,
            )
        db.execute("DELETE FROM batch_accounts WHERE site_id = ?", (id,))
        db.execute("DELETE FROM api_accounts WHERE site_id = ?", (id,))
        db.execute("DELETE FROM members WHERE site_id = ?", (id,))
        db.execute("DELETE FROM sites WHERE site_id = ?", (id,))
