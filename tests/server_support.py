"""Support for tests of the sandbox server and the HTTPS backend: a sandbox directory made once
and copied per test, the server run in a background thread (always stopped), and the
environment a client needs to reach it."""

from __future__ import annotations

import re
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ainas_emulator.files import SandboxFiles
from ainas_emulator.init import init_sandbox
from ainas_emulator.serve import SandboxServer, ServeOptions
from ainas_provision.certs import pki

NEW_PASSWORD = "Canary-7f3Q!xZ"  # a canary: it must never appear in any output
ADMIN = "abcde"


def make_template(directory: Path) -> Path:
    init_sandbox(directory)
    return directory


def copy_sandbox(template: Path, directory: Path) -> SandboxFiles:
    shutil.copytree(template, directory)
    return SandboxFiles(directory)


def client_cert_password(files: SandboxFiles) -> str:
    notice = files.notice.read_text(encoding="utf-8")
    return re.search(r"^クライアント証明書パスワード: (\S+)$", notice, re.M).group(1)


@contextmanager
def running(files: SandboxFiles, **options) -> Iterator[SandboxServer]:
    """The sandbox server of ``files`` on 127.0.0.1 and a free port, stopped on exit."""
    server = SandboxServer(files.directory, ServeOptions(port=0, **options))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def client_env(
    files: SandboxFiles,
    *,
    login_id: str = ADMIN,
    password: str = "99999999",
    new_password: str | None = NEW_PASSWORD,
    **overrides: str,
) -> dict[str, str]:
    env = {
        "AINAS_LOGIN_ID": login_id,
        "AINAS_PASSWORD": password,
        "AINAS_CLIENT_CERT": str(files.client_cert),
        "AINAS_CLIENT_CERT_PASSWORD": client_cert_password(files),
        "AINAS_CA_FILE": str(files.ca),
    }
    if new_password:
        env["AINAS_NEW_PASSWORD"] = new_password
    env.update(overrides)
    return {k: v for k, v in env.items() if v}


def foreign_client_cert(directory: Path, password: str = "foreign-pass-1") -> Path:
    """A client certificate issued by another CA than the sandbox's."""
    other = pki.make_ca("oss-ainasCA")  # the same name, another key
    path = directory / "foreign.pfx"
    path.write_bytes(pki.export_pfx(pki.issue_client_cert(other), password))
    return path


def foreign_ca(directory: Path) -> Path:
    path = directory / "foreign-ca.pem"
    path.write_bytes(pki.make_ca("oss-ainasCA").cert_pem())
    return path


# the server's own bookkeeping of logins, not the tenant's data
BOOKKEEPING = ('"login_failures"', '"sessions"', '"sqlite_sequence"')


def dump(files: SandboxFiles) -> list[str]:
    """The tenant's data in the sandbox database, for "nothing was written" checks (sessions and
    counted login failures left out)."""
    db = sqlite3.connect(files.database)
    try:
        return [
            line
            for line in db.iterdump()
            if not (line.startswith(("INSERT INTO", "DELETE FROM")) and any(t in line for t in BOOKKEEPING))
        ]
    finally:
        db.close()


def count(files: SandboxFiles, table: str, where: str = "1") -> int:
    db = sqlite3.connect(files.database)
    try:
        return db.execute(f"SELECT COUNT(*) FROM {table} WHERE {where}").fetchone()[0]
    finally:
        db.close()
