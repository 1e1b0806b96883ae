"""The plan: what will change, what a reviewer should know, and whether it may be applied.

Guard rails live here, checked before anything is sent: a plan with errors (a write-once field
changed, an ambiguous adoption, a change the acting user may not make) is refused; a plan with
more deletions than ``policy.max_deletes`` is refused unless ``--allow-deletes N`` allows them.
A saved plan records the state's lineage and serial and digests of the target and of the
manifests, so that applying it later is refused when anything moved.

What is reviewed is what is applied. A saved plan carries its own digest (SHA-256 of its
canonical JSON, every key but the digest itself, the notes' messages, the changes' notes and the
errors' texts — each is kept as its template and arguments, rendered in the language of the run
that shows it);
loading a file whose content does not match its digest is refused, and the text and markdown
renderings print it, so that a CI job can check that the plan a person reviewed and the file it
applies are the same plan (``apply --expect-digest``). A saved plan is never trusted for what it says: ``apply --plan`` makes the
plan afresh and applies it only if the saved changes are the fresh ones, change by change
(:func:`first_difference`); the guard rails (errors, ``max_deletes``) are the fresh plan's, from
the manifests' policy, never the file's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ainas_provision.atomic import write_atomically
from ainas_provision.errors import AinasProvisionError
from ainas_provision.files import read_regular
from ainas_provision.i18n import _, ngettext
from ainas_provision.plan.changes import Change, Note, PlanError

FORMAT_VERSION = 1
MAX_PLAN_BYTES = 512 * 1024 * 1024  # a saved plan is read whole, and only a regular file


class PlanRefused(AinasProvisionError):
    """The plan cannot be applied; the message says why and what to do."""


@dataclass
class Plan:
    """The changes a run would make, what they were decided against, and their digest."""

    changes: list[Change] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    # each a PlanError: its text in the run's language, kept as its template and arguments
    errors: list[str] = field(default_factory=list)
    target: dict = field(default_factory=dict)  # {"kind", "location", "organization_id"}
    target_description: str = ""  # the target for people ("embedded sandbox …"), from its type
    lineage: str = ""
    serial: int = 0
    target_digest: str = ""
    manifest_digest: str = ""
    key_check: str | None = None
    max_deletes: int = 0
    scope: list[str] | None = None  # site handles, when limited with --site
    created_at: str = field(
        default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    )
    # set when the plan could not look past a first step (a forced password change)
    incomplete: str | None = None
    # state entries of managed resources that no longer exist in AINAS: dropped on apply
    forget: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        # the order of Change.__lt__, each change's key computed once rather than per comparison
        self.changes.sort(key=_order)
        self.errors = [PlanError.plain(error) for error in self.errors]

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    @property
    def deletions(self) -> list[Change]:
        return [c for c in self.changes if c.is_deletion]

    def counts(self) -> dict[str, int]:
        counts = {"add": 0, "change": 0, "replace": 0, "destroy": 0, "adopt": 0}
        for change in self.changes:
            if change.action in ("create", "renew"):
                counts["add"] += 1
            elif change.action == "update":
                counts["change"] += 1
            elif change.action == "replace":
                counts["replace"] += 1
            elif change.action == "delete":
                counts["destroy"] += 1
            elif change.action == "adopt":
                counts["adopt"] += 1
        return counts

    def raise_if_unsafe(self, allow_deletes: int | None = None) -> None:
        """Refuse a plan with errors, or with more deletions than allowed."""
        if self.errors:
            raise PlanRefused(
                _("the plan cannot be applied:\n{errors}\nnothing was changed").format(
                    errors="\n".join(f"  - {error}" for error in self.errors)
                )
            )
        limit = self.max_deletes if allow_deletes is None else allow_deletes
        deletions = self.deletions
        if len(deletions) > limit:
            listed = ", ".join(c.address for c in deletions[:10])
            if len(deletions) > 10:
                listed = _("{listed} and {more} more").format(
                    listed=listed, more=len(deletions) - 10
                )
            raise PlanRefused(
                ngettext(
                    "the plan deletes {count} resource ({listed}), more than policy.max_deletes "
                    "({max_deletes}) allows; review them, then run again with --allow-deletes "
                    "{count}",
                    "the plan deletes {count} resources ({listed}), more than policy.max_deletes "
                    "({max_deletes}) allows; review them, then run again with --allow-deletes "
                    "{count}",
                    len(deletions),
                ).format(count=len(deletions), listed=listed, max_deletes=self.max_deletes)
            )

    # -- the saved form --------------------------------------------------------------------
    def digest(self) -> str:
        """``sha256:…`` of the plan's canonical JSON (every key of :meth:`to_json` but the
        digest itself, the notes' messages and the changes' notes, which are in the run's
        language): what a reviewer and an apply compare. Hashed change by change: the same value
        as :func:`content_digest` of the whole, without building it."""
        head = self._content(changes=[])
        hasher = hashlib.sha256()
        prefix, suffix = _canonical_around_changes(head)
        hasher.update(prefix)
        for index, change in enumerate(self.changes):
            hasher.update(b"," if index else b"")
            hasher.update(_canonical(change.neutral_json()).encode("utf-8"))
        hasher.update(suffix)
        return "sha256:" + hasher.hexdigest()

    def to_json(self) -> dict:
        content = self._content()
        return {**content, "digest": content_digest(content)}

    def json_chunks(self) -> Iterator[str]:
        """The text of ``json.dumps(self.to_json(), ensure_ascii=False, indent=2)``, in pieces
        of one change each, the digest computed on the way: a plan of 20,000 users is written
        without holding all its changes as JSON at once (a test checks the text is the same)."""
        head = self._content(changes=[])
        hasher = hashlib.sha256()
        prefix, suffix = _canonical_around_changes(head)
        hasher.update(prefix)
        yield "{"
        for position, (key, value) in enumerate(head.items()):
            yield f"{',' if position else ''}\n  {_pretty(key)}: "
            if key != "changes" or not self.changes:
                yield _pretty(value).replace("\n", "\n  ")
                continue
            for index, change in enumerate(self.changes):
                neutral = change.neutral_json()
                data = {**neutral, "note": change.note}  # change.to_json(), built once
                hasher.update(b"," if index else b"")
                hasher.update(_canonical(neutral).encode("utf-8"))
                yield ("," if index else "[") + "\n    " + _pretty(data).replace("\n", "\n    ")
            yield "\n  ]"
        hasher.update(suffix)
        yield f',\n  "digest": {_pretty("sha256:" + hasher.hexdigest())}\n}}'

    def _content(self, changes: list | None = None) -> dict:
        """Every key of the saved form but the digest; ``changes`` stands for the list of
        changes when given (the streamed forms fill it in themselves)."""
        return {
            "format_version": FORMAT_VERSION,
            "created_at": self.created_at,
            "target": self.target,
            "target_description": self.target_description,
            "state": {"lineage": self.lineage, "serial": self.serial, "key_check": self.key_check},
            "target_digest": self.target_digest,
            "manifest_digest": self.manifest_digest,
            "max_deletes": self.max_deletes,
            "scope": self.scope,
            "incomplete": self.incomplete,
            "forget": [list(item) for item in self.forget],
            "summary": self.counts(),
            "changes": [c.to_json() for c in self.changes] if changes is None else changes,
            "notes": [n.to_json() for n in self.notes],
            "errors": [str(error) for error in self.errors],
            "error_templates": [error.to_json() for error in self.errors],
        }

    @classmethod
    def from_json(cls, data: dict) -> Plan:
        if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
            raise ValueError(_("not a plan file of this version"))
        saved = data.get("digest")
        if not isinstance(saved, str):
            raise ValueError(_("it has no digest: make a new plan with this version"))
        content = {key: value for key, value in data.items() if key != "digest"}
        if content_digest(content) != saved:
            raise PlanEdited(
                _(
                    "its content does not match its digest: the file was changed after "
                    "`plan --out` saved it; make a new plan and review it"
                )
            )
        state = _typed(data.get("state"), dict, "state")
        target = _typed(data.get("target"), dict, "target")
        if not all(isinstance(value, str) for value in target.values()):
            raise ValueError(_("its target is not a kind, a location and an organization"))
        scope = _typed(data.get("scope"), (list, type(None)), "scope")
        if scope is not None and not all(isinstance(handle, str) for handle in scope):
            raise ValueError(_("its scope is not a list of site handles"))
        plan = cls(
            changes=[Change.from_json(c) for c in _typed(data.get("changes"), list, "changes")],
            notes=[Note.from_json(n) for n in _typed(data.get("notes"), list, "notes")],
            errors=_errors(
                _typed(data.get("errors"), list, "errors"),
                _typed(data.get("error_templates"), list, "error_templates"),
            ),
            target=target,
            target_description=_typed(
                data.get("target_description"), str, "target_description"
            ),
            lineage=_typed(state.get("lineage"), str, "state.lineage"),
            serial=_typed(state.get("serial"), int, "state.serial"),
            key_check=_typed(state.get("key_check"), (str, type(None)), "state.key_check"),
            target_digest=_typed(data.get("target_digest"), str, "target_digest"),
            manifest_digest=_typed(data.get("manifest_digest"), str, "manifest_digest"),
            max_deletes=_typed(data.get("max_deletes"), int, "max_deletes"),
            scope=scope,
            created_at=_typed(data.get("created_at"), str, "created_at"),
            incomplete=_typed(data.get("incomplete"), (str, type(None)), "incomplete"),
            forget=[tuple(item) for item in _typed(data.get("forget"), list, "forget")],
        )
        # a shape this version does not write (the notes' messages and the changes' notes are in
        # the language of the run that saved it: made again in this run's, they are compared by
        # what makes them)
        if _digested(plan._content()) != _digested(content):
            raise ValueError(_("its content is not in the form `plan --out` writes"))
        return plan

    def save(self, path: Path) -> None:
        write_atomically(path, json.dumps(self.to_json(), ensure_ascii=False, indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> Plan:
        try:
            data = json.loads(read_regular(Path(path), limit=MAX_PLAN_BYTES).decode("utf-8"))
            return cls.from_json(data)
        except FileNotFoundError:
            raise AinasProvisionError(_("no such plan file: {path}").format(path=path)) from None
        except PlanEdited as exc:
            raise PlanRefused(
                _("the plan {path} is refused: {reason}; nothing was changed").format(
                    path=path, reason=exc
                )
            ) from None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise AinasProvisionError(
                _("{path} is not a plan saved by `ainas-provision plan --out` ({reason})").format(
                    path=path, reason=exc
                )
            ) from None


def _errors(texts: list, neutral: list) -> list[str]:
    """A plan file's errors: each text (in the language of the run that wrote it) with the
    template and arguments that make it."""
    if len(texts) != len(neutral):
        raise ValueError(_("its errors are not in the form `plan --out` writes"))
    return [PlanError.from_json(data, text) for text, data in zip(texts, neutral, strict=True)]


def _typed(value, types, name: str):
    if not isinstance(value, types) or (isinstance(value, bool) and types is int):
        raise ValueError(_("its {name} is missing or of the wrong type").format(name=name))
    return value


class PlanEdited(ValueError):
    """A saved plan whose content does not match its digest."""


# json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")) without making
# an encoder per call (the digest encodes each change of a 20,000-user plan)
_canonical = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode


def _order(change: Change) -> tuple[int, str]:
    return (change.rank, change.address)


def _pretty(value) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)


def _digested(content: dict) -> dict:
    """What a digest covers: ``content`` without its notes' ``message``, its changes' ``note``
    and its ``errors`` — a note's or an error's text in the language of the run that wrote the
    file, made from the template and arguments, which are covered (``error_templates`` for the
    errors), so a plan has one digest in every language."""
    return {
        **{key: value for key, value in content.items() if key != "errors"},
        **{
            key: [_without(item, text) for item in content[key]]
            for key, text in (("notes", "message"), ("changes", "note"))
            if isinstance(content.get(key), list)
        },
    }


def _without(item: object, key: str) -> object:
    return {k: v for k, v in item.items() if k != key} if isinstance(item, dict) else item


def _canonical_around_changes(head: dict) -> tuple[bytes, bytes]:
    """The canonical JSON of ``head`` (as digested) before and after the items of its
    ``changes`` list."""
    head = _digested(head)
    keys = sorted(head)
    before = "".join(f"{_canonical(k)}:{_canonical(head[k])}," for k in keys if k < "changes")
    after = "".join(f",{_canonical(k)}:{_canonical(head[k])}" for k in keys if k > "changes")
    return f'{{{before}"changes":['.encode(), f"]{after}}}".encode()


def content_digest(content: dict) -> str:
    """SHA-256 of a plan's content in canonical form (sorted keys, no spaces, UTF-8), its
    notes' messages and its changes' notes left out (:func:`_digested`)."""
    text = json.dumps(_digested(content), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def first_difference(saved: Plan, fresh: Plan) -> str | None:
    """Where a saved plan departs from the plan made afresh from the same manifests, state and
    target: the first change (in the plan's order) that differs, is missing or is extra, by its
    address and the first differing key; None when they are the same plan. Values are never
    named: a difference is shown by where it is, not by what it holds."""
    for index in range(max(len(saved.changes), len(fresh.changes))):
        if index >= len(saved.changes):
            lacking = fresh.changes[index]
            return _("it lacks the change {address} ({action})").format(
                address=lacking.address, action=lacking.action
            )
        if index >= len(fresh.changes):
            extra = saved.changes[index]
            return _("its change {address} ({action}) is not one the manifests make").format(
                address=extra.address, action=extra.action
            )
        # compared by what makes each note, not by its text in the language of either run
        old, new = saved.changes[index].neutral_json(), fresh.changes[index].neutral_json()
        if old != new:
            if old.get("address") != new.get("address"):
                return _("change {number} is {saved} in the file, {fresh} afresh").format(
                    number=index + 1, saved=old.get("address"), fresh=new.get("address")
                )
            return _("change {address} differs at {key}").format(
                address=new["address"], key=_first_key(old, new)
            )
    old_json, new_json = saved._content(), fresh._content()
    for key in dict.fromkeys([*old_json, *new_json]):
        # the target's description is its `target` (compared) said for people, and the errors'
        # texts are their `error_templates` (compared), in the language of the run that made
        # the plan: a plan saved in Japanese applies in English
        skipped = ("changes", "created_at", "target_description", "errors")
        if key not in skipped and old_json.get(key) != new_json.get(key):
            return _("its '{key}' differs from the fresh plan's").format(key=key)
    return None


def _first_key(old: object, new: object, path: str = "") -> str:
    """The first JSON path where two values differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            if old.get(key) != new.get(key):
                return _first_key(old.get(key), new.get(key), f"{path}.{key}" if path else key)
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            if a != b:
                return _first_key(a, b, f"{path}[{index}]")
    return path or _("(the whole change)")
