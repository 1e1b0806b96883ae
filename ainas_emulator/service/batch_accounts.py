"""一括利用者アカウント and 軽一括利用者アカウント: registration and update.

登録後は納付利用者ID、一括利用者ID及び、一括利用者パスワードの変更はできません (the guide, on both
screens): an update naming one of them is refused. 到達番号パスワード and 一括利用者パスワード are
write-only: kept as salted hashes, never shown again.
"""

from __future__ import annotations

import json

from ainas_emulator.errors import AinasError
from ainas_emulator.rules import check_form, screen
from ainas_emulator.service.base import Actor, ServiceBase, not_found, now_text

SCREENS = {
    "batch_account": ("batch_account_register", "batch_account_update"),
    "kei_batch_account": ("kei_batch_account_register", "kei_batch_account_update"),
}
WRITE_ONCE_MESSAGE = (
    "登録後は納付利用者ID、一括利用者ID及び、一括利用者パスワードの変更はできません。"
)
HASHED = ("batch_password", "arrival_number_password")


class BatchAccounts(ServiceBase):
    def _create_batch(self, db, actor: Actor, kind: str, fields: dict, site_id) -> str:
        register, _ = SCREENS[kind]
        if not site_id:
            raise AinasError("required", "代理人拠点を指定してください。")
        self._require_site_access(actor, site_id, screen(register).name)
        values = check_form(register, fields)
        if db.execute(
            "SELECT 1 FROM batch_accounts WHERE site_id = ? AND kind = ?", (site_id, kind)
        ).fetchone():
            raise AinasError(
                "already-registered", f"{screen(register).name[:-2]}は登録済みです。", 409
            )
        visible = {name: value for name, value in values.items() if name not in HASHED}
        db.execute(
            "INSERT INTO batch_accounts VALUES (?, ?, ?, ?, ?, ?)",
            (
                site_id,
                kind,
                json.dumps(visible, ensure_ascii=False),
                self.hash(values["batch_password"]),
                self.hash(values["arrival_number_password"]),
                now_text(),
            ),
        )
        return site_id

    def _update_batch(self, db, actor: Actor, kind: str, site_id: str, fields: dict) -> None:
        register, update = SCREENS[kind]
        # the organization first: another tenant's site is not found, whatever is asked
        self._require_site_access(actor, site_id, screen(update).name)
        row = db.execute(
            "SELECT fields FROM batch_accounts WHERE site_id = ? AND kind = ?", (site_id, kind)
        ).fetchone()
        if row is None:
            raise not_found(screen(register).name[:-2])
        write_once = {f.id for f in screen(register).fields if f.write_once}
        if set(fields) & write_once:
            raise AinasError("write-once", WRITE_ONCE_MESSAGE, 409)
        values = check_form(update, fields, partial=True)
        visible = json.loads(row["fields"])
        for name, value in values.items():
            if name == "arrival_number_password":
                if value is None:
                    raise AinasError("required", "到達番号パスワードを入力してください。")
                db.execute(
                    "UPDATE batch_accounts SET arrival_number_password = ? "
                    "WHERE site_id = ? AND kind = ?",
                    (self.hash(value), site_id, kind),
                )
            else:
                visible[name] = value
        for field in screen(register).inputs:  # required on registration, required after
            if field.required and field.id in visible and visible[field.id] is None:
                raise AinasError("required", f"{field.label}を選択してください。")
        db.execute(
            "UPDATE batch_accounts SET fields = ? WHERE site_id = ? AND kind = ?",
            (json.dumps(visible, ensure_ascii=False), site_id, kind),
        )

    def _create_batch_account(self, db, actor, fields, parent) -> str:
        return self._create_batch(db, actor, "batch_account", fields, parent)

    def _create_kei_batch_account(self, db, actor, fields, parent) -> str:
        return self._create_batch(db, actor, "kei_batch_account", fields, parent)

    def _update_batch_account(self, db, actor, id, fields) -> None:
        self._update_batch(db, actor, "batch_account", id, fields)

    def _update_kei_batch_account(self, db, actor, id, fields) -> None:
        self._update_batch(db, actor, "kei_batch_account", id, fields)
