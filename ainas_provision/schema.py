"""The manifest JSON Schema: where it lives, and what it says about each value.

The schema (``schemas/ainas-manifest.schema.json``) is the one place where the shape of a
manifest, the AINAS label of each field (its ``title``) and the form of each value (its
``pattern``) are written. Rules that explain a failed pattern read the pattern from here, and
the plan labels fields with the titles from here.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path

import jsonschema

SCHEMA_NAME = "ainas-manifest.schema.json"
SECRET_REF = "#/$defs/secret"


def schema_text() -> str:
    """The schema as shipped: package data in an installed wheel, ``schemas/`` in a checkout."""
    packaged = resources.files("ainas_provision").joinpath("schemas", SCHEMA_NAME)
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    checkout = Path(__file__).resolve().parent.parent / "schemas" / SCHEMA_NAME
    return checkout.read_text(encoding="utf-8")


@cache
def manifest_schema() -> dict:
    return json.loads(schema_text())


@cache
def validator() -> jsonschema.Draft202012Validator:
    """The validator, over a compiled copy of the schema (see :func:`compile_for_validation`)."""
    return jsonschema.Draft202012Validator(
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
