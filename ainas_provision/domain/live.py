"""The live state: a tenant as a target read it, in the domain's terms.

Every target reads into these (the embedded sandbox, the HTTPS client, the runbook's record of
what a person did); the diff compares them with the desired state without knowing which target
read them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field


@dataclass
class LiveResource:
    """One resource as AINAS shows it. ``id`` is AINAS's: a 拠点ID, a ログインID, a
    registration number; ``fields`` never include write-only secrets."""

    kind: str
    id: str
    fields: dict[str, object]


@dataclass
class Session:
    """Who the tool acts as."""

    login_id: str
    role: str  # 管理者 | 拠点管理者 | 担当者(送信可) | 担当者(送信不可)
    site_id: str | None = None
    must_change_password: bool = False


@dataclass
class CurrentState:
    """A tenant as read. Sites and batch accounts are keyed by 拠点ID, users by ログインID
    (admins are users with the role 管理者); certificates are listed oldest first."""

    organization: LiveResource
    certificates: list[LiveResource] = field(default_factory=list)
    sites: dict[str, LiveResource] = field(default_factory=dict)
    batch_accounts: dict[str, LiveResource] = field(default_factory=dict)
    kei_batch_accounts: dict[str, LiveResource] = field(default_factory=dict)
    users: dict[str, LiveResource] = field(default_factory=dict)
    # what a site screen also shows and the tool never manages: its APIアカウント and 会員
    api_accounts: dict[str, LiveResource] = field(default_factory=dict)
    members: dict[str, list[dict]] = field(default_factory=dict)
    session: Session | None = None
    scope: list[str] | None = None  # the 拠点IDs read, when the read was limited to some

    def digest(self) -> str:
        """A digest of everything read: a saved plan is refused when it changed.

        SHA-256 of the canonical JSON of the whole (compact, UTF-8, every mapping's keys
        sorted, a dataclass's fields in their order), written by orjson: at 20,000 users 5 MB of
        JSON, in a sixth of the standard library's time. A value orjson does not write (an
        integer beyond 64 bits, which only a misbehaving server could send) makes the standard
        library write the whole instead, marked as such: the same reading always has the same
        digest either way."""
        import orjson  # with what it imports (uuid, zoneinfo, decimal): when a plan is made

        try:
            text = orjson.dumps(self, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:
            text = b"json:" + json.dumps(
                self, ensure_ascii=False, sort_keys=True, default=_plain
            ).encode("utf-8")
        return hashlib.sha256(text).hexdigest()


def _plain(value):
    return value.__dict__ if hasattr(value, "__dict__") else str(value)


