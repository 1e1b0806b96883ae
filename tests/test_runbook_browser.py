"""The runbook in a real browser (Playwright driving the system's Chromium).

A test plays the operator: it opens the runbook page, reads every value of the current step as a
person would (each secret through its Show control), enters them into AINAS — the emulator —,
reads the 拠点ID AINAS assigned, reports it back and confirms. Once every step is done, ``plan``
against the emulator, with the state the runbook wrote, shows no changes: the steps were complete
and correct. Meanwhile every request the page made is recorded: no secret may appear in the
page's HTML, in any request or answer but the explicit reveal, or in any file.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from ainas_emulator.service import Actor, AinasSandbox
from ainas_provision.state.store import LocalStateStore
from tests.helpers import run
from tests.runbook_support import (
    CANARIES,
    QUICKSTART_STEPS,
    assert_files_clean,
    assert_no_canary,
    make_workspace,
    served,
)

TIMEOUT = 10_000  # ms


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    return make_workspace(tmp_path, monkeypatch)


class Traffic:
    """Every request the page makes and every answer it gets, for the canary checks."""

    def __init__(self, page: Page) -> None:
        self.requests: list[tuple[str, str, bytes]] = []
        self.answers: list[tuple[str, bytes]] = []
        page.on("request", self._request)
        page.on("response", self._response)

    def _request(self, request) -> None:
        self.requests.append((request.method, request.url, request.post_data_buffer or b""))

    def _response(self, response) -> None:
        try:
            body = response.body()
        except Exception:  # a response without a body (a redirect)
            body = b""
        self.answers.append((response.url, body))

    def reveals(self) -> int:
        return sum(url.endswith("/api/secret") for _, url, _ in self.requests)

    def assert_clean(self) -> None:
        for method, url, body in self.requests:
            assert_no_canary(url, f"{method} {url}")
            assert_no_canary(body, f"the body of {method} {url}")
        for url, body in self.answers:
            if not url.endswith("/api/secret"):
                assert_no_canary(body, f"the answer to {url}")


# -- the operator ------------------------------------------------------------------------------
def read_step(page: Page) -> dict:
    """What a person reads on the current step: each screen's fields, secrets through Show."""
    current = page.locator(".step.current")
    screens = []
    for screen in current.locator(".screen").all():
        values: dict[str, str] = {}
        for row in screen.locator("tr[data-field]").all():
            field = row.get_attribute("data-field")
            secret = row.locator(".secret-value")
            if secret.count():
                show = row.locator("button.show")
                show.click()
                expect(secret).not_to_have_text("", timeout=TIMEOUT)
                values[field] = secret.inner_text()
                show.click()  # hidden again
                expect(secret).to_have_text("")
            else:
                values[field] = row.locator("[data-value]").get_attribute("data-value")
        screens.append({"id": screen.get_attribute("data-screen"), "values": values})
    return {"address": current.get_attribute("data-address"), "screens": screens}


class EmbeddedAinas:
    """AINAS for the operator: the emulator, entered screen by screen with the values read from
    the runbook page, by the catalogue's field ids (the emulator's own names). [The emulator's
    web screens take this place once they exist: the same values, typed into its pages.]"""

    def __init__(self, path: Path, workspace: Path) -> None:
        self.sandbox = AinasSandbox(path)
        self.sandbox.create_tenant("1", "代理人A", "代理人A", [("abcde", "利活用一郎")])
        admin = self.sandbox.first_admin("1")  # as the embedded target acts: no login
        self.actor = Actor(admin.login_id, admin.org_id, admin.role, None, False)
        self.workspace = workspace
        self.site_ids: dict[str, str] = {}  # site name -> 拠点ID

    def enter(self, step: dict) -> str | None:
        kind = step["address"].split(".")[0]
        values: dict[str, object] = {}
        for screen in step["screens"]:
            values.update(screen["values"])
        for name, value in list(values.items()):
            if value == "":
                values[name] = None
            elif value in ("true", "false") and name == "kei_client_receipt_selectable":
                values[name] = value == "true"
        # the emulator takes the screens' own field ids and forms, as the operator types them
        if kind == "certificate":
            name = re.search(r"[\w.-]+\.p12", str(values["file"])).group(0)
            values["file"] = (self.workspace / "certs" / name).read_bytes()
            return self.sandbox.create(self.actor, "certificate", values)
        if kind == "site":
            site_id = self.sandbox.create(self.actor, "site", values)
            self.site_ids[str(values["site_name"])] = site_id
            return site_id
        if kind in ("batch_account", "kei_batch_account"):
            site_id = re.search(r"[0-9]{9}", step["menu"]).group(0)
            return self.sandbox.create(self.actor, kind, values, parent=site_id)
        values["site"] = re.search(r"[0-9]{9}", str(values["site"])).group(0)
        if step["screens"][-1]["id"] == "site_manager_register":
            values["role"] = "拠点管理者"  # the screen is the site managers'
        return self.sandbox.create(self.actor, "user", values)

    def close(self) -> None:
        self.sandbox.close()


def operate(page: Page, ainas: EmbeddedAinas, *, wrong_site_id: str | None = None) -> None:
    """Do every step of the open runbook: read, enter into AINAS, report back, confirm."""
    while page.locator(".step.current").count():
        step = read_step(page)
        step["menu"] = page.locator(".step.current .menu").first.inner_text()
        assigned = ainas.enter(step)
        current = page.locator(".step.current")
        ask = current.locator("input[data-ask=site_id]")
        if ask.count():
            if wrong_site_id is not None:
                ask.fill(wrong_site_id)
                current.locator("button.done").click()
                expect(current.locator(".error")).to_contain_text(
                    "is not a 代理人拠点ID", timeout=TIMEOUT
                )
                expect(page.locator(".step.current")).to_have_attribute(
                    "data-address", step["address"]
                )
                wrong_site_id = None
            ask.fill(assigned)
            ask.press("Enter")  # the keyboard submits
        else:
            current.locator("button.done").click()
        expect(page.locator(f'.step.done[data-address="{step["address"]}"]')).to_have_count(
            1, timeout=TIMEOUT
        )


# -- the tests ---------------------------------------------------------------------------------
def test_the_operator_does_every_step_and_the_next_plan_is_empty(workspace, tmp_path, page):
    ainas = EmbeddedAinas(tmp_path / "ainas.sqlite", workspace)
    traffic = Traffic(page)
    try:
        with served(workspace, lang="ja") as (server, opened):
            response = page.goto(server.url)
            assert_no_canary(response.body(), "the page's HTML")
            expect(page.locator(".step.current")).to_have_attribute("data-address", "certificate")
            assert page.locator(".step").count() == len(QUICKSTART_STEPS)
            # the page names where each secret comes from, never the value
            expect(page.locator(".step.current")).to_contain_text("{env: RB_CERT_PIN}")
            operate(page, ainas, wrong_site_id="12345")
            expect(page.locator("#banner")).to_contain_text("すべての手順が完了しました")
            assert_no_canary(page.content(), "the page at the end")
            assert opened.ended == "done"
    finally:
        ainas.close()
    traffic.assert_clean()
    assert traffic.reveals() == 8  # one per Show press: 2 certificate, 4 batch, 2 users
    storage = page.evaluate("() => [localStorage.length, sessionStorage.length]")
    assert storage == [0, 0]
    assert_files_clean(tmp_path, skip=("secrets",))
    state = LocalStateStore(workspace / "ainas.state.json").load()
    assert state.site_id("akihabara") == ainas.site_ids["利活用事務所"]
    # AINAS holds what the manifests describe: a plan against it, with this state, is empty
    result = run(
        "plan",
        str(workspace),
        "--target",
        f"sandbox:{tmp_path / 'ainas.sqlite'}",
        "--detailed-exitcode",
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "No changes" in result.stdout
    assert "not written by this tool" not in result.stdout  # every secret's fingerprint is known


def test_a_reopened_runbook_resumes_at_the_first_unconfirmed_step(workspace, tmp_path, page):
    saved = tmp_path / "runbook.plan"
    assert run("plan", str(workspace), "--target", "runbook:", "--out", str(saved)).exit_code == 0
    with served(workspace, plan_file=saved) as (server, _):
        page.goto(server.url)
        page.locator(".step.current button.done").click()
        page.locator(".step.current input[data-ask=site_id]").fill("100702242")
        page.locator(".step.current button.done").click()
        expect(page.locator(".step.current")).to_have_attribute(
            "data-address", "batch_account.akihabara", timeout=TIMEOUT
        )
    with served(workspace, plan_file=saved) as (server, _):  # closed, and opened again
        page.goto(server.url)
        expect(page.locator(".step.current")).to_have_attribute(
            "data-address", "batch_account.akihabara", timeout=TIMEOUT
        )
        expect(page.locator(".step.done")).to_have_count(2)
        expect(page.locator('.step.done[data-address="site.akihabara"] .state')).to_contain_text(
            "done ("
        )
        # meanwhile something else writes the state: the open runbook is stale
        store = LocalStateStore(workspace / "ainas.state.json")
        other = store.load()
        store.begin(other)
        store.commit(other)
        page.locator(".step.current button.done").click()
        expect(page.locator(".step.current .error")).to_contain_text(
            "the runbook is stale", timeout=TIMEOUT
        )
    assert LocalStateStore(workspace / "ainas.state.json").load().runbook["serial"] == 2


def test_apply_to_the_runbook_target_serves_the_page_and_a_failure_ends_it(workspace, page):
    env = {**os.environ, "AINAS_LANG": "en", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "ainas_provision", "apply", str(workspace), "--target", "runbook:"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        url = None
        for line in process.stdout:
            match = re.search(r"http://127\.0\.0\.1:[0-9]+/\S+/", line)
            if match:
                url = match.group(0)
                break
        assert url, process.stderr.read()
        page.goto(url)
        current = page.locator(".step.current")
        expect(current).to_have_attribute("data-address", "certificate", timeout=TIMEOUT)
        # the keyboard: the current step has the focus; j and k move between steps
        focused = "() => document.activeElement.closest('.step').dataset.address"
        assert page.evaluate(focused) == "certificate"
        page.keyboard.press("j")
        assert page.evaluate(focused) == "site.akihabara"
        page.keyboard.press("k")
        assert page.evaluate(focused) == "certificate"
        current.locator("button.failed").click()
        current.locator("textarea").fill("証明書パスワードが正しくありません。")
        current.locator(".failbox button").click()
        expect(page.locator("#banner")).to_contain_text("failure is recorded", timeout=TIMEOUT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 1, err
    assert "証明書パスワードが正しくありません。" in err
    assert_no_canary(out + err, "the output of apply --target runbook:")
    state = LocalStateStore(workspace / "ainas.state.json").load()
    assert state.runbook["steps"]["certificate"]["status"] == "failed"
    assert state.certificate is None
    assert CANARIES  # the workspace's secrets were all canaries
