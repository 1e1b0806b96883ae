"""The kinds of AINAS resources, as objects: each owns its fields, rules, natural keys and screens.

A field's name is its path inside the resource in the manifest (``registered.review_deadline``);
the label people see is the screen catalogue's (``domain.screens.Labels``); ``FieldSpec.label``,
the schema's title, stands in only for a field no screen shows. ``write_once`` fields cannot change
after registration (AINAS refuses: the plan makes that an error); ``secret`` (write-only) fields
are never shown and never read back, and the tool compares them through keyed fingerprints.

A :class:`Kind` also says where its resources live in the desired state (``group``), which state
section remembers them (``state_section``), by what a resource lost in a failed creation is found
again (``natural_keys``), its AINAS screens (``screens``), and what a 拠点管理者 may do with it
(``site_manager_may``), and what differs in how it is worked (``owns``, ``id_label``,
``secrets_every_update``, ``Screens.then``, ``FieldSpec.today_if_absent``). The registered and
kei batch accounts are one kind of thing with a ``system`` each. Everything else names kinds
through these objects, never by testing strings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from ainas_provision import schema as manifest_schema


class Role(StrEnum):
    """The user types of AINAS (ユーザー種別)."""

    ADMIN = "管理者"
    SITE_MANAGER = "拠点管理者"
    STAFF_SENDING = "担当者(送信可)"
    STAFF = "担当者(送信不可)"


class Action(StrEnum):
    """What a plan does to a resource."""

    CREATE = "create"
    RENEW = "renew"
    UPDATE = "update"
    ADOPT = "adopt"
    REPLACE = "replace"
    DELETE = "delete"


class Status(StrEnum):
    """What became of a change in an apply."""

    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class FieldSpec:
    """One field of a kind: its manifest path and how AINAS treats it."""

    name: str
    schema_path: tuple[str, ...]
    secret: bool = False  # write-only: never shown, compared by fingerprint
    write_once: bool = False  # AINAS refuses to change it after registration
    default: object = None  # what an absent value means (a checkbox left empty is False)
    today_if_absent: bool = False  # left out, AINAS takes the day of entry (利用開始日)

    @property
    def label(self) -> str:
        return manifest_schema.label(self.schema_path) or self.name


@dataclass(frozen=True)
class Screens:
    """The catalogue's screen ids of a kind (``ainas_catalogue``)."""

    create: str | None = None
    update: str | None = None
    create_site_manager: str | None = None  # users: a 拠点管理者 has its own registration screen
    delete: str | None = None  # where 削除 is confirmed (the 照会 screen's 削除 button leads there)
    then: str | None = None  # where a registration continues (a certificate's typed fields)
    view: str | None = None  # its 照会 screen
    listed_on: str | None = None  # the screen of another kind that links to it (no search of its own)


# may a 拠点管理者 (of site ``own``, 拠点ID ``own_id``) make this change?
Permission = Callable[
    [str, str, "str | None", Mapping[str, object], "str | None", "str | None"], bool
]


def _never(*args) -> bool:
    return False


# one object per kind (KINDS): equal only to itself, so that the tables keyed by kinds (the
# steps, the targets' ways through AINAS) look one up by identity, not by hashing its fields
@dataclass(frozen=True, eq=False)
class Kind:
    """One kind of AINAS resource and everything the tool knows about it (see the module)."""

    name: str
    label: str  # the AINAS screen name
    fields: tuple[FieldSpec, ...]
    rank: int  # order of work: lower first when creating, last when deleting
    group: str | None = None  # DesiredState / CurrentState attribute holding its resources
    single: str | None = None  # one per tenant: the DesiredState attribute describing it
    state_section: str | None = None  # the state section that remembers it
    natural_keys: tuple[str, ...] = ()  # fields that find a resource whose ID was lost
    screens: Screens = Screens()
    system: str | None = None  # batch accounts: "registered" or "kei"
    gates_all: bool = False  # nothing else is allowed before it (the first-login password)
    id_label: str | None = None  # the ID AINAS assigns, as plans show it (拠点ID)
    secrets_every_update: bool = False  # AINAS asks for its secret again on every update
    owns: tuple[str, ...] = ()  # kinds whose resources belong to one of it (a site's accounts)
    renamable: bool = False  # its handle is the manifests' name, not AINAS's (`state mv`)
    site_manager_may: Permission = _never

    def field(self, name: str) -> FieldSpec:
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @property
    def write_once(self) -> tuple[FieldSpec, ...]:
        return tuple(spec for spec in self.fields if spec.write_once)

    @property
    def secrets(self) -> tuple[FieldSpec, ...]:
        return tuple(spec for spec in self.fields if spec.secret)

    @property
    def is_batch_account(self) -> bool:
        return self.system is not None

    @property
    def per_tenant(self) -> bool:
        """One of it per tenant (the password change, the organization, the certificate)."""
        return self.group is None and self.rank < SITE_RANK

    @property
    def of_site(self) -> bool:
        """A site, or what belongs to one (its batch accounts): remembered in the site's entry."""
        return self.state_section == SITES_SECTION

    @property
    def of_user(self) -> bool:
        return self.state_section == USERS_SECTION

    @property
    def deleted_with(self) -> tuple[Kind, ...]:
        """What goes when a resource of this kind is deleted: itself, and for a site its batch
        accounts."""
        return (self, *(KINDS[name] for name in self.owns))

    def create_screen_for(self, payload: Mapping[str, object]) -> str | None:
        """The registration screen of a new resource: a 拠点管理者 has its own where the kind
        has one."""
        if self.screens.create_site_manager and payload.get("role") == Role.SITE_MANAGER:
            return self.screens.create_site_manager
        return self.screens.create

    def rank_of(self, action: str, payload: Mapping[str, object]) -> int:
        """The order of a change of this kind: staff after site managers; deletions last, in
        the reverse order."""
        rank = self.rank
        if self.name == USER_NAME and payload.get("role") != Role.SITE_MANAGER:
            rank += 1
        return 100 - rank if action == Action.DELETE else rank


def _fields(base: tuple[str, ...], names: list[str], **flags) -> tuple[FieldSpec, ...]:
    out = []
    for name in names:
        secret = name in flags.get("secret", ())
        write_once = name in flags.get("write_once", ())
        default = flags.get("defaults", {}).get(name)
        today = name in flags.get("today", ())
        out.append(FieldSpec(name, (*base, *name.split(".")), secret, write_once, default, today))
    return tuple(out)


SITE_FIELDS = [
    "name",
    "short_name",
    "code",
    "storage_sticker_receipt",
    "registered.certificate_manager_name",
    "registered.review_deadline",
    "registered.commission_number",
    "registered.inspection_ecert_update",
    "registered.interim_ecert_update",
    "kei.certificate_manager_name",
    "kei.certificate_manager_number",
    "kei.review_deadline",
    "kei.default_receipt",
    "kei.client_receipt_selectable",
    "kei.inspection_ecert_update",
]
BATCH_COMMON = ["payment_user_id", "batch_user_id", "batch_password", "arrival_number_password"]
BATCH_FIELDS = [
    *BATCH_COMMON,
    "payment_method_national",
    "payment_method_prefectural",
    "email",
    "contact_name",
    "phone",
]
KEI_BATCH_FIELDS = [
    *BATCH_COMMON,
    "payment_method_fees",
    "payment_method_kei_tax",
    "email",
    "contact_name",
    "phone",
]
BATCH_FLAGS = {
    "secret": ("batch_password", "arrival_number_password"),
    "write_once": ("payment_user_id", "batch_user_id", "batch_password"),
}
USER_FIELDS = [
    "name",
    "role",
    "site",
    "initial_password",
    "default_destination",
    "kei_default_destination",
    "default_menu",
]
CERTIFICATE_TYPED = [
    "trade_name_kana",
    "representative_name_kana",
    "postal_code",
    "address_building",
    "start_date",
]

USER_NAME = "user"
SITE_RANK = 3
SITES_SECTION, USERS_SECTION = "sites", "users"


def _site_manager_on_site(action, key, live_id, payload, own, own_id) -> bool:
    return action in (Action.UPDATE, Action.ADOPT) and live_id == own_id


def _site_manager_on_batch(action, key, live_id, payload, own, own_id) -> bool:
    return key == own or live_id == own_id


def _site_manager_on_user(action, key, live_id, payload, own, own_id) -> bool:
    if action == Action.REPLACE:
        return False
    role = payload.get("role")
    site = payload.get("site") or own
    site_id = payload.get("site_id", own_id)
    return role in STAFF_ROLES and site == own and site_id == own_id


SESSION = Kind(
    "session",
    "パスワード更新",
    (FieldSpec("password", ("connection", "new_password"), secret=True),),
    0,
    screens=Screens(update="password_update"),
    gates_all=True,
)
ORGANIZATION = Kind(
    "organization",
    "代理人組織",
    _fields(("organization",), ["name", "short_name"]),
    1,
    screens=Screens(update="organization_update", view="organization_view"),
)
CERTIFICATE = Kind(
    "certificate",
    "代理人証明書",
    _fields(
        ("certificate",),
        [*CERTIFICATE_TYPED, "password"],
        secret=("password",),
        today=("start_date",),
    ),
    2,
    single="certificate",
    natural_keys=("fingerprint",),
    screens=Screens(
        "certificate_register",
        "certificate_update",
        then="certificate_update",
        view="certificate_view",
        listed_on="organization_view",
    ),
    secrets_every_update=True,
)
SITE = Kind(
    "site",
    "代理人拠点",
    _fields(("sites", "*"), SITE_FIELDS, defaults={"kei.client_receipt_selectable": False}),
    SITE_RANK,
    group="sites",
    state_section=SITES_SECTION,
    natural_keys=("code", "name"),
    screens=Screens("site_register", "site_update", delete="site_delete", view="site_view"),
    id_label="拠点ID",
    owns=("batch_account", "kei_batch_account"),
    renamable=True,
    site_manager_may=_site_manager_on_site,
)


def _batch_account(system: str, name: str, label: str, names: list[str]) -> Kind:
    """A batch account of a site: one kind of thing, registered (登録車) or kei (軽)."""
    return Kind(
        name,
        label,
        _fields(("sites", "*", system, "batch_account"), names, **BATCH_FLAGS),
        4,
        group=f"{name}s",
        state_section=SITES_SECTION,  # its fingerprints live in its site's entry
        natural_keys=("site",),
        screens=Screens(f"{name}_register", f"{name}_update"),
        system=system,
        site_manager_may=_site_manager_on_batch,
    )


BATCH_ACCOUNT = _batch_account("registered", "batch_account", "一括利用者アカウント", BATCH_FIELDS)
KEI_BATCH_ACCOUNT = _batch_account(
    "kei", "kei_batch_account", "軽一括利用者アカウント", KEI_BATCH_FIELDS
)
BATCH_ACCOUNTS = (BATCH_ACCOUNT, KEI_BATCH_ACCOUNT)
USER = Kind(
    USER_NAME,
    "代理人ユーザー",
    _fields(("users", "*"), USER_FIELDS, secret=("initial_password",)),
    5,  # site managers; staff users rank 6 (see rank_of)
    group="users",
    state_section=USERS_SECTION,
    natural_keys=("login_id",),
    screens=Screens(
        "staff_register", "user_update", "site_manager_register", "user_delete", view="user_view"
    ),
    site_manager_may=_site_manager_on_user,
)
ADMIN = Kind("admin", "管理者", _fields(("admins", "*"), ["name"]), 9, group="admins")

KINDS = {
    kind.name: kind
    for kind in (
        SESSION,
        ORGANIZATION,
        CERTIFICATE,
        SITE,
        BATCH_ACCOUNT,
        KEI_BATCH_ACCOUNT,
        USER,
        ADMIN,
    )
}

SITE_MANAGER = Role.SITE_MANAGER
STAFF_ROLES = (Role.STAFF_SENDING, Role.STAFF)
ADMIN_ROLE = Role.ADMIN
