"""The compiled schema validator decides, the Python one explains: they must agree.

``jsonschema-rs`` decides whether a file is valid; the pure-Python ``jsonschema`` walks the errors
of a file that failed. A document one accepts and the other rejects would either pass unexplained
or be reported without a reason, so agreement is a property: Hypothesis mutates valid manifests
(values swapped for every kind of YAML value, keys dropped and added) and both validators must
give the same answer. Where the compiled wheel is missing, the Python validator decides alone,
with the same messages.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from ainas_provision import schema
from ainas_provision.cli.main import cli
from ainas_provision.manifest.loader import load_file
from ainas_provision.validation.engine import validate
from ainas_provision.validation.schema_errors import check_document
from tests.conftest import REPO
from tests.reliability import strategies

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, -1, 3650, 3651, 2**63 - 1, 2**63, 2**64, 10**30, -(10**30)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1.0, 0.5, -0.0, 1e308]),
    st.text(max_size=12),
    # the values the schema's patterns are about, with their near misses
    st.sampled_from(
        [
            "1234567890",
            "1234567890\n",
            "123456789",
            "１２３４５６７８９０",
            "16:00",
            "16:00\n",
            "24:00",
            "123-4567",
            "123-4567\n",
            "090-1234-5678",
            "dairi@example.jp",
            "dairi＠example.jp",
            "https://example.jp",
            "http://example.jp",
            "2026-12-01",
            "2026-02-30",
            "2026-12-01\n",
            "ABCD1234",
            "abc12",
            "abcde",
            "アイウ",
            "ｱｲｳ",
            "利活用　一郎",
            "利活用 一郎",
            "",
            "行政書士電子証明書",
            "拠点管理者",
            "担当者(送信可)",
        ]
    ),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(node, path=()):
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*path, index))


def _plain(node):
    """A generated manifest as YAML gives it: secrets as text or as a {file:} reference."""
    if isinstance(node, strategies.SecretValue):
        return node.value if node.form == "plain" else {"file": "secrets/s.txt"}
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


@st.composite
def documents(draw) -> dict:
    """A valid manifest (secrets as plain strings or {file:} references), then mutated."""
    doc = _plain(draw(strategies.manifests()))
    for _ in range(draw(st.integers(0, 3))):
        paths = list(_paths(doc))[1:]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(VALUES)
        elif action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["nmae", "code", "extra", "role", "id"]))] = draw(VALUES)
    return doc


@settings(max_examples=max(100, settings.default.max_examples * 4))
@given(documents())
def test_both_validators_agree_on_generated_documents(doc):
    python = schema.validator().is_valid(doc)
    assert schema.is_valid(doc) == python
    if schema.exact_in_compiled(doc):  # what the compiled validator is given at all
        assert schema.compiled_validator().is_valid(doc) == python, doc


def test_the_compiled_validator_is_installed_and_decides():
    assert schema.compiled_available()
    assert type(schema.compiled_validator()).__module__.startswith("jsonschema_rs")


def test_a_final_dollar_means_the_end_of_the_text_in_both():
    """Python's ``$`` also matches before a final newline; JSON Schema's does not."""
    doc = {"version": 1, "organization": {"id": "1\n", "name": "代理人A", "short_name": "A"}}
    assert not schema.validator().is_valid(doc)
    assert not schema.compiled_validator().is_valid(doc)
    assert schema.is_valid({**doc, "organization": {**doc["organization"], "id": "1"}})


def _policy_file(tmp_path: Path, value: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(f"version: 1\npolicy:\n  cert_expiry_warning_days: {value}\n", "utf-8")
    return path


def test_values_beyond_the_compiled_validator_are_decided_by_the_python_one(tmp_path):
    """Integers past 64 bits, NaN and infinities: the compiled validator would misjudge them
    (a 5,000-bit integer passed its ``maximum``), so the loader marks the document and the
    Python validator decides."""
    for text, valid in [
        ("3650", True),
        ("3651", False),
        ("18446744073709551616", False),  # 2**64
        ("1" + "0" * 1000, False),
        (".nan", False),  # not an integer
        (".inf", False),
    ]:
        doc, problem = load_file(_policy_file(tmp_path, text))
        assert problem is None
        assert doc.root.exact == schema.exact_in_compiled(doc.root)
        assert (not check_document(doc)) == valid, text
        assert schema.validator().is_valid(doc.root) == valid, text
    doc, _ = load_file(_policy_file(tmp_path, "1" + "0" * 1000))
    assert not doc.root.exact


def test_exactness_of_values():
    assert schema.exact_in_compiled({"a": [1, 2**63 - 1, -(2**63), 0.5, None, True, "x"]})
    assert not schema.exact_in_compiled({"a": 2**64})
    assert not schema.exact_in_compiled({"a": [math.nan]})
    assert not schema.exact_in_compiled({"a": {"b": math.inf}})
    assert not schema.exact_in_compiled({1: "a"})
    assert not schema.exact_in_compiled({"a": b"bytes"})


def test_a_file_only_the_compiled_validator_rejects_is_never_reported_clean(tmp_path, monkeypatch):
    class Rejects:
        def is_valid(self, instance) -> bool:
            return False

    monkeypatch.setattr(schema, "compiled_validator", lambda: Rejects())
    path = tmp_path / "org.yaml"
    path.write_text('version: 1\norganization: {id: "1", name: 代理人A, short_name: A}\n')
    doc, _ = load_file(path)
    found = check_document(doc)
    assert [d.rule for d in found] == ["schema"]
    assert "please report this file" in found[0].message


def _validate_output(target: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["validate", target])
    return result.exit_code, result.output


def test_without_the_compiled_wheel_the_output_is_the_same(monkeypatch, request):
    """Every broken fixture and example, through the real command: identical output and exit
    code with the fallback."""
    monkeypatch.chdir(REPO)
    targets = sorted(
        str(p.relative_to(REPO))
        for p in [*(REPO / "tests/fixtures/broken").iterdir(), *(REPO / "examples").iterdir()]
        if p.suffix in (".yaml", ".j2") or p.is_dir()
    )
    compiled = {target: _validate_output(target) for target in targets}
    request.getfixturevalue("without_compiled_schema")
    assert "jsonschema_rs" in sys.modules and sys.modules["jsonschema_rs"] is None
    for target in targets:
        assert _validate_output(target) == compiled[target], target
    assert any(code == 1 for code, _ in compiled.values())
    assert any(code == 0 for code, _ in compiled.values())


def test_the_fallback_decides_alone(without_compiled_schema, tmp_path):
    result = validate(_policy_file(tmp_path, "3651"), resolve_secrets=False)
    assert "policy.cert_expiry_warning_days" in [d.path for d in result.errors]
    assert "must be at most 3650, not 3651" in str(result.errors)
