"""plan and apply through the CLI against the sandbox server, over HTTPS with mutual TLS.

The server runs in a background thread on 127.0.0.1 and a free port, from a copy of a sandbox
made by ``sandbox init``; every test stops it. No secret value — passwords of the manifests, the
client certificate's password, the new admin password — may appear in any output.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from ainas_provision.state.keys import key_text
from tests.conftest import copy_example
from tests.helpers import run
from tests.server_support import (
    NEW_PASSWORD,
    client_cert_password,
    client_env,
    copy_sandbox,
    count,
    dump,
    foreign_ca,
    foreign_client_cert,
    make_template,
    running,
)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_template(tmp_path_factory.mktemp("template") / "sandbox")


@pytest.fixture
def files(template, tmp_path):
    return copy_sandbox(template, tmp_path / "sandbox")


@pytest.fixture
def manifests(tmp_path) -> Path:
    return copy_example("quickstart", tmp_path / "quickstart")


def secret_values(files, manifests: Path) -> list[str]:
    values = [NEW_PASSWORD, client_cert_password(files)]
    values += [p.read_text().strip() for p in (manifests / "secrets").glob("*.txt")]
    return values


class Cli:
    """Runs the CLI against one server, and checks that no secret is ever shown."""

    def __init__(self, files, manifests: Path, server) -> None:
        self.files = files
        self.manifests = manifests
        self.target = server.url.rstrip("/")
        self.secrets = secret_values(files, manifests)
        self.key = key_text(secrets.token_bytes(32))

    def env(self, **overrides) -> dict[str, str]:
        env = client_env(self.files, **overrides)
        env["AINAS_STATE_KEY"] = self.key
        return env

    def __call__(self, command: str, *args: str, env: dict[str, str] | None = None):
        result = run(command, str(self.manifests), "--target", self.target, *args, env=env)
        for value in self.secrets:
            assert value not in result.stdout and value not in result.stderr, command
        assert "Traceback" not in result.stderr
        return result


def rows(files) -> dict[str, int]:
    tables = ("sites", "batch_accounts", "certificates", "users")
    return {table: count(files, table) for table in tables}


def test_quickstart_over_https_from_the_initial_password(files, manifests):
    with running(files) as server:
        cli = Cli(files, manifests, server)
        result = cli("apply", "--auto-approve", env=cli.env())
        assert result.exit_code == 0, result.stderr
        out = result.stdout
        assert "session.abcde: password changed" in out
        assert out.index("password changed") < out.index("site.akihabara: created")
        assert "Apply complete" in out
        assert count(files, "sessions") == 0  # the run logged out
        after = cli.env(password=NEW_PASSWORD, new_password=None)
        again = cli("plan", "--detailed-exitcode", env=after)
        assert again.exit_code == 0, again.stdout + again.stderr
        assert count(files, "sessions") == 0
    assert rows(files) == {"sites": 1, "batch_accounts": 2, "certificates": 1, "users": 5}
    assert count(files, "users", "must_change_password = 1") == 2  # the two other admins


def test_the_connection_section_reaches_the_server(files, manifests):
    """Settings from the manifests: paths relative to the manifest, secrets by reference."""
    with running(files) as server:
        cli = Cli(files, manifests, server)
        relative = Path("..") / files.directory.name
        with (manifests / "ainas.yaml").open("a", encoding="utf-8") as handle:
            handle.write(
                "\nconnection:\n"
                f"  url: {server.url}\n"
                "  login_id: abcde\n"
                "  password: {env: SANDBOX_ADMIN_PASSWORD}\n"
                "  new_password: {env: SANDBOX_NEW_PASSWORD}\n"
                f"  client_cert: {relative / files.client_cert.name}\n"
                "  client_cert_password: {env: SANDBOX_CERT_PASSWORD}\n"
                f"  ca_file: {relative / files.ca.name}\n"
            )
        env = {
            "SANDBOX_ADMIN_PASSWORD": "99999999",
            "SANDBOX_NEW_PASSWORD": NEW_PASSWORD,
            "SANDBOX_CERT_PASSWORD": client_cert_password(files),
            "AINAS_STATE_KEY": cli.key,
        }
        result = cli("apply", "--auto-approve", env=env)
        assert result.exit_code == 0, result.stdout + result.stderr
        assert "session.abcde: password changed" in result.stdout
    assert rows(files)["users"] == 5


def _no_cert(files, tmp_path):
    return {"AINAS_CLIENT_CERT": ""}, "error: no client certificate: "


def _foreign_client_cert(files, tmp_path):
    path = foreign_client_cert(tmp_path, "Foreign-Canary-1")
    return (
        {"AINAS_CLIENT_CERT": str(path), "AINAS_CLIENT_CERT_PASSWORD": "Foreign-Canary-1"},
        "does not accept the client certificate",
    )


def _foreign_ca(files, tmp_path):
    return {"AINAS_CA_FILE": str(foreign_ca(tmp_path))}, "is not trusted: certificate verify failed"


def _wrong_cert_password(files, tmp_path):
    return (
        {"AINAS_CLIENT_CERT_PASSWORD": "Wrong-Canary-2"},
        "the PIN/password is wrong",
    )


def _wrong_login_password(files, tmp_path):
    return {"AINAS_PASSWORD": "Wrong-Canary-3"}, "failed: AINAS says ログインIDまたはパスワードが"


FAILURES = {
    "no client certificate": _no_cert,
    "client certificate of another CA": _foreign_client_cert,
    "server certificate the CA did not sign": _foreign_ca,
    "wrong client certificate password": _wrong_cert_password,
    "wrong login password": _wrong_login_password,
}


@pytest.mark.parametrize("case", FAILURES)
def test_connection_failures_are_one_clear_line_and_write_nothing(case, files, manifests, tmp_path):
    overrides, expected = FAILURES[case](files, tmp_path)
    before = dump(files)
    with running(files) as server:
        cli = Cli(files, manifests, server)
        cli.secrets += [v for k, v in overrides.items() if "PASSWORD" in k]
        env = {**cli.env(), **overrides}
        env = {k: v for k, v in env.items() if v}
        result = cli("apply", "--auto-approve", env=env)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert expected in lines[0]
    assert dump(files) == before
    assert not (manifests / "ainas.state.json").exists()


def test_a_site_manager_creates_staff_in_its_own_site_and_nothing_else(files, manifests):
    with running(files) as server:
        cli = Cli(files, manifests, server)
        assert cli("apply", "--auto-approve", env=cli.env()).exit_code == 0
        manager_password = (manifests / "secrets" / "dairi001-password.txt").read_text().strip()
        manager = cli.env(login_id="dairi001", password=manager_password, new_password=None)
        (manifests / "staff.yaml").write_text(
            "version: 1\n"
            "users:\n"
            "  dairi003:\n"
            "    name: 利活用 三郎\n"
            "    role: 担当者(送信不可)\n"
            "    site: akihabara\n"
            "    initial_password: {file: secrets/dairi002-password.txt}\n",
            encoding="utf-8",
        )
        result = cli("apply", "--auto-approve", env=manager)
        assert result.exit_code == 0, result.stdout + result.stderr
        assert "user.dairi003: created" in result.stdout
        assert count(files, "users", "login_id = 'dairi003'") == 1

        # outside its rights: another site manager, and the organization
        text = (manifests / "ainas.yaml").read_text(encoding="utf-8")
        text = text.replace("  short_name: 代理人A", "  short_name: 代理人Ａ本部", 1)
        (manifests / "ainas.yaml").write_text(text, encoding="utf-8")
        with (manifests / "staff.yaml").open("a", encoding="utf-8") as handle:
            handle.write(
                "  dairi004:\n"
                "    name: 利活用 四郎\n"
                "    role: 拠点管理者\n"
                "    site: akihabara\n"
                "    initial_password: {file: secrets/dairi002-password.txt}\n"
            )
        before = rows(files)
        plan = cli("plan", env=manager)
        assert plan.exit_code == 1
        shown = plan.stdout + plan.stderr
        rule = "拠点管理者ユーザーは所属拠点の担当者ユーザーのみ登録・追加・削除できます"
        assert (
            f"user.dairi004: dairi001 is a 拠点管理者 and may not make this change (AINAS: {rule})"
            in shown
        )
        assert "organization: dairi001 is a 拠点管理者 and may not make this change" in shown
        refused = cli("apply", "--auto-approve", env=manager)
        assert refused.exit_code == 1
    assert rows(files) == before
    assert count(files, "users", "login_id = 'dairi004'") == 0
    assert count(files, "tenants", "short_name = '代理人A'") == 1


def _more(manifests: Path, sites: int, users: int) -> None:
    lines = ["version: 1", "sites:"]
    for n in range(sites):
        wide = "".join(chr(0xFF10 + int(d)) for d in str(n))  # names are full-width
        lines += [f"  branch{n}:", f"    name: 支店{wide}号", f"    short_name: 支店{wide}"]
    lines.append("users:")
    for n in range(users):
        lines += [
            f"  staff{n:02}:",
            f"    name: 担当{n}",
            "    role: 担当者(送信可)",
            f"    site: branch{n % sites}",
            "    initial_password: {file: secrets/dairi002-password.txt}",
        ]
    (manifests / "more.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.slow
def test_repeated_applies_converge_on_a_lossy_server_without_duplicates(files, manifests):
    _more(manifests, sites=3, users=20)
    converged = False
    with running(files, fail_rate=0.2, seed=20261125) as server:
        cli = Cli(files, manifests, server)
        for _ in range(8):
            changed = count(files, "users", "login_id = 'abcde' AND must_change_password = 0")
            env = cli.env(password=NEW_PASSWORD, new_password=None) if changed else cli.env()
            applied = cli("apply", "--auto-approve", env=env)
            if applied.exit_code != 0:
                continue
            plan = cli("plan", "--detailed-exitcode", env=env)
            if plan.exit_code == 0:
                converged = True
                break
        injected = dict(server.app.injected)
    assert converged
    assert injected["before"] and injected["after"], injected
    assert rows(files) == {"sites": 4, "batch_accounts": 2, "certificates": 1, "users": 25}
    names = count(files, "(SELECT DISTINCT json_extract(fields, '$.site_name') FROM sites)")
    assert names == 4  # no site twice


def test_a_tenant_of_another_organization_is_refused_before_anything_is_read(files, manifests):
    text = (manifests / "ainas.yaml").read_text(encoding="utf-8")
    (manifests / "ainas.yaml").write_text(text.replace('id: "1"', 'id: "2"', 1), encoding="utf-8")
    before = rows(files)
    with running(files) as server:
        cli = Cli(files, manifests, server)
        result = run("--debug", "plan", str(manifests), "--target", cli.target, env=cli.env())
    assert result.exit_code == 1
    assert (
        f"error: {cli.target} is the tenant of 代理人組織ID 1, but the manifests describe "
        "代理人組織ID 2: refusing to plan against another organization"
    ) in result.stderr
    assert "backend calls: organization_id 1" in result.stderr  # nothing was read
    assert rows(files) == before


def test_the_same_tenant_under_another_spelling_of_its_url_is_recognised(files, manifests):
    """The state records the tenant by its 代理人組織ID: https://localhost:PORT/ is the tenant
    that https://127.0.0.1:PORT was, not another target."""
    with running(files) as server:
        cli = Cli(files, manifests, server)
        assert cli("apply", "--auto-approve", env=cli.env()).exit_code == 0
        after = cli.env(password=NEW_PASSWORD, new_password=None)
        port = server.url.rstrip("/").rsplit(":", 1)[1]
        for spelling in (f"https://localhost:{port}/", f"https://LOCALHOST:{port}"):
            result = run(
                "plan", str(manifests), "--target", spelling, "--detailed-exitcode", env=after
            )
            assert result.exit_code == 0, result.stdout + result.stderr
            assert "belongs to" not in result.stderr


def test_https_urls_have_one_spelling():
    from ainas_provision.targets.registry import normalize_url

    assert normalize_url("https://LocalHost:8443/") == "https://localhost:8443"
    assert normalize_url("https://127.0.0.1:8443") == "https://127.0.0.1:8443"
    assert (
        normalize_url("https://www.oss-ainas.jp:443/oss_agt/") == "https://www.oss-ainas.jp/oss_agt"
    )


def test_a_sites_api_account_and_members_are_read_over_https(files, manifests):
    from ainas_emulator.service import AinasSandbox

    with running(files) as server:
        cli = Cli(files, manifests, server)
        assert cli("apply", "--auto-approve", env=cli.env()).exit_code == 0
        sandbox = AinasSandbox(files.database)
        try:
            [site_id] = [
                r[0] for r in sandbox.store.connection().execute("SELECT site_id FROM sites")
            ]
            sandbox.set_api_account(site_id, api_key=None, password_expiry="2020-01-31")
            sandbox.add_member(site_id, "M001", "会員一郎")
        finally:
            sandbox.close()
        after = cli.env(password=NEW_PASSWORD, new_password=None)
        plan = cli("plan", "--detailed-exitcode", env=after)
        assert plan.exit_code == 0, plan.stdout + plan.stderr
        assert "site.akihabara: the APIアカウント's password expired on 2020-01-31" in plan.stdout
        assert "会員 会員一郎 (M001): not managed by this tool" in plan.stdout


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"login_id": ""}, "no login ID for https://127.0.0.1:"),
        ({"password": ""}, "no password for abcde at https://127.0.0.1:"),
    ],
)
def test_a_missing_login_id_or_password_is_refused_saying_where_to_set_it(
    files, manifests, overrides, expected
):
    with running(files) as server:
        cli = Cli(files, manifests, server)
        before = rows(files)
        result = cli("plan", env=cli.env(**overrides))
        assert result.exit_code == 1, result.stdout + result.stderr
        assert expected in result.stderr
        assert "AINAS_LOGIN_ID" in result.stderr or "AINAS_PASSWORD" in result.stderr
        assert count(files, "sessions") == 0  # no login was tried
    assert rows(files) == before
