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

The table is per :class:`~ainas_provision.domain.kinds.Kind` object (its screens come from the
kind); what differs between kinds is data here — a field id table, the pairs of pull-downs — never
a test of the kind's name. :class:`Labels` gives a manifest field its label as the catalogue
prints it (the local override included): the plan shows those labels.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

import ainas_catalogue
from ainas_provision.domain import kinds
from ainas_provision.domain.kinds import Kind


@dataclass(frozen=True)
class ScreenMapping:
    """One kind's manifest-field -> catalogue-field table, and its pairs of pull-downs."""

    kind: Kind
    fields: Mapping[str, str] = field(default_factory=dict)  # manifest path -> field id
    # a manifest pair (a list of two) shown as two pull-downs: manifest name -> (id, id)
    pairs: Mapping[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def create_screen(self) -> str | None:
        return self.kind.screens.create

    @property
    def update_screen(self) -> str | None:
        return self.kind.screens.update

    # computed once per mapping (cached_property writes the instance's own __dict__, which a
    # frozen dataclass allows): from_screen asks for every resource read from AINAS

    @cached_property
    def reverse(self) -> dict[str, str]:
        """field id -> manifest path; where two manifest fields share a field id (a user's
        ``password`` and ``initial_password``), the first in the table is what AINAS shows."""
        out: dict[str, str] = {}
        for manifest, screen in self.fields.items():
            out.setdefault(screen, manifest)
        return out

    @cached_property
    def paired(self) -> frozenset[str]:
        return frozenset(part for parts in self.pairs.values() for part in parts)


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

MAPPINGS: dict[str, ScreenMapping] = {
    m.kind.name: m
    for m in (
        ScreenMapping(kinds.SESSION, {"password": "password"}),
        ScreenMapping(kinds.ORGANIZATION, {"name": "name", "short_name": "short_name"}),
        ScreenMapping(
            kinds.CERTIFICATE,
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
            kinds.SITE,
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
            kinds.BATCH_ACCOUNT,
            {
                **_BATCH,
                "payment_method_national": "payment_method_national",
                "payment_method_prefectural": "payment_method_prefectural",
            },
        ),
        ScreenMapping(
            kinds.KEI_BATCH_ACCOUNT,
            {
                **_BATCH,
                "payment_method_fees": "payment_method_fees",
                "payment_method_kei_tax": "payment_method_kei_tax",
            },
        ),
        ScreenMapping(
            kinds.USER,
            {
                "login_id": "login_id",
                "name": "user_name",
                "role": "role",
                "site_id": "site",
                "password": "password",  # first: what the screens' パスワード reads back as
                "initial_password": "password",
                "default_menu": "default_menu",
            },
            PAIRS,
        ),
    )
}
DATE_FIELDS = ("start_date", "expiry_date")  # YYYY-MM-DD in the manifest, YYYY/MM/DD on screen
_ISO_DATE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})$")
_SCREEN_DATE = re.compile(r"^([0-9]{4})/([0-9]{2})/([0-9]{2})$")


def _name(kind: str | Kind) -> str:
    return kind.name if isinstance(kind, Kind) else kind


def mapping(kind: str | Kind) -> ScreenMapping:
    return MAPPINGS[_name(kind)]


def create_screen_for(kind: str | Kind, fields: Mapping[str, object]) -> str | None:
    """The registration screen of a new resource (site managers and staff have their own)."""
    return mapping(kind).kind.create_screen_for(fields)


def screen_field(kind: str | Kind, manifest_path: str) -> str:
    """The catalogue field id of a manifest field (``registered.review_deadline`` ->
    ``review_deadline``)."""
    return mapping(kind).fields.get(manifest_path, manifest_path)


def manifest_field(kind: str | Kind, field_id: str) -> str:
    """The manifest field of a catalogue field id."""
    return mapping(kind).reverse.get(field_id, field_id)


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


def to_screen(kind: str | Kind, fields: Mapping[str, object]) -> dict[str, object]:
    """The fields of a change, named and formed as the screen takes them."""
    table = mapping(kind)
    out: dict[str, object] = {}
    for name, value in fields.items():
        if name in table.pairs:
            first, second = table.pairs[name]
            pair = [*value, None, None] if isinstance(value, list | tuple) else [value, None]
            out[first], out[second] = pair[0], pair[1]
            continue
        if name in DATE_FIELDS:
            value = to_screen_date(value)
        out[table.fields.get(name, name)] = value
    return out


def from_screen(kind: str | Kind, fields: Mapping[str, object]) -> dict[str, object]:
    """What AINAS shows for a resource, named as the manifest names it."""
    table = mapping(kind)
    reverse, paired = table.reverse, table.paired
    out: dict[str, object] = {}
    for name, value in fields.items():
        if name in paired:
            continue
        if name in DATE_FIELDS:
            value = from_screen_date(value)
        out[reverse.get(name, name)] = value
    for name, (first, second) in table.pairs.items():
        if first in fields or second in fields:
            pair = (fields.get(first), fields.get(second))
            out[name] = None if pair == (None, None) else list(pair)
    return out


class Projection:
    """Some manifest fields of what AINAS shows, read straight from the screen's fields:
    ``Projection(kind, names)(item)`` equals ``{n: from_screen(kind, item).get(n) for n in names}``
    without renaming every field of ``item`` first. A tenant's 20,000 users are read this way at
    every plan.

    Each manifest field has one screen field it comes from (its id, or a pair of pull-downs). A
    screen field the table does not know passes through under its own name, and so may stand
    for a manifest field that also has a mapped source (a literal ``name`` beside ``user_name``):
    an item holding such a key is read by :func:`from_screen` itself, where the last one wins.
    """

    def __init__(self, kind: str | Kind, names: tuple[str, ...]) -> None:
        table = mapping(kind)
        self.kind = kind
        self.names = names
        reverse, paired = table.reverse, table.paired
        produced = set(reverse.values()) | set(table.pairs)
        # screen fields that would pass through as a manifest field with a mapped source
        self.ambiguous = frozenset(
            name for name in produced if name not in reverse and name not in paired
        )
        plan: list[tuple[str, str | None, tuple[str, str] | None, bool]] = []
        for name in names:
            pair = table.pairs.get(name)
            if pair is not None:
                plan.append((name, None, pair, False))
                continue
            source = table.fields.get(name)
            if source is None or reverse.get(source) != name:
                # not mapped: a screen field of the same name, unless that one means another
                source = name if name not in reverse and name not in paired else None
            plan.append((name, source, None, source in DATE_FIELDS))
        self.plan = tuple(plan)

    def __call__(self, item: Mapping[str, object]) -> dict[str, object]:
        if not self.ambiguous.isdisjoint(item):
            named = from_screen(self.kind, item)
            return {name: named.get(name) for name in self.names}
        out: dict[str, object] = {}
        get = item.get
        for name, source, pair, date in self.plan:
            if pair is not None:
                first, second = get(pair[0]), get(pair[1])
                out[name] = None if first is None and second is None else [first, second]
            elif date:
                out[name] = from_screen_date(get(source))
            else:
                out[name] = get(source) if source is not None else None
        return out


class Labels:
    """Manifest fields labelled as the screen catalogue prints them.

    A field's label is the one of its catalogue field on the kind's registration screen(s), else
    its update screen; a pair of pull-downs (デフォルト申請先(都道府県), デフォルト申請先(運輸支局等)) is
    labelled by what the two share (デフォルト申請先). A field on no screen (an admin's name, which
    the tool only reads) keeps the manifest schema's title. Built from the catalogue in force —
    with the local override file — so that a label corrected there is the one the plan shows.
    Labels are looked up once per kind and field.
    """

    def __init__(self, catalogue: ainas_catalogue.Catalogue | None = None) -> None:
        self.catalogue = catalogue or ainas_catalogue.load()
        self._known: dict[tuple[str, str], str] = {}

    @classmethod
    def for_directory(
        cls, directory: os.PathLike | str | None, environ: Mapping[str, str] | None = None
    ) -> Labels:
        """The labels as seen from a manifest directory (its override, or the one named by
        ``AINAS_SCREENS_FILE``); raises :class:`ainas_catalogue.CatalogueError`."""
        return cls(ainas_catalogue.for_directory(directory, environ))

    def of(self, kind: str | Kind, name: str) -> str:
        kind = kinds.KINDS[kind] if isinstance(kind, str) else kind
        key = (kind.name, name)
        label = self._known.get(key)
        if label is None:
            label = self._known[key] = self._look_up(kind, name)
        return label

    def _look_up(self, kind: Kind, name: str) -> str:
        table = MAPPINGS.get(kind.name)
        if table is not None:
            ids = table.pairs.get(name) or (table.fields.get(name, name),)
            screens = (kind.screens.create, kind.screens.create_site_manager, kind.screens.update)
            for screen_id in screens:
                if screen_id is None:
                    continue
                screen = self.catalogue.screen(screen_id)
                labels = [screen.field(i).label for i in ids if screen.has(i)]
                if len(labels) == len(ids):
                    return _shared(labels)
        try:
            return kind.field(name).label
        except KeyError:
            return name  # a field AINAS shows that the manifests never name


def _shared(labels: list[str]) -> str:
    """One label for fields shown together: their common beginning, without an open bracket."""
    if len(labels) == 1:
        return labels[0]
    size = 0
    while all(len(label) > size and label[size] == labels[0][size] for label in labels):
        size += 1
    shared = labels[0][:size].rstrip("(（ ")
    return shared or labels[0]
