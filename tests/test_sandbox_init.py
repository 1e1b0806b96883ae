"""``sandbox init``, ``sandbox reset`` and ``sandbox serve`` as a user runs them."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys

import pytest
from cryptography.x509.oid import NameOID

from ainas_emulator.files import SandboxFiles
from ainas_emulator.service import ADMIN_LOGIN_ID, INITIAL_PASSWORD, AinasSandbox
from ainas_provision.certs.reader import load_p12, read_p12
from tests.helpers import run
from tests.server_support import client_cert_password, count

PRIVATE = 0o600


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def common_name(name) -> str:
    return name.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def test_init_makes_what_a_new_agent_receives(tmp_path):
    directory = tmp_path / "sandbox"
    result = run("sandbox", "init", str(directory))
    assert result.exit_code == 0, result.stderr
    assert "abcde" in result.stdout
    files = SandboxFiles(directory)
    for path in (files.server_key, files.client_cert, files.notice, files.database):
        assert mode(path) == PRIVATE, path
    for path in (files.signing / "gyoseishoshi.p12", files.signing / "shogyo-toki.p12"):
        assert mode(path) == PRIVATE, path
    assert mode(files.signing / "passwords.txt") == PRIVATE

    notice = files.notice.read_text(encoding="utf-8")
    assert "代理人組織ID: 1" in notice
    assert "https://127.0.0.1:8443/" in notice
    assert files.client_cert.name in notice and files.ca.name in notice
    admins = re.findall(r"ログインID: (\S+)  初期パスワード: 99999999", notice)
    assert len(admins) == 3 and "abcde" in admins
    assert all(ADMIN_LOGIN_ID.fullmatch(login_id) for login_id in admins)

    # the client certificate opens with the notice's password and is issued by oss-ainasCA
    loaded = load_p12(files.client_cert.read_bytes(), client_cert_password(files))
    assert common_name(loaded.cert.certificate.issuer) == "oss-ainasCA"
    assert common_name(loaded.cert.certificate.subject) == "oss-ainas-agt-1"

    # the demo signing certificates open with the PIN/password of the note beside them
    note = (files.signing / "passwords.txt").read_text(encoding="utf-8")
    pin = re.search(r"PIN: (\S+)", note).group(1)
    password = re.search(r"パスワード: (\S+)", note).group(1)
    scrivener = (files.signing / "gyoseishoshi.p12").read_bytes()
    assert read_p12(scrivener, pin, cert_type="行政書士電子証明書").trade_name == "代理人A"
    corporate = (files.signing / "shogyo-toki.p12").read_bytes()
    assert read_p12(corporate, password, cert_type="商業登記電子証明書").trade_name

    sandbox = AinasSandbox(files.database)
    try:
        assert sandbox.tenants() == ["1"]
        for login_id in admins:
            assert sandbox.login(login_id, INITIAL_PASSWORD).must_change_password
    finally:
        sandbox.close()


def test_init_takes_organization_id_and_name(tmp_path):
    result = run(
        "sandbox", "init", str(tmp_path / "s"), "--organization-id", "20481", "--name", "代理人B"
    )
    assert result.exit_code == 0, result.stderr
    notice = SandboxFiles(tmp_path / "s").notice.read_text(encoding="utf-8")
    assert "代理人組織ID: 20481" in notice and "代理人組織名: 代理人B" in notice


def test_init_refuses_to_overwrite_unless_forced(tmp_path):
    directory = tmp_path / "sandbox"
    assert run("sandbox", "init", str(directory)).exit_code == 0
    files = SandboxFiles(directory)
    first = files.client_cert.read_bytes()
    result = run("sandbox", "init", str(directory))
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and "--force" in result.stderr
    assert files.client_cert.read_bytes() == first
    assert run("sandbox", "init", str(directory), "--force").exit_code == 0
    assert files.client_cert.read_bytes() != first


def test_reset_empties_the_tenant_and_keeps_the_certificates(tmp_path):
    directory = tmp_path / "sandbox"
    run("sandbox", "init", str(directory))
    files = SandboxFiles(directory)
    ca = files.ca.read_bytes()
    sandbox = AinasSandbox(files.database)
    try:
        admin = sandbox.change_password(
            sandbox.login("abcde", INITIAL_PASSWORD), "Changed-Pw-1", current_password=INITIAL_PASSWORD
        )
        site_id = sandbox.create(admin, "site", {"site_name": "本店", "site_short_name": "本店"})
        sandbox.create(
            admin,
            "user",
            {
                "login_id": "staff1",
                "user_name": "担当",
                "role": "担当者(送信可)",
                "site": site_id,
                "password": "Staff-Pw-1",
            },
        )
    finally:
        sandbox.close()
    result = run("sandbox", "reset", str(directory))
    assert result.exit_code == 0, result.stderr
    assert "abcde" in result.stdout
    assert count(files, "sites") == 0
    assert count(files, "users") == 3
    assert count(files, "users", "must_change_password = 1") == 3
    assert files.ca.read_bytes() == ca


def test_reset_of_a_directory_without_sandbox_is_a_clear_error(tmp_path):
    result = run("sandbox", "reset", str(tmp_path))
    assert result.exit_code == 1
    assert "sandbox init" in result.stderr


def test_serve_of_a_directory_without_sandbox_is_a_clear_error(tmp_path):
    result = run("sandbox", "serve", str(tmp_path), "--port", "0")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and "sandbox init" in result.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_serve_prints_the_real_port_and_stops_on_sigint(tmp_path):
    directory = tmp_path / "sandbox"
    run("sandbox", "init", str(directory))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ainas_provision",
            "sandbox",
            "serve",
            str(directory),
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    try:
        line = process.stdout.readline()
        match = re.fullmatch(r"listening on https://127\.0\.0\.1:(\d+)/\n", line)
        assert match, line
        assert int(match.group(1)) > 0
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=15)
    assert "Traceback" not in stderr


def test_serve_with_a_broken_server_certificate_is_a_clear_error(tmp_path):
    directory = tmp_path / "sandbox"
    run("sandbox", "init", str(directory))
    SandboxFiles(directory).server_cert.write_text("not a certificate\n")
    result = run("sandbox", "serve", str(directory), "--port", "0")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: cannot use the server certificate")
    assert "sandbox init --force" in result.stderr


def test_a_sandbox_file_of_an_older_format_is_refused_saying_what_to_do(tmp_path):
    import sqlite3

    from ainas_emulator.errors import SandboxError

    old = tmp_path / "ainas.sandbox.sqlite"
    db = sqlite3.connect(old)
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    db.commit()
    db.close()
    with pytest.raises(SandboxError, match=r"another version of the AINAS emulator .*delete it"):
        AinasSandbox(old)
    directory = tmp_path / "sandbox"
    run("sandbox", "init", str(directory))
    SandboxFiles(directory).database.unlink()
    old.rename(SandboxFiles(directory).database)
    result = run("sandbox", "reset", str(directory))
    assert result.exit_code == 1
    assert "another version of the AINAS emulator" in result.stderr
    assert "Traceback" not in result.stderr
