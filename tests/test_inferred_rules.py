"""Stated or inferred: an inferred rule warns, says so, and is silenced by the screen
catalogue's local override, as its message says."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ainas_provision.validation.engine import validate
from ainas_provision.validation.rules.inferred import INFERRED, SELECTIONS
from tests.conftest import REPO

BROKEN = REPO / "tests" / "fixtures" / "broken"


def copy(name: str, tmp_path: Path) -> Path:
    text = (BROKEN / f"{name}.yaml").read_text(encoding="utf-8")
    text = text.replace("../../../examples", str(REPO / "examples"))
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "ainas.yaml").write_text(text, encoding="utf-8")
    shutil.copytree(BROKEN / "secrets", tmp_path / "secrets")
    shutil.copytree(BROKEN / "certs", tmp_path / "certs")
    return tmp_path


@pytest.mark.parametrize(
    ("name", "override"),
    [
        (
            "commission-number",
            "site_register:\n    fields:\n      commission_number: {warn_inferred: false}",
        ),
        ("halfwidth-code", "site_register:\n    fields:\n      site_code: {warn_inferred: false}"),
        ("phone", "kei_batch_account_register:\n    fields:\n      phone: {warn_inferred: false}"),
        (
            "kana-space",
            "certificate_update:\n    fields:\n      representative_name_kana: {warn_inferred: false}",
        ),
        (
            "assumed-option",
            "site_register:\n    fields:\n      inspection_ecert_update: {add_options: [代理人事務所等]}",
        ),
    ],
)
def test_an_inferred_rule_warns_and_the_override_it_names_silences_it(name, override, tmp_path):
    path = copy(name, tmp_path)
    before = validate(path, env={})
    assert before.ok, [str(d) for d in before.errors]
    [warning] = [d for d in before.warnings if d.rule == name]
    assert "ainas-screens.local.yaml" in warning.message
    assert "inferred" in warning.message
    (path / "ainas-screens.local.yaml").write_text(
        f"version: 1\nscreens:\n  {override}\n", encoding="utf-8"
    )
    after = validate(path, env={})
    assert [d for d in after.diagnostics if d.rule == name] == []


def test_the_override_may_be_named_by_the_environment(tmp_path):
    path = copy("commission-number", tmp_path / "m")
    override = tmp_path / "elsewhere.yaml"
    override.write_text(
        "version: 1\nscreens:\n  site_register:\n    fields:\n"
        "      commission_number: {warn_inferred: false}\n",
        encoding="utf-8",
    )
    assert validate(path, env={"AINAS_SCREENS_FILE": str(override)}).warnings == []


def test_a_misspelt_override_is_an_error_naming_it(tmp_path):
    path = copy("commission-number", tmp_path)
    (path / "ainas-screens.local.yaml").write_text(
        "version: 1\nscreens:\n  site_register:\n    fields:\n"
        "      comission_number: {warn_inferred: false}\n",
        encoding="utf-8",
    )
    result = validate(path, env={})
    assert not result.ok
    assert "did you mean 'commission_number'?" in str(result.errors[0])


def test_every_inferred_rule_names_a_catalogue_field_that_exists():
    import ainas_catalogue

    catalogue = ainas_catalogue.load()
    for rule in INFERRED:
        catalogue.screen(rule.screen).field(rule.field)
    for _, screen, field in SELECTIONS:
        assert any(o.source == "assumed" for o in catalogue.screen(screen).field(field).options)


def test_the_readme_lists_every_inferred_rule():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Stated or inferred rules", 1)[1].split("\n## ", 1)[0]
    for rule in {r.rule for r in INFERRED} | {"assumed-option"}:
        assert f"| `{rule}` |" in section, rule
