"""A plan's changes as a person's steps: AINAS's screens, in the guide's words.

Built on the step layer (:mod:`ainas_provision.apply.operations`), which says for each change
what is done on which screen, with which fields — values or references to secrets, files and the
拠点ID of a site — and what AINAS answers that the state needs. Here those operations become
what a person reads: each change becomes one step; a step is one or more screens (registering a certificate is its
upload on 代理人証明書登録, then its typed fields on 代理人証明書更新; replacing a user is a
deletion, then a registration). A screen is named, reached and labelled as the screen catalogue
(``ainas_catalogue``) says: its menu path — with the 代理人拠点ID or ログインID to click filled
in — and its fields in screen order, each with the exact value to enter as the screen takes it
(``2026/12/01``, the two pull-downs of デフォルト申請先), or, for a secret, only where its value
comes from. The guide's warnings go with the fields and screens they concern. Where AINAS
assigns something the state needs (a new site's 拠点ID), the step asks for it.

The steps are in the order AINAS needs them: the certificate, then each site followed by its
batch accounts, then site managers, staff users, and the deletions last. Values that depend on
earlier steps (the 拠点ID of a site registered a step before) are filled in from the state, so
the steps are built again whenever the state moves.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

import ainas_catalogue
from ainas_provision.apply import operations
from ainas_provision.apply.operations import FileBytes, Operation, SecretOf, SiteIdOf
from ainas_provision.domain import kinds, screens
from ainas_provision.domain.desired import DesiredState
from ainas_provision.plan.changes import Change
from ainas_provision.plan.plan import Plan
from ainas_provision.runbook import strings as text
from ainas_provision.state.model import State

JST = dt.timezone(dt.timedelta(hours=9))
SITE_ID_PATTERN = r"^[0-9]{9}$"
SITE_ID_READ_BACK = "拠点ID"  # what a site's creation reads back (apply/operations.py)


@dataclass
class StepField:
    """One field of a screen, as the person fills it in."""

    id: str  # the catalogue's field id
    label: str  # as AINAS prints it
    input: str  # text | password | select | checkbox | file
    value: str | None = None  # exactly what to enter; None: leave empty (or a secret)
    secret: str | None = None  # the secret's field name, for the reveal; never its value
    source: str | None = None  # where the secret comes from: {env: NAME}, {file: path}
    write_once: bool = False
    write_only: bool = False
    repeat: bool = False
    warnings: list[str] = field(default_factory=list)


@dataclass
class StepScreen:
    """One AINAS screen of a step: how to reach it, its fields and the button to press."""

    id: str
    name: str
    menu: list[str]
    fields: list[StepField]
    button: str | None
    warnings: list[str] = field(default_factory=list)
    partial: bool = False  # an update: only the fields listed change


@dataclass
class Ask:
    """What the person reads off AINAS and types back (an ID AINAS assigned)."""

    name: str  # what the state needs: site_id
    label: str  # 代理人拠点ID
    screen: str  # where AINAS shows it: 代理人拠点照会
    pattern: str
    hint: str


@dataclass
class Step:
    """One change of the plan as the person performs it, screen by screen."""

    number: int
    address: str
    action: str
    kind: str
    title: str
    screens: list[StepScreen]
    asks: list[Ask] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


def order(changes: list[Change]) -> list[Change]:
    """The order a person works in: a site's batch accounts right after the site."""
    first = [c for c in changes if c.spec.per_tenant]
    site_work = [c for c in changes if c.spec.of_site and c.action != "delete"]
    site_work.sort(key=lambda c: (c.key, c.rank))
    users = [c for c in changes if c.spec.of_user and c.action != "delete"]
    placed = {id(c) for c in (*first, *site_work, *users)}
    rest = [c for c in changes if id(c) not in placed]
    return [*first, *site_work, *users, *rest]


class _Builder:
    def __init__(
        self, plan: Plan, desired: DesiredState, state: State, lang: str, today: dt.date
    ) -> None:
        self.plan = plan
        self.desired = desired
        self.state = state
        self.t = text.strings(lang)
        self.catalogue = ainas_catalogue.load()
        self.today = today
        self.site_steps: dict[str, int] = {}  # handle -> number of the step registering it

    # -- values ----------------------------------------------------------------------------
    def site_name(self, handle: str) -> str:
        site = self.desired.sites.get(handle)
        return str(site.fields.get("name")) if site else handle

    def site_ref(self, handle: str, live_id: str | None = None) -> str:
        site_id = self.state.site_id(handle) or live_id
        name = self.site_name(handle)
        if site_id:
            return self.t["site_in_menu"].format(site_id=site_id, name=name)
        return self.t["site_pending"].format(name=name, number=self.site_steps.get(handle, "?"))

    def site_value(self, handle: str) -> str:
        site_id = self.state.site_id(handle)
        name = self.site_name(handle)
        if site_id:
            return self.t["site_value"].format(name=name, site_id=site_id)
        number = self.site_steps.get(handle, "?")
        return self.t["site_value_pending"].format(name=name, number=number)

    def menu(self, screen, change: Change) -> list[str]:
        out = []
        for item in screen.menu:
            if item == "代理人拠点ID":
                out.append(self.site_ref(change.key, change.live_id))
            elif item == "代理人組織ID":
                out.append(
                    self.t["org_in_menu"].format(organization_id=self.desired.organization_id)
                )
            elif item == "ログインID":
                out.append(self.t["login_in_menu"].format(login_id=change.key))
            elif item == "代理人証明書":
                out.append(self.t["cert_in_menu"])
            else:
                out.append(item)
        return out

    @staticmethod
    def shown(value: object) -> str | None:
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    def secret_source(self, change: Change, name: str) -> str:
        resource = self.resource(change)
        secret = resource.secrets.get(name) if resource is not None else None
        return secret.source if secret is not None else "?"

    def resource(self, change: Change):
        return self.desired.resource(change.kind, change.key)

    # -- screens ---------------------------------------------------------------------------
    def screen(
        self,
        screen_id: str,
        change: Change,
        values: dict[str, object],
        secrets: dict[str, str],
        *,
        partial: bool = False,
    ) -> StepScreen:
        """``values``: catalogue field id -> value; ``secrets``: field id -> secret name."""
        screen = self.catalogue.screen(screen_id)
        fields = []
        for spec in screen.inputs:
            if partial and spec.id not in values and spec.id not in secrets:
                continue
            item = StepField(
                spec.id,
                spec.label,
                spec.input,
                write_once=spec.write_once,
                write_only=spec.write_only,
                repeat=spec.repeat,
            )
            if spec.id in secrets:
                item.secret = secrets[spec.id]
                item.source = self.secret_source(change, item.secret)
            else:
                item.value = self.shown(values.get(spec.id))
            if spec.write_once:
                item.warnings.append(self.t["write_once"].format(warning=text.GUIDE_WRITE_ONCE))
            if spec.write_only and not spec.write_once and not change.spec.secrets_every_update:
                # the guide's words for 到達番号パスワード; the short form for passwords
                warning = (
                    text.GUIDE_WRITE_ONLY_FULL if spec.id != "password" else text.GUIDE_WRITE_ONLY
                )
                item.warnings.append(self.t["write_only"].format(warning=warning))
            if spec.repeat:
                item.warnings.append(text.GUIDE_REPEAT)
            fields.append(item)
        button = screen.flow.submit
        return StepScreen(
            screen.id,
            screen.name,
            self.menu(screen, change),
            fields,
            button,
            list(text.SCREEN_WARNINGS.get(screen.id, ())),
            partial,
        )

    def values(self, change: Change, fields: dict[str, object]) -> dict[str, object]:
        """A step's fields (manifest names, values or references) as the screen takes them:
        catalogue field ids, screen forms (dates, the two 申請先 pull-downs), a site as the
        person picks it, a file as the person chooses it; secrets stay references."""
        shown: dict[str, object] = {}
        for name, value in fields.items():
            if isinstance(value, SiteIdOf):
                value = self.site_value(value.handle)
            elif isinstance(value, FileBytes):
                kind = fields.get("type") or ""
                value = self.t["file"].format(name=value.path.name, type=kind)
            shown[name] = value
        values = screens.to_screen(change.kind, shown)
        for spec in change.spec.fields:
            field_id = screens.screen_field(change.kind, spec.name)
            if spec.today_if_absent and field_id in values and values[field_id] is None:
                # [project decision] 利用開始日 left out: the day of entry, as the guide asks
                values[field_id] = self.today.strftime("%Y/%m/%d")
        return values

    def screens_of(self, op: operations.Step) -> list[str]:
        """The catalogue screens a person goes through for one operation."""
        kind = kinds.KINDS[op.kind]
        if op.operation is Operation.DELETE:
            return [kind.screens.delete or op.screen]
        if op.operation is Operation.CREATE and kind.screens.then:
            # 代理人証明書登録 takes the file and its password; AINAS then shows the
            # certificate, whose 代理人証明書更新 takes the typed fields (the guide's ③–⑨)
            return [kind.screens.create, kind.screens.then]
        return [op.screen] if op.screen else []

    # -- steps -----------------------------------------------------------------------------
    def step(self, number: int, change: Change) -> Step:
        kind, action = change.kind, change.action
        label = kinds.KINDS[kind].label
        name = change.title
        if change.spec.is_batch_account:
            name = self.site_name(change.key)  # the account of a site: name the site
        title = f"{label}: {name or change.key}".rstrip(": ")
        if change.key and name and change.key != name:
            title += f" ({change.key})"
        title = f"{title} — {self.t['verb_' + action]}"
        shown: list[StepScreen] = []
        asks: list[Ask] = []
        for op in operations.steps_for(change, self.desired):
            values = self.values(change, {f.name: f.value for f in op.fields})
            if op.operation is Operation.CREATE:  # 利用開始日 left out: the day of entry
                for spec in change.spec.fields:
                    if spec.today_if_absent:
                        field_id = screens.screen_field(change.kind, spec.name)
                        values.setdefault(field_id, self.today.strftime("%Y/%m/%d"))
            secrets = {fid: v.field for fid, v in values.items() if isinstance(v, SecretOf)}
            partial = op.operation is Operation.UPDATE
            for screen_id in self.screens_of(op):
                shown.append(self.screen(screen_id, change, values, secrets, partial=partial))
            if op.reads_back == SITE_ID_READ_BACK:
                self.site_steps[change.key] = number
                view = self.catalogue.screen("site_view")
                asks.append(
                    Ask(
                        "site_id",
                        view.field("site_id").label,
                        view.name,
                        SITE_ID_PATTERN,
                        self.t["ask_pattern_site_id"].format(label=view.field("site_id").label),
                    )
                )
        return Step(number, change.address, action, kind, title, shown, asks)


def build(
    plan: Plan,
    desired: DesiredState,
    state: State,
    lang: str = "en",
    today: dt.date | None = None,
) -> list[Step]:
    """The plan's changes as steps, numbered from 1 in the order a person does them."""
    builder = _Builder(plan, desired, state, lang, today or dt.datetime.now(JST).date())
    return [builder.step(number, change) for number, change in enumerate(order(plan.changes), 1)]
