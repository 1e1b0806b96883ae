"""The browser target against the emulator's web screens, end to end, through the CLI.

The sandbox server runs on 127.0.0.1 (a background thread); Debian's Chromium is driven by
Playwright with the sandbox's client certificate. No secret may appear in any output or in any
file the target writes (screenshots under ``.ainas/`` included).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ainas_provision.targets.browser.launch import client_certificate_bytes
from tests.conftest import FIXTURES, copy_example
from tests.helpers import run
from tests.server_support import (
    NEW_PASSWORD,
    client_cert_password,
    client_env,
    copy_sandbox,
    count,
    foreign_client_cert,
    make_template,
    running,
)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_template(tmp_path_factory.mktemp("template") / "sandbox")


@pytest.fixture(scope="module")
def template_20481(tmp_path_factory):
    from ainas_emulator.init import init_sandbox

    directory = tmp_path_factory.mktemp("template20481") / "sandbox"
    init_sandbox(directory, organization_id="20481")
    return directory


@pytest.fixture
def files(template, tmp_path):
    return copy_sandbox(template, tmp_path / "sandbox")


def secrets_of(files, manifests: Path) -> list[str]:
    values = [NEW_PASSWORD, client_cert_password(files)]
    values += [p.read_text().strip() for p in manifests.rglob("secrets/*.txt")]
    return [v for v in values if v]


def check_no_leak(result, values, manifests: Path) -> None:
    for value in values:
        assert value not in result.stdout and value not in result.stderr
    for written in (manifests / ".ainas").rglob("*") if (manifests / ".ainas").exists() else []:
        data = written.read_bytes()
        for value in values:
            assert value.encode() not in data, written


def cycle(files, manifests: Path, server, env_extra=None) -> None:
    """plan → apply → plan (no changes), changing the admin's initial password first."""
    target = f"browser+{server.url}oss_agt/"
    values = secrets_of(files, manifests)
    env = client_env(files, **(env_extra or {}))
    first = run("apply", str(manifests), "--target", target, "--auto-approve", env=env)
    check_no_leak(first, values, manifests)
    assert first.exit_code == 0, first.stderr
    assert "Apply complete" in first.stdout
    env["AINAS_PASSWORD"] = NEW_PASSWORD
    again = run("plan", str(manifests), "--target", target, "--detailed-exitcode", env=env)
    check_no_leak(again, values, manifests)
    assert again.exit_code == 0, again.stdout + again.stderr
    assert "No changes" in again.stdout


def test_quickstart_plan_apply_plan_through_the_screens(files, tmp_path):
    manifests = copy_example("quickstart", tmp_path / "quickstart")
    with running(files) as server:
        target = f"browser+{server.url}oss_agt/"
        plan = run("plan", str(manifests), "--target", target, env=client_env(files))
        assert plan.exit_code == 0, plan.stderr
        assert "session.abcde" in plan.stdout  # the first login's forced password change
        cycle(files, manifests, server)
    assert count(files, "sites") == 1
    assert count(files, "batch_accounts") == 2
    assert count(files, "users", "role != '管理者'") == 2
    assert count(files, "certificates") == 1


def test_multi_branch_plan_apply_plan(template_20481, tmp_path):
    files = copy_sandbox(template_20481, tmp_path / "sandbox")
    manifests = copy_example("multi-branch", tmp_path / "multi")
    with running(files) as server:
        cycle(files, manifests, server)
    assert count(files, "sites") == len(list((manifests / "sites").glob("*.yaml")))


def test_refused_without_a_client_certificate(files, tmp_path):
    manifests = copy_example("quickstart", tmp_path / "quickstart")
    with running(files) as server:
        env = client_env(files)
        del env["AINAS_CLIENT_CERT"]
        result = run("plan", str(manifests), "--target", f"browser+{server.url}oss_agt/", env=env)
    assert result.exit_code == 1
    assert "no client certificate" in result.stderr and "AINAS_CLIENT_CERT" in result.stderr
    assert "Traceback" not in result.stderr


def test_refused_with_a_wrong_client_certificate(files, tmp_path):
    manifests = copy_example("quickstart", tmp_path / "quickstart")
    foreign = foreign_client_cert(tmp_path)
    with running(files) as server:
        env = client_env(
            files, AINAS_CLIENT_CERT=str(foreign), AINAS_CLIENT_CERT_PASSWORD="foreign-pass-1"
        )
        result = run("plan", str(manifests), "--target", f"browser+{server.url}oss_agt/", env=env)
    assert result.exit_code == 1
    assert "refused the TLS handshake" in result.stderr, result.stderr
    assert count(files, "sites") == 0


def test_rc2_40_client_certificate_is_reencoded_in_memory(files, tmp_path):
    """An old Windows export (RC2-40) is refused by the browser as it is: the target re-encodes
    it in memory and gets in."""
    password = client_cert_password(files)
    pem = tmp_path / "client.pem"
    subprocess.run(
        ["openssl", "pkcs12", "-in", str(files.client_cert), "-nodes", "-passin", f"pass:{password}", "-out", str(pem)],
        check=True, capture_output=True,
    )
    legacy = tmp_path / "legacy.pfx"
    subprocess.run(
        ["openssl", "pkcs12", "-export", "-legacy", "-in", str(pem), "-passout", f"pass:{password}",
         "-certpbe", "PBE-SHA1-RC2-40", "-keypbe", "PBE-SHA1-RC2-40", "-out", str(legacy)],
        check=True, capture_output=True,
    )
    pem.unlink()
    from ainas_provision.certs.pfx import inspect

    assert "RC2-40" in inspect(legacy.read_bytes()).ciphers
    assert "RC2-40" not in inspect(client_certificate_bytes(legacy.read_bytes(), password, "x")).ciphers
    manifests = copy_example("quickstart", tmp_path / "quickstart")
    with running(files) as server:
        env = client_env(files, AINAS_CLIENT_CERT=str(legacy))
        result = run("plan", str(manifests), "--target", f"browser+{server.url}oss_agt/", env=env)
    assert result.exit_code == 0, result.stderr
    assert "session.abcde" in result.stdout


def test_rc2_fixture_reencodes_and_opens():
    data = (FIXTURES / "certs" / "scrivener-rc2-40.p12").read_bytes()
    out = client_certificate_bytes(data, "rc2-fixture-pin", "fixture")
    from cryptography.hazmat.primitives.serialization import pkcs12

    assert pkcs12.load_key_and_certificates(out, b"rc2-fixture-pin")[1] is not None


def test_probe_finds_every_screen_of_the_catalogue(files, tmp_path):
    manifests = copy_example("quickstart", tmp_path / "quickstart")
    with running(files) as server:
        target = f"browser+{server.url}oss_agt/"
        cycle(files, manifests, server)
        env = client_env(files, password=NEW_PASSWORD)
        override = tmp_path / "ainas-screens.local.yaml"
        result = run(
            "probe", str(tmp_path), "--target", target, "--write-override", str(override), env=env
        )
        assert result.exit_code == 0, result.stdout + result.stderr
        assert "MISSING" not in result.stdout
        assert "代理人拠点登録" in result.stdout and "登録審査開始締切時間" in result.stdout
        assert count(files, "sites") == 1  # nothing written
    import ainas_catalogue

    seen = ainas_catalogue.load(override).screen("staff_register").field("default_destination_office")
    assert "練馬" in seen.option_values and {o.source for o in seen.options} == {"observed"}


def test_probe_reports_the_one_altered_label(files, tmp_path):
    """A server whose screen prints one label otherwise (a server-side catalogue override)."""
    override = tmp_path / "server-screens.yaml"
    override.write_text(
        "version: 1\nscreens:\n  site_register:\n    fields:\n      review_deadline:\n"
        "        label: 登録審査開始締切時刻\n",
        encoding="utf-8",
    )
    with running(files, screens_file=override) as server:
        target = f"browser+{server.url}oss_agt/"
        from ainas_emulator.service import AinasSandbox

        sandbox = AinasSandbox(files.database)
        try:
            sandbox.change_password(sandbox.actor("abcde"), NEW_PASSWORD, current_password="99999999")
        finally:
            sandbox.close()
        env = client_env(files, password=NEW_PASSWORD)
        result = run("probe", str(tmp_path), "--target", target, env=env)
    assert result.exit_code == 1
    missing = [line for line in result.stdout.splitlines() if "MISSING" in line]
    assert missing == [next(line for line in missing if "登録審査開始締切時間" in line)], missing
    assert missing[0].startswith("代理人拠点登録")


def test_site_manager_is_refused_what_the_user_type_table_forbids(files, tmp_path):
    manifests = copy_example("quickstart", tmp_path / "quickstart")
    with running(files) as server:
        cycle(files, manifests, server)
        password = (manifests / "secrets" / "dairi001-password.txt").read_text().strip()
        from ainas_provision.domain.desired import DesiredState
        from ainas_provision.targets.base import BackendError
        from ainas_provision.targets.browser import BrowserOptions, open_browser

        env = client_env(files, login_id="dairi001", password=password)
        options = BrowserOptions(evidence_dir=tmp_path / ".ainas")
        backend = open_browser(
            f"browser+{server.url}oss_agt/", DesiredState.empty("1"), env, options=options
        )
        try:
            session = backend.session()
            assert session.role == "拠点管理者" and session.site_id
            current = backend.read()
            assert list(current.sites) == [session.site_id]
            with pytest.raises(BackendError) as refused:
                backend.create(
                    "user",
                    {"login_id": "dairi009", "name": "拠点二", "role": "拠点管理者", "site_id": session.site_id, "password": "Xy-12345678"},
                )
            assert "代理人拠点管理者ユーザー登録" in refused.value.message
        finally:
            backend.close()
    assert count(files, "users", "login_id = 'dairi009'") == 0


def test_a_browser_killed_mid_form_then_a_rerun_converges(files, tmp_path, monkeypatch):
    """The browser dies right after 確定 of a new site, before its 拠点ID is read: the apply
    fails naming it, and the next apply finds the site by its natural key instead of creating
    it twice."""
    from ainas_provision.targets.browser import BrowserBackend

    original = BrowserBackend._raise_screen_errors
    killed = []

    def crash(self, worker, screen):
        original(self, worker, screen)
        if screen.id == "site_register" and not killed:
            killed.append(screen.id)
            worker.browser.close()  # as if the browser process were killed

    monkeypatch.setattr(BrowserBackend, "_raise_screen_errors", crash)
    manifests = copy_example("quickstart", tmp_path / "quickstart")
    with running(files) as server:
        target = f"browser+{server.url}oss_agt/"
        env = client_env(files)
        first = run("apply", str(manifests), "--target", target, "--auto-approve", env=env)
        assert first.exit_code == 1
        assert "site.akihabara: failed: the browser failed in the middle of a step" in first.stdout + first.stderr
        assert killed and count(files, "sites") == 1  # AINAS made it; the state does not know
        monkeypatch.setattr(BrowserBackend, "_raise_screen_errors", original)
        env["AINAS_PASSWORD"] = NEW_PASSWORD
        second = run("apply", str(manifests), "--target", target, "--auto-approve", env=env)
        assert second.exit_code == 0, second.stdout + second.stderr
        assert "site.akihabara" in second.stdout and "adopt" in second.stdout
        again = run("plan", str(manifests), "--target", target, "--detailed-exitcode", env=env)
        assert again.exit_code == 0, again.stdout
    assert count(files, "sites") == 1


def test_supervised_the_operator_presses_kakutei(files, tmp_path):
    """Supervised mode, headless here: the tool fills the form and waits; the test plays the
    operator, who checks the screen and presses 確定 on the form and on its confirmation."""
    from ainas_emulator.service import AinasSandbox
    from ainas_provision.domain.desired import DesiredState
    from ainas_provision.targets.browser import BrowserOptions, open_browser

    sandbox = AinasSandbox(files.database)
    try:
        sandbox.change_password(sandbox.actor("abcde"), NEW_PASSWORD, current_password="99999999")
    finally:
        sandbox.close()
    pressed = []

    def operator(page):
        heading = page.locator("h1").inner_text()
        if heading.startswith("代理人拠点登録"):
            cell = page.locator("xpath=//th[normalize-space()='代理人拠点名']/following-sibling::td[1]")
            seen = cell.locator("input").input_value() if heading == "代理人拠点登録" else cell.inner_text()
            assert seen == "監督事務所"  # what the tool filled in, checked by the operator
            pressed.append(heading)
            page.get_by_role("button", name="確定", exact=True).click()

    options = BrowserOptions(
        supervised=True, headless=True, operator=operator, evidence_dir=tmp_path / ".ainas"
    )
    with running(files) as server:
        env = client_env(files, password=NEW_PASSWORD)
        backend = open_browser(
            f"browser+{server.url}oss_agt/", DesiredState.empty("1"), env, options=options
        )
        try:
            site_id = backend.create("site", {"name": "監督事務所", "short_name": "監督"})
        finally:
            backend.close()
    assert pressed == ["代理人拠点登録", "代理人拠点登録確認"]
    assert count(files, "sites", f"site_id = '{site_id}'") == 1


def test_failure_screenshot_is_named_and_holds_no_secret(files, tmp_path):
    """AINAS refuses a user (the ログインID is taken): the error names the screen and the field,
    and a screenshot of the page is saved under .ainas/ beside the state."""
    manifests = copy_example("quickstart", tmp_path / "quickstart")
    with running(files) as server:
        from ainas_emulator.service import AinasSandbox

        sandbox = AinasSandbox(files.database)
        try:  # someone took dairi002's ログインID in another organization meanwhile
            sandbox.create_tenant("2", "他社", "他社", [("zyxwv", "他")])
            other = sandbox.actor("zyxwv")
            sandbox.change_password(other, "Other-pass-9", current_password="99999999")
            site = sandbox.create(sandbox.actor("zyxwv"), "site", {"site_name": "他社拠点", "site_short_name": "他社"})
            sandbox.create(sandbox.actor("zyxwv"), "user", {"login_id": "dairi002", "user_name": "他", "role": "担当者(送信可)", "site": site, "password": "Other-pass-9"})
        finally:
            sandbox.close()
        target = f"browser+{server.url}oss_agt/"
        result = run("apply", str(manifests), "--target", target, "--auto-approve", env=client_env(files))
    output = result.stdout + result.stderr
    assert result.exit_code == 1
    assert "AINAS refused 代理人担当者ユーザー登録: ログインID dairi002 は既に使用されています。 (field ログインID)" in output
    shots = list((manifests / ".ainas").glob("*.png"))
    assert shots and str(shots[0].name) in output
    check_no_leak(result, secrets_of(files, manifests), manifests)


def test_trace_only_when_asked_and_after_a_warning(files, tmp_path):
    from ainas_emulator.service import AinasSandbox
    from ainas_provision.domain.desired import DesiredState
    from ainas_provision.targets.browser import BrowserOptions, open_browser

    warned = run("apply", str(tmp_path / "nothing-here"), "--trace", "--auto-approve")
    assert "--trace records every value typed into the browser, passwords included" in warned.stderr
    sandbox = AinasSandbox(files.database)
    try:
        sandbox.change_password(sandbox.actor("abcde"), NEW_PASSWORD, current_password="99999999")
    finally:
        sandbox.close()
    evidence = tmp_path / ".ainas"
    with running(files) as server:
        env = client_env(files, password=NEW_PASSWORD)
        for trace in (False, True):
            options = BrowserOptions(trace=trace, evidence_dir=evidence)
            backend = open_browser(f"browser+{server.url}oss_agt/", DesiredState.empty("1"), env, options=options)
            try:
                backend.read()
            finally:
                backend.close()
            traces = list(evidence.glob("*trace*.zip")) if evidence.exists() else []
            assert bool(traces) == trace
