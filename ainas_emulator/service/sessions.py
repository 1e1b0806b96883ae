"""ログイン, パスワード更新, ログアウト: sessions and what guards them.

- A session is a random bearer token; only its SHA-256 is stored, so the database holds nothing
  that logs in. It ends after ``SESSION_IDLE`` seconds without a request, ``SESSION_MAX``
  seconds after login in any case, on logout, and for every session of a user when that user's
  password changes (by the user, or reset by a manager) or the user is deleted.
- The password change asks for the current password: a stolen token alone cannot take the
  account over. It ends the user's other sessions and gives the caller a fresh token.
- Failed logins are counted per login ID and per client address in a window of
  ``FAILURE_WINDOW`` seconds; past ``MAX_FAILURES_PER_ID`` (or ``MAX_FAILURES_PER_CLIENT``) the
  ID (or client) is locked for ``LOCKOUT`` seconds — the right password included — and the
  refusal says so (HTTP 429).
- A login with an unknown ID verifies the password against a hash all the same, so that it takes
  as long as one with a known ID: the time of the answer does not tell which IDs exist.

**[project decision]** The guide states none of these numbers: 30 minutes idle, 8 hours at most,
5 failures per ID and 20 per client in 15 minutes, a 15-minute lock.
"""

from __future__ import annotations

import hashlib
import secrets

from ainas_emulator.errors import AinasError
from ainas_emulator.rules import check_password, reveal
from ainas_emulator.service.base import Actor, ServiceBase, now_text
from ainas_emulator.store import hash_password, verify_password

SESSION_IDLE = 30 * 60
SESSION_MAX = 8 * 60 * 60
FAILURE_WINDOW = 15 * 60
LOCKOUT = 15 * 60
MAX_FAILURES_PER_ID = 5
MAX_FAILURES_PER_CLIENT = 20
LOGIN_FAILED = "ログインIDまたはパスワードが正しくありません。"
LOCKED = "ログインに続けて失敗したため、しばらくログインできません。時間をおいて再度お試しください。"


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class Sessions(ServiceBase):
    _dummy_hash: str | None = None

    def _dummy(self) -> str:
        """A hash of the current cost, to verify an unknown ID's password against."""
        if self._dummy_hash is None:
            self._dummy_hash = hash_password(secrets.token_hex(16), self.hash_cost)
        return self._dummy_hash

    # -- throttling ----------------------------------------------------------------------------
    def _locked(self, db, key: str, now: float) -> bool:
        row = db.execute("SELECT locked_until FROM login_failures WHERE key = ?", (key,)).fetchone()
        return row is not None and row["locked_until"] > now

    def _count_failure(self, db, key: str, limit: int, now: float) -> None:
        row = db.execute("SELECT * FROM login_failures WHERE key = ?", (key,)).fetchone()
        if row is None or now - row["window_start"] > FAILURE_WINDOW:
            failures, start = 1, now
        else:
            failures, start = row["failures"] + 1, row["window_start"]
        locked_until = now + LOCKOUT if failures >= limit else 0.0
        db.execute(
            "INSERT OR REPLACE INTO login_failures VALUES (?, ?, ?, ?)",
            (key, failures, start, locked_until),
        )

    def login(self, login_id: str, password: str, *, client: str | None = None) -> Actor:
        """ログイン: the user, when the ID and password are right and neither the ID nor the
        client is locked out."""
        now = self.clock()
        keys = [(f"id:{login_id}", MAX_FAILURES_PER_ID)]
        if client:
            keys.append((f"client:{client}", MAX_FAILURES_PER_CLIENT))
        db = self.store.connection()
        row = db.execute("SELECT password FROM users WHERE login_id = ?", (login_id,)).fetchone()
        # the hash is verified whatever happens next: every answer takes the same time
        stored = row["password"] if row is not None else self._dummy()
        right = verify_password(password, stored) and row is not None
        with self.store.transaction() as tx:
            if any(self._locked(tx, key, now) for key, _ in keys):
                raise AinasError("login-locked", LOCKED, 429)
            if not right:
                for key, limit in keys:
                    self._count_failure(tx, key, limit, now)
                failed = True
            else:
                tx.execute("DELETE FROM login_failures WHERE key = ?", (keys[0][0],))
                tx.execute(
                    "UPDATE users SET last_login = ? WHERE login_id = ?", (now_text(), login_id)
                )
                failed = False
        if failed:
            raise AinasError("login-failed", LOGIN_FAILED, 401)
        return self.actor(login_id)

    # -- sessions --------------------------------------------------------------------------------
    def open_session(self, actor: Actor) -> str:
        token = secrets.token_urlsafe(32)
        now = self.clock()
        with self.store.transaction() as db:
            db.execute(
                "DELETE FROM sessions WHERE last_seen < ? OR created_at < ?",
                (now - SESSION_IDLE, now - SESSION_MAX),
            )
            db.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?)",
                (_token_hash(token), actor.login_id, now, now),
            )
        return token

    def session_actor(self, token: str) -> Actor:
        """The user of a live session; the session's idle clock starts again."""
        now = self.clock()
        key = _token_hash(token)
        with self.store.transaction() as db:
            row = db.execute("SELECT * FROM sessions WHERE token_hash = ?", (key,)).fetchone()
            if row is None:
                raise AinasError("not-logged-in", "ログインしてください。", 401)
            if now - row["last_seen"] > SESSION_IDLE or now - row["created_at"] > SESSION_MAX:
                db.execute("DELETE FROM sessions WHERE token_hash = ?", (key,))
                expired = True
            else:
                db.execute("UPDATE sessions SET last_seen = ? WHERE token_hash = ?", (now, key))
                expired = False
        if expired:
            raise AinasError(
                "session-expired", "セッションの有効期限が切れました。再度ログインしてください。", 401
            )
        return self.actor(row["login_id"])

    def logout(self, token: str) -> None:
        with self.store.transaction() as db:
            db.execute("DELETE FROM sessions WHERE token_hash = ?", (_token_hash(token),))

    def end_sessions(self, db, login_id: str) -> None:
        db.execute("DELETE FROM sessions WHERE login_id = ?", (login_id,))

    def change_password(
        self, actor: Actor, new_password, *, current_password=None, require_current: bool = True
    ) -> Actor:
        """パスワード更新: the one thing a user with the initial password may do. Every session
        of the user ends; a caller that needs one opens a new one."""
        new_password = check_password(new_password, "パスワード")
        hashed = hash_password(new_password, self.hash_cost)
        current = reveal(current_password)
        with self.store.transaction() as db:
            row = db.execute(
                "SELECT password FROM users WHERE login_id = ?", (actor.login_id,)
            ).fetchone()
            if require_current and (
                not isinstance(current, str) or not verify_password(current, row["password"])
            ):
                raise AinasError(
                    "current-password", "現在のパスワードが正しくありません。", 403
                )
            if verify_password(new_password, row["password"]):
                raise AinasError("password-unchanged", "現在と異なるパスワードを入力してください。")
            db.execute(
                "UPDATE users SET password = ?, must_change_password = 0 WHERE login_id = ?",
                (hashed, actor.login_id),
            )
            self.end_sessions(db, actor.login_id)
        return self.actor(actor.login_id)
