"""The diff: desired state against current state -> a plan. Pure: no I/O, no clock, no backend.

What it knows beyond the two states comes from the state file (which sites and users the tool
manages, which 拠点ID a handle is bound to, fingerprints of the secrets it wrote) and from the
fingerprint function. Write-only secrets count as changed only when their fingerprint differs
from the one the state holds; a secret the tool never wrote cannot be compared and is reported
as a note. Write-once changes, ambiguous adoptions and changes the acting user may not make
are plan errors: the plan is refused before anything is sent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from operator import itemgetter

from ainas_provision.domain import kinds
from ainas_provision.domain.desired import DesiredState, Resource
from ainas_provision.domain.kinds import Action
from ainas_provision.domain.live import CurrentState, LiveResource
from ainas_provision.domain.screens import Labels
from ainas_provision.i18n import N_
from ainas_provision.plan.changes import SENSITIVE, Change, FieldChange, Note, PlanError
from ainas_provision.plan.plan import Plan
from ainas_provision.secrets.values import Secret
from ainas_provision.state.model import State
from ainas_provision.validation.rules.passwords import password_problem

Fingerprint = Callable[[str, str, str], str]

WRITE_ONCE_RULE = "登録後は納付利用者ID、一括利用者ID及び、一括利用者パスワードの変更はできません"
USER_TABLE_RULE = "拠点管理者ユーザーは所属拠点の担当者ユーザーのみ登録・追加・削除できます"


@dataclass
class DiffOptions:
    """What the diff needs besides the desired, current and remembered states."""

    scope: set[str] | None = None  # site handles; None: everything
    new_password: Secret | None = None  # for a forced password change
    rewrite_unknown_secrets: bool = False  # write secrets the tool never wrote
    target: dict = field(default_factory=dict)
    # the day of entry in Japan: 利用開始日 when the manifests leave it out (入力当日の日付)
    today: dt.date = field(default_factory=lambda: today_in_japan())
    # field labels: the screen catalogue's, with the override found beside the manifests
    labels: Labels = field(default_factory=lambda: Labels())


JAPAN = dt.timezone(dt.timedelta(hours=9), "JST")
USABLE_STATUS = "OSS申請可能"  # the 代理人ステータス that lets an organization file
# a change's note as it is kept: its N_()-marked template and the values that fill it
NoteText = tuple[str, dict[str, str]]


def today_in_japan() -> dt.date:
    return dt.datetime.now(JAPAN).date()


def _norm(value):
    if value == "":
        return None
    if isinstance(value, tuple):
        return list(value)
    return value


class _Compared:
    """The fields of a kind that :meth:`_Differ._field_changes` compares, and the quick test that
    none of them differs: at 20,000 users a converged plan compares 150,000 values, and nearly
    all are equal.

    :meth:`same` is true only where the field-by-field comparison finds no change: every field
    present on both sides with equal values (a field absent on either side, a ``""`` against a
    ``None``, a tuple against a list, go the long way) — and, for a field with a default (an
    unticked checkbox is ``False``), a stated value, since a live ``None`` means the default."""

    def __init__(self, kind: kinds.Kind, skip: tuple[str, ...]) -> None:
        specs = [spec for spec in kind.fields if not spec.secret and spec.name not in skip]
        names = [spec.name for spec in specs]
        # itemgetter of one name gives the value, of several a tuple: both compare alike
        self.values = itemgetter(*names) if names else _nothing
        self.defaulted = tuple(spec.name for spec in specs if spec.default is not None)

    def same(self, desired: Mapping[str, object], live: Mapping[str, object]) -> bool:
        values = self.values
        try:
            if values(desired) != values(live):
                return False
        except KeyError:
            return False
        if self.defaulted:
            return all(desired[name] is not None for name in self.defaulted)
        return True


def _nothing(fields: Mapping[str, object]) -> tuple:
    return ()


@cache
def _compared(kind: kinds.Kind, skip: tuple[str, ...] = ()) -> _Compared:
    return _Compared(kind, skip)


@cache
def _write_once(kind: kinds.Kind) -> tuple[frozenset[str], tuple[str, ...]]:
    """A kind's write-once fields, and those of them AINAS shows (not secrets)."""
    return (
        frozenset(spec.name for spec in kind.write_once),
        tuple(spec.name for spec in kind.write_once if not spec.secret),
    )


_USER_BUT_SITE = _compared(kinds.USER, ("site",))  # a user's site is a handle here, a 拠点ID there
_USER_VALUES = _USER_BUT_SITE.values


_UNSEEN = object()


def _vanished_site(address: str, site_id: str) -> Note:
    """A site the state manages that AINAS no longer holds (deleted outside the tool)."""
    return Note(
        "warning",
        address,
        N_(
            "managed by this tool, but AINAS no longer has it (拠点ID {site_id} is gone: deleted "
            "outside the tool?); apply forgets it in the state — add it to the manifests again to "
            "recreate it"
        ),
        {"site_id": str(site_id)},
    )


def _vanished_user(address: str) -> Note:
    """A user the state manages that AINAS no longer holds (deleted outside the tool)."""
    return Note(
        "warning",
        address,
        N_(
            "managed by this tool, but AINAS no longer has it (its ログインID is gone: deleted "
            "outside the tool?); apply forgets it in the state — add it to the manifests again to "
            "recreate it"
        ),
    )


class _Differ:
    def __init__(
        self,
        desired: DesiredState,
        current: CurrentState | None,
        state: State,
        fingerprint: Fingerprint,
        options: DiffOptions,
    ) -> None:
        self.desired = desired
        self.current = current
        self.state = state
        self.fp = fingerprint
        self.options = options
        self.changes: list[Change] = []
        self.notes: list[Note] = []
        self.errors: list[str] = []  # PlanErrors: template and arguments, see error()
        self.forget: list[tuple[str, str]] = []
        # handle -> 拠点ID (None: created by this plan); address of the change creating it
        self.bindings: dict[str, str | None] = {}
        self.site_creations: dict[str, str] = {}
        self.site_adoptions: set[str] = set()

    # -- helpers -------------------------------------------------------------------------
    def label(self, kind: kinds.Kind, name: str) -> str:
        """A field's label as the screen catalogue prints it (see :class:`screens.Labels`)."""
        return self.options.labels.of(kind, name)

    def _field_changes(
        self, kind: kinds.Kind, desired: dict, live: dict, skip: tuple[str, ...] = ()
    ) -> list[FieldChange]:
        if _compared(kind, skip).same(desired, live):
            return []
        out = []
        for spec in kind.fields:
            if spec.secret or spec.name in skip or spec.name not in desired:
                continue
            old = live.get(spec.name, spec.default)
            old = spec.default if old is None else old
            new = desired[spec.name]
            if _norm(old) != _norm(new):
                out.append(FieldChange(spec.name, self.label(kind, spec.name), old, new))
        return out

    def _creation_fields(self, kind: kinds.Kind, resource: Resource) -> list[FieldChange]:
        out = []
        for spec in kind.fields:
            label = self.label(kind, spec.name)
            if spec.secret:
                if spec.name in resource.secrets:
                    out.append(FieldChange(spec.name, label, None, SENSITIVE, sensitive=True))
            elif resource.fields.get(spec.name) is not None:
                out.append(FieldChange(spec.name, label, None, resource.fields[spec.name]))
        return out

    def in_scope(self, handle: str | None) -> bool:
        return self.options.scope is None or handle in self.options.scope

    def secret_fp(self, address: str, name: str, secret: Secret) -> str:
        return self.fp(address, name, secret.reveal())

    def error(self, template: str, **args: object) -> None:
        """An error of the plan: its ``N_()``-marked template and the values that fill it (kept,
        as a note's, so that a saved plan shows it in the language of the run)."""
        self.errors.append(PlanError(template, {name: str(v) for name, v in args.items()}))

    def add(self, change: Change) -> Change:
        self.changes.append(change)
        return change

    # -- the parts -----------------------------------------------------------------------
    def session(self) -> None:
        session = self.current.session if self.current else None
        if session is None or not session.must_change_password:
            return
        secret = self.options.new_password
        address = f"session.{session.login_id}"
        if secret is None:
            self.error(
                N_(
                    "the password of {login_id} is still the initial one, and AINAS allows "
                    "nothing else until it is changed: set AINAS_NEW_PASSWORD (or "
                    "connection.new_password) to the new password"
                ),
                login_id=session.login_id,
            )
            return
        problem = password_problem(secret.reveal()) if hasattr(secret, "reveal") else None
        if problem:  # refused at plan time, not half-way through an apply
            self.error(  # the problem is said in the language of the run that made the plan
                N_(
                    "the new password ({source}) {problem}; set AINAS_NEW_PASSWORD to one that "
                    "AINAS accepts"
                ),
                source=secret.source,
                problem=problem,
            )
            return
        self.add(
            Change(
                "update",
                kinds.SESSION.name,
                session.login_id,
                title=f"パスワード更新 ({session.login_id})",
                live_id=session.login_id,
                fields=[
                    FieldChange(
                        "password",
                        self.label(kinds.SESSION, "password"),
                        "(初期パスワード)",
                        SENSITIVE,
                        sensitive=True,
                    )
                ],
                secrets={"password": self.secret_fp(address, "password", secret)},
                note_template=N_("the initial password must be changed before anything else"),
            )
        )

    def organization(self) -> None:
        live = self.current.organization
        self._organization_status(live)
        wanted = self.desired.organization.fields
        name = wanted.get("name")
        if name is not None and _norm(live.fields.get("name")) != name:
            self.notes.append(
                Note(
                    "warning",
                    "organization",
                    N_(
                        "代理人組織名 (name) is '{live}' in AINAS, '{name}' in the manifests: the "
                        "association controls it — ask it to change the name, or correct the "
                        "manifest"
                    ),
                    {"live": str(live.fields.get("name")), "name": str(name)},
                )
            )
        # the organization is the association's record: only what the manifests say is compared
        stated = {name: value for name, value in wanted.items() if value is not None}
        changes = self._field_changes(kinds.ORGANIZATION, stated, live.fields, skip=("name",))
        if changes:
            self.add(
                Change(
                    "update",
                    "organization",
                    title=live.fields.get("name") or "",
                    live_id=live.id,
                    fields=changes,
                    payload={c.name: c.new for c in changes},
                )
            )

    def _organization_status(self, live) -> None:
        """代理人ステータス and 申請可否 are the association's: a status that does not let the agent
        file is a warning; what ``organization.expect`` asserts and AINAS contradicts, an error."""
        status = live.fields.get("status")
        permissions = live.fields.get("permissions") or {}
        expect = self.desired.organization_expect
        if not live.fields and not status:  # not read (a forced password change first)
            return
        wanted = expect.get("status")
        if wanted is not None and wanted != status:
            self.error(
                N_(
                    "organization: 代理人ステータス is '{status}' in AINAS, and organization.expect "
                    "says '{wanted}': the association sets it — ask it, or correct the expectation"
                ),
                status=status,
                wanted=wanted,
            )
        elif wanted is None and status is not None and status != USABLE_STATUS:
            self.notes.append(
                Note(
                    "warning",
                    "organization",
                    N_(
                        "代理人ステータス is '{status}', not '{usable}': the organization may not "
                        "file with the OSS until the association changes it"
                    ),
                    {"status": str(status), "usable": USABLE_STATUS},
                )
            )
        for name, value in (expect.get("permissions") or {}).items():
            if name not in permissions:
                if permissions:
                    self.error(
                        N_(
                            "organization: organization.expect.permissions names '{name}', which "
                            "AINAS does not show (it shows: {known})"
                        ),
                        name=name,
                        known=", ".join(permissions),
                    )
                else:
                    self.error(
                        N_(
                            "organization: organization.expect.permissions names '{name}', which "
                            "AINAS does not show (it shows: none)"
                        ),
                        name=name,
                    )
            elif permissions[name] != value:
                self.error(
                    N_(
                        "organization: {name} is '{live}' in AINAS, and organization.expect says "
                        "'{wanted}': the association sets it — ask it, or correct the expectation"
                    ),
                    name=name,
                    live=permissions[name],
                    wanted=value,
                )

    def certificate(self) -> None:
        cert = self.desired.certificate
        if cert is None or cert.info is None:
            return
        info = cert.info
        fingerprint = info.fingerprint_sha256
        live = self.current.certificates
        matching = [c for c in live if c.fields.get("fingerprint") == fingerprint]
        latest = live[-1] if live else None
        password = cert.secrets.get("password")
        secrets = (
            {"password": self.secret_fp("certificate", "password", password)} if password else {}
        )
        typed = {name: cert.fields.get(name) for name in kinds.CERTIFICATE_TYPED}
        stated_start = typed.pop("start_date")
        password_field = FieldChange(
            "password", self.label(kinds.CERTIFICATE, "password"), None, SENSITIVE, True
        )
        if matching and matching[-1] is latest:
            if stated_start is not None:  # left out: the registration's own date stays
                typed["start_date"] = stated_start
            changes = self._field_changes(kinds.CERTIFICATE, typed, latest.fields)
            if any(c.name == "start_date" for c in changes):
                self._start_date_note(stated_start, None)
            if changes:
                self.add(
                    Change(
                        "update",
                        "certificate",
                        title=info.trade_name or "",
                        live_id=latest.id,
                        fields=[*changes, password_field],
                        payload={c.name: c.new for c in changes},
                        secrets=secrets,
                        note_template=N_(
                            "AINAS requires the certificate password on every update: it is sent "
                            "again"
                        ),
                    )
                )
            return
        read = [
            FieldChange(
                "trade_name", self.label(kinds.CERTIFICATE, "trade_name"), None, info.trade_name
            ),
            FieldChange(
                "representative_name",
                self.label(kinds.CERTIFICATE, "representative_name"),
                None,
                info.representative_name,
            ),
            FieldChange("address", self.label(kinds.CERTIFICATE, "address"), None, info.address),
            FieldChange(
                "expiry_date",
                self.label(kinds.CERTIFICATE, "expiry_date"),
                None,
                info.expiry_date.isoformat(),
            ),
        ]
        if latest is not None:
            read[-1].old = latest.fields.get("expiry_date")
        # 利用開始日 is the day of entry: left out, it is today (Japan time), never the old one's
        typed["start_date"] = stated_start or self.options.today.isoformat()
        self._start_date_note(stated_start, latest)
        typed_fields = [
            FieldChange(name, self.label(kinds.CERTIFICATE, name), None, value)
            for name, value in typed.items()
            if value is not None
        ]
        note_args: dict[str, str] = {}
        if latest is None:
            action, note = "create", None
        elif matching:
            action = "renew"
            note = N_(
                "this certificate was registered before but another is in force: it is "
                "registered again"
            )
        else:
            action = "renew"
            note = N_(
                "renew: the certificate in force expires {in_force}, the new one expires "
                "{expiry}; the old registration stays listed"
            )
            note_args = {
                "in_force": str(latest.fields.get("expiry_date")),
                "expiry": info.expiry_date.isoformat(),
            }
            in_force = latest.fields.get("expiry_date")
            if in_force and info.expiry_date.isoformat() < in_force:
                self.notes.append(
                    Note(
                        "warning",
                        "certificate",
                        N_(
                            "the new certificate expires {expiry}, earlier than the one in force "
                            "({in_force}): check that certificate.file is the newer certificate"
                        ),
                        {"expiry": info.expiry_date.isoformat(), "in_force": str(in_force)},
                    )
                )
        self.add(
            Change(
                action,
                "certificate",
                title=info.trade_name or "",
                fields=[*read, *typed_fields, password_field],
                payload={"type": cert.fields.get("type"), **typed, "fingerprint": fingerprint},
                secrets=secrets,
                note_template=note,
                note_args=note_args,
            )
        )

    def site_extras(self) -> None:
        """Each site's APIアカウント (its password expiring within the policy's warning days is
        a warning, as for certificates) and its 会員 (listed: the tool does not manage them)."""
        handles = {site_id: handle for handle, site_id in self.bindings.items()}
        days = self.desired.policy.cert_expiry_warning_days
        today = self.options.today
        for site_id, account in sorted(self.current.api_accounts.items()):
            address = f"site.{handles[site_id]}" if site_id in handles else f"site [{site_id}]"
            expiry = account.fields.get("password_expiry")
            if not expiry:
                continue
            try:
                left = (dt.date.fromisoformat(expiry) - today).days
            except ValueError:
                continue
            if left < 0:
                template = N_(
                    "the APIアカウント's password expired on {expiry} (パスワード有効期限): renew it "
                    "on the site screen in AINAS (this tool does not manage APIアカウント)"
                )
            elif left == 1:
                template = N_(
                    "the APIアカウント's password expires on {expiry} (パスワード有効期限), in 1 day "
                    "(warning within {days} days): renew it on the site screen in AINAS (this tool "
                    "does not manage APIアカウント)"
                )
            elif left <= days:
                template = N_(
                    "the APIアカウント's password expires on {expiry} (パスワード有効期限), in {left} "
                    "days (warning within {days} days): renew it on the site screen in AINAS (this "
                    "tool does not manage APIアカウント)"
                )
            else:
                continue
            args = {"expiry": str(expiry), "left": str(left), "days": str(days)}
            self.notes.append(Note("warning", address, template, args))
        for site_id, members in sorted(self.current.members.items()):
            address = f"site.{handles[site_id]}" if site_id in handles else f"site [{site_id}]"
            names = ", ".join(f"{m.get('name')} ({m.get('member_id')})" for m in members[:10])
            args = {"names": names}
            if len(members) > 10:
                template = N_(
                    "会員 {names} and {more} more: not managed by this tool (left as they are)"
                )
                args["more"] = str(len(members) - 10)
            else:
                template = N_("会員 {names}: not managed by this tool (left as they are)")
            self.notes.append(Note("info", address, template, args))

    def _start_date_note(self, stated: str | None, latest) -> None:
        """A 利用開始日 other than the day of entry is a warning (the guide: 入力当日の日付)."""
        today = self.options.today.isoformat()
        if stated is None or stated == today:
            return
        old = latest.fields.get("start_date") if latest is not None else None
        if stated == old:
            template = N_(
                "利用開始日 (start_date) is {stated}, not the day of entry ({today}, Japan time), "
                "which the start guide asks for; it is the start date of the certificate in "
                "force: a renewal is entered on the day of renewal; leave start_date out and the "
                "day of entry is entered"
            )
        else:
            template = N_(
                "利用開始日 (start_date) is {stated}, not the day of entry ({today}, Japan time), "
                "which the start guide asks for; leave start_date out and the day of entry is "
                "entered"
            )
        args = {"stated": str(stated), "today": today}
        self.notes.append(Note("warning", "certificate", template, args))

    # sites ------------------------------------------------------------------------------
    def sites(self) -> None:
        live_sites = self.current.sites
        bound = {entry.site_id for entry in self.state.sites.values()}
        claimed: set[str] = set()
        read_scope = set(self.current.scope) if self.current.scope is not None else None
        for handle, site in self.desired.sites.items():
            if not self.in_scope(handle):
                continue
            site_id = self.state.site_id(handle)
            if site_id is not None and read_scope is not None and site_id not in read_scope:
                continue
            if site_id is not None and site_id in live_sites:
                self.bindings[handle] = site_id
                claimed.add(site_id)
                self._update_site(handle, site, live_sites[site_id], adopt=False)
                continue
            note = None
            # a recorded 拠点ID that is gone (the site deleted and made again by hand) is looked
            # up by its natural key, as a site never recorded is: the live one is bound again
            found = self._adoptable(site, live_sites, bound | claimed)
            if found is not None:
                self.bindings[handle] = found.id
                claimed.add(found.id)
                rebind = None
                if site_id is not None:
                    rebind = self._rebind_note(site_id, site, found)
                self._update_site(handle, site, found, adopt=True, note=rebind)
                continue
            if site_id is not None:
                note = (
                    N_(
                        "拠点ID {site_id} recorded for this site no longer exists in AINAS (deleted "
                        "outside the tool?), and no live site has its 代理人拠点コード or name: the "
                        "site is created again"
                    ),
                    {"site_id": str(site_id)},
                )
            self._create_site(handle, site, note)
        self._delete_sites(bound, claimed)

    @staticmethod
    def _rebind_note(site_id: str, site: Resource, live: LiveResource) -> NoteText:
        """The note of a site whose recorded 拠点ID is gone, bound to the live site that has its
        natural key (its 代理人拠点コード, else its name)."""
        args = {"site_id": str(site_id), "live_id": str(live.id)}
        code = site.fields.get("code")
        if code and live.fields.get("code") == code:
            args["code"] = str(code)
            return (
                N_(
                    "拠点ID {site_id} recorded for this site no longer exists in AINAS; the live "
                    "site 拠点ID {live_id} has its 代理人拠点コード '{code}': it is bound to this "
                    "site instead (its secrets were not written by this tool)"
                ),
                args,
            )
        args["name"] = str(site.fields.get("name"))
        return (
            N_(
                "拠点ID {site_id} recorded for this site no longer exists in AINAS; the live site "
                "拠点ID {live_id} has its 代理人拠点名 '{name}': it is bound to this site instead "
                "(its secrets were not written by this tool)"
            ),
            args,
        )

    def _adoptable(self, site: Resource, live_sites: dict, taken: set[str]) -> LiveResource | None:
        free = [s for s in live_sites.values() if s.id not in taken]
        code = site.fields.get("code")
        if code:
            by_code = [s for s in free if s.fields.get("code") == code]
            if len(by_code) == 1:
                return by_code[0]
            if len(by_code) > 1:
                self.error(
                    N_(
                        "site.{handle}: {count} live sites have the 代理人拠点コード '{code}' "
                        "({ids}); the tool cannot tell which to adopt"
                    ),
                    handle=site.key,
                    count=len(by_code),
                    code=code,
                    ids=", ".join(s.id for s in by_code),
                )
                return None
        by_name = [s for s in free if s.fields.get("name") == site.fields.get("name")]
        if len(by_name) > 1:
            self.error(
                N_(
                    "site.{handle}: {count} live sites are named '{name}' ({ids}); give the site "
                    "its 代理人拠点コード so that the tool can tell which to adopt"
                ),
                handle=site.key,
                count=len(by_name),
                name=site.fields.get("name"),
                ids=", ".join(s.id for s in by_name),
            )
            return None
        return by_name[0] if by_name else None

    def _create_site(self, handle: str, site: Resource, note: NoteText | None) -> None:
        change = self.add(
            Change(
                "create",
                "site",
                handle,
                title=site.title,
                fields=self._creation_fields(kinds.SITE, site),
                payload=dict(site.fields),
                note_template=note[0] if note else None,
                note_args=note[1] if note else {},
            )
        )
        self.bindings[handle] = None
        self.site_creations[handle] = change.address
        for kind in kinds.BATCH_ACCOUNTS:
            account = self._desired_batch(kind, handle)
            if account is not None:
                self._create_batch(kind, handle, account, depends=[change.address])

    def _update_site(
        self,
        handle: str,
        site: Resource,
        live: LiveResource,
        *,
        adopt: bool,
        note: NoteText | None = None,
    ) -> None:
        changes = self._field_changes(kinds.SITE, site.fields, live.fields)
        if adopt:
            self.site_adoptions.add(handle)
        if adopt and note is None:
            note = (N_("adopting the live site 拠点ID {live_id}"), {"live_id": str(live.id)})
        if changes or adopt:
            self.add(
                Change(
                    "adopt" if adopt else "update",
                    "site",
                    handle,
                    title=site.title,
                    live_id=live.id,
                    fields=changes,
                    payload={c.name: c.new for c in changes},
                    note_template=note[0] if note else None,
                    note_args=note[1] if note else {},
                )
            )
        depends = [f"site.{handle}"] if adopt else []
        for kind in kinds.BATCH_ACCOUNTS:
            account = self._desired_batch(kind, handle)
            existing = self._live_batch(kind, live.id)
            if account is not None and existing is None:
                self._create_batch(kind, handle, account, depends=depends)
            elif account is not None:
                self._update_batch(kind, handle, account, existing, adopt, depends)
            elif existing is not None:
                self.notes.append(
                    Note(
                        "info",
                        f"{kind.name}.{handle}",
                        N_(
                            "{label} is registered in AINAS but not in the manifests; AINAS has "
                            "no way to delete it alone, so it is left as is"
                        ),
                        {"label": kind.label},
                    )
                )

    def _desired_batch(self, kind: kinds.Kind, handle: str) -> Resource | None:
        return getattr(self.desired, kind.group).get(handle)

    def _live_batch(self, kind: kinds.Kind, site_id: str) -> LiveResource | None:
        return getattr(self.current, kind.group).get(site_id)

    def _create_batch(
        self, kind: kinds.Kind, handle: str, account: Resource, depends: list[str]
    ) -> None:
        address = f"{kind.name}.{handle}"
        if self._registered_elsewhere(kind, address, account, self.bindings.get(handle)):
            return
        self.add(
            Change(
                "create",
                kind.name,
                handle,
                title=kind.label,
                fields=self._creation_fields(kind, account),
                payload=dict(account.fields),
                secrets={
                    name: self.secret_fp(address, name, value)
                    for name, value in account.secrets.items()
                },
                depends_on=depends,
            )
        )

    def _registered_elsewhere(
        self, kind: kinds.Kind, address: str, account: Resource, site_id: str | None
    ) -> bool:
        """A write-once ID (一括利用者ID, 納付利用者ID) already registered on another live site is
        an error of the plan: AINAS would refuse it, or hold it twice, after the site is sent."""
        group = (
            self.current.batch_accounts
            if kind is kinds.BATCH_ACCOUNT
            else self.current.kei_batch_accounts
        )
        for name in ("batch_user_id", "payment_user_id"):
            wanted = account.fields.get(name)
            if not wanted:
                continue
            for other_site, live in sorted(group.items()):
                if other_site != site_id and live.fields.get(name) == wanted:
                    other = self.current.sites.get(other_site)
                    where = f"拠点ID {other_site}" + (
                        f" ({other.fields.get('name')})" if other is not None else ""
                    )
                    self.error(
                        N_(
                            "{address}: {label} ({name}) '{wanted}' is already registered on "
                            "another site, {where}, and AINAS registers it once ({rule}); bind "
                            "this site to that one (give it its 代理人拠点コード or name), or use "
                            "the ID AINAS gave this site"
                        ),
                        address=address,
                        label=self.label(kind, name),
                        name=name,
                        wanted=wanted,
                        where=where,
                        rule=WRITE_ONCE_RULE,
                    )
                    return True
        return False

    def _update_batch(
        self,
        kind: kinds.Kind,
        handle: str,
        account: Resource,
        live: LiveResource,
        adopted: bool,
        depends: list[str],
    ) -> None:
        address = f"{kind.name}.{handle}"
        write_once, shown_once = _write_once(kind)
        for name in shown_once:
            old, new = live.fields.get(name), account.fields.get(name)
            if _norm(old) != _norm(new):
                label = self.label(kind, name)
                self.error(
                    N_(
                        "{address}: {label} ({name}) is '{old}' in AINAS and '{new}' in the "
                        "manifests, but AINAS refuses to change it after registration ({rule}); "
                        "put the registered value back, or delete the site and create it anew"
                    ),
                    address=address,
                    label=label,
                    name=name,
                    old=old,
                    new=new,
                    rule=WRITE_ONCE_RULE,
                )
        entry = None if adopted else self.state.sites.get(handle)
        known = entry.fingerprints if entry is not None else {}
        secrets: dict[str, str] = {}
        fields = self._field_changes(kind, account.fields, live.fields, skip=shown_once)
        for name, value in account.secrets.items():
            new_fp = self.secret_fp(address, name, value)
            old_fp = known.get(f"{kind.name}.{name}")
            if old_fp == new_fp:
                continue
            label = self.label(kind, name)
            if name in write_once:
                if old_fp is not None:
                    self.error(
                        N_(
                            "{address}: {label} ({name}) differs from the one registered (by its "
                            "fingerprint), but AINAS refuses to change it after registration "
                            "({rule}); put the registered password back"
                        ),
                        address=address,
                        label=label,
                        name=name,
                        rule=WRITE_ONCE_RULE,
                    )
                else:
                    self.notes.append(self._unknown_secret(address, label, name, rewritable=False))
                continue
            if old_fp is None and not self.options.rewrite_unknown_secrets:
                self.notes.append(self._unknown_secret(address, label, name, rewritable=True))
                continue
            fields.append(
                FieldChange(name, label, SENSITIVE if old_fp else None, SENSITIVE, sensitive=True)
            )
            secrets[name] = new_fp
        if fields:
            self.add(
                Change(
                    "update",
                    kind.name,
                    handle,
                    title=kind.label,
                    live_id=live.id,
                    fields=fields,
                    payload={c.name: c.new for c in fields if not c.sensitive},
                    secrets=secrets,
                    depends_on=depends,
                )
            )

    @staticmethod
    def _unknown_secret(address: str, label: str, name: str, *, rewritable: bool) -> Note:
        if rewritable:
            template = N_(
                "{label} ({name}) was not written by this tool, and AINAS never shows it: it "
                "cannot be compared and is left as is; to set it from the manifests, apply with "
                "--rewrite-unknown-secrets"
            )
        else:
            template = N_(
                "{label} ({name}) was not written by this tool, and AINAS never shows it: it "
                "cannot be compared and is left as is"
            )
        return Note("info", address, template, {"label": label, "name": name})

    def _delete_sites(self, bound: set[str], claimed: set[str]) -> None:
        live_sites = self.current.sites
        for handle, entry in sorted(self.state.sites.items()):
            if handle in self.desired.sites or not self.in_scope(handle):
                continue
            site_id = entry.site_id
            if site_id in live_sites:
                self._delete_site(handle, live_sites[site_id])
            elif self.current.scope is None or site_id in self.current.scope:
                self.forget.append(("sites", handle))
                self.notes.append(_vanished_site(f"site.{handle}", site_id))
        if self.options.scope is not None:
            return
        for site_id, live in sorted(live_sites.items()):
            if site_id in bound or site_id in claimed:
                continue
            if self.desired.policy.prune:
                self._delete_site(None, live)
            else:
                self.notes.append(
                    Note(
                        "info",
                        f"site[{site_id}]",
                        N_(
                            "not managed: the live site 拠点ID {site_id} ({name}) is in no "
                            "manifest; left alone (policy.prune: true would delete it)"
                        ),
                        {"site_id": str(site_id), "name": str(live.fields.get("name"))},
                    )
                )

    def _delete_site(self, handle: str | None, live: LiveResource) -> None:
        key = handle or f"[{live.id}]"
        self.add(
            Change("delete", "site", key, title=str(live.fields.get("name") or ""), live_id=live.id)
        )

    # users ------------------------------------------------------------------------------
    def _site_of(self, handle: str) -> tuple[str | None, list[str]]:
        """The 拠点ID of a site handle, and what a change using it must wait for."""
        if handle in self.site_creations:
            return None, [self.site_creations[handle]]
        site_id = self.bindings.get(handle) or self.state.site_id(handle)
        return site_id, [f"site.{handle}"] if handle in self.site_adoptions else []

    # the quick test of unchanged users; the tests turn it off to compare with the long way
    quick_users = True

    def users(self) -> None:
        live_users = self.current.users
        read_scope = set(self.current.scope) if self.current.scope is not None else None
        scope = self.options.scope
        entries = self.state.users
        # an unchanged user, the converged tenant's 20,000, is settled inside this loop: what
        # every one of them needs is looked up once, here
        quick = self.quick_users and not _USER_BUT_SITE.defaulted
        bindings, creations, values, fp = self.bindings, self.site_creations, _USER_VALUES, self.fp
        admin, state_site_id = kinds.ADMIN_ROLE, self.state.site_id
        # a site's 拠点ID, by handle: neither the bindings nor the state change in this loop
        site_ids: dict[str, str | None] = {}
        for login_id, user in self.desired.users.items():
            fields = user.fields
            handle = fields["site"]
            if scope is not None and handle not in scope:
                continue
            live = live_users.get(login_id)
            entry = entries.get(login_id)
            if live is not None:
                shown = live.fields
                if shown.get("role") == admin:
                    self.error(
                        N_(
                            "user.{login_id}: {login_id} is an admin (管理者) in AINAS; admins are "
                            "the association's and are listed under `admins`, not `users`"
                        ),
                        login_id=login_id,
                    )
                    continue
                if quick and entry is not None and handle not in creations:
                    # managed (else adopted, even when nothing differs), on a site that exists
                    site_id = site_ids.get(handle, _UNSEEN)
                    if site_id is _UNSEEN:
                        site_id = site_ids[handle] = bindings.get(handle) or state_site_id(handle)
                    try:
                        same = shown.get("site_id") == site_id and values(fields) == values(shown)
                    except KeyError:  # a field missing on either side: the long way
                        same = False
                else:
                    same = False
                if same:
                    # :meth:`_update_user` would find no change and say nothing, unless the
                    # initial password is not the one the tool wrote
                    secret = user.secrets.get("initial_password")
                    if secret is None:
                        continue
                    written = entry.fingerprints.get("initial_password")
                    if written is not None and written == fp(
                        f"user.{login_id}", "initial_password", secret.reveal()
                    ):
                        continue
                self._update_user(login_id, user, live, entry is not None)
                continue
            note = None
            if entry is not None and (
                read_scope is None or self.state.site_id(handle) in read_scope
            ):
                note = N_(
                    "recorded as managed but no longer in AINAS (deleted outside the tool?): "
                    "created again"
                )
            self._create_user(login_id, user, note, action="create")
        self._delete_users()

    def _user_payload(self, user: Resource) -> dict:
        return {name: value for name, value in user.fields.items()}

    def _create_user(
        self, login_id: str, user: Resource, note: str | None, *, action: str, live_id=None
    ) -> None:
        address = f"user.{login_id}"
        _, depends = self._site_of(user.fields["site"])
        self.add(
            Change(
                action,
                "user",
                login_id,
                title=user.title,
                live_id=live_id,
                fields=self._creation_fields(kinds.USER, user),
                payload=self._user_payload(user),
                secrets={
                    name: self.secret_fp(address, name, value)
                    for name, value in user.secrets.items()
                },
                depends_on=depends,
                note_template=note,
            )
        )

    def _update_user(
        self, login_id: str, user: Resource, live: LiveResource, managed: bool
    ) -> None:
        address = f"user.{login_id}"
        desired_role, live_role = user.fields["role"], live.fields.get("role")
        if (desired_role == kinds.SITE_MANAGER) != (live_role == kinds.SITE_MANAGER):
            self._create_user(
                login_id,
                user,
                f"must be replaced: 権限 {live_role} -> {desired_role} (site managers and staff "
                "are registered on different screens)",
                action="replace",
                live_id=login_id,
            )
            self.changes[-1].payload["previous_role"] = live_role
            return
        handle = user.fields["site"]
        site_id, depends = self._site_of(handle)
        desired_fields = dict(user.fields)
        desired_fields["site"] = site_id
        live_fields = {**live.fields, "site": live.fields.get("site_id")}
        fields = self._field_changes(kinds.USER, desired_fields, live_fields)
        for change in fields:
            if change.name == "site":
                old_handle = self.state.handle_of(change.old) if change.old else None
                change.old = f"{old_handle} ({change.old})" if old_handle else change.old
                change.new = f"{handle} ({site_id})" if site_id else f"{handle} (new)"
        secrets: dict[str, str] = {}
        secret = user.secrets.get("initial_password")
        if secret is not None:
            new_fp = self.secret_fp(address, "initial_password", secret)
            old_fp = (
                self.state.fingerprints("users", login_id).get("initial_password")
                if managed
                else None
            )
            label = self.label(kinds.USER, "initial_password")
            if old_fp is None and not self.options.rewrite_unknown_secrets:
                self.notes.append(
                    self._unknown_secret(address, label, "initial_password", rewritable=True)
                )
            elif old_fp != new_fp:
                fields.append(
                    FieldChange(
                        "initial_password", label, SENSITIVE if old_fp else None, SENSITIVE, True
                    )
                )
                secrets["initial_password"] = new_fp
        if not fields and managed:
            return
        payload = {c.name: user.fields[c.name] for c in fields if not c.sensitive}
        payload["role"] = desired_role
        self.add(
            Change(
                "update" if managed else "adopt",
                "user",
                login_id,
                title=user.title,
                live_id=login_id,
                fields=fields,
                payload=payload,
                secrets=secrets,
                depends_on=depends,
                note_template=None
                if managed
                else N_("adopting the live user (the tool will manage it from now on)"),
            )
        )

    def _delete_users(self) -> None:
        live_users = self.current.users
        scope_ids = (
            {self.state.site_id(h) for h in self.options.scope} if self.options.scope else None
        )
        desired = self.desired.users
        # only those the manifests no longer name are sorted: of 20,000 users, usually none
        for login_id in sorted(k for k in self.state.users if k not in desired):
            live = live_users.get(login_id)
            if live is None:
                if self.current.scope is None:
                    self.forget.append(("users", login_id))
                    self.notes.append(_vanished_user(f"user.{login_id}"))
                continue
            if scope_ids is not None and live.fields.get("site_id") not in scope_ids:
                continue
            self._delete_user(login_id, live)
        managed = self.state.users
        unnamed = ((k, v) for k, v in live_users.items() if k not in desired and k not in managed)
        for login_id, live in sorted(unnamed):
            if live.fields.get("role") == kinds.ADMIN_ROLE:
                continue
            if scope_ids is not None and live.fields.get("site_id") not in scope_ids:
                continue
            if self.desired.policy.prune:
                self._delete_user(login_id, live)
            else:
                self.notes.append(
                    Note(
                        "info",
                        f"user.{login_id}",
                        N_(
                            "not managed: the live user {login_id} ({name}) is in no manifest; "
                            "left alone (policy.prune: true would delete it)"
                        ),
                        {"login_id": login_id, "name": str(live.fields.get("name"))},
                    )
                )

    def _delete_user(self, login_id: str, live: LiveResource) -> None:
        self.add(
            Change(
                "delete",
                "user",
                login_id,
                title=str(live.fields.get("name") or ""),
                live_id=login_id,
                payload={"role": live.fields.get("role"), "site_id": live.fields.get("site_id")},
            )
        )

    # checks across changes ----------------------------------------------------------------
    def site_deletions(self) -> None:
        """A site is deleted only once its users are gone (AINAS refuses otherwise), and after
        their deletion."""
        users = [c for c in self.changes if c.spec is kinds.USER]
        leaving = {c.key for c in users if c.action == Action.DELETE}
        moving = {c.key for c in users if c.action in (Action.UPDATE, Action.REPLACE, Action.ADOPT)}
        deleted = [c for c in self.changes if c.spec is kinds.SITE and c.action == Action.DELETE]
        if not deleted:
            return
        members: dict[str, list[str]] = {c.live_id: [] for c in deleted}
        for login_id, live in self.current.users.items():
            site_id = live.fields.get("site_id")
            if site_id in members:
                members[site_id].append(login_id)
        for change in deleted:
            staying = []
            for login_id in members[change.live_id]:
                if login_id in leaving or (
                    login_id in moving
                    and self.desired.users.get(login_id)
                    and (self.desired.users[login_id].fields["site"] != change.key)
                ):
                    change.depends_on.append(f"user.{login_id}")
                else:
                    staying.append(login_id)
            if staying:
                if len(staying) > 5:
                    self.error(
                        N_(
                            "{address}: the site still has users ({listed} and {more} more) that "
                            "this plan does not delete or move, and AINAS refuses to delete a "
                            "site with users; delete or move them in the manifests first"
                        ),
                        address=change.address,
                        listed=", ".join(staying[:5]),
                        more=len(staying) - 5,
                    )
                else:
                    self.error(
                        N_(
                            "{address}: the site still has users ({listed}) that this plan does "
                            "not delete or move, and AINAS refuses to delete a site with users; "
                            "delete or move them in the manifests first"
                        ),
                        address=change.address,
                        listed=", ".join(staying),
                    )

    def session_permissions(self) -> None:
        """The user-type table, applied before anything is sent: a site manager may manage its
        own site and the staff users in it, nothing else."""
        session = self.current.session if self.current else None
        if session is None or session.role == kinds.ADMIN_ROLE:
            return
        own = self.state.handle_of(session.site_id) if session.site_id else None
        for change in self.changes:
            kind = change.spec
            if kind.gates_all:
                continue
            allowed = session.role == kinds.SITE_MANAGER and kind.site_manager_may(
                change.action, change.key, change.live_id, change.payload, own, session.site_id
            )
            if not allowed and session.role in kinds.STAFF_ROLES:
                # not the site manager's rule: staff manage nothing, in their own site neither
                self.error(
                    N_(
                        "{address}: {login_id} is a {role} and may not make any change (the "
                        "start guide's user-type table: 担当者 users file applications and manage "
                        "nothing, not even in their own site); run it with an admin's credentials"
                    ),
                    address=change.address,
                    login_id=session.login_id,
                    role=session.role,
                )
            elif not allowed:
                self.error(
                    N_(
                        "{address}: {login_id} is a {role} and may not make this change (AINAS: "
                        "{rule}); run it with an admin's credentials"
                    ),
                    address=change.address,
                    login_id=session.login_id,
                    role=session.role,
                    rule=USER_TABLE_RULE,
                )

    def admins(self) -> None:
        session = self.current.session if self.current else None
        if session is not None and session.role != kinds.ADMIN_ROLE:
            return  # a site manager cannot see the admins
        if not self.desired.admins:
            return  # none to verify, and none listed as missing from `admins`
        live = {
            k: v for k, v in self.current.users.items() if v.fields.get("role") == kinds.ADMIN_ROLE
        }
        for login_id, admin in self.desired.admins.items():
            found = live.get(login_id)
            if found is None:
                self.notes.append(
                    Note(
                        "warning",
                        f"admin.{login_id}",
                        N_(
                            "admin {login_id} is not in AINAS; admins are created by the "
                            "association (利用登録通知書) — check the login ID, or ask the "
                            "association"
                        ),
                        {"login_id": login_id},
                    )
                )
                continue
            name = admin.fields.get("name")
            if name is not None and found.fields.get("name") != name:
                self.notes.append(
                    Note(
                        "warning",
                        f"admin.{login_id}",
                        N_(
                            "admin {login_id} is named '{live}' in AINAS, '{name}' in the "
                            "manifests (admins are verified, never changed)"
                        ),
                        {
                            "login_id": login_id,
                            "live": str(found.fields.get("name")),
                            "name": str(name),
                        },
                    )
                )
        if self.desired.admins:
            for login_id in sorted(set(live) - set(self.desired.admins)):
                self.notes.append(
                    Note(
                        "info",
                        f"admin.{login_id}",
                        N_("admin {login_id} is in AINAS but not in `admins`"),
                        {"login_id": login_id},
                    )
                )


def diff(
    desired: DesiredState,
    current: CurrentState | None,
    state: State,
    fingerprint: Fingerprint,
    options: DiffOptions | None = None,
) -> Plan:
    """The plan that brings ``current`` to ``desired``. ``current`` is None when the target could
    not be read past a forced password change: the plan then holds that change only."""
    options = options or DiffOptions()
    differ = _Differ(desired, current, state, fingerprint, options)
    incomplete = None
    if current is not None:
        differ.session()
        if current.session is not None and current.session.must_change_password:
            incomplete = "the rest of the plan is made after the password change"
        else:
            differ.organization()
            differ.certificate()
            differ.sites()
            differ.users()
            differ.admins()
            differ.site_deletions()
            differ.site_extras()
            differ.session_permissions()
    plan = Plan(
        changes=differ.changes,
        notes=differ.notes,
        errors=differ.errors,
        target=dict(options.target),
        lineage=state.lineage,
        serial=state.serial,
        max_deletes=desired.policy.max_deletes,
        scope=sorted(options.scope) if options.scope is not None else None,
        incomplete=incomplete,
        forget=differ.forget,
    )
    return plan
