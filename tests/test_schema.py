"""The schema is valid JSON Schema, documents every key, and agrees with the rules."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from ainas_provision import schema as manifest_schema
from ainas_provision.manifest.yamlfile import ManifestLoader
from ainas_provision.validation.engine import validate
from ainas_provision.validation.rules import every_rule
from tests.conftest import EXAMPLES, FIXTURES, REPO

RULES = every_rule()

SCHEMA_FILE = REPO / "schemas" / "ainas-manifest.schema.json"


def raw_schema() -> dict:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def test_schema_is_valid_2020_12():
    schema = raw_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def _properties(node, path=""):
    node = manifest_schema.resolve(node)
    for branch in node.get("anyOf", [node]):
        branch = manifest_schema.resolve(branch)
        for name, sub in branch.get("properties", {}).items():
            yield f"{path}.{name}" if path else name, sub
            yield from _properties(sub, f"{path}.{name}" if path else name)
        extra = branch.get("additionalProperties")
        if isinstance(extra, dict):
            yield from _properties(extra, f"{path}.*")


def test_every_property_has_a_japanese_title_and_an_english_description():
    for path, sub in _properties(raw_schema()):
        if path.endswith((".env", ".file", ".encrypted")):
            continue  # the parts of a secret reference
        resolved = manifest_schema.resolve(sub)
        assert resolved.get("title"), f"{path} has no title"
        assert any(ord(ch) > 0x3000 for ch in resolved["title"]), f"{path}: title not Japanese"
        assert resolved.get("description"), f"{path} has no description"


def test_every_object_refuses_unknown_keys():
    def walk(node, path):
        node = manifest_schema.resolve(node)
        if node.get("type") == "object" or "properties" in node:
            assert "additionalProperties" in node, f"{path} accepts unknown keys"
        for key in ("properties", "$defs"):
            for name, sub in node.get(key, {}).items():
                walk(sub, f"{path}.{name}")
        for key in ("additionalProperties", "items"):
            if isinstance(node.get(key), dict):
                walk(node[key], f"{path}.{key}")
        for sub in node.get("anyOf", []) + node.get("prefixItems", []):
            walk(sub, path)

    walk(raw_schema(), "$")


def test_rules_named_in_the_schema_exist():
    text = SCHEMA_FILE.read_text(encoding="utf-8")
    named = {part.split('"')[0] for part in text.split('"x-ainas-rule": "')[1:]}
    assert named <= set(RULES)


def test_compiled_schema_is_equivalent_on_fixtures_and_examples():
    original = jsonschema.Draft202012Validator(
        raw_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    compiled = manifest_schema.validator()
    for path in _manifest_files():
        doc = _plain(path)
        if doc is None:
            continue
        assert original.is_valid(doc) == compiled.is_valid(doc), path


def _manifest_files() -> list[Path]:
    files = []
    for base in (EXAMPLES, FIXTURES):
        files.extend(sorted(base.rglob("*.yaml")))
    return files


def _plain(path: Path):
    try:
        loader = ManifestLoader(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        return None
    try:
        return loader.get_single_data()
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()


@pytest.mark.parametrize("path", _manifest_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_schema_and_rules_agree(path, monkeypatch):
    """For every example and fixture file: the plain schema rejects it exactly when validation
    reports a schema-stage problem, and both point at the same entries."""
    monkeypatch.chdir(REPO)
    doc = _plain(path)
    if not isinstance(doc, dict):
        return  # a loading failure, reported before any schema check
    validator = jsonschema.Draft202012Validator(
        raw_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    schema_entries = {
        tuple(str(p) for p in list(e.absolute_path)[:2]) for e in validator.iter_errors(doc)
    }
    result = validate(path.relative_to(REPO), resolve_secrets=False)
    if any(
        RULES[d.rule].stage == "load" and d.rule != "duplicate-definition"
        for d in result.diagnostics
    ):
        return  # the loader refused the file (alias bomb, duplicate key): no schema check runs
    ours = {
        tuple(d.path.replace("[", ".[").split(".")[:2]) if d.path else ()
        for d in result.diagnostics
        if RULES[d.rule].stage == "schema"
    }
    assert bool(schema_entries) == bool(ours), (schema_entries, ours)
    # entries of the schema's errors are the entries (or their parents) of ours
    for entry in schema_entries:
        assert any(o[: len(entry)] == entry for o in ours), (entry, ours)
