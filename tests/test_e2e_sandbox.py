"""End to end: the real commands against the embedded sandbox (issue: plan and apply)."""

from __future__ import annotations

import json
import os
import pty
import re
import shlex
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ainas_emulator.service import AinasSandbox
from ainas_provision.state.lock import FileLocker
from ainas_provision.state.protocols import LockInfo
from tests.conftest import copy_example
from tests.helpers import run

SECOND_SITE = """
version: 1
sites:
  kanda:
    name: 神田事務所
    short_name: 神田
    code: KND
"""


@pytest.fixture
def quickstart(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "quickstart"
    copy_example("quickstart", path)
    monkeypatch.chdir(tmp_path)
    return path


def backend_calls(result) -> dict[str, int]:
    match = re.search(r"backend calls: (.*)", result.stderr)
    assert match, result.stderr
    calls = {}
    for part in match.group(1).split(", "):
        if part != "none":
            name, count = part.rsplit(" ", 1)
            calls[name] = int(count)
    return calls


def writes(result) -> int:
    calls = backend_calls(result)
    return sum(calls.get(name, 0) for name in ("create", "update", "delete"))


def db_rows(path: Path, sql: str) -> list:
    with sqlite3.connect(path / "ainas.sandbox.sqlite") as db:
        return db.execute(sql).fetchall()


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_apply_then_plan_is_empty_and_noop_apply_writes_nothing(quickstart):
    first = run("--debug", "apply", "quickstart", "--auto-approve")
    assert first.exit_code == 0, first.stderr
    assert "Apply complete: 6 changes applied." in first.stdout
    assert writes(first) == 6  # certificate, site, two batch accounts, two users
    plan = run("plan", "quickstart", "--detailed-exitcode")
    assert plan.exit_code == 0, plan.stdout + plan.stderr
    assert "No changes" in plan.stdout
    noop = run("--debug", "apply", "quickstart", "--auto-approve")
    assert noop.exit_code == 0
    assert writes(noop) == 0
    assert backend_calls(noop)["read"] == 1


def test_first_use_creates_the_tenant_and_says_so(quickstart):
    result = run("apply", "quickstart", "--auto-approve")
    assert result.exit_code == 0
    assert "created the sandbox tenant 代理人組織ID 1" in result.stderr
    assert "with admin abcde (initial password 99999999)" in result.stderr
    assert "created the state key" in result.stderr


def test_a_first_plan_writes_nothing_and_plans_against_the_tenant_to_be(quickstart):
    before = sorted(p.name for p in quickstart.parent.rglob("*"))
    result = run("plan", "quickstart", "--detailed-exitcode")
    assert result.exit_code == 2, result.stderr
    assert (
        "holds no tenant yet: planning against the tenant 代理人組織ID 1 the association would "
        "create, with admin abcde (initial password 99999999); nothing is written until apply "
        "creates it"
    ) in result.stderr
    assert "created" not in result.stderr
    assert "Plan: 6 to add" in result.stdout
    assert sorted(p.name for p in quickstart.parent.rglob("*")) == before
    # twice in a row, then apply: the same plan is applied, and the next plan is empty
    assert run("plan", "quickstart").exit_code == 0
    assert run("apply", "quickstart", "--auto-approve").exit_code == 0
    assert run("plan", "quickstart", "--detailed-exitcode").exit_code == 0


def test_a_saved_plan_creates_what_its_apply_needs(quickstart):
    saved = run("plan", "quickstart", "--out", "plan.json", "--state", "my state.json")
    assert saved.exit_code == 0, saved.stderr
    assert "created the state key" in saved.stderr
    hint = re.search(r"apply it with `ainas-provision ([^`]+)`", saved.stderr).group(1)
    assert hint == "apply quickstart --plan plan.json --state 'my state.json'"
    applied = run(*shlex.split(hint))  # as printed
    assert applied.exit_code == 0, applied.stderr
    assert "Apply complete: 6 changes applied." in applied.stdout


def test_one_changed_field_is_one_update(quickstart):
    assert run("apply", "quickstart", "--auto-approve").exit_code == 0
    edit(
        quickstart / "ainas.yaml",
        'review_deadline: "16:00"             # 登録審査開始締切時間',
        'review_deadline: "15:30"',
    )
    plan = run("plan", "quickstart", "--detailed-exitcode")
    assert plan.exit_code == 2
    assert "  ~ site.akihabara (利活用事務所) [" in plan.stdout
    assert (
        '      ~ 登録審査開始締切時間 (registered.review_deadline) = "16:00" -> "15:30"'
        in plan.stdout
    )
    assert "Plan: 0 to add, 1 to change, 0 to replace, 0 to destroy." in plan.stdout
    assert plan.stdout.count("\n  ~ ") == 1
    applied = run("--debug", "apply", "quickstart", "--auto-approve")
    assert applied.exit_code == 0
    assert writes(applied) == 1
    assert run("plan", "quickstart", "--detailed-exitcode").exit_code == 0


def test_plan_labels_come_from_the_screen_catalogue_and_its_override(quickstart, tmp_path):
    """A label corrected in the catalogue override (as the real screen prints it) is the label
    the plan shows: by AINAS_SCREENS_FILE, and by ainas-screens.local.yaml beside the manifests."""
    named = tmp_path / "screens-override.yaml"
    named.write_text(
        "version: 1\n"
        "screens:\n"
        "  site_register:\n"
        "    fields:\n"
        "      review_deadline: {label: 登録審査開始締切時刻}\n"
        "  staff_register:\n"
        "    fields:\n"
        "      user_name: {label: 利用者氏名}\n",
        encoding="utf-8",
    )
    plain = run("plan", "quickstart")
    assert plain.exit_code == 0, plain.stderr
    assert "登録審査開始締切時間 (registered.review_deadline)" in plain.stdout
    overridden = run("plan", "quickstart", env={"AINAS_SCREENS_FILE": str(named)})
    assert overridden.exit_code == 0, overridden.stderr
    assert "登録審査開始締切時刻 (registered.review_deadline)" in overridden.stdout
    assert "登録審査開始締切時間" not in overridden.stdout
    assert "利用者氏名 (name)" in overridden.stdout  # a staff user's ユーザー名
    named.rename(quickstart / "ainas-screens.local.yaml")
    beside = run("plan", "quickstart")
    assert beside.exit_code == 0, beside.stderr
    assert "登録審査開始締切時刻 (registered.review_deadline)" in beside.stdout


def test_write_once_change_fails_the_plan_and_writes_nothing(quickstart):
    assert run("apply", "quickstart", "--auto-approve").exit_code == 0
    edit(quickstart / "ainas.yaml", "batch_user_id: ABCD1234", "batch_user_id: ABCD9999")
    plan = run("plan", "quickstart")
    assert plan.exit_code == 1
    assert (
        "一括利用者ID (batch_user_id) is 'ABCD1234' in AINAS and 'ABCD9999' in the manifests"
        in plan.stdout
    )
    assert (
        "登録後は納付利用者ID、一括利用者ID及び、一括利用者パスワードの変更はできません"
        in plan.stdout
    )
    applied = run("--debug", "apply", "quickstart", "--auto-approve")
    assert applied.exit_code == 1
    assert "the plan cannot be applied" in applied.stderr
    assert writes(applied) == 0
    assert db_rows(quickstart, "SELECT fields FROM batch_accounts WHERE kind = 'batch_account'")[0][
        0
    ].count("ABCD1234")


def test_saved_plan_is_stale_after_another_apply_and_holds_no_secret(quickstart):
    assert run("plan", "quickstart", "--out", "first.plan").exit_code == 0
    text = Path("first.plan").read_text(encoding="utf-8")
    for secret in (quickstart / "secrets").glob("*.txt"):
        value = secret.read_text(encoding="utf-8").strip()
        assert value not in text, secret.name
    assert json.loads(text)["format_version"] == 1
    assert run("apply", "quickstart", "--auto-approve").exit_code == 0
    stale = run("apply", "quickstart", "--plan", "first.plan")
    assert stale.exit_code == 1
    assert "the plan is stale: it was made from state serial 0" in stale.stderr
    assert "Traceback" not in stale.stderr


def test_saved_plan_applies_exactly(quickstart):
    assert run("plan", "quickstart", "--out", "reviewed.plan").exit_code == 0
    shown = run("show", "reviewed.plan")
    assert shown.exit_code == 0 and "Plan: 6 to add" in shown.stdout
    applied = run("apply", "quickstart", "--plan", "reviewed.plan")
    assert applied.exit_code == 0, applied.stderr
    assert run("plan", "quickstart", "--detailed-exitcode").exit_code == 0


def test_saved_plan_refused_when_the_target_changed(quickstart):
    assert run("apply", "quickstart", "--auto-approve").exit_code == 0
    edit(quickstart / "ainas.yaml", "name: 利活用 花子", "name: 利活用 花代")
    assert run("plan", "quickstart", "--out", "p.plan").exit_code == 0
    sandbox = AinasSandbox(quickstart / "ainas.sandbox.sqlite")
    admin = sandbox.first_admin("1")
    sandbox.update(
        admin.__class__(admin.login_id, "1", admin.role, None, False),
        "user",
        "dairi001",
        {"user_name": "誰か"},
    )
    sandbox.close()
    refused = run("apply", "quickstart", "--plan", "p.plan")
    assert refused.exit_code == 1
    assert "changed since the plan was made" in refused.stderr


def test_removing_a_site_is_refused_by_max_deletes_and_allowed_explicitly(quickstart):
    (quickstart / "kanda.yaml").write_text(SECOND_SITE, encoding="utf-8")
    assert run("apply", "quickstart", "--auto-approve").exit_code == 0
    (quickstart / "kanda.yaml").unlink()
    plan = run("plan", "quickstart")
    assert re.search(r"  - site.kanda \(神田事務所\) \[\d{9}\]: delete", plan.stdout)
    refused = run("--debug", "apply", "quickstart", "--auto-approve")
    assert refused.exit_code == 1
    assert "more than policy.max_deletes (0) allows" in refused.stderr
    assert "--allow-deletes 1" in refused.stderr
    assert writes(refused) == 0
    allowed = run("apply", "quickstart", "--auto-approve", "--allow-deletes", "1")
    assert allowed.exit_code == 0, allowed.stderr
    assert db_rows(quickstart, "SELECT COUNT(*) FROM sites")[0][0] == 1


def test_a_change_behind_the_tools_back_shows_in_the_next_plan(quickstart):
    assert run("apply", "quickstart", "--auto-approve").exit_code == 0
    sandbox = AinasSandbox(quickstart / "ainas.sandbox.sqlite")
    admin = sandbox.first_admin("1")
    actor = admin.__class__(admin.login_id, "1", admin.role, None, False)
    site_id = sandbox.list_sites(actor)[0][0]["site_id"]
    sandbox.update(actor, "site", site_id, {"site_short_name": "勝手に変更"})
    sandbox.close()
    plan = run("plan", "quickstart", "--detailed-exitcode")
    assert plan.exit_code == 2
    assert '~ 代理人拠点名(略称) (short_name) = "勝手に変更" -> "利活用事務所"' in plan.stdout


def test_a_failing_site_does_not_stop_the_others_and_a_rerun_finishes(quickstart):
    (quickstart / "kanda.yaml").write_text(SECOND_SITE, encoding="utf-8")
    sandbox = AinasSandbox(quickstart / "ainas.sandbox.sqlite")
    sandbox.create_tenant("1", "代理人A", "代理人A", [("abcde", "利活用一郎")])
    sandbox.add_fault("create", "site", field="site_name", value="利活用事務所")
    failed = run("apply", "quickstart", "--auto-approve")
    assert failed.exit_code == 1
    assert "site.akihabara: failed: システムエラーが発生しました" in failed.stderr
    assert "Apply finished with errors: 2 applied, 1 failed, 4 skipped." in failed.stderr
    assert "site.kanda: created" in failed.stdout
    sandbox.clear_faults()
    sandbox.close()
    again = run("apply", "quickstart", "--auto-approve")
    assert again.exit_code == 0, again.stderr
    assert db_rows(quickstart, "SELECT COUNT(*) FROM sites")[0][0] == 2
    assert db_rows(quickstart, "SELECT COUNT(*) FROM users WHERE role != '管理者'")[0][0] == 2
    assert run("plan", "quickstart", "--detailed-exitcode").exit_code == 0


def test_invalid_manifests_read_and_change_nothing(quickstart):
    edit(quickstart / "ainas.yaml", "postal_code: 123-4567", "postal_code: 1234567")
    result = run("apply", "quickstart", "--auto-approve")
    assert result.exit_code == 1
    assert (
        "quickstart/ainas.yaml:20:16: error: 郵便番号 (postal_code) must be text" in result.stderr
    )
    assert (
        "error: the manifests are invalid (1 error); nothing was read or changed" in result.stderr
    )
    assert not (quickstart / "ainas.sandbox.sqlite").exists()
    assert not (quickstart / "ainas.state.json").exists()


def test_apply_refuses_to_ask_without_a_terminal(quickstart):
    result = run("apply", "quickstart", input="yes\n")
    assert result.exit_code == 1
    assert "there is no terminal to ask on" in result.stderr
    assert not (quickstart / "ainas.state.json").exists()


def _spawn_apply_in_terminal(path: Path) -> tuple[subprocess.Popen, int]:
    """An apply waiting at its confirmation prompt, in a pseudo-terminal: it holds the lock."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "ainas_provision", "apply", str(path)],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        cwd=path.parent,
        env={**os.environ, "COLUMNS": "200"},
    )
    os.close(terminal)
    output = b""
    deadline = time.monotonic() + 60
    while b"Only 'yes' will be accepted" not in output:
        assert time.monotonic() < deadline, output.decode(errors="replace")
        output += os.read(controller, 4096)
    return process, controller


def test_a_second_apply_fails_at_once_naming_the_lock_holder(quickstart):
    first, controller = _spawn_apply_in_terminal(quickstart)
    try:
        started = time.monotonic()
        second = run("apply", "quickstart", "--auto-approve")
        assert time.monotonic() - started < 30
        assert second.exit_code == 1
        assert re.search(
            rf"error: the state is locked by \S+@\S+ \(pid {first.pid}, apply\) since \d{{4}}-",
            second.stderr,
        ), second.stderr
        os.write(controller, b"no\n")
        assert first.wait(timeout=60) == 1
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        os.close(controller)
    assert run("apply", "quickstart", "--auto-approve").exit_code == 0


def test_lock_timeout_waits_for_the_holder(quickstart):
    locker = FileLocker(quickstart / "ainas.state.json.lock")
    lock_id = locker.lock(LockInfo.mine("apply"))
    result = run("apply", "quickstart", "--auto-approve", "--lock-timeout", "0.3")
    assert result.exit_code == 1
    assert "is locked by" in result.stderr and f"(pid {os.getpid()}, apply)" in result.stderr
    assert "it was still held after waiting 0.3 s" in result.stderr
    assert "use --lock-timeout" not in result.stderr  # it was given
    locker.unlock(lock_id)
    assert run("apply", "quickstart", "--auto-approve", "--lock-timeout", "5").exit_code == 0


def test_a_lock_file_left_by_a_dead_process_does_not_block(quickstart):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock_file = quickstart / "ainas.state.json.lock"
    lock_file.write_text(
        json.dumps(
            {
                "id": "x",
                "holder": "ci@" + os.uname().nodename,
                "host": os.uname().nodename,
                "pid": dead.pid,
                "operation": "apply",
                "since": "2026-11-25T00:00:00+00:00",
            }
        ),
        encoding="utf-8",
    )
    assert run("state", "unlock", "quickstart").stdout.endswith(": not locked\n")
    assert run("apply", "quickstart", "--auto-approve").exit_code == 0


@pytest.mark.parametrize("content", ["", "{not json", '{"pid": "x"}'])
def test_unlock_refuses_a_live_holder_without_force_and_force_always_works(quickstart, content):
    locker = FileLocker(quickstart / "ainas.state.json.lock")
    locker.lock(LockInfo.mine("apply"))
    if content:  # the holder record damaged: the lock itself still holds
        (quickstart / "ainas.state.json.lock").write_text(content, encoding="utf-8")
    refused = run("state", "unlock", "quickstart")
    assert refused.exit_code == 1
    assert "its holder is still running" in refused.stderr
    blocked = run("apply", "quickstart", "--auto-approve")
    assert blocked.exit_code == 1 and "is locked by" in blocked.stderr
    forced = run("state", "unlock", "quickstart", "--force")
    assert forced.exit_code == 0 and "removed the lock held by" in forced.stdout
    assert run("apply", "quickstart", "--auto-approve").exit_code == 0


def test_a_tenant_of_another_organization_is_refused_before_anything_is_read(quickstart):
    sandbox = AinasSandbox(quickstart / "other.sqlite")
    sandbox.create_tenant("999", "別の代理人", "別", [("abcde", "利活用一郎")])
    sandbox.close()
    result = run("--debug", "plan", "quickstart", "--target", "sandbox:quickstart/other.sqlite")
    assert result.exit_code == 1
    assert (
        "error: embedded sandbox quickstart/other.sqlite holds no tenant with 代理人組織ID 1 "
        "(it holds 代理人組織ID 999): refusing to plan against another organization"
    ) in result.stderr
    assert not (quickstart / "ainas.state.json").exists()
    assert not (quickstart / "ainas.state.key").exists()  # nothing written for a refused target


def test_a_managed_resource_gone_from_ainas_is_reported_in_every_plan_format(quickstart):
    assert run("apply", "quickstart", "--auto-approve").exit_code == 0
    sandbox = AinasSandbox(quickstart / "ainas.sandbox.sqlite")
    try:
        admin = sandbox.first_admin("1")
        actor = admin.__class__(admin.login_id, "1", admin.role, None, False)
        sandbox.delete(actor, "user", "dairi002")  # behind the tool's back
    finally:
        sandbox.close()
    manifest = quickstart / "ainas.yaml"
    text = manifest.read_text(encoding="utf-8")
    start = text.index("  dairi002:")
    end = text.index("\nadmins:")
    manifest.write_text(text[:start] + text[end + 1 :], encoding="utf-8")
    expected = (
        "managed by this tool, but AINAS no longer has it (its ログインID is gone: deleted "
        "outside the tool?); apply forgets it in the state"
    )
    for output_format in ("text", "markdown", "json"):
        plan = run("plan", "quickstart", "--format", output_format)
        assert plan.exit_code == 0, plan.stderr
        assert "user.dairi002" in plan.stdout and expected in plan.stdout, output_format
    assert run("apply", "quickstart", "--auto-approve").exit_code == 0
    assert "dairi002" not in (quickstart / "ainas.state.json").read_text(encoding="utf-8")
    assert expected not in run("plan", "quickstart").stdout
