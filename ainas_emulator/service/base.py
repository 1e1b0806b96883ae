"""What every part of the service shares: the actor of a request, the roles, the permission
checks of the start guide's user-type table, and the storage helpers."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ainas_emulator.errors import AinasError
from ainas_emulator.rules import reveal
from ainas_emulator.store import DEFAULT_HASH_COST, Store, hash_password

ADMIN_ROLE = "管理者"
SITE_MANAGER = "拠点管理者"
STAFF_ROLES = ("担当者(送信可)", "担当者(送信不可)")
USER_ROLES = (SITE_MANAGER, *STAFF_ROLES)
INITIAL_PASSWORD = "99999999"


@dataclass(frozen=True)
class Actor:
    """The user a request acts as."""

    login_id: str
    org_id: str
    role: str
    site_id: str | None
    must_change_password: bool

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN_ROLE

    @property
    def is_site_manager(self) -> bool:
        return self.role == SITE_MANAGER


def now_text() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def not_found(what: str) -> AinasError:
    """Not found — also what another tenant's resource, or one the actor may not see, looks
    like: the answer never tells which IDs exist elsewhere."""
    return AinasError("not-found", f"{what}が存在しません。", 404)


def forbidden(rule: str) -> AinasError:
    return AinasError("forbidden", f"権限がありません: {rule}", 403)


class ServiceBase:
    """The SQLite file, the clock, and the checks every operation starts with."""

    def __init__(
        self,
        path: Path | str,
        *,
        hash_cost: int = DEFAULT_HASH_COST,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = Store(Path(path))
        self.hash_cost = hash_cost
        self.clock = clock
        self._local = threading.local()

    def close(self) -> None:
        self.store.close()

    # -- permissions -------------------------------------------------------------------------
    @staticmethod
    def _usable(actor: Actor) -> None:
        if actor.must_change_password:
            raise AinasError(
                "password-change-required",
                "初期パスワードのままです。パスワードを変更してください。",
                403,
            )

    def _require_admin(self, actor: Actor, what: str) -> None:
        self._usable(actor)
        if not actor.is_admin:
            raise forbidden(f"{what}は管理者ユーザーのみ行えます")

    def _require_site_access(self, actor: Actor, site_id: str, what: str) -> None:
        """Admins manage every site of their organization; a site manager only its own (the
        user-type table). The site must be the actor's organization's: one of another tenant
        is not found, exactly as one that does not exist."""
        self._usable(actor)
        row = (
            self.store.connection()
            .execute(
                "SELECT 1 FROM sites WHERE site_id = ? AND org_id = ?", (site_id, actor.org_id)
            )
            .fetchone()
        )
        if row is None:
            raise not_found("代理人拠点")
        if actor.is_admin:
            return
        if actor.is_site_manager and actor.site_id == site_id:
            return
        raise forbidden(f"{what}は管理者ユーザー、または所属拠点の拠点管理者ユーザーのみ行えます")

    # -- password hashing outside the write lock ----------------------------------------------
    def hash(self, password: str) -> str:
        return getattr(self._local, "hashes", {}).get(password) or hash_password(
            password, self.hash_cost
        )

    @contextmanager
    def hashed_before_locking(self, fields: dict, names: tuple[str, ...]):
        """Hash a request's passwords before the write lock is taken: a salted scrypt takes
        milliseconds, and concurrent requests should not queue behind it."""
        ready = {}
        for name in names:
            value = reveal(fields.get(name))
            if isinstance(value, str) and value:
                ready[value] = hash_password(value, self.hash_cost)
        self._local.hashes = ready
        try:
            yield
        finally:
            self._local.hashes = {}
