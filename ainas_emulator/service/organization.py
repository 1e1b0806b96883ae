"""代理人組織照会 and 代理人組織更新."""

from __future__ import annotations

import json

from ainas_emulator.errors import AinasError
from ainas_emulator.rules import check_form
from ainas_emulator.service.base import Actor, ServiceBase, not_found


class Organization(ServiceBase):
    def read_organization(self, actor: Actor) -> dict:
        self._usable(actor)
        row = (
            self.store.connection()
            .execute("SELECT * FROM tenants WHERE org_id = ?", (actor.org_id,))
            .fetchone()
        )
        return {
            "id": row["org_id"],
            "name": row["name"],
            "short_name": row["short_name"],
            "status": row["status"],
            "permissions": json.loads(row["permissions"]),
        }

    def _update_organization(self, db, actor: Actor, id: str, fields: dict) -> None:
        """代理人組織更新: only 代理人組織名(略称) is the agent's ([project decision]: the
        registered name is the association's to change)."""
        if id != actor.org_id:
            raise not_found("代理人組織")
        self._require_admin(actor, "代理人組織更新")
        if "name" in fields:
            raise AinasError(
                "association-controlled",
                "代理人組織名は協会が管理しています。変更は利活用協会へお申し込みください。",
                403,
            )
        values = check_form("organization_update", fields, partial=True)
        if "short_name" not in values:
            return
        db.execute(
            "UPDATE tenants SET short_name = ? WHERE org_id = ?", (values["short_name"], id)
        )
