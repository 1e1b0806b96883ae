"""The kinds of AINAS resources and their fields, as the tool plans them.

A field's name is its path inside the resource in the manifest (``registered.review_deadline``);
its label is the AINAS screen label, read from the schema. ``write_once`` fields cannot change
after registration (AINAS refuses); ``secret`` fields are never shown and never read back, and
the tool compares them through keyed fingerprints.
"""

from __future__ import annotations

from dataclasses import dataclass

from ainas_provision import schema as manifest_schema


@dataclass(frozen=True)
class FieldSpec:
    name: str
    schema_path: tuple[str, ...]
    secret: bool = False
    write_once: bool = False
    default: object = None  # what an absent value means (a checkbox left empty is False)

    @property
    def label(self) -> str:
        return manifest_schema.label(self.schema_path) or self.name


@dataclass(frozen=True)
class Kind:
    name: str
    label: str  # the AINAS screen name
    fields: tuple[FieldSpec, ...]
    rank: int  # order of work: lower first when creating, last when deleting

    def field(self, name: str) -> FieldSpec:
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise KeyError(name)


def _fields(base: tuple[str, ...], names: list[str], **flags) -> tuple[FieldSpec, ...]:
    out = []
    for name in names:
        secret = name in flags.get("secret", ())
        write_once = name in flags.get("write_once", ())
        default = flags.get("defaults", {}).get(name)
        out.append(FieldSpec(name, (*base, *name.split(".")), secret, write_once, default))
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

SESSION = Kind(
    "session",
    "パスワード更新",
    (FieldSpec("password", ("connection", "new_password"), secret=True),),
    0,
)
ORGANIZATION = Kind(
    "organization", "代理人組織", _fields(("organization",), ["name", "short_name"]), 1
)
CERTIFICATE = Kind(
    "certificate",
    "代理人証明書",
    _fields(("certificate",), [*CERTIFICATE_TYPED, "password"], secret=("password",)),
    2,
)
SITE = Kind(
    "site",
    "代理人拠点",
    _fields(("sites", "*"), SITE_FIELDS, defaults={"kei.client_receipt_selectable": False}),
    3,
)
BATCH_ACCOUNT = Kind(
    "batch_account",
    "一括利用者アカウント",
    _fields(("sites", "*", "registered", "batch_account"), BATCH_FIELDS, **BATCH_FLAGS),
    4,
)
KEI_BATCH_ACCOUNT = Kind(
    "kei_batch_account",
    "軽一括利用者アカウント",
    _fields(("sites", "*", "kei", "batch_account"), KEI_BATCH_FIELDS, **BATCH_FLAGS),
    4,
)
USER = Kind(
    "user",
    "代理人ユーザー",
    _fields(("users", "*"), USER_FIELDS, secret=("initial_password",)),
    5,  # site managers; staff users rank 6 (see rank_of)
)
ADMIN = Kind("admin", "管理者", _fields(("admins", "*"), ["name"]), 9)

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

SITE_MANAGER = "拠点管理者"
STAFF_ROLES = ("担当者(送信可)", "担当者(送信不可)")
ADMIN_ROLE = "管理者"
