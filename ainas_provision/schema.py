"""The manifest JSON Schema: where it lives, and what it says about each value.

The schema (``schemas/ainas-manifest.schema.json``) is the one place where the shape of a
manifest, the AINAS label of each field (its ``title``) and the form of each value (its
``pattern``) are written. Rules that explain a failed pattern read the pattern from here, and
the plan labels fields with the titles from here.

Two validators read it. :func:`is_valid` decides, with the compiled validator of the
``jsonschema-rs`` wheel when it is installed (about fifty times faster than the pure-Python one
on a large manifest); the pure-Python ``jsonschema`` (:func:`validator`) walks the errors of a
file that failed, because its errors carry what the messages need (the failing keyword, the
sub-schema, the branches of an ``anyOf``). Both must agree on every document: where their
semantics differ, the Python side is brought to the JSON Schema meaning (a pattern's ``$`` is the
end of the text, as in ECMA-262, not "before a final newline" as in Python's ``re``), and values
the compiled one cannot represent exactly (integers past 64 bits, NaN and infinities, binary
values, keys that are not text) are decided by the Python one.
"""

from __future__ import annotations

import json
import math
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # jsonschema is imported when a file needs explaining, not to decide
    import jsonschema

SCHEMA_NAME = "ainas-manifest.schema.json"
SECRET_REF = "#/$defs/secret"


def schema_text() -> str:
    """The schema as shipped: package data in an installed wheel, ``schemas/`` in a checkout.
    Read as a file beside this module where the package is a directory of files, as pip
    installs it; importlib.resources (a dozen modules more to import on every run) only for a
    package that is not (a zip)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "schemas" / SCHEMA_NAME, here.parent / "schemas" / SCHEMA_NAME):
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8")
    from importlib import resources

    return resources.files("ainas_provision").joinpath("schemas", SCHEMA_NAME).read_text("utf-8")


@cache
def manifest_schema() -> dict:
    return json.loads(schema_text())


@cache
def validator() -> jsonschema.Draft202012Validator:
    """The pure-Python validator, over a compiled copy of the schema (see
    :func:`compile_for_validation`): the one that explains a file that failed."""
    import jsonschema

    def pattern(validator, patrn, instance, schema):
        # the keyword as jsonschema has it, with the ECMA-262 meaning of a final ``$``
        if validator.is_type(instance, "string") and not _ecma_regex(patrn).search(instance):
            yield jsonschema.ValidationError(f"{instance!r} does not match {patrn!r}")

    cls = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"pattern": pattern})
    return cls(
        compile_for_validation(manifest_schema()),
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )


_TYPED_KEYWORDS = {
    "type",
    "pattern",
    "minLength",
    "maxLength",
    "format",
    "enum",
    "const",
    "minimum",
    "maximum",
    "prefixItems",
    "items",
    "minItems",
    "maxItems",
    "properties",
    "additionalProperties",
    "required",
    "propertyNames",
    "title",
    "description",
    "x-ainas-rule",
}


@cache
def compiled_validator() -> Any | None:
    """The compiled validator of the ``jsonschema-rs`` wheel, or None where that wheel is not
    installed (a platform it is not built for): then the Python one decides too."""
    try:
        import jsonschema_rs
    except ImportError:
        return None
    return jsonschema_rs.Draft202012Validator(manifest_schema(), validate_formats=True)


def compiled_available() -> bool:
    return compiled_validator() is not None


# the integers both validators read exactly (the compiled one holds 64 bits)
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1


def exact_in_compiled(value: Any) -> bool:
    """Whether the compiled validator reads ``value`` exactly: JSON values only, integers within
    64 bits, finite floats, text keys. Iterative: a document may be deep."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str or item is None or kind is bool:
            continue
        if isinstance(item, dict):
            if not all(type(k) is str for k in item):
                return False
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, int):
            if not _INT_MIN <= item <= _INT_MAX:
                return False
        elif isinstance(item, float):
            if not math.isfinite(item):
                return False
        else:
            return False
    return True


def is_valid(instance: Any, *, exact: bool | None = None) -> bool:
    """Whether the schema accepts ``instance``. ``exact`` says whether the compiled validator
    reads every value of it exactly (the loader knows; None: look)."""
    compiled = compiled_validator()
    if compiled is not None:
        if exact is None:
            exact = exact_in_compiled(instance)
        if exact:
            try:
                return compiled.is_valid(instance)
            except (ValueError, TypeError, OverflowError):
                pass  # a value it cannot convert: the Python validator decides
    return validator().is_valid(instance)


# a pattern's final ``$`` (not escaped): in JSON Schema (ECMA-262) the end of the text
_END_ANCHOR = re.compile(r"(?<!\\)((?:\\\\)*)\$$")


def ecma_pattern(pattern: str) -> str:
    """``pattern`` for Python's ``re`` with the ECMA-262 meaning of a final ``$``: Python's
    ``$`` also matches before a final newline, so that ``"1234567890\\n"`` would pass
    ``^[0-9]{10}$`` there and fail in every other validator."""
    return _END_ANCHOR.sub(r"\1\\Z", pattern)


@cache
def _ecma_regex(pattern: str) -> re.Pattern:
    return re.compile(ecma_pattern(pattern))


def compile_for_validation(node):
    """The same schema, faster to evaluate: local ``$ref`` inlined, and the optional-value form
    ``anyOf: [X, {type: null}]`` folded into X with ``null`` added to its type. Both are
    equivalences; validation results are unchanged, only the work per value shrinks."""
    if isinstance(node, list):
        return [compile_for_validation(item) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        node = resolve(node)
    node = {k: compile_for_validation(v) for k, v in node.items() if k != "$defs"}
    branches = node.get("anyOf")
    if isinstance(branches, list) and len(branches) == 2:
        values = [b for b in branches if b.get("type") != "null"]
        nulls = [b for b in branches if b == {"type": "null"}]
        if len(values) == 1 and len(nulls) == 1:
            value = values[0]
            if isinstance(value.get("type"), str) and set(value) <= _TYPED_KEYWORDS:
                folded = {k: v for k, v in node.items() if k != "anyOf"}
                folded.update({k: v for k, v in value.items() if k not in ("title", "description")})
                folded["type"] = [value["type"], "null"]
                if "enum" in folded:
                    folded["enum"] = [*folded["enum"], None]
                return folded
    return node


def resolve(node: dict) -> dict:
    """Follow a local ``$ref`` (the schema uses only ``#/$defs/...``)."""
    seen = 0
    while isinstance(node, dict) and "$ref" in node and seen < 10:
        target = manifest_schema()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        merged = {k: v for k, v in node.items() if k != "$ref"}
        node = {**target, **merged}
        seen += 1
    return node


def _branches(node: dict) -> list[dict]:
    """The non-null alternatives of an ``anyOf`` (how the schema spells "optional")."""
    if "anyOf" not in node:
        return [node]
    return [resolve(b) for b in node["anyOf"] if resolve(b).get("type") != "null"]


def child_schema(node: dict, part) -> dict | None:
    """The schema of ``part`` (a key or an index) inside a value described by ``node``."""
    node = resolve(node)
    for branch in _branches(node):
        if isinstance(part, int):
            items = branch.get("prefixItems")
            if items and part < len(items):
                return resolve(items[part])
            continue
        props = branch.get("properties", {})
        if part in props:
            return resolve(props[part])
        extra = branch.get("additionalProperties")
        if isinstance(extra, dict):
            return resolve(extra)
    return None


def schema_at(path) -> dict | None:
    node: dict | None = manifest_schema()
    for part in path:
        if node is None:
            return None
        node = child_schema(node, part)
    return node


@cache
def _label_cache(path: tuple) -> str | None:
    node = schema_at(path)
    return node.get("title") if node else None


def label(path) -> str | None:
    """The AINAS screen label of the value at ``path`` (handles and login IDs included)."""
    return _label_cache(tuple(path))


def property_names(path) -> list[str]:
    """The keys a mapping at ``path`` may have (for "did you mean")."""
    node = schema_at(path)
    if node is None:
        return []
    names: list[str] = []
    for branch in _branches(node):
        names.extend(branch.get("properties", {}))
    return names


@cache
def secret_paths() -> tuple[tuple[str, ...], ...]:
    """Every place a secret may stand, with ``*`` for a key of a keyed section."""
    out: list[tuple[str, ...]] = []

    def walk(node: dict, path: tuple[str, ...]) -> None:
        if node.get("$ref") == SECRET_REF:
            out.append(path)
            return
        node = resolve(node)
        for branch in _branches(node):
            for name, sub in branch.get("properties", {}).items():
                walk(sub, (*path, name))
            extra = branch.get("additionalProperties")
            if isinstance(extra, dict):
                walk(extra, (*path, "*"))

    walk(manifest_schema(), ())
    return tuple(out)
