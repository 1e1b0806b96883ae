"""Manifest fields and AINAS screen fields, mapped both ways.

The tool names a resource's fields by their path in the manifest (``registered.review_deadline``,
``initial_password``); AINAS — and the emulator, the browser, the runbook — by the screen catalogue's
field ids (``review_deadline`` on 代理人拠点登録, ``password`` on 代理人担当者ユーザー登録). This
module is the one table between the two, with the few value forms that differ:

- 利用開始日: the manifest's ``2026-12-01``, the screen's ``2026/12/01``;
- デフォルト申請先 and 軽デフォルト申請先: one ``[prefecture, office]`` pair in the manifest, two
  pull-downs on the screen.

:func:`to_screen` turns the fields of a change into what a screen (or the JSON API, which speaks
the catalogue's names) takes; :func:`from_screen` turns what AINAS shows back into manifest names.
Fields a screen does not know pass through unchanged (e.g. the 拠点ID, the login ID of a listing).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ScreenMapping:
    """One kind's screens and its manifest-field -> catalogue-field table."""

    kind: str
    create_screen: str | None
    update_screen: str | None
    fields: Mapping[str, str] = field(default_factory=dict)  # manifest path -> field id

    @property
    def reverse(self) -> dict[str, str]:
        return {screen: manifest for manifest, screen in self.fields.items()}


_BATCH = {
    name: name
    for name in (
        "payment_user_id",
        "batch_user_id",
        "batch_password",
        "arrival_number_password",
        "email",
        "contact_name",
        "phone",
    )
}

MAPPINGS: dict[str, ScreenMapping] = {
    m.kind: m
    for m in (
        ScreenMapping("session", None, "password_update", {"password": "password"}),
        ScreenMapping(
            "organization",
            None,
            "organization_update",
            {"name": "name", "short_name": "short_name"},
        ),
        ScreenMapping(
            "certificate",
            "certificate_register",
            "certificate_update",
            {
                "p12": "file",
                "password": "password",
                "trade_name_kana": "trade_name_kana",
                "representative_name_kana": "representative_name_kana",
                "postal_code": "postal_code",
                "address_building": "address_building",
                "start_date": "start_date",
            },
        ),
        ScreenMapping(
            "site",
            "site_register",
            "site_update",
            {
                "name": "site_name",
                "short_name": "site_short_name",
                "code": "site_code",
                "storage_sticker_receipt": "storage_sticker_receipt",
                "registered.certificate_manager_name": "certificate_manager_name",
                "registered.review_deadline": "review_deadline",
                "registered.commission_number": "commission_number",
                "registered.inspection_ecert_update": "inspection_ecert_update",
                "registered.interim_ecert_update": "interim_ecert_update",
                "kei.certificate_manager_name": "kei_certificate_manager_name",
                "kei.certificate_manager_number": "kei_certificate_manager_number",
                "kei.review_deadline": "kei_review_deadline",
                "kei.default_receipt": "kei_default_receipt",
                "kei.client_receipt_selectable": "kei_client_receipt_selectable",
                "kei.inspection_ecert_update": "kei_inspection_ecert_update",
            },
        ),
        ScreenMapping(
            "batch_account",
            "batch_account_register",
            "batch_account_update",
            {
                **_BATCH,
                "payment_method_national": "payment_method_national",
                "payment_method_prefectural": "payment_method_prefectural",
            },
        ),
        ScreenMapping(
            "kei_batch_account",
            "kei_batch_account_register",
            "kei_batch_account_update",
            {
                **_BATCH,
                "payment_method_fees": "payment_method_fees",
                "payment_method_kei_tax": "payment_method_kei_tax",
            },
        ),
        ScreenMapping(
            "user",
            "staff_register",  # 拠点管理者: site_manager_register (see create_screen_for)
            "user_update",
            {
                "login_id": "login_id",
                "name": "user_name",
                "role": "role",
                "site_id": "site",
                "password": "password",
                "initial_password": "password",
                "default_menu": "default_menu",
            },
        ),
    )
}

# one manifest pair, two pull-downs on the screen
PAIRS = {
    "default_destination": (
        "default_destination_prefecture",
        "default_destination_office",
    ),
    "kei_default_destination": (
        "kei_default_destination_prefecture",
        "kei_default_destination_office",
    ),
}
SITE_MANAGER = "拠点管理者"
DATE_FIELDS = ("start_date", "expiry_date")  # YYYY-MM-DD in the manifest, YYYY/MM/DD on screen
_ISO_DATE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})$")
_SCREEN_DATE = re.compile(r"^([0-9]{4})/([0-9]{2})/([0-9]{2})$")


def mapping(kind: str) -> ScreenMapping:
    return MAPPINGS[kind]


def create_screen_for(kind: str, fields: Mapping[str, object]) -> str | None:
    """The registration screen of a new resource: site managers and staff have their own."""
    if kind == "user" and fields.get("role") == SITE_MANAGER:
        return "site_manager_register"
    return MAPPINGS[kind].create_screen


def screen_field(kind: str, manifest_path: str) -> str:
    """The catalogue field id of a manifest field (``registered.review_deadline`` ->
    ``review_deadline``)."""
    return MAPPINGS[kind].fields.get(manifest_path, manifest_path)


def manifest_field(kind: str, field_id: str) -> str:
    """The manifest field of a catalogue field id."""
    if kind == "user" and field_id == "password":
        return "password"
    return MAPPINGS[kind].reverse.get(field_id, field_id)


def to_screen_date(value: object) -> object:
    """``2026-12-01`` -> ``2026/12/01``; anything else as it is (the screen refuses it)."""
    if isinstance(value, str):
        match = _ISO_DATE.match(value)
        if match:
            return "/".join(match.groups())
    return value


def from_screen_date(value: object) -> object:
    if isinstance(value, str):
        match = _SCREEN_DATE.match(value)
        if match:
            return "-".join(match.groups())
    return value


def to_screen(kind: str, fields: Mapping[str, object]) -> dict[str, object]:
    """The fields of a change, named and formed as the screen takes them."""
    table = MAPPINGS[kind].fields
    out: dict[str, object] = {}
    for name, value in fields.items():
        if name in PAIRS and kind == "user":
            first, second = PAIRS[name]
            pair = [*value, None, None] if isinstance(value, list | tuple) else [value, None]
            out[first], out[second] = pair[0], pair[1]
            continue
        if name in DATE_FIELDS:
            value = to_screen_date(value)
        out[table.get(name, name)] = value
    return out


def from_screen(kind: str, fields: Mapping[str, object]) -> dict[str, object]:
    """What AINAS shows for a resource, named as the manifest names it."""
    reverse = MAPPINGS[kind].reverse
    if kind == "user":
        reverse = {**reverse, "password": "password"}
    out: dict[str, object] = {}
    paired = {part for parts in PAIRS.values() for part in parts}
    for name, value in fields.items():
        if kind == "user" and name in paired:
            continue
        if name in DATE_FIELDS:
            value = from_screen_date(value)
        out[reverse.get(name, name)] = value
    if kind == "user":
        for name, (first, second) in PAIRS.items():
            if first in fields or second in fields:
                pair = (fields.get(first), fields.get(second))
                out[name] = None if pair == (None, None) else list(pair)
    return out
