"""The shape of a manifest, as the schema gives it (explained by validation/schema_errors.py)."""

from __future__ import annotations

from ainas_provision.validation.rules.registry import register

register("unknown-key", "keys not in the manifest format are refused, with a suggestion", "schema")
register("required", "required keys must be present", "schema")
register(
    "type", "values have the type the format gives them (text, number, true/false, …)", "schema"
)
register("enum", "AINAS selections take one of their listed values", "schema")
register("schema", "other constraints of the manifest schema (lengths, list sizes, …)", "schema")
