"""Turning the AINAS API's JSON (the sandbox service's dicts, the server's responses) into the
current-state model. One place, used by every backend that speaks that shape. AINAS names fields
as its screens do (the screen catalogue's ids); :mod:`ainas_provision.domain.screens` renames
them to the manifest's."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ainas_provision.domain import screens
from ainas_provision.targets.base import CurrentState, LiveResource, Session

USER_FIELDS = (
    "name",
    "role",
    "site_id",
    "default_destination",
    "kei_default_destination",
    "default_menu",
)
# a user as the plan compares it, read from its screen fields (20,000 of them at every plan)
_USER = screens.Projection("user", USER_FIELDS)
# what a user's form holds besides its name, role and site: the pull-downs of デフォルト申請先,
# 軽デフォルト申請先 and デフォルト表示メニュー, as the screen names them and as the plan does
_FORM_FIELDS = USER_FIELDS[3:]
_FORM_KEYS = frozenset(
    (
        *screens.PAIRS["default_destination"],
        *screens.PAIRS["kei_default_destination"],
        screens.screen_field("user", "default_menu"),
    )
)
_USER_FORM = screens.Projection("user", _FORM_FIELDS)


def organization(data: dict) -> LiveResource:
    return LiveResource(
        "organization",
        str(data["id"]),
        {key: data.get(key) for key in ("name", "short_name", "status", "permissions")},
    )


def certificate(data: dict) -> LiveResource:
    fields = screens.from_screen("certificate", {k: v for k, v in data.items() if k != "id"})
    return LiveResource("certificate", str(data["id"]), fields)


def users_from_rows(
    rows: Iterable[tuple[str, str, str, str | None, Mapping[str, object], str | None]],
) -> dict[str, LiveResource]:
    """Users from the embedded sandbox's rows (``AinasSandbox.read_users``: ログインID, ユーザー名,
    権限, 所属拠点, the form of other screen fields that users share, 最終ログイン日時): what
    :func:`state` makes of the same users listed as dicts, each distinct form converted once.
    A form holding anything but the pull-downs is read the long way, through the user's whole
    listing. Every user gets lists of its own (デフォルト申請先)."""
    out: dict[str, LiveResource] = {}
    # a form's conversion and the names holding lists, by the form (alive while rows are)
    converted: dict[int, tuple[dict[str, object], tuple[str, ...]] | None] = {}
    for login_id, name, role, site, form, last_login in rows:
        login_id = str(login_id)
        key = id(form)
        if key not in converted:
            if _FORM_KEYS.issuperset(form):
                named = _USER_FORM(form)
                lists = tuple(k for k, v in named.items() if isinstance(v, list))
                converted[key] = (named, lists)
            else:
                converted[key] = None
        known = converted[key]
        if known is None:
            item = {"login_id": login_id, "user_name": name, "role": role, "site": site}
            fields = _USER({**item, **form, "last_login": last_login})
        else:
            named, lists = known
            fields = {"name": name, "role": role, "site_id": site, **named}
            for list_name in lists:
                fields[list_name] = list(fields[list_name])
        out[login_id] = LiveResource("user", login_id, fields)
    return out


def state(
    org: dict,
    certificates: list[dict],
    sites: list[dict],
    users: list[dict],
    session: Session | None,
    scope: list[str] | None = None,
) -> CurrentState:
    current = CurrentState(organization(org), session=session, scope=scope)
    current.certificates = [certificate(c) for c in certificates]
    for item in sites:
        site_id = str(item["site_id"])
        current.sites[site_id] = LiveResource(
            "site", site_id, screens.from_screen("site", item["fields"])
        )
        if item.get("batch_account") is not None:
            current.batch_accounts[site_id] = LiveResource(
                "batch_account", site_id, screens.from_screen("batch_account", item["batch_account"])
            )
        if item.get("kei_batch_account") is not None:
            current.kei_batch_accounts[site_id] = LiveResource(
                "kei_batch_account",
                site_id,
                screens.from_screen("kei_batch_account", item["kei_batch_account"]),
            )
        if item.get("api_account") is not None:
            current.api_accounts[site_id] = LiveResource(
                "api_account", site_id, dict(item["api_account"])
            )
        if item.get("members"):
            current.members[site_id] = [dict(m) for m in item["members"]]
    by_login = current.users
    for item in users:
        login_id = str(item["login_id"])
        by_login[login_id] = LiveResource("user", login_id, _USER(item))
    return current
