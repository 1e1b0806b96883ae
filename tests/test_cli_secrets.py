from __future__ import annotations

import re
import stat

import pytest
from click.testing import CliRunner

from ainas_provision.cli.main import cli
from ainas_provision.secrets import crypto

FIELD = "sites.akihabara.registered.batch_account.batch_password"
CANARY = "canary-secret-Zq81"
TOKEN = re.compile(r'\{encrypted: "(v1:[^"]+)"\}')


@pytest.fixture
def runner(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    return CliRunner()


@pytest.fixture
def keyed(runner, monkeypatch, tmp_path):
    """A key file made by keygen, named by AINAS_SECRETS_KEY_FILE."""
    result = runner.invoke(cli, ["secrets", "keygen"])
    assert result.exit_code == 0, result.output
    monkeypatch.setenv("AINAS_SECRETS_KEY_FILE", str(tmp_path / "ainas-secrets.key"))
    return runner


def test_keygen(runner, tmp_path):
    result = runner.invoke(cli, ["secrets", "keygen"])
    assert result.exit_code == 0, result.output
    path = tmp_path / "ainas-secrets.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = crypto.parse_key(path.read_text(), "test")
    assert result.stdout.startswith(
        f"wrote a new secrets key to ainas-secrets.key (key ID {crypto.key_id(key)})"
    )
    assert "keep it out of git" in result.stdout
    assert crypto.key_text(key) not in result.output


def test_keygen_out_and_refusal(runner, tmp_path):
    assert runner.invoke(cli, ["secrets", "keygen", "--out", "team.key"]).exit_code == 0
    before = (tmp_path / "team.key").read_text()
    result = runner.invoke(cli, ["secrets", "keygen", "--out", "team.key"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: team.key already exists")
    assert (tmp_path / "team.key").read_text() == before


def test_encrypt_decrypt_roundtrip(keyed):
    result = keyed.invoke(cli, ["secrets", "encrypt", "--path", FIELD], input=CANARY + "\n")
    assert result.exit_code == 0, result.output
    assert CANARY not in result.output
    token = TOKEN.fullmatch(result.stdout.strip()).group(1)
    # the token as an argument, and as pasted from the manifest through stdin
    decrypted = keyed.invoke(cli, ["secrets", "decrypt", "--path", FIELD, token])
    assert decrypted.exit_code == 0 and decrypted.stdout == CANARY + "\n"
    piped = keyed.invoke(cli, ["secrets", "decrypt", "--path", FIELD], input=result.stdout)
    assert piped.exit_code == 0 and piped.stdout == CANARY + "\n"


def test_encrypt_strips_one_newline_only(keyed):
    result = keyed.invoke(cli, ["secrets", "encrypt", "--path", FIELD], input="two\n\n")
    token = TOKEN.fullmatch(result.stdout.strip()).group(1)
    key = crypto.require_key()
    assert crypto.decrypt(token, FIELD, key) == "two\n"


def test_encrypt_takes_no_value_argument(keyed):
    result = keyed.invoke(cli, ["secrets", "encrypt", "--path", FIELD, CANARY])
    assert result.exit_code == 1  # a usage error (1, never 2): the value comes from stdin only


def test_encrypt_empty_value(keyed):
    result = keyed.invoke(cli, ["secrets", "encrypt", "--path", FIELD], input="\n")
    assert result.exit_code == 1
    assert "empty" in result.stderr


def test_decrypt_for_another_field(keyed):
    token = TOKEN.fullmatch(
        keyed.invoke(cli, ["secrets", "encrypt", "--path", FIELD], input=CANARY).stdout.strip()
    ).group(1)
    other = "users.dairi001.initial_password"
    result = keyed.invoke(cli, ["secrets", "decrypt", "--path", other, token])
    assert result.exit_code == 1
    assert "was encrypted for another field" in result.stderr
    assert f"secrets encrypt --path {other}" in result.stderr
    assert CANARY not in result.output and "Traceback" not in result.output


def test_encrypt_without_a_key(runner):
    result = runner.invoke(cli, ["secrets", "encrypt", "--path", FIELD], input=CANARY)
    assert result.exit_code == 1
    assert "AINAS_SECRETS_KEY" in result.stderr and "AINAS_SECRETS_KEY_FILE" in result.stderr
    assert result.stdout == ""


def test_key_from_variable(runner, monkeypatch):
    key = crypto.generate_key()
    monkeypatch.setenv("AINAS_SECRETS_KEY", crypto.key_text(key))
    result = runner.invoke(cli, ["secrets", "encrypt", "--path", FIELD], input=CANARY)
    token = TOKEN.fullmatch(result.stdout.strip()).group(1)
    assert crypto.decrypt(token, FIELD, key) == CANARY
