"""Turning the AINAS API's JSON (the sandbox service's dicts, the server's responses) into the
current-state model. One place, used by every backend that speaks that shape. AINAS names fields
as its screens do (the screen catalogue's ids); :mod:`ainas_provision.domain.screens` renames
them to the manifest's."""

from __future__ import annotations

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


def organization(data: dict) -> LiveResource:
    return LiveResource(
        "organization",
        str(data["id"]),
        {key: data.get(key) for key in ("name", "short_name", "status", "permissions")},
    )


def certificate(data: dict) -> LiveResource:
    fields = screens.from_screen("certificate", {k: v for k, v in data.items() if k != "id"})
    return LiveResource("certificate", str(data["id"]), fields)


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
