"""``probe``: the first, safe contact with a real AINAS — it reads, it never writes.

It logs in and visits every screen of the catalogue that can be reached without changing
anything: the search and 照会 screens, and the forms (registration, update, deletion) opened but
never submitted. On each it looks for the screen's name, every label, every button and every
pull-down the catalogue lists, and compares each pull-down's real options with the catalogue's.
Whatever the tool needs and does not find is a failure (exit 1); options that differ are
reported, and ``--write-override FILE`` records them as a local catalogue override.
"""

from __future__ import annotations

from dataclasses import dataclass

import ainas_catalogue
from ainas_provision.domain.kinds import CERTIFICATE, KINDS, ORGANIZATION, SITE, USER, Kind
from ainas_provision.i18n import N_, _, ngettext
from ainas_provision.targets.base import BackendError
from ainas_provision.targets.browser import BrowserBackend, _Worker, screens


@dataclass
class Finding:
    """One item of the catalogue looked for on AINAS's screens, found or not."""

    screen: str
    item: str  # 画面, ラベル, ボタン, 選択肢
    expected: str
    found: bool
    note: str = ""
    screen_id: str = ""
    field_id: str = ""
    options: tuple[str, ...] | None = None  # a pull-down's real options, when they differ


# screens visited, with the kind whose entry they need (None: none)
VISITS = (
    ("menu", None),
    ("organization_search", None),
    ("organization_view", ORGANIZATION),
    ("organization_update", ORGANIZATION),
    ("certificate_register", ORGANIZATION),
    ("certificate_view", CERTIFICATE),
    ("certificate_update", CERTIFICATE),
    ("site_search", None),
    ("site_register", None),
    ("site_view", SITE),
    ("site_update", SITE),
    ("site_delete", SITE),
    ("user_search", None),
    ("site_manager_register", None),
    ("staff_register", None),
    ("user_view", USER),
    ("user_update", USER),
    ("user_delete", USER),
)
# what each visit needs, as the report names it
ENTRIES = {
    ORGANIZATION: N_("organization"),
    SITE: N_("site"),
    USER: N_("user"),
    CERTIFICATE: N_("certificate"),
}
DYNAMIC = ("site",)  # pull-downs listing the tenant's own data


def probe(backend: BrowserBackend) -> list[Finding]:
    session = backend.session()
    if session.must_change_password:
        raise BackendError(
            "password-change-required",
            _(
                "AINAS asks this user for a new password (パスワード更新) before showing any "
                "screen: log in once in a browser and change it, or apply with AINAS_NEW_PASSWORD, "
                "then probe"
            ),
        )
    org_id = backend.organization_id()
    return backend._worker_call(lambda worker: _visit_all(backend, worker, org_id))


def _visit_all(backend: BrowserBackend, worker: _Worker, org_id: str) -> list[Finding]:
    catalogue = backend.catalogue
    entries: dict[Kind, str | None] = {ORGANIZATION: org_id, SITE: None, USER: None, CERTIFICATE: None}
    findings: list[Finding] = []
    for screen_id, needs in VISITS:
        screen = catalogue.screen(screen_id)
        if needs is not None and entries.get(needs) is None:
            note = _("not visited: the tenant has no {entry} to open").format(entry=_(ENTRIES[needs]))
            findings.append(Finding(screen.name, "画面", screen.name, True, note))
            continue
        try:
            _reach(backend, worker, screen, needs, entries)
        except BackendError as exc:
            findings.append(Finding(screen.name, "画面", screen.name, False, exc.message, screen_id))
            continue
        findings.extend(_inspect(backend, worker, screen))
        if screen_id == "site_search":
            rows = backend._list(worker, screen.columns)
            entries[SITE] = rows[0][0]["text"] if rows else None
        elif screen_id == "user_search":
            rows = backend._list(worker, screen.columns)
            others = [r for r in rows if r[3]["text"] != "管理者"]
            entries[USER] = others[0][0]["text"] if others else None
        elif screen_id == "organization_view":
            view = catalogue.screen("organization_view")
            rows = backend._list(worker, view.columns)
            entries[CERTIFICATE] = rows[0][0]["text"] if rows else None
    return findings


def _reach(backend, worker, screen, needs, entries) -> None:
    if screen.id == "menu":
        backend._login(worker)
        backend._goto(worker, backend.login_url)
        if backend._heading(worker) != screen.name:
            backend._open(worker, "organization_search")
            worker.page.go_back()
        return
    if needs is not None and needs.screens.listed_on:  # opened by its entry on another's screen
        (owner,) = (kind for kind in KINDS.values() if kind.screens.view == needs.screens.listed_on)
        backend._open(worker, owner.screens.view, entry=entries[owner])
        backend._click(worker, entries[needs], entry_of=needs.label)
        if screen.id != needs.screens.view:
            backend._click(worker, screen.menu[-1])
    elif needs is not None and screen.menu[-1] not in ("代理人組織ID", "代理人拠点ID", "ログインID"):
        backend._open(worker, needs.screens.view, entry=entries[needs])
        link = screen.menu[-1]
        page = worker.page
        if not page.get_by_role("link", name=link, exact=True).count() and page.get_by_role("link", name=link.removesuffix("登録"), exact=True).count():
            link = link.removesuffix("登録")
        backend._click(worker, link)
    else:
        backend._open(worker, screen.id, entry=entries.get(needs) if needs else None)
    if backend._heading(worker) != screen.name:
        raise BackendError(
            "screen-missing",
            _("reached {heading} instead").format(heading=repr(backend._heading(worker))),
        )


def _inspect(backend: BrowserBackend, worker: _Worker, screen) -> list[Finding]:
    page = worker.page
    out = [Finding(screen.name, "画面", screen.name, True, screen_id=screen.id)]
    for field in screen.fields:
        labelled = page.get_by_label(field.label, exact=True)
        cell = screens.cell_locator(page, field.label)
        if not labelled.count() and not cell.count():
            out.append(Finding(screen.name, "ラベル", field.label, False, _("not on the screen"), screen.id, field.id))
            continue
        out.append(Finding(screen.name, "ラベル", field.label, True, screen_id=screen.id, field_id=field.id))
        if field.input != "select" or field.id in DYNAMIC:
            continue
        control = labelled.first if labelled.count() else cell.first.locator("select").first
        if not control.count():
            note = _("no pull-down beside the label")
            out.append(Finding(screen.name, "プルダウン", field.label, False, note, screen.id, field.id))
            continue
        real = tuple(t for t in control.evaluate("s => [...s.options].map(o => o.textContent.trim())") if t)
        expected = field.option_values
        if not expected:
            note = ngettext(
                "{count} option (the catalogue lists none)",
                "{count} options (the catalogue lists none)",
                len(real),
            ).format(count=len(real))
            out.append(Finding(screen.name, "プルダウン", field.label, True, note, screen.id, field.id, real or None))
            continue
        missing = [v for v in expected if v not in real]
        extra = [v for v in real if v not in expected]
        differences = [
            _("not offered: {options}").format(options=", ".join(missing)) if missing else "",
            _("not in the catalogue: {options}").format(options=", ".join(extra)) if extra else "",
        ]
        note = "; ".join(filter(None, differences))
        out.append(Finding(screen.name, "プルダウン", field.label, True, note or _("same options"), screen.id, field.id, real if note else None))
    for button in screen.buttons:
        found = any(
            page.get_by_role(role, name=name, exact=True).count()
            for role in ("button", "link")
            for name in (button, button.removesuffix("登録"))
        )
        out.append(Finding(screen.name, "ボタン", button, found, "" if found else _("not on the screen"), screen.id))
    return out


def write_override(path, findings: list[Finding]) -> int:
    """Record the real options of the pull-downs that differ; returns how many were written."""
    written = 0
    for finding in findings:
        if finding.options is not None and finding.field_id:
            ainas_catalogue.write_override(path, finding.screen_id, finding.field_id, options=finding.options)
            written += 1
    return written
