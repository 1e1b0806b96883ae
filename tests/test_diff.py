"""The diff, unit by unit: desired and current state in, plan out, no I/O."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ainas_provision.plan.diff import DiffOptions, diff
from ainas_provision.plan.plan import PlanRefused
from ainas_provision.plan.render import render_markdown, render_text
from ainas_provision.state.keys import Fingerprinter
from ainas_provision.state.model import SiteEntry, State, UserEntry
from ainas_provision.targets import convert
from ainas_provision.targets.base import Session
from ainas_provision.validation.build import build
from ainas_provision.validation.engine import validate

FP = Fingerprinter(b"k" * 32)
ADMIN = Session("abcde", "管理者")

BASE = """
version: 1
organization: {id: "1", name: 代理人A, short_name: 代理人A}
policy: {allow_plaintext_secrets: true}
"""
SITE = """
sites:
  akihabara:
    name: 利活用事務所
    short_name: 利活用事務所
    code: AKB
    registered:
      certificate_manager_name: 利活用　一郎
      batch_account:
        payment_user_id: "12345678"
        batch_user_id: ABCD1234
        batch_password: Batch-Pass-01
        arrival_number_password: Arrival-Pass-01
        payment_method_national: ダイレクト納付(国庫金限定)
        payment_method_prefectural: ダイレクト納付
"""
USERS = """
users:
  dairi001: {name: 管理者1, role: 拠点管理者, site: akihabara, initial_password: Dairi001-Pass!}
  dairi002: {name: 利活用 花子, role: 担当者(送信可), site: akihabara, initial_password: Dairi002-Pass!}
"""


def desired(tmp_path: Path, *parts: str):
    path = tmp_path / "m.yaml"
    path.write_text(
        textwrap.dedent(BASE) + "".join(textwrap.dedent(p) for p in parts), encoding="utf-8"
    )
    result = validate(path)
    assert result.ok, [str(d) for d in result.diagnostics]
    return build(result)


def live_site(site_id="100000001", name="利活用事務所", code="AKB", batch=True):
    site = {
        "site_id": site_id,
        "fields": {
            "name": name,
            "short_name": "利活用事務所",
            "code": code,
            "registered.certificate_manager_name": "利活用　一郎",
            "kei.client_receipt_selectable": False,
        },
        "batch_account": None,
        "kei_batch_account": None,
    }
    if batch:
        site["batch_account"] = {
            "payment_user_id": "12345678",
            "batch_user_id": "ABCD1234",
            "payment_method_national": "ダイレクト納付(国庫金限定)",
            "payment_method_prefectural": "ダイレクト納付",
        }
    return site


def live_user(login_id, role="担当者(送信可)", site_id="100000001", name="利活用 花子"):
    return {"login_id": login_id, "name": name, "role": role, "site_id": site_id}


def current(sites=(), users=(), session=ADMIN, org_name="代理人A", certificates=()):
    admins = [live_user("abcde", "管理者", None, "利活用一郎")]
    org = {"id": "1", "name": org_name, "short_name": "代理人A"}
    return convert.state(org, list(certificates), list(sites), [*admins, *users], session)


def managed_state(arrival="Arrival-Pass-01", batch="Batch-Pass-01", users=("dairi001", "dairi002")):
    state = State(lineage="l", serial=3)
    state.sites["akihabara"] = SiteEntry(
        "100000001",
        {
            "batch_account.batch_password": FP("batch_account.akihabara", "batch_password", batch),
            "batch_account.arrival_number_password": FP(
                "batch_account.akihabara", "arrival_number_password", arrival
            ),
        },
    )
    passwords = {"dairi001": "Dairi001-Pass!", "dairi002": "Dairi002-Pass!"}
    for login in users:
        state.users[login] = UserEntry(
            {"initial_password": FP(f"user.{login}", "initial_password", passwords[login])}
        )
    return state


def actions(plan):
    return [(c.action, c.address) for c in plan.changes]


def test_everything_new_is_created_in_order(tmp_path):
    plan = diff(desired(tmp_path, SITE, USERS), current(), State(), FP)
    assert actions(plan) == [
        ("create", "site.akihabara"),
        ("create", "batch_account.akihabara"),
        ("create", "user.dairi001"),
        ("create", "user.dairi002"),
    ]
    assert plan.changes[1].depends_on == ["site.akihabara"]
    secret = plan.changes[1].secrets["batch_password"]
    assert secret == FP("batch_account.akihabara", "batch_password", "Batch-Pass-01")
    text = render_text(plan)
    assert "Batch-Pass-01" not in text and "(sensitive)" in text


def test_matching_tenant_gives_an_empty_plan(tmp_path):
    state = managed_state()
    plan = diff(
        desired(tmp_path, SITE, USERS),
        current(
            [live_site()],
            [live_user("dairi001", "拠点管理者", name="管理者1"), live_user("dairi002")],
        ),
        state,
        FP,
    )
    assert plan.changes == [] and plan.errors == [] and plan.notes == []


def test_a_live_site_is_adopted_by_code_then_by_name(tmp_path):
    plan = diff(desired(tmp_path, SITE), current([live_site(code="AKB", name="旧名")]), State(), FP)
    assert actions(plan)[0] == ("adopt", "site.akihabara")
    assert plan.changes[0].fields[0].old == "旧名"
    plan = diff(
        desired(tmp_path, SITE.replace("code: AKB", "code: null")),
        current([live_site(code=None)]),
        State(),
        FP,
    )
    assert actions(plan)[0] == ("adopt", "site.akihabara")


def test_ambiguous_adoption_is_a_plan_error(tmp_path):
    no_code = SITE.replace("code: AKB", "code: null")
    plan = diff(
        desired(tmp_path, no_code),
        current([live_site("100000001", code=None), live_site("100000002", code=None)]),
        State(),
        FP,
    )
    assert "2 live sites are named '利活用事務所'" in plan.errors[0]
    with pytest.raises(PlanRefused):
        plan.raise_if_unsafe()


def test_write_once_id_change_is_refused_naming_the_rule(tmp_path):
    plan = diff(
        desired(tmp_path, SITE.replace("ABCD1234", "ABCD9999")),
        current([live_site()]),
        managed_state(),
        FP,
    )
    assert plan.errors == [
        "batch_account.akihabara: 一括利用者ID (batch_user_id) is 'ABCD1234' in AINAS and 'ABCD9999' in the "
        "manifests, but AINAS refuses to change it after registration (登録後は納付利用者ID、一括利用者ID及び、"
        "一括利用者パスワードの変更はできません); put the registered value back, or delete the site and create it anew"
    ]


def test_write_once_password_change_is_refused_by_fingerprint(tmp_path):
    plan = diff(
        desired(tmp_path, SITE), current([live_site()]), managed_state(batch="Other-Pass-9"), FP
    )
    assert "一括利用者パスワード (batch_password) differs from the one registered" in plan.errors[0]
    assert "Batch-Pass-01" not in plan.errors[0]


def test_write_only_password_changes_by_fingerprint_only(tmp_path):
    plan = diff(
        desired(tmp_path, SITE), current([live_site()]), managed_state(arrival="Old-Arrival-1"), FP
    )
    assert actions(plan) == [("update", "batch_account.akihabara")]
    field = plan.changes[0].fields[0]
    assert (field.name, field.old, field.new, field.sensitive) == (
        "arrival_number_password",
        "(sensitive)",
        "(sensitive)",
        True,
    )
    assert plan.changes[0].payload == {}


def test_a_secret_the_tool_never_wrote_is_a_note_unless_rewritten(tmp_path):
    state = managed_state(users=())
    state.sites["akihabara"] = SiteEntry("100000001")
    plan = diff(desired(tmp_path, SITE), current([live_site()]), state, FP)
    assert plan.changes == []
    assert [n.address for n in plan.notes] == ["batch_account.akihabara", "batch_account.akihabara"]
    assert "--rewrite-unknown-secrets" in plan.notes[1].message
    plan = diff(
        desired(tmp_path, SITE),
        current([live_site()]),
        state,
        FP,
        DiffOptions(rewrite_unknown_secrets=True),
    )
    assert [f.name for f in plan.changes[0].fields] == ["arrival_number_password"]


def test_role_change_between_manager_and_staff_replaces(tmp_path):
    users = USERS.replace("role: 拠点管理者", "role: 担当者(送信不可)")
    live = [live_user("dairi001", "拠点管理者", name="管理者1"), live_user("dairi002")]
    plan = diff(desired(tmp_path, SITE, users), current([live_site()], live), managed_state(), FP)
    assert actions(plan) == [("replace", "user.dairi001")]
    assert plan.deletions == plan.changes
    users = USERS.replace("role: 担当者(送信可)", "role: 担当者(送信不可)")
    plan = diff(desired(tmp_path, SITE, users), current([live_site()], live), managed_state(), FP)
    assert actions(plan) == [("update", "user.dairi002")]


def test_removed_managed_user_is_deleted_unmanaged_is_noted_or_pruned(tmp_path):
    live = [
        live_user("dairi001", "拠点管理者", name="管理者1"),
        live_user("dairi002"),
        live_user("stranger", name="誰か"),
    ]
    only_one = USERS.split("  dairi002")[0]
    plan = diff(
        desired(tmp_path, SITE, only_one), current([live_site()], live), managed_state(), FP
    )
    assert actions(plan) == [("delete", "user.dairi002")]
    assert plan.notes[0].address == "user.stranger" and "not managed" in plan.notes[0].message


def test_prune_deletes_unmanaged_users(tmp_path):
    path_desired = desired(tmp_path, SITE, USERS)
    path_desired.policy = path_desired.policy.__class__(prune=True)
    live = [
        live_user("dairi001", "拠点管理者", name="管理者1"),
        live_user("dairi002"),
        live_user("stranger", name="誰か"),
    ]
    plan = diff(path_desired, current([live_site()], live), managed_state(), FP)
    assert actions(plan) == [("delete", "user.stranger")]


def test_a_site_with_remaining_users_cannot_be_deleted(tmp_path):
    state = managed_state(users=("dairi002",))
    live = [live_user("dairi002"), live_user("stranger", name="誰か")]
    plan = diff(desired(tmp_path), current([live_site()], live), state, FP)
    assert ("delete", "site.akihabara") in actions(plan)
    assert ("delete", "user.dairi002") in actions(plan)
    assert "the site still has users (stranger)" in plan.errors[0]
    delete_site = next(c for c in plan.changes if c.address == "site.akihabara")
    assert "user.dairi002" in delete_site.depends_on
    assert actions(plan)[-1] == ("delete", "site.akihabara")  # deletions last, sites after users


def test_max_deletes_guard(tmp_path):
    state = managed_state(users=("dairi002",))
    plan = diff(desired(tmp_path), current([live_site()], [live_user("dairi002")]), state, FP)
    assert len(plan.deletions) == 2
    with pytest.raises(
        PlanRefused,
        match=r"more than policy.max_deletes \(0\) allows; review them, then run again with --allow-deletes 2",
    ):
        plan.raise_if_unsafe()
    plan.raise_if_unsafe(allow_deletes=2)


def test_admins_are_verified_never_changed(tmp_path):
    admins = "admins:\n  abcde: {name: 別の名前}\n  xyzst: {name: 未登録}\n"
    plan = diff(desired(tmp_path, admins), current(), State(), FP)
    assert plan.changes == []
    messages = [n.message for n in plan.notes]
    assert "admin abcde is named '利活用一郎' in AINAS, '別の名前' in the manifests" in messages[0]
    assert messages[1].startswith("admin xyzst is not in AINAS")


def test_organization_name_is_drift_short_name_is_updated(tmp_path):
    d = desired(tmp_path)
    d.organization.fields["short_name"] = "新略称"
    plan = diff(d, current(org_name="協会の登録名"), State(), FP)
    assert actions(plan) == [("update", "organization")]
    assert plan.changes[0].payload == {"short_name": "新略称"}
    assert "the association controls it" in plan.notes[0].message


def test_site_manager_may_not_touch_other_sites(tmp_path):
    other = (
        SITE.replace("akihabara", "kanda")
        .replace("利活用事務所", "神田事務所")
        .replace("AKB", "KND")
        .replace("sites:\n", "")
    )
    session = Session("dairi001", "拠点管理者", "100000001")
    plan = diff(
        desired(tmp_path, SITE + other),
        current([live_site()], session=session),
        managed_state(users=()),
        FP,
    )
    assert any(
        e.startswith(
            "site.kanda: dairi001 is a 拠点管理者 and may not make this change (AINAS: "
            "拠点管理者ユーザーは所属拠点の担当者ユーザーのみ登録・追加・削除できます)"
        )
        for e in plan.errors
    )


def test_staff_are_told_they_manage_nothing_not_the_site_managers_rule(tmp_path):
    session = Session("dairi002", "担当者(送信可)", "100000001")
    plan = diff(desired(tmp_path, SITE), current([], session=session), managed_state(users=()), FP)
    assert plan.errors
    for error in plan.errors:
        assert (
            "dairi002 is a 担当者(送信可) and may not make any change (the start guide's " in error
        )
        assert (
            "担当者 users file applications and manage nothing, not even in their own site" in error
        )
        assert "拠点管理者ユーザーは" not in error


def test_forced_password_change_is_the_only_step(tmp_path):
    from ainas_provision.secrets.values import Secret

    session = Session("abcde", "管理者", None, must_change_password=True)
    plan = diff(desired(tmp_path, SITE), current(session=session), State(), FP)
    assert plan.errors and "AINAS_NEW_PASSWORD" in plan.errors[0]
    plan = diff(
        desired(tmp_path, SITE),
        current(session=session),
        State(),
        FP,
        DiffOptions(new_password=Secret("New-Pass-01", "env")),
    )
    assert actions(plan) == [("update", "session.abcde")]
    assert plan.incomplete


def test_a_weak_new_password_is_refused_at_plan_time(tmp_path):
    from ainas_provision.secrets.values import Secret

    session = Session("abcde", "管理者", None, must_change_password=True)
    plan = diff(
        desired(tmp_path, SITE),
        current(session=session),
        State(),
        FP,
        DiffOptions(new_password=Secret("zqzqzq", "AINAS_NEW_PASSWORD")),
    )
    assert plan.changes == []
    [error] = plan.errors
    assert error.startswith(
        "the new password (AINAS_NEW_PASSWORD) does not meet the AINAS password rule"
    )
    assert "shorter than 8 characters" in error and "set AINAS_NEW_PASSWORD" in error
    assert "zqzqzq" not in error


def test_markdown_stays_under_the_comment_limit(tmp_path):
    many = "sites:\n" + "".join(
        f"  s{i:04d}: {{name: 事務所{''.join(chr(0xFF10 + int(c)) for c in str(i))}, short_name: 事務所}}\n"
        for i in range(3000)
    )
    plan = diff(desired(tmp_path, many), current(), State(), FP)
    text = render_markdown(plan)
    assert len(text) <= 60_000
    assert "Plan: 3000 to add" in text
    assert "more changes" in text


def test_organization_fields_left_out_are_not_cleared(tmp_path):
    d = desired(tmp_path)
    d.organization.fields = {"name": None, "short_name": None}
    plan = diff(d, current(), State(), FP)
    assert plan.changes == [] and plan.notes == []
