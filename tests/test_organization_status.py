"""What AINAS shows of the organization that the association controls: 代理人ステータス and the
申請可否 flags. A status that does not let the agent file is a plan warning; what
organization.expect asserts and AINAS contradicts makes the plan fail."""

from __future__ import annotations

from ainas_provision.plan.diff import diff
from ainas_provision.state.model import State
from ainas_provision.targets import convert
from tests.test_diff import ADMIN, FP, desired, live_user

PERMISSIONS = {"新車新規申請可否": "可能", "移転一時申請可否": "不可"}


def current(status: str = "OSS申請可能", permissions: dict | None = None):
    admins = [live_user("abcde", "管理者", None, "利活用一郎")]
    org = {
        "id": "1",
        "name": "代理人A",
        "short_name": "代理人A",
        "status": status,
        "permissions": PERMISSIONS if permissions is None else permissions,
    }
    return convert.state(org, [], [], admins, ADMIN)


def test_a_usable_status_says_nothing(tmp_path):
    plan = diff(desired(tmp_path), current(), State(), FP)
    assert plan.notes == [] and plan.errors == []


def test_a_status_that_cannot_file_is_a_warning(tmp_path):
    plan = diff(desired(tmp_path), current(status="利用停止"), State(), FP)
    assert [(n.level, n.address, n.message) for n in plan.notes] == [
        (
            "warning",
            "organization",
            "代理人ステータス is '利用停止', not 'OSS申請可能': the organization may not file with "
            "the OSS until the association changes it",
        )
    ]
    assert plan.errors == []


EXPECT = """
organization:
  id: "1"
  name: 代理人A
  short_name: 代理人A
  expect:
    status: OSS申請可能
    permissions: {新車新規申請可否: 可能, 移転一時申請可否: 可能}
"""


def test_expectations_the_tenant_contradicts_make_the_plan_fail(tmp_path):
    manifest = desired(tmp_path, "")
    manifest.organization_expect = {
        "status": "OSS申請可能",
        "permissions": {
            "新車新規申請可否": "可能",
            "移転一時申請可否": "可能",
            "存在しない申請可否": "可能",
        },
    }
    plan = diff(manifest, current(status="利用停止"), State(), FP)
    assert plan.errors == [
        "organization: 代理人ステータス is '利用停止' in AINAS, and organization.expect says "
        "'OSS申請可能': the association sets it — ask it, or correct the expectation",
        "organization: 移転一時申請可否 is '不可' in AINAS, and organization.expect says '可能': "
        "the association sets it — ask it, or correct the expectation",
        "organization: organization.expect.permissions names '存在しない申請可否', which AINAS "
        "does not show (it shows: 新車新規申請可否, 移転一時申請可否)",
    ]
    assert plan.notes == []  # the expected status is an error, not also a warning


def test_expect_is_a_valid_manifest_section(tmp_path):
    from ainas_provision.validation.engine import validate

    path = tmp_path / "ainas.yaml"
    path.write_text("version: 1\n" + EXPECT, encoding="utf-8")
    result = validate(path, env={})
    assert result.ok, [str(d) for d in result.diagnostics]
    path.write_text(
        "version: 1\n" + EXPECT.replace("移転一時申請可否: 可能", "移転一時申請可否: OK"),
        encoding="utf-8",
    )
    assert not validate(path, env={}).ok


# -- each site's APIアカウント and 会員, end to end through the embedded sandbox ------------------
def test_api_account_expiry_is_warned_and_members_are_listed_as_not_managed(tmp_path, monkeypatch):
    import datetime as dt

    from ainas_emulator.service import AinasSandbox
    from ainas_provision.plan.diff import today_in_japan
    from tests.conftest import copy_example
    from tests.helpers import run

    path = copy_example("quickstart", tmp_path / "quickstart")
    monkeypatch.chdir(tmp_path)
    assert run("apply", "quickstart", "--auto-approve").exit_code == 0
    sandbox = AinasSandbox(path / "ainas.sandbox.sqlite")
    try:
        [site_id] = [
            row[0] for row in sandbox.store.connection().execute("SELECT site_id FROM sites")
        ]
        soon = (today_in_japan() + dt.timedelta(days=20)).isoformat()
        sandbox.set_api_account(site_id, api_key="0123456789abcdef" * 2, password_expiry=soon)
        sandbox.add_member(site_id, "M001", "会員一郎")
    finally:
        sandbox.close()
    plan = run("plan", "quickstart", "--detailed-exitcode")
    assert plan.exit_code == 0, plan.stdout + plan.stderr  # nothing to change: notes only
    assert (
        f"the APIアカウント's password expires on {soon} (パスワード有効期限), in 20 days "
        "(warning within 60 days): renew it on the site screen in AINAS"
    ) in plan.stdout
    assert "会員 会員一郎 (M001): not managed by this tool (left as they are)" in plan.stdout
    assert "0123456789abcdef" not in plan.stdout
    far = run("plan", "quickstart", "--format", "json")
    notes = __import__("json").loads(far.stdout)["notes"]
    assert {n["address"] for n in notes} >= {"site.akihabara"}
