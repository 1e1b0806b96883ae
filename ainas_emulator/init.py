"""``sandbox init`` and ``sandbox reset``: a sandbox directory as a new agent receives AINAS.

The association gives a new agent a 利用登録通知書 (registration notice), a client certificate
(.pfx) and its password, and up to three admins with the initial password ``99999999``. ``init``
makes all of that for the sandbox server — with a test CA ``oss-ainasCA`` that signs both the
server certificate and the client certificate — plus demo signing certificates of both kinds, so
that a whole first setup can be rehearsed. Every file holding a key or a password is mode 0600.

**[project decision]** The three admins have fixed login IDs (``abcde`` — the one the start
guide and the quickstart example use — ``fhjkm`` and ``npqrs``): 5 characters of a–z and 2–8 that
avoid the letters the guide warns are confused with digits (o, l, g).
"""

from __future__ import annotations

import datetime as dt
import secrets
import shutil
import string
from dataclasses import dataclass
from pathlib import Path

from ainas_emulator.errors import SandboxError
from ainas_emulator.files import SandboxFiles, write_private, write_public
from ainas_emulator.service import ADMIN_ROLE, INITIAL_PASSWORD, AinasSandbox
from ainas_provision import portable
from ainas_provision.certs import pki
from ainas_provision.certs.types import CORPORATE, SCRIVENER

DEFAULT_ORGANIZATION_ID = "1"
DEFAULT_NAME = "代理人A"
DEFAULT_URL = "https://127.0.0.1:8443/"
ADMINS = (("abcde", "利活用一郎"), ("fhjkm", "利活用二郎"), ("npqrs", "利活用三郎"))
SERVER_HOSTS = ("localhost", "127.0.0.1")
SCRIVENER_FIELDS = {
    "representative_name": "〇〇　〇〇",
    "address": "東京都千代田区三崎町２丁目１５−６",
}
CORPORATE_FIELDS = {
    "trade_name": "行政書士法人利活用",
    "representative_name": "利活用　一郎",
    "address": "東京都千代田区三崎町２丁目１５−６",
    "registered_number": "010005012345",
    "director_title": "代表社員",
    "registry_office": "東京法務局",
}

JAPAN = dt.timezone(dt.timedelta(hours=9), "JST")  # dates are shown in Japan time


@dataclass(frozen=True)
class Tenant:
    """A tenant made by `sandbox init`: its 代理人組織ID, its name and its first admins."""

    organization_id: str
    name: str
    admins: tuple[tuple[str, str], ...]


def _random_password(length: int = 16) -> str:
    """Half-width letters and digits, case-sensitive, as the notice's passwords are; without the
    characters people confuse when they copy it (0/O/o, 1/l/I, 9/g)."""
    alphabet = "".join(c for c in string.ascii_letters + string.digits if c not in "0Oo1lI9g")
    while True:
        value = "".join(secrets.choice(alphabet) for _ in range(length))
        if any(c.isdigit() for c in value) and any(c.isupper() for c in value):
            return value


def init_sandbox(
    directory: Path,
    *,
    organization_id: str = DEFAULT_ORGANIZATION_ID,
    name: str = DEFAULT_NAME,
    url: str = DEFAULT_URL,
    force: bool = False,
) -> SandboxFiles:
    """Create a sandbox in ``directory``: certificates, the tenant, the registration notice.
    Refuses to overwrite an existing sandbox unless ``force``."""
    files = SandboxFiles(Path(directory))
    existing = [path for path in files.written() if path.exists()]
    if existing and not force:
        raise SandboxError(
            f"{directory} already holds a sandbox ({existing[0].name}): use --force to replace it, "
            f"or `ainas-provision sandbox reset {directory}` to empty its tenant"
        )
    files.directory.mkdir(parents=True, exist_ok=True)
    for path in existing:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()

    ca = pki.make_ca("oss-ainasCA")
    server = pki.issue_server_cert(ca, SERVER_HOSTS)
    client = pki.issue_client_cert(ca, files.client_cert.stem)
    client_password = _random_password()
    write_public(files.ca, ca.cert_pem())
    write_public(files.server_cert, server.cert_pem() + ca.cert_pem())
    write_private(files.server_key, server.key_pem())
    write_private(files.client_cert, pki.export_pfx(client, client_password, ca_certs=[ca.cert]))
    signing_note = _write_signing_certificates(files.signing, name)

    sandbox = AinasSandbox(files.database)
    try:
        sandbox.create_tenant(organization_id, name, name, ADMINS)
    finally:
        sandbox.close()
    portable.make_private(files.database)

    tenant = Tenant(organization_id, name, ADMINS)
    write_private(files.notice, _notice(files, tenant, url, client_password, signing_note).encode())
    return files


def _write_signing_certificates(directory: Path, trade_name: str) -> str:
    """Demo 電子証明書 of both kinds, with random PIN/password; returns the note of their values."""
    directory.mkdir(mode=0o700, exist_ok=True)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    start, end = now - dt.timedelta(days=30), now + dt.timedelta(days=365)
    made = []
    for kind, file_name, secret_name, fields in (
        (SCRIVENER, "gyoseishoshi.p12", "PIN", {"trade_name": trade_name, **SCRIVENER_FIELDS}),
        (CORPORATE, "shogyo-toki.p12", "パスワード", CORPORATE_FIELDS),
    ):
        password = _random_password(12)
        issued = pki.make_signing_certificate(kind, not_before=start, not_after=end, **fields)
        write_private(directory / file_name, pki.export_pfx(issued, password))
        made.append(
            f"{file_name}: {kind}\n"
            f"  {secret_name}: {password}\n"
            f"  屋号(漢字): {fields['trade_name']}\n"
            f"  氏名又は代表者名(漢字): {fields['representative_name']}\n"
            f"  住所: {fields['address']}\n"
            f"  有効期限: {end.astimezone(JAPAN).date().isoformat()}\n"  # as AINAS shows it
        )
    note = (
        "デモ用の電子証明書 (demo signing certificates for the sandbox; not valid anywhere else)\n\n"
        + "\n".join(made)
    )
    write_private(directory / "passwords.txt", note.encode())
    return note


def _notice(files: SandboxFiles, tenant: Tenant, url: str, client_password: str, signing) -> str:
    admins = "\n".join(
        f"  ユーザー名: {admin_name}  ログインID: {login_id}  初期パスワード: {INITIAL_PASSWORD}"
        for login_id, admin_name in tenant.admins
    )
    return f"""利用登録通知書 (AINAS sandbox)

This is what the association sends a new agent, made for the sandbox server. It holds
passwords: keep it private (this file is mode 0600).

代理人組織ID: {tenant.organization_id}
代理人組織名: {tenant.name}
ログインURL: {url}  (or the URL `ainas-provision sandbox serve` prints)
クライアント証明書: {files.client_cert.name}
クライアント証明書パスワード: {client_password}
サーバーのCA証明書 (CA certificate of the server): {files.ca.name}

管理者 (admins; each must change the initial password at first login):
{admins}

To reach the sandbox server with ainas-provision, set:
  AINAS_LOGIN_ID={tenant.admins[0][0]}
  AINAS_PASSWORD=<the admin's password: {INITIAL_PASSWORD} until changed>
  AINAS_NEW_PASSWORD=<the new password, at first login>
  AINAS_CLIENT_CERT={files.client_cert.name}
  AINAS_CLIENT_CERT_PASSWORD=<クライアント証明書パスワード above>
  AINAS_CA_FILE={files.ca.name}
(paths relative to this directory)

{signing}"""


def reset_sandbox(directory: Path) -> list[Tenant]:
    """Empty every tenant of the sandbox back to its initial state: no certificate, site or user,
    the same admins with the initial password. The certificates on disk are kept."""
    files = SandboxFiles(Path(directory))
    if not files.database.is_file():
        raise SandboxError(
            f"{directory} holds no sandbox ({files.database.name} is missing): create one with "
            f"`ainas-provision sandbox init {directory}`"
        )
    sandbox = AinasSandbox(files.database)
    try:
        with sandbox.store.transaction() as db:
            tenants = db.execute("SELECT org_id, name, short_name FROM tenants").fetchall()
            admins = db.execute(
                "SELECT org_id, login_id, name FROM users WHERE role = ? ORDER BY login_id",
                (ADMIN_ROLE,),
            ).fetchall()
            for table in (
                "sessions",
                "login_failures",
                "idempotency",
                "faults",
                "batch_accounts",
                "users",
                "sites",
                "certificates",
                "tenants",
            ):
                db.execute(f"DELETE FROM {table}")
        out = []
        for tenant in tenants:
            own = tuple(
                (a["login_id"], a["name"]) for a in admins if a["org_id"] == tenant["org_id"]
            )
            sandbox.create_tenant(tenant["org_id"], tenant["name"], tenant["short_name"], own)
            out.append(Tenant(tenant["org_id"], tenant["name"], own))
    finally:
        sandbox.close()
    return out
