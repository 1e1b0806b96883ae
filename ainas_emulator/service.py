"""A faithful AINAS emulator: the rules AINAS enforces, enforced here on their own.

One implementation of AINAS behaviour with two faces: the embedded sandbox backend calls it in
process, the sandbox server exposes it over HTTPS. It checks what AINAS checks, independently of
the tool's validation: system-assigned 9-digit 拠点IDs, unique ログインIDs, the password rule,
write-once batch-account fields, write-only secrets, and the user-type table of the start guide.
Where the guide is silent, the sandbox decides, and says so (**[project decision]**).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets as random
import threading
from collections.abc import Collection, Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ainas_emulator.store import Store, hash_password, verify_password
from ainas_provision.certs.errors import CertificateError
from ainas_provision.certs.reader import read_p12
from ainas_provision.domain.kinds import (
    ADMIN_ROLE,
    BATCH_FIELDS,
    CERTIFICATE_TYPED,
    KEI_BATCH_FIELDS,
    SITE_FIELDS,
    SITE_MANAGER,
    STAFF_ROLES,
)
from ainas_provision.validation.rules.passwords import password_problem

INITIAL_PASSWORD = "99999999"
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
ADMIN_LOGIN_ID = re.compile(r"[a-z2-8]{5}")
USER_LOGIN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
USER_ROLES = (SITE_MANAGER, *STAFF_ROLES)
HASHED_FIELDS = ("password", "batch_password", "arrival_number_password")
STAFF_ONLY = ("default_destination", "kei_default_destination", "default_menu")
BATCH_KINDS = {"batch_account": BATCH_FIELDS, "kei_batch_account": KEI_BATCH_FIELDS}
BATCH_WRITE_ONCE = ("payment_user_id", "batch_user_id", "batch_password")
BATCH_REQUIRED = {
    "batch_account": (
        "payment_user_id",
        "batch_user_id",
        "batch_password",
        "arrival_number_password",
        "payment_method_national",
        "payment_method_prefectural",
    ),
    "kei_batch_account": (
        "payment_user_id",
        "batch_user_id",
        "batch_password",
        "arrival_number_password",
        "payment_method_fees",
        "payment_method_kei_tax",
    ),
}
WRITE_ONCE_MESSAGE = (
    "登録後は納付利用者ID、一括利用者ID及び、一括利用者パスワードの変更はできません。"
)
PASSWORD_RULE_MESSAGE = "パスワードは8文字以上で、数字、アルファベット大文字と小文字、記号のうち3種類以上を組合せてください。"


class AinasError(Exception):
    """AINAS refused a request: a machine ``code``, AINAS's ``message``, an HTTP ``status``."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


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


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _text(value) -> bool:
    return isinstance(value, str) and value != ""


def _reveal(value):
    """A secret arrives as a Secret (in process) or as text (over HTTP)."""
    reveal = getattr(value, "reveal", None)
    return reveal() if reveal else value


class AinasSandbox:
    """The emulator over one SQLite file."""

    def __init__(self, path: Path | str) -> None:
        self.store = Store(Path(path))
        self._local = threading.local()

    def close(self) -> None:
        self.store.close()

    # -- the association's side ------------------------------------------------------------
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
        starts with the initial password and must change it at first login."""
        admins = list(admins)
        for login_id, _ in admins:
            if not ADMIN_LOGIN_ID.fullmatch(login_id):
                raise AinasError("invalid-login-id", f"管理者のログインIDが不正です: {login_id}")
        with self.store.transaction() as db:
            if db.execute("SELECT 1 FROM tenants WHERE org_id = ?", (org_id,)).fetchone():
                raise AinasError("tenant-exists", f"代理人組織ID {org_id} は登録済みです", 409)
            db.execute(
                "INSERT INTO tenants VALUES (?, ?, ?, ?, ?, ?)",
                (
                    org_id,
                    name,
                    short_name,
                    "OSS申請可能",
                    json.dumps(PERMISSIONS, ensure_ascii=False),
                    _now(),
                ),
            )
            hashed = hash_password(initial_password)
            for login_id, admin_name in admins:
                self._insert_user(
                    db, org_id, login_id, admin_name, ADMIN_ROLE, None, hashed, True, {}
                )

    # -- sessions ----------------------------------------------------------------------------
    def actor(self, login_id: str) -> Actor:
        row = (
            self.store.connection()
            .execute("SELECT * FROM users WHERE login_id = ?", (login_id,))
            .fetchone()
        )
        if row is None:
            raise AinasError("unknown-user", f"ユーザーが存在しません: {login_id}", 401)
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
            raise AinasError("no-admin", f"代理人組織ID {org_id} に管理者がいません", 404)
        return self.actor(row["login_id"])

    def login(self, login_id: str, password: str) -> Actor:
        db = self.store.connection()
        row = db.execute("SELECT password FROM users WHERE login_id = ?", (login_id,)).fetchone()
        if row is None or not verify_password(password, row["password"]):
            raise AinasError("login-failed", "ログインIDまたはパスワードが正しくありません。", 401)
        with self.store.transaction() as tx:
            tx.execute("UPDATE users SET last_login = ? WHERE login_id = ?", (_now(), login_id))
        return self.actor(login_id)

    def open_session(self, actor: Actor) -> str:
        token = random.token_urlsafe(32)
        with self.store.transaction() as db:
            db.execute("INSERT INTO sessions VALUES (?, ?, ?)", (token, actor.login_id, _now()))
        return token

    def session_actor(self, token: str) -> Actor:
        row = (
            self.store.connection()
            .execute("SELECT login_id FROM sessions WHERE token = ?", (token,))
            .fetchone()
        )
        if row is None:
            raise AinasError("not-logged-in", "ログインしてください。", 401)
        return self.actor(row["login_id"])

    def change_password(self, actor: Actor, new_password) -> Actor:
        """パスワード更新: the one thing a user with the initial password may do."""
        new_password = _reveal(new_password)
        if not isinstance(new_password, str) or password_problem(new_password):
            raise AinasError("password-rule", PASSWORD_RULE_MESSAGE)
        with self.store.transaction() as db:
            row = db.execute(
                "SELECT password FROM users WHERE login_id = ?", (actor.login_id,)
            ).fetchone()
            if verify_password(new_password, row["password"]):
                raise AinasError("password-unchanged", "現在と異なるパスワードを入力してください。")
            db.execute(
                "UPDATE users SET password = ?, must_change_password = 0 WHERE login_id = ?",
                (hash_password(new_password), actor.login_id),
            )
        return self.actor(actor.login_id)

    # -- permissions -------------------------------------------------------------------------
    @staticmethod
    def _usable(actor: Actor) -> None:
        if actor.must_change_password:
            raise AinasError(
                "password-change-required",
                "初期パスワードのままです。パスワードを変更してください。",
                403,
            )

    @staticmethod
    def _forbidden(rule: str) -> AinasError:
        return AinasError("forbidden", f"権限がありません: {rule}", 403)

    def _require_admin(self, actor: Actor, what: str) -> None:
        self._usable(actor)
        if not actor.is_admin:
            raise self._forbidden(f"{what}は管理者ユーザーのみ行えます")

    def _require_site_access(self, actor: Actor, site_id: str, what: str) -> None:
        """Admins manage every site; a site manager only its own (the user-type table)."""
        self._usable(actor)
        if actor.is_admin:
            return
        if actor.is_site_manager and actor.site_id == site_id:
            return
        raise self._forbidden(
            f"{what}は管理者ユーザー、または所属拠点の拠点管理者ユーザーのみ行えます"
        )

    # -- reads -------------------------------------------------------------------------------
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

    def list_certificates(self, actor: Actor) -> list[dict]:
        self._usable(actor)
        rows = self.store.connection().execute(
            "SELECT cert_id, registered_at, fingerprint, info, typed FROM certificates "
            "WHERE org_id = ? ORDER BY cert_id",
            (actor.org_id,),
        )
        return [self._certificate(row) for row in rows]

    @staticmethod
    def _certificate(row) -> dict:
        info = json.loads(row["info"])
        return {
            "id": str(row["cert_id"]),
            "registered_at": row["registered_at"],
            "fingerprint": row["fingerprint"],
            **info,
            **json.loads(row["typed"]),
        }

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
        """Sites with their batch accounts (write-only values never included), 拠点ID order;
        optionally only those of a 代理人拠点名 or 代理人拠点コード (the search screen's filters)."""
        self._usable(actor)
        where, args = self._visible_sites(actor, site_ids)
        for key, value in (("name", name), ("code", code)):
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
            for chunk in _chunks(ids, 500):
                rows = db.execute(
                    f"SELECT site_id, kind, fields FROM batch_accounts WHERE site_id IN "
                    f"({','.join('?' * len(chunk))})",
                    chunk,
                )
                for row in rows:
                    accounts[(row["site_id"], row["kind"])] = json.loads(row["fields"])
        items = [
            {
                "site_id": row["site_id"],
                "fields": json.loads(row["fields"]),
                "batch_account": accounts.get((row["site_id"], "batch_account")),
                "kei_batch_account": accounts.get((row["site_id"], "kei_batch_account")),
            }
            for row in page
        ]
        return items, total

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
            rows = db.execute(
                f"SELECT login_id, name, role, site_id, fields, last_login FROM users WHERE {where} "
                "ORDER BY login_id LIMIT ? OFFSET ?",
                [*args, -1 if limit is None else limit, offset],
            ).fetchall()
        items = [
            {
                "login_id": row["login_id"],
                "name": row["name"],
                "role": row["role"],
                "site_id": row["site_id"],
                **json.loads(row["fields"]),
                "last_login": row["last_login"],
            }
            for row in rows
        ]
        return items, total

    # -- writes ------------------------------------------------------------------------------
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
        handler = getattr(self, f"_create_{kind}", None)
        if handler is None:
            raise AinasError("unknown-kind", f"登録できない種類です: {kind}", 404)
        _check_types(fields)
        with self._hashed_before_locking(kind, fields), self.store.transaction() as db:
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
                    "INSERT INTO idempotency VALUES (?, ?, ?, ?)",
                    (idempotency_key, actor.login_id, result, _now()),
                )
            return result

    def update(self, actor: Actor, kind: str, id: str, fields: dict) -> None:
        if kind == "session":
            self.change_password(actor, fields.get("password"))
            return
        handler = getattr(self, f"_update_{kind}", None)
        if handler is None:
            raise AinasError("unknown-kind", f"更新できない種類です: {kind}", 404)
        _check_types(fields)
        with self._hashed_before_locking(kind, fields), self.store.transaction() as db:
            self._fault(db, "update", kind, {**fields, "id": id})
            handler(db, actor, id, fields)

    def delete(self, actor: Actor, kind: str, id: str) -> None:
        handler = getattr(self, f"_delete_{kind}", None)
        if handler is None:
            raise AinasError("unknown-kind", f"削除できない種類です: {kind}", 404)
        with self.store.transaction() as db:
            self._fault(db, "delete", kind, {"id": id})
            handler(db, actor, id)

    @contextmanager
    def _hashed_before_locking(self, kind: str, fields: dict):
        """Hash a request's passwords before the write lock is taken: a salted scrypt takes
        milliseconds, and concurrent requests should not queue behind it."""
        ready = {}
        if kind != "certificate":  # a certificate's password opens the file; it is not kept
            for name in HASHED_FIELDS:
                value = _reveal(fields.get(name))
                if isinstance(value, str) and value:
                    ready[value] = hash_password(value)
        self._local.hashes = ready
        try:
            yield
        finally:
            self._local.hashes = {}

    def _hash(self, password: str) -> str:
        return getattr(self._local, "hashes", {}).get(password) or hash_password(password)

    # organization ----------------------------------------------------------------------------
    def _update_organization(self, db, actor: Actor, id: str, fields: dict) -> None:
        self._require_admin(actor, "代理人組織更新")
        if id != actor.org_id:
            raise AinasError("not-found", f"代理人組織が存在しません: {id}", 404)
        unknown = set(fields) - {"short_name"}
        if "name" in unknown:
            # [project decision] the registered name is the association's to change
            raise AinasError(
                "association-controlled",
                "代理人組織名は協会が管理しています。変更は利活用協会へお申し込みください。",
                403,
            )
        if unknown:
            raise AinasError("unknown-field", f"更新できない項目です: {', '.join(sorted(unknown))}")
        if not _text(fields.get("short_name")):
            raise AinasError("required", "代理人組織名(略称)を入力してください。")
        db.execute("UPDATE tenants SET short_name = ? WHERE org_id = ?", (fields["short_name"], id))

    # certificates ----------------------------------------------------------------------------
    def _read_certificate(self, p12: bytes, password, kind: str) -> tuple[dict, str]:
        try:
            info = read_p12(p12, _reveal(password), kind=kind)
        except CertificateError as exc:
            raise AinasError(
                "certificate-invalid", f"証明書を読み込めません: {exc.message}"
            ) from None
        return {
            "type": kind,
            "trade_name": info.trade_name,
            "representative_name": info.representative_name,
            "address": info.address,
            "expiry_date": info.expiry_date.isoformat(),
            "not_after": info.not_after.isoformat(),
        }, info.fingerprint_sha256

    def _typed(self, fields: dict) -> dict:
        typed = {name: fields.get(name) for name in CERTIFICATE_TYPED}
        for name in ("trade_name_kana", "representative_name_kana", "postal_code", "start_date"):
            if not _text(typed[name]):
                raise AinasError("required", f"{name} を入力してください。")
        return typed

    def _create_certificate(self, db, actor: Actor, fields: dict, parent) -> str:
        """代理人証明書登録 then 代理人証明書更新, as one request: the file and its password, and the
        typed fields. AINAS reads 屋号, 氏名, 住所 and the expiry from the file itself."""
        self._require_admin(actor, "代理人証明書登録")
        p12 = fields.get("p12")
        if not isinstance(p12, bytes | bytearray) or not fields.get("password"):
            raise AinasError("required", "証明書ファイルと証明書パスワードを指定してください。")
        info, fingerprint = self._read_certificate(
            bytes(p12), fields["password"], fields.get("type")
        )
        typed = self._typed(fields)
        cursor = db.execute(
            "INSERT INTO certificates(org_id, registered_at, fingerprint, info, typed, p12) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                actor.org_id,
                _now(),
                fingerprint,
                json.dumps(info, ensure_ascii=False),
                json.dumps(typed, ensure_ascii=False),
                bytes(p12),
            ),
        )
        return str(cursor.lastrowid)

    def _update_certificate(self, db, actor: Actor, id: str, fields: dict) -> None:
        """代理人証明書更新: the certificate password is required on every update."""
        self._require_admin(actor, "代理人証明書更新")
        row = db.execute(
            "SELECT p12, info, typed FROM certificates WHERE cert_id = ? AND org_id = ?",
            (id, actor.org_id),
        ).fetchone()
        if row is None:
            raise AinasError("not-found", f"代理人証明書が存在しません: {id}", 404)
        if not fields.get("password"):
            raise AinasError("required", "証明書パスワードは更新の都度入力が必要です。")
        kind = json.loads(row["info"])["type"]
        self._read_certificate(row["p12"], fields["password"], kind)  # the password must open it
        typed = {
            **json.loads(row["typed"]),
            **{k: v for k, v in fields.items() if k in CERTIFICATE_TYPED},
        }
        self._typed(typed)
        db.execute(
            "UPDATE certificates SET typed = ? WHERE cert_id = ?",
            (json.dumps(typed, ensure_ascii=False), id),
        )

    # sites -----------------------------------------------------------------------------------
    def _site_fields(self, fields: dict, base: dict | None = None) -> dict:
        unknown = set(fields) - set(SITE_FIELDS)
        if unknown:
            raise AinasError("unknown-field", f"登録できない項目です: {', '.join(sorted(unknown))}")
        merged = {**(base or dict.fromkeys(SITE_FIELDS)), **fields}
        for name in ("name", "short_name"):
            if not _text(merged.get(name)):
                raise AinasError(
                    "required",
                    f"{'代理人拠点名' if name == 'name' else '代理人拠点名(略称)'}を入力してください。",
                )
        return merged

    def _create_site(self, db, actor: Actor, fields: dict, parent) -> str:
        self._require_admin(actor, "代理人拠点登録")
        merged = self._site_fields(fields)
        while True:  # 拠点ID: 9 digits, assigned by the system
            site_id = str(random.randbelow(900_000_000) + 100_000_000)
            if not db.execute("SELECT 1 FROM sites WHERE site_id = ?", (site_id,)).fetchone():
                break
        db.execute(
            "INSERT INTO sites VALUES (?, ?, ?, ?)",
            (site_id, actor.org_id, json.dumps(merged, ensure_ascii=False), _now()),
        )
        return site_id

    def _site_row(self, db, actor: Actor, site_id: str):
        row = db.execute(
            "SELECT fields FROM sites WHERE site_id = ? AND org_id = ?", (site_id, actor.org_id)
        ).fetchone()
        if row is None:
            raise AinasError("not-found", f"代理人拠点が存在しません: {site_id}", 404)
        return row

    def _update_site(self, db, actor: Actor, id: str, fields: dict) -> None:
        self._require_site_access(actor, id, "代理人拠点更新")
        row = self._site_row(db, actor, id)
        merged = self._site_fields(fields, json.loads(row["fields"]))
        db.execute(
            "UPDATE sites SET fields = ? WHERE site_id = ?",
            (json.dumps(merged, ensure_ascii=False), id),
        )

    def _delete_site(self, db, actor: Actor, id: str) -> None:
        self._require_admin(actor, "代理人拠点削除")
        self._site_row(db, actor, id)
        users = db.execute("SELECT COUNT(*) FROM users WHERE site_id = ?", (id,)).fetchone()[0]
        if users:
            # [project decision] a site that still has users cannot be deleted
            raise AinasError(
                "site-has-users",
                f"所属するユーザーが{users}名いるため、代理人拠点を削除できません。先にユーザーを削除してください。",
                409,
            )
        db.execute("DELETE FROM batch_accounts WHERE site_id = ?", (id,))
        db.execute("DELETE FROM sites WHERE site_id = ?", (id,))

    # batch accounts ----------------------------------------------------------------------------
    def _create_batch(self, db, actor: Actor, kind: str, fields: dict, site_id) -> str:
        if not site_id:
            raise AinasError("required", "代理人拠点を指定してください。")
        self._require_site_access(actor, site_id, "一括利用者アカウント登録")
        self._site_row(db, actor, site_id)
        allowed = BATCH_KINDS[kind]
        unknown = set(fields) - set(allowed)
        if unknown:
            raise AinasError("unknown-field", f"登録できない項目です: {', '.join(sorted(unknown))}")
        for name in BATCH_REQUIRED[kind]:
            if not _text(_reveal(fields.get(name))):
                raise AinasError("required", f"{name} を入力してください。")
        if db.execute(
            "SELECT 1 FROM batch_accounts WHERE site_id = ? AND kind = ?", (site_id, kind)
        ).fetchone():
            raise AinasError("already-registered", "一括利用者アカウントは登録済みです。", 409)
        visible = {
            name: fields.get(name)
            for name in allowed
            if name not in ("batch_password", "arrival_number_password")
        }
        db.execute(
            "INSERT INTO batch_accounts VALUES (?, ?, ?, ?, ?, ?)",
            (
                site_id,
                kind,
                json.dumps(visible, ensure_ascii=False),
                self._hash(_reveal(fields["batch_password"])),
                self._hash(_reveal(fields["arrival_number_password"])),
                _now(),
            ),
        )
        return site_id

    def _update_batch(self, db, actor: Actor, kind: str, site_id: str, fields: dict) -> None:
        self._require_site_access(actor, site_id, "一括利用者アカウント更新")
        row = db.execute(
            "SELECT fields FROM batch_accounts WHERE site_id = ? AND kind = ?", (site_id, kind)
        ).fetchone()
        if row is None:
            raise AinasError("not-found", "一括利用者アカウントが登録されていません。", 404)
        if set(fields) & set(BATCH_WRITE_ONCE):
            raise AinasError("write-once", WRITE_ONCE_MESSAGE, 409)
        unknown = set(fields) - set(BATCH_KINDS[kind])
        if unknown:
            raise AinasError("unknown-field", f"更新できない項目です: {', '.join(sorted(unknown))}")
        visible = json.loads(row["fields"])
        for name, value in fields.items():
            if name == "arrival_number_password":
                if not _text(_reveal(value)):
                    raise AinasError("required", "到達番号パスワードを入力してください。")
                db.execute(
                    "UPDATE batch_accounts SET arrival_number_password = ? WHERE site_id = ? AND kind = ?",
                    (self._hash(_reveal(value)), site_id, kind),
                )
            else:
                visible[name] = value
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

    # users -----------------------------------------------------------------------------------
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
                _now(),
            ),
        )

    def _check_user_permission(
        self, actor: Actor, role: str, site_id: str | None, what: str
    ) -> None:
        """The user-type table: admins manage site managers and staff; a site manager manages the
        staff of its own site; nobody manages admins (the association does)."""
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
            raise self._forbidden(f"拠点管理者ユーザーの{what}は管理者ユーザーのみ行えます")
        raise self._forbidden(f"他拠点の担当者ユーザーの{what}はできません")

    def _user_extra(self, role: str, fields: dict) -> dict:
        extra = {name: fields.get(name) for name in STAFF_ONLY}
        if role == SITE_MANAGER and any(value is not None for value in extra.values()):
            raise AinasError("staff-only", "デフォルト申請先等は担当者ユーザーのみ設定できます。")
        return extra

    def _create_user(self, db, actor: Actor, fields: dict, parent) -> str:
        login_id, role, site_id = fields.get("login_id"), fields.get("role"), fields.get("site_id")
        if role not in USER_ROLES:
            raise AinasError("invalid-role", f"権限が不正です: {role}")
        self._check_user_permission(actor, role, site_id, "登録")
        if not isinstance(login_id, str) or not USER_LOGIN_ID.fullmatch(login_id):
            raise AinasError("invalid-login-id", f"ログインIDが不正です: {login_id}")
        if not _text(fields.get("name")):
            raise AinasError("required", "ユーザー名を入力してください。")
        if not site_id:
            raise AinasError("required", "代理人拠点を選択してください。")
        self._site_row(db, actor, site_id)
        password = _reveal(fields.get("password"))
        if not isinstance(password, str) or password_problem(password):
            raise AinasError("password-rule", PASSWORD_RULE_MESSAGE)
        unknown = set(fields) - {"login_id", "name", "role", "site_id", "password", *STAFF_ONLY}
        if unknown:
            raise AinasError("unknown-field", f"登録できない項目です: {', '.join(sorted(unknown))}")
        extra = self._user_extra(role, fields)
        # [project decision] a password an admin sets is the user's own from the start
        self._insert_user(
            db,
            actor.org_id,
            login_id,
            fields["name"],
            role,
            site_id,
            self._hash(password),
            False,
            extra,
        )
        return login_id

    def _user_row(self, db, actor: Actor, login_id: str):
        row = db.execute(
            "SELECT * FROM users WHERE login_id = ? AND org_id = ?", (login_id, actor.org_id)
        ).fetchone()
        if row is None:
            raise AinasError("not-found", f"ユーザーが存在しません: {login_id}", 404)
        return row

    def _update_user(self, db, actor: Actor, id: str, fields: dict) -> None:
        row = self._user_row(db, actor, id)
        self._check_user_permission(actor, row["role"], row["site_id"], "変更")
        role = fields.get("role", row["role"])
        if role not in USER_ROLES:
            raise AinasError("invalid-role", f"権限が不正です: {role}")
        if (role == SITE_MANAGER) != (row["role"] == SITE_MANAGER):
            # [project decision] site managers and staff are registered on different screens:
            # changing one into the other means deleting and registering the user anew
            raise AinasError(
                "role-change", "拠点管理者ユーザーと担当者ユーザーの間で権限は変更できません。", 409
            )
        site_id = fields.get("site_id", row["site_id"])
        if site_id != row["site_id"]:
            self._site_row(db, actor, site_id)
            self._check_user_permission(actor, role, site_id, "変更")
        unknown = set(fields) - {"name", "role", "site_id", "password", *STAFF_ONLY}
        if unknown:
            raise AinasError("unknown-field", f"更新できない項目です: {', '.join(sorted(unknown))}")
        extra = {
            **json.loads(row["fields"]),
            **{k: v for k, v in fields.items() if k in STAFF_ONLY},
        }
        self._user_extra(role, extra)
        name = fields.get("name", row["name"])
        if not _text(name):
            raise AinasError("required", "ユーザー名を入力してください。")
        db.execute(
            "UPDATE users SET name = ?, role = ?, site_id = ?, fields = ? WHERE login_id = ?",
            (name, role, site_id, json.dumps(extra, ensure_ascii=False), id),
        )
        if "password" in fields:  # パスワード初期化
            password = _reveal(fields["password"])
            if not isinstance(password, str) or password_problem(password):
                raise AinasError("password-rule", PASSWORD_RULE_MESSAGE)
            db.execute(
                "UPDATE users SET password = ? WHERE login_id = ?", (self._hash(password), id)
            )

    def _delete_user(self, db, actor: Actor, id: str) -> None:
        row = self._user_row(db, actor, id)
        self._check_user_permission(actor, row["role"], row["site_id"], "削除")
        if id == actor.login_id:
            raise AinasError("forbidden", "ログイン中のユーザーは削除できません。", 403)
        db.execute("DELETE FROM sessions WHERE login_id = ?", (id,))
        db.execute("DELETE FROM users WHERE login_id = ?", (id,))

    # fault hook (sandbox only) -----------------------------------------------------------------
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
        ``kind`` a resource kind, optionally only when ``fields[field] == value``; ``times``
        failures, or every time."""
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
            "SELECT * FROM faults WHERE operation = ? AND kind = ? AND (remaining IS NULL OR remaining > 0)",
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


BOOLEAN_FIELDS = ("kei.client_receipt_selectable",)
PAIR_FIELDS = ("default_destination", "kei_default_destination")


def _check_types(fields: dict) -> None:
    """Every value is of the form its screen field takes: text (or empty), a checkbox, a pair
    of selections; AINAS's forms accept nothing else."""
    for name, value in fields.items():
        value = _reveal(value)
        if name == "p12":
            ok = isinstance(value, bytes | bytearray)
        elif name in BOOLEAN_FIELDS:
            ok = isinstance(value, bool) or value is None
        elif name in PAIR_FIELDS:
            ok = value is None or (
                isinstance(value, list | tuple)
                and len(value) == 2
                and all(isinstance(v, str) for v in value)
            )
        else:
            ok = value is None or isinstance(value, str)
        if not ok:
            raise AinasError("invalid-value", f"{name} の値の形式が正しくありません。")


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]
