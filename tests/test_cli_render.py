"""``ainas-provision render`` and ``--vars`` as a user meets them."""

from __future__ import annotations

import json

import pytest
import yaml

from ainas_provision.secrets import crypto
from tests.helpers import bulk_demo_environment, error_lines, run

CANARY = "Canary-Secret-9f3e1a"

PLAIN_SECRETS = f"""\
version: 1
organization:
  id: "30001"
users:
  dairi001:
    name: 管理者1
    role: 拠点管理者
    site: honten
    initial_password: {CANARY}
  dairi002:
    name: 担当者2
    role: 担当者(送信可)
    site: honten
    initial_password: {{env: DAIRI002_PASSWORD}}
  dairi003:
    name: 担当者3
    role: 担当者(送信可)
    site: honten
    initial_password: {{file: secrets/dairi003.txt}}
sites:
  honten:
    name: 本店
    short_name: 本店
policy:
  allow_plaintext_secrets: true
vars:
  unused: data.yaml
"""


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_render_masks_every_secret_and_orders_sections(here):
    key = crypto.generate_key()
    token = crypto.encrypt(CANARY, "users.dairi004.initial_password", key)
    manifest = PLAIN_SECRETS.replace(
        "sites:\n",
        "  dairi004:\n    name: 担当者4\n    role: 担当者(送信可)\n    site: honten\n"
        f'    initial_password: {{encrypted: "{token}"}}\nsites:\n',
    )
    (here / "ainas.yaml").write_text(manifest, encoding="utf-8")
    (here / "data.yaml").write_text("region: 関東\n", encoding="utf-8")
    result = run("render", "ainas.yaml")
    assert result.exit_code == 0, result.stderr
    assert CANARY not in result.stdout + result.stderr
    assert token not in result.stdout
    document = yaml.safe_load(result.stdout)
    assert list(document) == ["version", "organization", "sites", "users", "policy"]
    passwords = {login: user["initial_password"] for login, user in document["users"].items()}
    assert passwords == {
        "dairi001": "(sensitive)",
        "dairi002": {"env": "DAIRI002_PASSWORD"},
        "dairi003": {"file": "secrets/dairi003.txt"},
        "dairi004": {"encrypted": "(sensitive)"},
    }
    assert "    initial_password: {env: DAIRI002_PASSWORD}\n" in result.stdout


def test_render_json(here):
    (here / "ainas.yaml").write_text(PLAIN_SECRETS, encoding="utf-8")
    (here / "data.yaml").write_text("region: 関東\n", encoding="utf-8")
    result = run("render", "ainas.yaml", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert CANARY not in result.stdout + result.stderr
    data = json.loads(result.stdout)
    assert data["format_version"] == 1
    assert data["manifest"]["users"]["dairi001"]["initial_password"] == "(sensitive)"
    assert data["manifest"]["organization"] == {"id": "30001"}


def test_render_of_the_bulk_example(in_repo):
    result = run("render", "examples/bulk-onboarding")
    assert result.exit_code == 0, result.stderr  # secrets are not read: no environment needed
    document = yaml.safe_load(result.stdout)
    assert len(document["sites"]) == 50
    assert len(document["users"]) == 100
    site = document["sites"]["sjk01"]
    assert site["registered"]["batch_account"]["batch_password"] == {
        "env": "BRANCH_SJK01_BATCH_PASSWORD"
    }
    assert site["kei"]["batch_account"]["arrival_number_password"] == {
        "env": "BRANCH_SJK01_KEI_ARRIVAL_PASSWORD"
    }
    assert document["users"]["sjk01-tanto01"]["initial_password"] == {
        "env": "USER_SJK01_TANTO01_PASSWORD"
    }
    assert document["users"]["sjk01-tanto01"]["default_destination"] == ["東京都", "練馬"]


def test_bulk_example_validates_with_the_demo_environment(in_repo):
    env = bulk_demo_environment()
    assert len(env) == 50 * 6
    result = run("validate", "examples/bulk-onboarding", env=env)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "valid: 2 files\n"


def test_render_with_vars_from_the_command_line(here):
    (here / "m").mkdir()
    (here / "m" / "org.yaml.j2").write_text(
        'version: 1\norganization:\n  id: "{{ org.id }}"\n  name: {{ org.name }}\n',
        encoding="utf-8",
    )
    (here / "org.json").write_text('{"id": "30001", "name": "ひかり登録"}', encoding="utf-8")
    result = run("render", "m", "--vars", "org=org.json")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "version: 1\norganization:\n  id: '30001'\n  name: ひかり登録\n"


def test_render_of_invalid_manifests_prints_the_problems_and_exits_1(here):
    (here / "sites.yaml.j2").write_text(
        "version: 1\norganization:\n  id: '{{ org_id }}'\n", encoding="utf-8"
    )
    result = run("render", ".")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert error_lines(result) == [
        "sites.yaml.j2:3:1: error: undefined variable 'org_id': no data file gives variables — "
        "name one with --vars FILE, or in a vars: setting of a plain manifest file "
        "[template-undefined]"
    ]
    assert result.stderr.splitlines()[-1] == "invalid: 1 error, 0 warnings in 0 files"


def test_validate_takes_vars(here):
    (here / "m").mkdir()
    (here / "m" / "org.yaml.j2").write_text(
        'version: 1\norganization:\n  id: "{{ org.id }}"\n', encoding="utf-8"
    )
    (here / "org.yaml").write_text("org: {id: '3000１'}\n", encoding="utf-8")
    result = run("validate", "m", "--vars", "org.yaml")
    assert result.exit_code == 1
    assert error_lines(result) == [
        "m/org.yaml.j2:3:12: error: 代理人組織ID (id) '3000１' must be half-width letters and "
        "digits only: full-width '１' (U+FF11 FULLWIDTH DIGIT ONE) at character 5 — use "
        "half-width '1' [halfwidth-id] (organization.id)"
    ]
