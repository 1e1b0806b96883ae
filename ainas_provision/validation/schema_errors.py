"""JSON Schema errors, turned into diagnostics a person can act on.

The compiled validator decides (see :func:`ainas_provision.schema.is_valid`); for a file it
rejects, the pure-Python ``jsonschema`` walks the errors and this module says them in the
manifest's terms: the place (mapped back through
the loader's marks), the AINAS label of the field, a "did you mean" for unknown keys and
selections, and, for values the schema marks with ``x-ainas-rule``, the rule's own explanation.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections import defaultdict
from typing import TYPE_CHECKING

from ainas_provision import schema as manifest_schema
from ainas_provision.diagnostics import Diagnostic, dotted
from ainas_provision.i18n import N_, _
from ainas_provision.manifest.loader import Document
from ainas_provision.manifest.marks import Mark, key_mark_of, locate, raw_of
from ainas_provision.validation.rules import every_rule

if TYPE_CHECKING:
    import jsonschema

RULES = every_rule()  # each value rule's explanation is looked up here

_TYPE_WORDS = {
    "string": N_("text"),
    "integer": N_("a whole number"),
    "number": N_("a number"),
    "boolean": N_("true or false"),
    "object": N_("a mapping"),
    "array": N_("a list"),
    "null": N_("empty (null)"),
}


def _type_word(value) -> str:
    if value is None:
        return _("empty")
    if isinstance(value, bool):
        return _("true/false")
    if isinstance(value, int | float):
        return _("a number")
    if isinstance(value, str):
        return _("text")
    if isinstance(value, dict):
        return _("a mapping")
    if isinstance(value, list):
        return _("a list")
    return type(value).__name__


def label_for(path) -> str:
    """The AINAS label of a value, with its key: ``代理人拠点名 (name)``."""
    parts = list(path)
    while parts:
        found = manifest_schema.label(parts)
        if found and not isinstance(parts[-1], int):
            return f"{found} ({parts[-1]})"
        if found:
            return f"{found} item {parts[-1] + 1}"
        parts.pop()
    return "the manifest"


class SchemaMapper:
    """Maps the errors of one document."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.out: list[Diagnostic] = []
        self._secrets_done: set[tuple] = set()

    def run(self) -> list[Diagnostic]:
        for error in manifest_schema.validator().iter_errors(self.doc.root):
            self.map(error)
        return self.out

    # -- helpers ---------------------------------------------------------------------------
    def _parent(self, path: list):
        node = self.doc.root
        for part in path[:-1]:
            node = node[part]
        return node

    def _emit(self, mark: Mark | None, message: str, rule: str, path) -> None:
        diagnostic = Diagnostic(mark or self.doc.root.mark, message, rule, dotted(path))
        # a value failing two keywords of one rule (a date's pattern and its format) is
        # explained the same way twice: say it once
        if diagnostic not in self.out:
            self.out.append(diagnostic)

    # -- mapping ---------------------------------------------------------------------------
    def map(self, error: jsonschema.ValidationError) -> None:
        path = list(error.absolute_path)
        keyword = error.validator
        sub = error.schema if isinstance(error.schema, dict) else {}
        if "propertyNames" in error.relative_schema_path:
            self._key_error(error, path)
            return
        secret = _secret_prefix(path)
        if secret is not None:
            # a secret is explained as a whole, once, by its own rule
            if tuple(secret) not in self._secrets_done:
                self._secrets_done.add(tuple(secret))
                self._rule_error(_get(self.doc.root, secret), secret, RULES["secret-form"])
            return
        rule_id = sub.get("x-ainas-rule")
        if rule_id and keyword in ("pattern", "format", "anyOf", "oneOf"):
            self._rule_error(error.instance, path, RULES[rule_id], error.schema)
            return
        handler = getattr(self, f"_on_{keyword}", None)
        if handler is None:
            self._emit(
                locate(self.doc.root, path), f"{label_for(path)}: {error.message}", "schema", path
            )
            return
        handler(error, path)

    def _key_error(self, error, path: list) -> None:
        key = error.instance
        key_path = [*path, key]
        mark = key_mark_of(_get(self.doc.root, path), key)
        rule_id = (
            (error.schema or {}).get("x-ainas-rule") if isinstance(error.schema, dict) else None
        )
        if rule_id and rule_id in RULES and RULES[rule_id].explain:
            explanation = RULES[rule_id].explain(key, label_for(key_path), error.schema)
            if explanation.index is not None and mark and isinstance(key, str) and "\n" not in key:
                mark = Mark(mark.file, mark.line, mark.col + explanation.index, mark.note)
            self._emit(mark, explanation.message, rule_id, key_path)
            return
        self._emit(mark, f"'{key}' is not a valid name here: {error.message}", "schema", key_path)

    def _rule_error(self, value, path: list, rule, subschema=None) -> None:
        explanation = rule.explain(value, label_for(path), subschema or {})
        mark = locate(self.doc.root, path)
        if (
            explanation.index is not None
            and mark is not None
            and isinstance(value, str)
            and "\n" not in value
        ):
            mark = Mark(mark.file, mark.line, mark.col + explanation.index, mark.note)
        self._emit(mark, explanation.message, rule.id, path)

    def _on_additionalProperties(self, error, path: list) -> None:
        instance = error.instance
        allowed = list((error.schema or {}).get("properties", {}))
        where = label_for(path) if path else _("a manifest file")
        for key in instance:
            if key in allowed:
                continue
            close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
            hint = (
                _(" — did you mean '{suggestion}'?").format(suggestion=close[0])
                if close
                else _("; allowed: {keys}").format(keys=", ".join(allowed))
            )
            self._emit(
                key_mark_of(instance, key),
                _("unknown key '{key}' in {where}").format(key=key, where=where) + hint,
                "unknown-key",
                [*path, key],
            )

    def _on_required(self, error, path: list) -> None:
        missing = error.message.split("'")[1] if "'" in error.message else str(error.message)
        field_label = manifest_schema.label([*path, missing])
        named = f"'{missing}' ({field_label})" if field_label else f"'{missing}'"
        where = label_for(path) if path else _("the manifest file")
        mark = locate(self.doc.root, path, key=True) if path else self.doc.root.mark
        message = _("{where} is missing the required key {key}").format(where=where, key=named)
        self._emit(mark, message, "required", [*path, missing])

    def _on_type(self, error, path: list) -> None:
        expected = error.validator_value
        expected = [expected] if isinstance(expected, str) else list(expected)
        words = _(" or ").join(_(_TYPE_WORDS.get(t, t)) for t in expected if t != "null")
        if "null" in expected:
            words += _(" (or left empty)")
        value = error.instance
        message = _("{label} must be {form}, not {found}").format(
            label=label_for(path), form=words, found=_type_word(value)
        )
        raw = raw_of(self._parent(path), path[-1]) if path else None
        if "string" in expected and raw is not None:
            message += _(': write it in quotes, "{raw}"').format(raw=raw)
            if raw != str(value) and not isinstance(value, bool):
                message += _(" (YAML reads {raw} as the number {value})").format(
                    raw=raw, value=value
                )
        self._emit(locate(self.doc.root, path), message, "type", path)

    def _on_enum(self, error, path: list) -> None:
        choices = [c for c in error.validator_value if c is not None]
        value = error.instance
        message = _("{label} '{value}' is not one of the AINAS choices: {choices}").format(
            label=label_for(path), value=value, choices=", ".join(choices)
        )
        if isinstance(value, str):
            normalized = {unicodedata.normalize("NFKC", c): c for c in choices}
            same = normalized.get(unicodedata.normalize("NFKC", value))
            if same:
                message += _(
                    " — did you mean '{suggestion}'? (full-width and half-width characters differ)"
                ).format(suggestion=same)
            else:
                close = difflib.get_close_matches(value, choices, n=1, cutoff=0.5)
                if close:
                    message += _(" — did you mean '{suggestion}'?").format(suggestion=close[0])
        self._emit(locate(self.doc.root, path), message, "enum", path)

    def _on_const(self, error, path: list) -> None:
        self._emit(
            locate(self.doc.root, path),
            _("{label} must be {form}").format(
                label=label_for(path), form=repr(error.validator_value)
            ),
            "enum",
            path,
        )

    def _on_anyOf(self, error, path: list) -> None:
        # "optional" fields are anyOf [X, null]: explain by the branch that fits the value
        branches: dict[int, list] = defaultdict(list)
        for sub in error.context or []:
            branches[sub.relative_schema_path[0]].append(sub)
        fitting = [
            errors
            for errors in branches.values()
            if not any(e.validator == "type" and list(e.absolute_path) == path for e in errors)
        ]
        if len(fitting) == 1:
            for sub in fitting[0]:
                self.map(sub)
            return
        expected = []
        for errors in branches.values():
            for e in errors:
                if e.validator == "type" and list(e.absolute_path) == path:
                    values = e.validator_value
                    expected.extend([values] if isinstance(values, str) else values)
        words = _(" or ").join(dict.fromkeys(_(_TYPE_WORDS.get(t, t)) for t in expected)) or _(
            "valid"
        )
        self._emit(
            locate(self.doc.root, path),
            _("{label} must be {form}, not {found}").format(
                label=label_for(path), form=words, found=_type_word(error.instance)
            ),
            "type",
            path,
        )

    _on_oneOf = _on_anyOf

    def _on_minimum(self, error, path: list) -> None:
        self._emit(
            locate(self.doc.root, path),
            _("{label} must be at least {limit}, not {value}").format(
                label=label_for(path), limit=error.validator_value, value=error.instance
            ),
            "schema",
            path,
        )

    def _on_maximum(self, error, path: list) -> None:
        self._emit(
            locate(self.doc.root, path),
            _("{label} must be at most {limit}, not {value}").format(
                label=label_for(path), limit=error.validator_value, value=error.instance
            ),
            "schema",
            path,
        )

    def _on_minLength(self, error, path: list) -> None:
        self._emit(
            locate(self.doc.root, path),
            _("{label} must not be empty").format(label=label_for(path)),
            "schema",
            path,
        )

    def _on_maxLength(self, error, path: list) -> None:
        self._emit(
            locate(self.doc.root, path),
            _("{label} is too long: {count} characters, at most {limit}").format(
                label=label_for(path), count=len(error.instance), limit=error.validator_value
            ),
            "schema",
            path,
        )

    def _on_minItems(self, error, path: list) -> None:
        size = len((error.schema or {}).get("prefixItems", [])) or error.validator_value
        self._emit(
            locate(self.doc.root, path),
            _("{label} must be a list of {size}: [prefecture, office], e.g. [東京都, 練馬]").format(
                label=label_for(path), size=size
            ),
            "schema",
            path,
        )

    _on_maxItems = _on_minItems
    _on_items = _on_minItems


def _secret_prefix(path: list) -> list | None:
    """The part of ``path`` that leads to a secret field, if the path is at or inside one."""
    for pattern in manifest_schema.secret_paths():
        if len(path) >= len(pattern) and all(
            p == "*" or p == part for p, part in zip(pattern, path, strict=False)
        ):
            return path[: len(pattern)]
    return None


def _get(root, path):
    node = root
    for part in path:
        node = node[part]
    return node


def check_document(doc: Document) -> list[Diagnostic]:
    """Schema diagnostics for one manifest file: none when the schema accepts it (decided by the
    compiled validator where installed), else the Python validator's errors, explained."""
    if manifest_schema.is_valid(doc.root, exact=getattr(doc.root, "exact", None)):
        return []
    found = SchemaMapper(doc).run()
    if not found:  # the validators disagree: never report a rejected file as clean
        found = [
            Diagnostic(
                doc.root.mark,
                "the schema's compiled validator rejects this file, but its explaining validator "
                "finds no error to show: please report this file",
                "schema",
            )
        ]
    return found
