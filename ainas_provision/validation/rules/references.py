"""Rules across values: the organization is defined, users name existing sites, staff-only
fields sit on staff users, site codes are unique."""

from __future__ import annotations

import difflib

from ainas_provision.diagnostics import Diagnostic, Severity
from ainas_provision.i18n import _
from ainas_provision.manifest.marks import MarkedMap, key_mark_of, mark_of
from ainas_provision.validation.rules.registry import register

register("organization-required", "one file defines the organization (代理人組織ID)", "manifest")
register("site-reference", "every user's site is a site of the manifests", "manifest")
register(
    "staff-only",
    "デフォルト申請先, 軽デフォルト申請先, デフォルト表示メニュー only on staff users",
    "manifest",
)
register("site-code-unique", "two sites never share a 代理人拠点コード", "manifest")
register("user-is-admin", "a user's ログインID is not one of the admins'", "manifest")
register(
    "moved-reference", "moved: goes from a handle the manifests left to one they define", "manifest"
)
register("site-name-unique", "two sites sharing a 代理人拠点名 are reported (warning)", "manifest")
register("duplicate-definition", "a site, user or section is defined in one place only", "load")

STAFF_ROLES = ("担当者(送信可)", "担当者(送信不可)")
STAFF_ONLY = {
    "default_destination": "デフォルト申請先",
    "kei_default_destination": "軽デフォルト申請先",
    "default_menu": "デフォルト表示メニュー",
}


def _mapping(value) -> MarkedMap | None:
    return value if isinstance(value, MarkedMap) else None


def check(merged: MarkedMap) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    if "organization" not in merged:
        out.append(
            Diagnostic(
                merged.mark,
                _(
                    "no manifest file defines the organization: add {example} with the "
                    "代理人組織ID from the 利用登録通知書"
                ).format(example='`organization: {id: "…"}`'),
                "organization-required",
                "organization",
            )
        )
    sites = _mapping(merged.get("sites")) or {}
    users = _mapping(merged.get("users")) or {}
    admins = _mapping(merged.get("admins")) or {}
    for login_id, user in users.items():
        user = _mapping(user)
        if user is None:
            continue
        if login_id in admins:
            out.append(
                Diagnostic(
                    key_mark_of(users, login_id),
                    _(
                        "user '{login_id}' has the ログインID of an admin (管理者, at {place}): "
                        "ログインIDs are unique in AINAS, and admins are the association's — give "
                        "the user another ログインID"
                    ).format(login_id=login_id, place=key_mark_of(admins, login_id)),
                    "user-is-admin",
                    f"users.{login_id}",
                )
            )
        site = user.get("site")
        if isinstance(site, str) and site not in sites:
            close = difflib.get_close_matches(site, [str(s) for s in sites], n=1)
            hint = (
                _(" — did you mean '{suggestion}'?").format(suggestion=close[0])
                if close
                else (
                    _("; define it under `sites`")
                    if not sites
                    else _("; sites: {sites}").format(sites=", ".join(map(str, sites)))
                )
            )
            out.append(
                Diagnostic(
                    mark_of(user, "site"),
                    _(
                        "user '{login_id}' belongs to site '{site}', which no manifest defines"
                    ).format(login_id=login_id, site=site)
                    + hint,
                    "site-reference",
                    f"users.{login_id}.site",
                )
            )
        if user.get("role") == "拠点管理者":
            for key, label in STAFF_ONLY.items():
                if user.get(key) is not None:
                    out.append(
                        Diagnostic(
                            key_mark_of(user, key),
                            _(
                                "{label} ({key}) is for staff users only; user '{login_id}' is a "
                                "拠点管理者 — remove it, or make the user 担当者(送信可) or "
                                "担当者(送信不可)"
                            ).format(label=label, key=key, login_id=login_id),
                            "staff-only",
                            f"users.{login_id}.{key}",
                        )
                    )
    moved = merged.get("moved")
    for index, entry in enumerate(moved if isinstance(moved, list) else []):
        entry = _mapping(entry)
        if entry is None:
            continue
        old, new = str(entry.get("from", "")), str(entry.get("to", ""))
        problem, key = None, "to"
        if new.startswith("site.") and new.removeprefix("site.") not in sites:
            problem = _(
                "moved: to {new}, which no manifest defines; name the site's new handle"
            ).format(new=new)
        elif old.startswith("site.") and old.removeprefix("site.") in sites:
            problem, key = (
                _(
                    "moved: from {old}, which the manifests still define; a moved site has left "
                    "its old handle"
                ).format(old=old),
                "from",
            )
        if problem:
            out.append(
                Diagnostic(mark_of(entry, key), problem, "moved-reference", f"moved.{index}.{key}")
            )
    seen_codes: dict[str, str] = {}
    seen_names: dict[str, str] = {}
    for handle, site in sites.items():
        site = _mapping(site)
        if site is None:
            continue
        code = site.get("code")
        if isinstance(code, str):
            if code in seen_codes:
                first = seen_codes[code]
                out.append(
                    Diagnostic(
                        mark_of(site, "code"),
                        _(
                            "代理人拠点コード '{code}' is also the code of site '{first}' (at "
                            "{place}); codes identify sites and must differ"
                        ).format(code=code, first=first, place=mark_of(sites[first], "code")),
                        "site-code-unique",
                        f"sites.{handle}.code",
                    )
                )
            else:
                seen_codes[code] = handle
        name = site.get("name")
        if isinstance(name, str):
            if name in seen_names:
                first = seen_names[name]
                out.append(
                    Diagnostic(
                        mark_of(site, "name"),
                        _(
                            "代理人拠点名 '{name}' is also the name of site '{first}'; staff pick "
                            "sites by name, so give each a distinct one (or a 代理人拠点コード)"
                        ).format(name=name, first=first),
                        "site-name-unique",
                        f"sites.{handle}.name",
                        Severity.WARNING,
                    )
                )
            else:
                seen_names[name] = handle
    return out
