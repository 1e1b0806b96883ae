"""Changes: small value classes a plan is made of.

A :class:`Change` says what will happen to one resource (its address, e.g. ``site.akihabara``),
field by field with the AINAS label of each field. A sensitive field shows as ``(sensitive)``:
its value is never in a change; what is kept is a keyed fingerprint of the value to send, so
that applying a saved plan can check the secret did not change since. Sorting changes orders
the work: the session first, then the certificate, sites, batch accounts, site managers, staff
users — and deletions in the reverse order, after everything else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from string import Formatter

from ainas_provision.domain.kinds import KINDS, Kind
from ainas_provision.i18n import _

SYMBOLS = {
    "create": "+",
    "renew": "+",
    "update": "~",
    "adopt": "<=",
    "replace": "-/+",
    "delete": "-",
}
SENSITIVE = "(sensitive)"


@dataclass
class FieldChange:
    name: str
    label: str
    old: object = None
    new: object = None
    sensitive: bool = False

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "label": self.label,
            "old": SENSITIVE if self.sensitive and self.old is not None else self.old,
            "new": SENSITIVE if self.sensitive and self.new is not None else self.new,
            "sensitive": self.sensitive,
        }

    @classmethod
    def from_json(cls, data: dict) -> FieldChange:
        sensitive = bool(data.get("sensitive"))
        old, new = data.get("old"), data.get("new")
        return cls(data["name"], data["label"], old, new, sensitive)


@dataclass
class Change:
    """One resource's change. ``payload`` holds the non-secret values to send (all of them for a
    create, the changed ones for an update); ``secrets`` maps each secret field to send to the
    fingerprint of its value. ``live_id`` is AINAS's ID of an existing resource."""

    action: str  # create | renew | update | adopt | replace | delete
    kind: str
    key: str = ""
    title: str = ""
    live_id: str | None = None
    fields: list[FieldChange] = field(default_factory=list)
    payload: dict = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    depends_on: list[str] = field(default_factory=list)
    note: str | None = None

    @property
    def address(self) -> str:
        return f"{self.kind}.{self.key}" if self.key else self.kind

    @property
    def symbol(self) -> str:
        return SYMBOLS[self.action]

    @property
    def is_deletion(self) -> bool:
        """Deletes and replaces remove a resource from AINAS (a replaced user loses its
        history); both count against ``max_deletes``."""
        return self.action in ("delete", "replace")

    @property
    def spec(self) -> Kind:
        """The kind of resource it changes."""
        return KINDS[self.kind]

    @property
    def rank(self) -> int:
        return self.spec.rank_of(self.action, self.payload)

    def __lt__(self, other: Change) -> bool:
        return (self.rank, self.address) < (other.rank, other.address)

    def __repr__(self) -> str:
        return f"<{self.action} {self.address}>"

    def to_json(self) -> dict:
        return {
            "address": self.address,
            "action": self.action,
            "kind": self.kind,
            "key": self.key,
            "title": self.title,
            "live_id": self.live_id,
            "fields": [f.to_json() for f in self.fields],
            "payload": self.payload,
            "secret_fingerprints": self.secrets,
            "depends_on": self.depends_on,
            "note": self.note,
        }

    @classmethod
    def from_json(cls, data: dict) -> Change:
        if data.get("action") not in SYMBOLS or data.get("kind") not in KINDS:
            raise ValueError(f"unknown change {data.get('action')!r} of {data.get('kind')!r}")
        return cls(
            action=data["action"],
            kind=data["kind"],
            key=data.get("key", ""),
            title=data.get("title", ""),
            live_id=data.get("live_id"),
            fields=[FieldChange.from_json(f) for f in data.get("fields", [])],
            payload=dict(data.get("payload") or {}),
            secrets=dict(data.get("secret_fingerprints") or {}),
            depends_on=list(data.get("depends_on") or []),
            note=data.get("note"),
        )


@dataclass
class Note:
    """Something a reviewer should know that is not a change: drift in what the association
    controls, a live resource the tool does not manage, a secret it cannot verify.

    A note is kept as language-neutral data: ``template``, the English text marked with
    ``N_()`` for the catalog, with ``{named}`` placeholders, and ``args``, the values that fill
    them. A saved plan holds these two (its digest covers them), and :attr:`message` renders
    them in the run's language when the plan is shown — so that a plan saved under ``--lang ja``
    is the same plan, with the same digest, when it is applied in English."""

    level: str  # info | warning
    address: str
    template: str
    args: dict[str, str] = field(default_factory=dict)

    @property
    def message(self) -> str:
        """The note in the run's language."""
        return _(self.template).format(**self.args)

    def to_json(self) -> dict:
        return {
            "level": self.level,
            "address": self.address,
            "message": self.message,
            "template": self.template,
            "args": dict(self.args),
        }

    @classmethod
    def from_json(cls, data: dict) -> Note:
        level, address, template = data["level"], data["address"], data["template"]
        args = data.get("args")
        if not (
            level in ("info", "warning")
            and isinstance(address, str)
            and isinstance(template, str)
            and isinstance(args, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in args.items())
        ):
            raise ValueError(_("its notes are not in the form `plan --out` writes"))
        # only plain named placeholders, each with its value: a file cannot make the rendering
        # reach into an attribute, or fail when it is shown
        for _text, name, spec, conversion in Formatter().parse(template):
            if name is not None and (
                not name.isidentifier() or name not in args or spec or conversion is not None
            ):
                raise ValueError(_("its notes are not in the form `plan --out` writes"))
        return cls(level, address, template, dict(args))
