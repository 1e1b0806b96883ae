"""``ainas-provision validate`` as a user meets it."""

from __future__ import annotations

import json

from tests.helpers import error_lines, run

TWELVE = "tests/fixtures/twelve/ainas.yaml"


def test_examples_validate(in_repo):
    for example in ("examples/quickstart", "examples/multi-branch"):
        result = run("validate", example)
        assert result.exit_code == 0, result.stderr
        assert result.stdout.startswith("valid: "), result.stdout


def test_twelve_mistakes_give_twelve_precise_errors(in_repo):
    env = {
        "AKIHABARA_BATCH_PASSWORD": "Batch-Pass-01",
        "DAIRI001_PASSWORD": "qzxwv",  # too short, one kind
        # DAIRI002_PASSWORD is not set
    }
    result = run("validate", TWELVE, env=env)
    assert result.exit_code == 1
    places = [
        (line.split(": error: ")[0].split(": warning: ")[0], line.rsplit("[", 1)[1].split("]")[0])
        for line in error_lines(result)
    ]
    assert places == [
        (f"{TWELVE}:5:3", "unknown-key"),
        (f"{TWELVE}:8:14", "fullwidth"),
        (f"{TWELVE}:12:25", "time"),
        (f"{TWELVE}:13:27", "commission-number"),
        (f"{TWELVE}:15:26", "type"),
        (f"{TWELVE}:18:34", "secret-form"),
        (f"{TWELVE}:19:34", "enum"),
        (f"{TWELVE}:21:17", "phone"),
        (f"{TWELVE}:26:11", "site-reference"),
        (f"{TWELVE}:27:23", "password"),
        (f"{TWELVE}:32:23", "secret-env"),
        (f"{TWELVE}:34:7", "admin-login-id"),
    ]
    # the commission number's length and the phone's form are inferred rules: warnings
    assert result.stderr.splitlines()[-1] == "invalid: 10 errors, 2 warnings in 1 file"
    warned = [
        line.rsplit("[", 1)[1].split("]")[0]
        for line in error_lines(result)
        if ": warning: " in line
    ]
    assert warned == ["commission-number", "phone"]
    # the weak password is judged, never shown
    assert "qzxwv" not in result.stdout + result.stderr


def test_json_format(in_repo):
    result = run("validate", TWELVE, "--format", "json", env={"DAIRI001_PASSWORD": "x"})
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["format_version"] == 1
    assert data["valid"] is False
    assert data["files"] == [TWELVE]
    assert data["errors"] == len([d for d in data["diagnostics"] if d["severity"] == "error"])
    first = data["diagnostics"][0]
    assert first == {
        "severity": "error",
        "rule": "unknown-key",
        "message": "unknown key 'nmae' in 代理人組織 (organization) — did you mean 'name'?",
        "file": TWELVE,
        "line": 5,
        "column": 3,
        "path": "organization.nmae",
        "notes": [],
    }


def test_json_format_valid(in_repo):
    result = run("validate", "examples/quickstart", "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["valid"] is True and data["errors"] == 0


def test_default_path_is_the_current_directory(monkeypatch, tmp_path):
    (tmp_path / "m.yaml").write_text('version: 1\norganization: {id: "7"}\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = run("validate")
    assert result.exit_code == 0
    assert result.stdout == "valid: 1 file\n"


def test_schema_command_prints_the_schema(in_repo):
    result = run("schema")
    assert result.exit_code == 0
    with open("schemas/ainas-manifest.schema.json", encoding="utf-8") as handle:
        assert result.stdout == handle.read()
