from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import hashes
from helpers import PASSWORD, p12, signing_cert, utc_now

from ainas_provision.certs.info import JST
from ainas_provision.certs.types import CORPORATE, SCRIVENER
from ainas_provision.cli.main import cli


@pytest.fixture
def runner(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CERT_PIN", PASSWORD)
    return CliRunner()


def write(path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def test_inspect_text(runner, ca, tmp_path):
    issued = signing_cert(SCRIVENER, ca=ca)
    file = write(tmp_path / "cert.p12", p12(issued))
    result = runner.invoke(cli, ["certs", "inspect", file, "--password-env", "CERT_PIN"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "種別: 行政書士電子証明書" in lines
    assert "屋号(漢字): 代理人Ａ" in lines
    assert "氏名又は代表者名(漢字): 〇〇　〇〇" in lines
    assert "住所(都道府県〜番地): 東京都千代田区三崎町２丁目１５−６" in lines
    expiry = issued.cert.not_valid_after_utc.astimezone(JST).date()
    assert f"証明書有効期限: {expiry.isoformat()}" in lines
    assert "issuer: CN=Test G-ID CA" in lines
    assert f"SHA-256: {issued.cert.fingerprint(hashes.SHA256()).hex()}" in lines
    assert result.stderr == ""
    assert PASSWORD not in result.output


def test_inspect_detects_corporate(runner, ca, tmp_path):
    file = write(tmp_path / "corp.p12", p12(signing_cert(CORPORATE, ca=ca)))
    result = runner.invoke(cli, ["certs", "inspect", file, "--password-env", "CERT_PIN"])
    assert result.exit_code == 0, result.output
    assert "種別: 商業登記電子証明書" in result.stdout
    assert "会社法人等番号: 010005012345" in result.stdout
    assert "代表者の資格: 代表社員" in result.stdout


def test_inspect_json(runner, ca, tmp_path):
    issued = signing_cert(CORPORATE, ca=ca)
    file = write(tmp_path / "corp.p12", p12(issued))
    result = runner.invoke(
        cli,
        [
            "certs",
            "inspect",
            file,
            "--type",
            CORPORATE,
            "--password-env",
            "CERT_PIN",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["format_version"] == 1
    assert document["problems"] == []
    certificate = document["certificate"]
    assert certificate["kind"] == CORPORATE
    assert certificate["trade_name"] == "行政書士法人利活用"
    assert certificate["registered_number"] == "010005012345"
    assert certificate["not_after"] == issued.cert.not_valid_after_utc.isoformat()


def test_inspect_prompts_for_the_password(runner, ca, tmp_path, monkeypatch):
    monkeypatch.setattr("ainas_provision.cli.certs_cmd.on_terminal", lambda: True)
    file = write(tmp_path / "cert.p12", p12(signing_cert(ca=ca)))
    result = runner.invoke(cli, ["certs", "inspect", file], input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "PIN/password:" in result.output
    assert PASSWORD not in result.output  # hidden input
    assert "屋号(漢字): 代理人Ａ" in result.stdout


def test_inspect_without_a_terminal_says_to_use_password_env(runner, ca, tmp_path):
    file = write(tmp_path / "cert.p12", p12(signing_cert(ca=ca)))
    result = runner.invoke(cli, ["certs", "inspect", file], input=PASSWORD + "\n")
    assert result.exit_code == 1
    assert (
        "there is no terminal to ask for the PIN/password on: put it in an environment variable "
        "and pass --password-env NAME"
    ) in result.stderr
    assert "GetPassWarning" not in result.output


def test_expired_is_a_warning_line(runner, ca, tmp_path):
    now = utc_now()
    issued = signing_cert(
        ca=ca, not_before=now - dt.timedelta(days=800), not_after=now - dt.timedelta(days=10)
    )
    file = write(tmp_path / "old.p12", p12(issued))
    result = runner.invoke(cli, ["certs", "inspect", file, "--password-env", "CERT_PIN"])
    assert result.exit_code == 0
    assert result.stderr.startswith("warning: the certificate expired on ")
    json_result = runner.invoke(
        cli, ["certs", "inspect", file, "--password-env", "CERT_PIN", "--format", "json"]
    )
    assert [p["code"] for p in json.loads(json_result.stdout)["problems"]] == ["expired"]


def test_wrong_password(runner, ca, tmp_path, monkeypatch):
    monkeypatch.setenv("CERT_PIN", "wrong-pin-66613")
    file = write(tmp_path / "cert.p12", p12(signing_cert(ca=ca)))
    result = runner.invoke(cli, ["certs", "inspect", file, "--password-env", "CERT_PIN"])
    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"error: {file}: cannot open the .p12 file: either the PIN/password is wrong"
    )
    assert "Traceback" not in result.output
    assert "wrong-pin-66613" not in result.output and PASSWORD not in result.output


def test_wrong_type(runner, ca, tmp_path):
    file = write(tmp_path / "cert.p12", p12(signing_cert(SCRIVENER, ca=ca)))
    result = runner.invoke(
        cli, ["certs", "inspect", file, "--type", CORPORATE, "--password-env", "CERT_PIN"]
    )
    assert result.exit_code == 1
    assert "this is not a 商業登記電子証明書" in result.stderr


def test_not_pkcs12(runner, tmp_path):
    file = write(tmp_path / "notes.txt", b"hello")
    result = runner.invoke(cli, ["certs", "inspect", file, "--password-env", "CERT_PIN"])
    assert result.exit_code == 1
    assert result.stderr == f"error: {file}: the file is not a PKCS#12 (.p12/.pfx) file\n"


def test_password_variable_not_set(runner, ca, tmp_path):
    file = write(tmp_path / "cert.p12", p12(signing_cert(ca=ca)))
    result = runner.invoke(cli, ["certs", "inspect", file, "--password-env", "NO_SUCH_PIN"])
    assert result.exit_code == 1
    assert result.stderr == "error: --password-env names NO_SUCH_PIN, which is not set\n"


def test_inspect_prints_validity_in_japan_time(runner, ca, tmp_path):
    file = write(tmp_path / "cert.p12", p12(signing_cert(ca=ca)))
    result = runner.invoke(cli, ["certs", "inspect", file, "--password-env", "CERT_PIN"])
    assert result.exit_code == 0, result.output
    valid = next(line for line in result.stdout.splitlines() if line.startswith("valid: "))
    assert valid.count("+09:00") == 2, valid
