"""The runbook in a real browser (Playwright driving the system's Chromium).

The operator test follows the README's *Rehearse it by hand*, command by command: a sandbox made
and served (``sandbox init``, ``sandbox serve``: AINAS's screens under ``/oss_agt/``, over HTTPS
with the sandbox's client certificate), the quickstart copied, ``runbook`` started. A browser
plays the person, with two pages: the runbook, and AINAS. It logs in to AINAS (the first login's
パスワード更新 included), and for every step reads the runbook — each secret through its Show
control — follows the menu path the runbook gives, finds each field by the label the runbook
gives, enters the value into whatever the screen has there (a text box, both boxes of a repeated
password, a pull-down, a check box, a file), presses the button the runbook names and 確定 on
AINAS's confirmation, reads the 代理人拠点ID on 代理人拠点照会 and reports it back (a wrong one
first: refused). Once every step is confirmed, the README's ``plan`` against the server shows no
changes: the runbook's steps — screens, menu paths, labels, values — are complete and correct.

Meanwhile every request the runbook page makes is recorded: no secret may appear in the page's
HTML, in any request or answer but the explicit reveal, in the browser's storage, in the tool's
output or in any file.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from ainas_emulator.files import SandboxFiles
from ainas_provision.state.store import LocalStateStore
from tests.conftest import REPO, copy_example
from tests.helpers import run
from tests.runbook_support import (
    CANARIES,
    QUICKSTART_STEPS,
    assert_no_canary,
    make_workspace,
    served,
)
from tests.server_support import client_cert_password, client_env

TIMEOUT = 10_000  # ms
README_TEXT = (REPO / "README.md").read_text(encoding="utf-8")


# -- the README's walk-through -------------------------------------------------------------
def rehearsal_commands() -> list[list[str]]:
    """The commands of the README's *Rehearse it by hand*, each split as a shell would."""
    section = README_TEXT.split("**Rehearse it by hand**", 1)[1].split("\n## ", 1)[0]
    section = section.split("\n\n`plan --target runbook:`", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)\n```", section, re.S)
    return [shlex.split(line, comments=True) for block in blocks for line in block.splitlines()]


def readme_value(pattern: str) -> str:
    section = README_TEXT.split("**Rehearse it by hand**", 1)[1]
    return re.search(pattern, section).group(1)


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "ainas_provision", *args]


@pytest.fixture(scope="module")
def rehearsal_root(tmp_path_factory):
    """Where the README's commands run; its first, ``sandbox init``, run already (Playwright's
    driver must trust the sandbox CA when it starts)."""
    root = tmp_path_factory.mktemp("by-hand")
    first = rehearsal_commands()[0]
    assert first[:3] == ["ainas-provision", "sandbox", "init"], first
    subprocess.run(cli(*first[1:]), cwd=root, check=True, capture_output=True)
    return root


@pytest.fixture(scope="module")
def playwright_instance(rehearsal_root):
    """Playwright started once the sandbox CA exists: its Node process, which carries the TLS,
    trusts that CA as the person's browser does (NODE_EXTRA_CA_CERTS is read when it starts)."""
    from playwright.sync_api import sync_playwright

    before = os.environ.get("NODE_EXTRA_CA_CERTS")
    os.environ["NODE_EXTRA_CA_CERTS"] = str(rehearsal_root / "rehearsal" / "ca.pem")
    try:
        with sync_playwright() as playwright:
            yield playwright
    finally:
        if before is None:
            os.environ.pop("NODE_EXTRA_CA_CERTS", None)
        else:
            os.environ["NODE_EXTRA_CA_CERTS"] = before


@contextmanager
def background(args: list[str], cwd: Path, env: dict, announces: str):
    """A command of the walk-through that keeps running (a second terminal); yields the process
    and the first match of ``announces`` in its output. Ctrl+C (SIGINT) stops it."""
    process = subprocess.Popen(
        args,
        cwd=cwd,
        env={**env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        seen = []
        for line in process.stdout:
            seen.append(line)
            match = re.search(announces, line)
            if match:
                break
        else:
            raise AssertionError("".join(seen))
        yield process, match.group(0), seen
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        process.stdout.close()


class Traffic:
    """Every request the page makes and every answer it gets, for the canary checks."""

    def __init__(self, page: Page, secrets: list[str]) -> None:
        self.secrets = secrets
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
            assert_absent(self.secrets, url, f"{method} {url}")
            assert_absent(self.secrets, body, f"the body of {method} {url}")
        for url, body in self.answers:
            if not url.endswith("/api/secret"):
                assert_absent(self.secrets, body, f"the answer to {url}")


def assert_absent(secrets: list[str], data: bytes | str, where: str) -> None:
    raw = data.encode() if isinstance(data, str) else data
    for value in secrets:
        assert value.encode() not in raw, f"a secret leaked into {where}"


# -- the person at the runbook -------------------------------------------------------------
def read_step(page: Page) -> dict:
    """What a person reads on the current step: each screen's menu path, button and fields by
    label, secrets through Show (hidden again at once)."""
    current = page.locator(".step.current")
    screens = []
    for screen in current.locator(".screen").all():
        rows = []
        for row in screen.locator("tr[data-field]").all():
            secret = row.locator(".secret-value")
            if secret.count():
                show = row.locator("button.show")
                show.click()
                expect(secret).not_to_have_text("", timeout=TIMEOUT)
                value = secret.inner_text()
                show.click()
                expect(secret).to_have_text("")
            else:
                value = row.locator("[data-value]").get_attribute("data-value")
            rows.append({"label": row.locator("th").inner_text(), "value": value})
        screens.append(
            {
                "name": screen.get_attribute("data-name"),
                "button": screen.get_attribute("data-button"),
                "menu": screen.locator(".menu-item").all_inner_texts(),
                "rows": rows,
            }
        )
    asks = [
        {"label": a.get_attribute("aria-label"), "input": a}
        for a in current.locator("input[data-ask]").all()
    ]
    return {"address": current.get_attribute("data-address"), "screens": screens, "asks": asks}


# -- the person at AINAS -------------------------------------------------------------------
def cell(ainas: Page, label: str) -> Locator:
    """The cell beside the header cell that reads exactly ``label`` (AINAS's form tables)."""
    header = ainas.locator("table.form th").filter(has_text=re.compile(f"^{re.escape(label)}$"))
    expect(header, f"{label} on {ainas.locator('h1').inner_text()}").to_have_count(1)
    return header.locator("xpath=following-sibling::td[1]")


def no_errors(ainas: Page) -> None:
    errors = ainas.locator(".errors")
    assert not errors.count(), f"{ainas.locator('h1').inner_text()}: {errors.inner_text()}"


def press(ainas: Page, button: str) -> None:
    """Press ``button``; on AINAS's confirmation, press 確定 there too."""
    ainas.get_by_role("button", name=button, exact=True).click()
    no_errors(ainas)
    if ainas.locator("h1").inner_text().endswith("確認"):
        ainas.get_by_role("button", name="確定", exact=True).click()
        no_errors(ainas)


def log_in(ainas: Page, url: str, new_password: str) -> None:
    """The notice's admin logs in, and AINAS asks for a new password first."""
    ainas.goto(url)
    ainas.get_by_label("ログインID", exact=True).fill("abcde")
    ainas.get_by_label("パスワード", exact=True).fill("99999999")
    ainas.get_by_role("button", name="ログイン", exact=True).click()
    expect(ainas.locator("h1")).to_have_text("パスワード更新")
    cell(ainas, "現在のパスワード").locator("input").fill("99999999")
    for box in cell(ainas, "パスワード").locator("input").all():
        box.fill(new_password)
    press(ainas, "確定")
    expect(ainas.locator("h1")).to_have_text("メニュー")


def follow(ainas: Page, menu: list[str]) -> None:
    """Click the runbook's menu path: a tab, then the links it names (a 代理人拠点ID, a
    ログインID, the latest 代理人証明書 of the organization's list)."""
    ainas.locator("nav").get_by_role("link", name=menu[0], exact=True).click()
    for item in menu[1:]:
        named = re.match(r"(?:代理人拠点ID|代理人組織ID|ログインID) (\S+)", item)
        if named:
            ainas.get_by_role("link", name=named.group(1), exact=True).first.click()
        elif item.startswith("代理人証明書 ("):
            ainas.locator("table.list a").last.click()
        else:
            ainas.get_by_role("link", name=item, exact=True).click()


def enter(ainas: Page, label: str, value: str | None, files: Path) -> None:
    """Enter ``value`` into the field labelled ``label``, whatever the screen has there."""
    where = cell(ainas, label)
    value = value or ""
    if where.locator("select").count():
        select = where.locator("select")
        if not value:
            select.select_option(value="")
            return
        options = select.locator("option").all_inner_texts()
        # a site is offered by its name: the runbook adds its 代理人拠点ID
        chosen = [o for o in options if o and (o == value or value.startswith(o + " ("))]
        assert len(chosen) == 1, (label, value, options)
        select.select_option(label=chosen[0])
    elif where.locator("input[type=checkbox]").count():
        where.locator("input[type=checkbox]").set_checked(value == "true")
    elif where.locator("input[type=file]").count():
        name = re.search(r"[\w.-]+\.p12", value).group(0)
        where.locator("input[type=file]").set_input_files(str(files / name))
    else:
        boxes = where.locator("input").all()
        assert boxes, (label, "no input on", ainas.locator("h1").inner_text())
        for box in boxes:  # a repeated password: both boxes
            box.fill(value)


def operate(page: Page, ainas: Page, url: str, workspace: Path) -> list[str]:
    """Do every step of the open runbook in AINAS: read, enter, press, report back (a digit
    dropped first: refused), confirm."""
    mistyped = True
    done = []
    while page.locator(".step.current").count():
        step = read_step(page)
        for screen in step["screens"]:
            if ainas.locator("h1").inner_text() != screen["name"]:  # not led there already
                ainas.goto(url + "menu")
                follow(ainas, screen["menu"])
            expect(ainas.locator("h1")).to_have_text(screen["name"])
            for row in screen["rows"]:
                enter(ainas, row["label"], row["value"], workspace / "certs")
            press(ainas, screen["button"])
        current = page.locator(".step.current")
        for ask in step["asks"]:
            shown = cell(ainas, ask["label"]).inner_text().strip()
            if mistyped:
                ask["input"].fill(shown[:-1])
                current.locator("button.done").click()
                expect(current.locator(".error")).to_contain_text(shown[:-1], timeout=TIMEOUT)
                expect(page.locator(".step.current")).to_have_attribute(
                    "data-address", step["address"]
                )
                mistyped = False
            ask["input"].fill(shown)
        if step["asks"]:
            step["asks"][-1]["input"].press("Enter")  # the keyboard submits
        else:
            current.locator("button.done").click()
        expect(page.locator(f'.step.done[data-address="{step["address"]}"]')).to_have_count(
            1, timeout=TIMEOUT
        )
        done.append(step["address"])
    return done


# -- the tests -----------------------------------------------------------------------------
def test_the_readme_rehearsal_by_hand_into_the_emulators_screens(
    rehearsal_root, browser, page, monkeypatch
):
    root = rehearsal_root
    commands = rehearsal_commands()
    kinds = [" ".join(c[:3]) for c in commands]
    assert kinds == [
        "ainas-provision sandbox init",
        "ainas-provision sandbox serve",
        "cp -r examples/quickstart",
        "AINAS_LANG=ja ainas-provision runbook",
        "export AINAS_PASSWORD=Choose-a-new-passw0rd",
        "ainas-provision plan by-hand",
    ], commands
    _, serve, copy, runbook, export, plan = commands
    new_password = export[1].split("=", 1)[1]
    assert readme_value(r"one twice; take `([^`]+)`") == new_password
    files = SandboxFiles(root / serve[3])
    copy_example("quickstart", root / "examples" / "quickstart")
    subprocess.run(copy, cwd=root, check=True)
    workspace = root / copy[-1]
    secrets = [p.read_text().strip() for p in (workspace / "secrets").glob("*.txt")]
    secrets += [new_password, client_cert_password(files)]
    assert len(secrets) == 9 and all(secrets)
    env = dict(os.environ)

    with background(cli(*serve[1:], "--port", "0"), root, env, r"https://127\.0\.0\.1:[0-9]+/") as (
        _,
        server_url,
        _,
    ):
        ainas_url = server_url + "oss_agt/"
        assert (
            readme_value(r"open `(https://127\.0\.0\.1:8443/oss_agt/)`").replace(
                "https://127.0.0.1:8443/", server_url
            )
            == ainas_url
        )
        context = browser.new_context(
            client_certificates=[
                {
                    "origin": server_url.rstrip("/"),
                    "pfx": files.client_cert.read_bytes(),
                    "passphrase": client_cert_password(files),
                }
            ],
            locale="ja-JP",
        )
        try:
            ainas = context.new_page()
            ainas.set_default_timeout(TIMEOUT)
            log_in(ainas, ainas_url, new_password)
            name, value = runbook[0].split("=", 1)
            traffic = Traffic(page, secrets)
            with background(
                cli(*runbook[2:]), root, {**env, name: value}, r"http://127\.0\.0\.1:[0-9]+/\S+/"
            ) as (process, runbook_url, said):
                response = page.goto(runbook_url)
                assert_absent(secrets, response.body(), "the page's HTML")
                expect(page.locator(".step")).to_have_count(len(QUICKSTART_STEPS))
                # the page names where each secret comes from, never the value
                expect(page.locator(".step.current")).to_contain_text(
                    "{file: secrets/cert-pin.txt}"
                )
                done = operate(page, ainas, ainas_url, workspace)
                expect(page.locator("#banner")).to_contain_text("すべての手順が完了しました")
                assert_absent(secrets, page.content(), "the page at the end")
                out, _ = process.communicate(timeout=30)
                said.append(out)
            assert process.returncode == 0, "".join(said)
            assert_absent(secrets, "".join(said), "the output of runbook")
        finally:
            context.close()
        assert done == QUICKSTART_STEPS

        # AINAS holds what the manifests describe: the README's plan shows no changes
        target = plan[plan.index("--target") + 1]
        args = [a.replace(target, server_url.rstrip("/")) for a in plan[1:]]
        monkeypatch.chdir(root)
        result = run(*args, env=client_env(files, password=new_password, new_password=None))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "No changes" in result.stdout
    assert "not written by this tool" not in result.stdout  # every secret's fingerprint is known
    assert_absent(secrets, result.stdout + result.stderr, "the output of plan")
    traffic.assert_clean()
    assert traffic.reveals() == 8  # one per Show press: 2 certificate, 4 batch, 2 users
    storage = page.evaluate("() => [localStorage.length, sessionStorage.length]")
    assert storage == [0, 0]
    written = [p for p in workspace.rglob("*") if "secrets" not in p.relative_to(workspace).parts]
    for path in [*written, *Path.home().rglob("*")]:
        if path.is_file():
            assert_absent(secrets, path.read_bytes(), str(path))
    state = LocalStateStore(workspace / "ainas.state.json").load()
    assert re.fullmatch(r"[0-9]{9}", state.site_id("akihabara"))


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    return make_workspace(tmp_path, monkeypatch)


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
