"""The fault hook (the emulator only): make chosen requests fail with a server error, to test
how a client recovers."""

from __future__ import annotations

from ainas_emulator.errors import AinasError
from ainas_emulator.service.base import ServiceBase


class Faults(ServiceBase):
    def add_fault(
        self,
        operation: str,
        kind: str,
        *,
        field: str | None = None,
        value: str | None = None,
        times: int | None = None,
    ) -> None:
        """Make matching requests fail with a server error: ``operation`` create/update/delete,
        ``kind`` a resource kind, optionally only when ``fields[field] == value`` (a field of
        the screen catalogue, e.g. ``site_name``); ``times`` failures, or every time."""
        with self.store.transaction() as db:
            db.execute(
                "INSERT INTO faults(operation, kind, field, value, remaining) VALUES (?, ?, ?, ?, ?)",
                (operation, kind, field, value, times),
            )

    def clear_faults(self) -> None:
        with self.store.transaction() as db:
            db.execute("DELETE FROM faults")

    @staticmethod
    def _fault(db, operation: str, kind: str, fields: dict) -> None:
        rows = db.execute(
            "SELECT * FROM faults WHERE operation = ? AND kind = ? "
            "AND (remaining IS NULL OR remaining > 0)",
            (operation, kind),
        ).fetchall()
        for row in rows:
            if row["field"] is not None and str(fields.get(row["field"])) != row["value"]:
                continue
            if row["remaining"] is not None:
                db.execute(
                    "UPDATE faults SET remaining = remaining - 1 WHERE fault_id = ?",
                    (row["fault_id"],),
                )
                db.execute("COMMIT")
                db.execute("BEGIN IMMEDIATE")
            raise AinasError(
                "injected-fault", "システムエラーが発生しました。(sandbox fault hook)", 500
            )
