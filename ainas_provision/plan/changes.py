"""Changes: small value classes a plan is made of.

A :class:`Change` says what will happen to one resource (its address, e.g. ``site.akihabara``),
field by field with the AINAS label of each field. A sensitive field shows as ``(sensitive)``:
its value is never in a change; what is kept is a keyed fingerprint of the value to send, so
that applying a saved plan can check the secret did not change since. Sorting changes orders
the work: the session first, then the certificate, sites, batch accounts, site managers, staff
users — and deletions in the reverse order, after everything else.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from string import Formatter

from ainas_provision.domain.kinds import KINDS, Kind
from ainas_provision.i18n import LANGUAGES, _, translation

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
    """One field of a change: its old and new values (a sensitive one is never shown)."""

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
    fingerprint of its value. ``live_id`` is AINAS's ID of an existing resource.

    Its note, as a :class:`Note`'s text, is language-neutral data: ``note_template`` (the English
    text marked with ``N_()``, with ``{named}`` placeholders) and ``note_args`` (the values that
    fill them), which a saved plan keeps and its digest covers; :attr:`note` renders them in the
    run's language."""

    action: str  # create | renew | update | adopt | replace | delete
    kind: str
    key: str = ""
    title: str = ""
    live_id: str | None = None
    fields: list[FieldChange] = field(default_factory=list)
    payload: dict = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    depends_on: list[str] = field(default_factory=list)
    note_template: str | None = None
    note_args: dict[str, str] = field(default_factory=dict)

    @property
    def note(self) -> str | None:
        """The change's note in the run's language, if it has one."""
        if self.note_template is None:
            return None
        return _(self.note_template).format(**self.note_args)

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
        """The saved form: :meth:`neutral_json` and the ``note`` in the run's language."""
        return {**self.neutral_json(), "note": self.note}

    def neutral_json(self) -> dict:
        """The saved form without the rendered ``note``: what a digest covers and what a saved
        plan is compared by (the same in every language)."""
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
            "note_template": self.note_template,
            "note_args": dict(self.note_args),
        }

    @classmethod
    def from_json(cls, data: dict) -> Change:
        if data.get("action") not in SYMBOLS or data.get("kind") not in KINDS:
            raise ValueError(
                _("unknown change {action} of {kind}").format(
                    action=repr(data.get("action")), kind=repr(data.get("kind"))
                )
            )
        template, args = data.get("note_template"), data.get("note_args")
        refusal = _("its changes' notes are not in the form `plan --out` writes")
        if template is None:
            if args != {} or data.get("note", "") is not None:
                raise ValueError(refusal)
        else:
            _check_template(template, args, refusal)
            _check_rendered(template, args, data.get("note"), refusal)
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
            note_template=template,
            note_args=dict(args),
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
        refusal = _("its notes are not in the form `plan --out` writes")
        if not (level in ("info", "warning") and isinstance(address, str)):
            raise ValueError(refusal)
        _check_template(template, args, refusal)
        _check_rendered(template, args, data.get("message"), refusal)
        return cls(level, address, template, dict(args))


class PlanError(str):
    """Why a plan cannot be applied (a write-once change, an ambiguous adoption, a change the
    acting user may not make): the text in the run's language, kept with what makes it.

    As a :class:`Note`'s text, an error is language-neutral data: ``template``, the English text
    marked with ``N_()`` with ``{named}`` placeholders, and ``args``, the values that fill them —
    what a saved plan keeps and its digest covers. The error is the ``str`` of its rendering in
    the language of the run that made or loaded it, so that it is shown, compared and joined as
    the text it says."""

    template: str
    args: dict[str, str]

    def __new__(cls, template: str, args: dict[str, str] | None = None) -> PlanError:
        args = dict(args or {})
        # (the empty text is the catalog's header to gettext)
        self = super().__new__(cls, _(template).format(**args) if template else "")
        self.template, self.args = template, args
        return self

    def __getnewargs__(self) -> tuple:  # copied and pickled by what makes it
        return (self.template, self.args)

    @classmethod
    def plain(cls, text: str) -> PlanError:
        """An error that is only its text (not in the catalog: shown as it is)."""
        return text if isinstance(text, PlanError) else cls(
            text.replace("{", "{{").replace("}", "}}")
        )

    def to_json(self) -> dict:
        """The neutral form a plan keeps: the template and the values that fill it."""
        return {"template": self.template, "args": dict(self.args)}

    @classmethod
    def from_json(cls, data: object, text: object) -> PlanError:
        """The error a plan file keeps as ``data`` (its template and arguments, refused unless
        safe to render) and shows as ``text`` (in the language of the run that wrote it: not
        covered by the digest, so refused unless it is what the template and arguments say)."""
        refusal = _("its errors are not in the form `plan --out` writes")
        if not isinstance(data, dict) or set(data) != {"template", "args"}:
            raise ValueError(refusal)
        template, args = data["template"], data["args"]
        _check_template(template, args, refusal)
        _check_rendered(template, args, text, refusal)
        return cls(template, args)


def _check_template(template: object, args: object, refusal: str) -> None:
    """Refuse (``ValueError(refusal)``) a note's template and arguments read from a plan file
    unless the template is text with only plain named placeholders, each with its value, and
    the arguments are text: a file cannot make the rendering reach into an attribute, or fail
    when it is shown."""
    if not (
        isinstance(template, str)
        and isinstance(args, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in args.items())
    ):
        raise ValueError(refusal)
    try:
        parsed = list(Formatter().parse(template))
    except ValueError:  # an unmatched brace
        raise ValueError(refusal) from None
    for _text, name, spec, conversion in parsed:
        if name is not None and (
            not name.isidentifier() or name not in args or spec or conversion is not None
        ):
            raise ValueError(refusal)


def _check_rendered(template: str, args: dict[str, str], text: object, refusal: str) -> None:
    """Refuse a note's text read from a plan file unless it is what its template and arguments
    say in one of the languages: the text is not covered by the digest (it is in the language
    of the run that wrote the file), so it is checked against what makes it instead."""
    if not any(text == catalog.gettext(template).format(**args) for catalog in _catalogs()):
        raise ValueError(refusal)


@functools.cache
def _catalogs() -> tuple:
    """The catalog of each language (looked up once: a plan of 20,000 users has as many
    notes)."""
    return tuple(translation(language) for language in LANGUAGES)
