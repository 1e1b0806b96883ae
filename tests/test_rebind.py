"""A state whose 拠点ID no longer exists in AINAS (the site deleted and made again by hand): the
live site is found by its natural key (code, then name) and bound again, with a note — never a
second site; and a write-once ID already registered on another site is refused before anything
is sent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ainas_emulator.service import AinasSandbox
from ainas_provision.plan.diff import diff
from ainas_provision.state.model import State
from tests.conftest import copy_example
from tests.helpers import run
from tests.test_diff import FP, SITE, USERS, current, desired, live_site, live_user, managed_state


def test_a_gone_site_id_is_rebound_by_code(tmp_path):
    state = managed_state()  # akihabara -> 100000001, which is gone
    live = live_site(site_id="100000777")  # made again by hand, same code AKB
    users = [
        live_user("dairi001", "拠点管理者", "100000777", "管理者1"),
        live_user("dairi002", site_id="100000777"),
    ]
    plan = diff(desired(tmp_path, SITE, USERS), current([live], users), state, FP)
    assert [(c.action, c.address) for c in plan.changes if c.kind == "site"] == [
        ("adopt", "site.akihabara")
    ]
    change = next(c for c in plan.changes if c.kind == "site")
    assert change.live_id == "100000777"
    assert change.note == (
        "拠点ID 100000001 recorded for this site no longer exists in AINAS; the live site 拠点ID "
        "100000777 has its 代理人拠点コード 'AKB': it is bound to this site instead (its secrets "
        "were not written by this tool)"
    )
    assert not plan.errors
    assert not any(c.action == "create" for c in plan.changes)


def test_a_gone_site_id_is_rebound_by_name_when_no_code(tmp_path):
    state = managed_state()
    live = live_site(site_id="100000777", code=None)
    site = SITE.replace("    code: AKB\n", "")
    plan = diff(desired(tmp_path, site), current([live]), state, FP)
    change = next(c for c in plan.changes if c.kind == "site")
    assert (change.action, change.live_id) == ("adopt", "100000777")
    assert "has its 代理人拠点名 '利活用事務所'" in change.note


def test_a_gone_site_with_no_match_is_created_again(tmp_path):
    state = managed_state()
    plan = diff(desired(tmp_path, SITE), current([]), state, FP)
    assert [(c.action, c.address) for c in plan.changes] == [
        ("create", "site.akihabara"),
        ("create", "batch_account.akihabara"),
    ]
    assert "no live site has its 代理人拠点コード or name" in plan.changes[0].note


def test_a_batch_id_registered_on_another_site_is_refused(tmp_path):
    """The site is not found (its name and code changed by hand), but its 一括利用者ID is on
    another live site: creating it again would register the write-once ID twice."""
    state = managed_state()
    other = live_site(site_id="100000888", name="別の事務所", code="ZZZ")
    plan = diff(desired(tmp_path, SITE), current([other]), state, FP)
    assert plan.errors == [
        "batch_account.akihabara: 一括利用者ID (batch_user_id) 'ABCD1234' is already registered on "
        "another site, 拠点ID 100000888 (別の事務所), and AINAS registers it once (登録後は納付利用者ID、"
        "一括利用者ID及び、一括利用者パスワードの変更はできません); bind this site to that one (give it its "
        "代理人拠点コード or name), or use the ID AINAS gave this site"
    ]
    assert not any(c.kind == "batch_account" for c in plan.changes)
    with pytest.raises(Exception, match="the plan cannot be applied"):
        plan.raise_if_unsafe()


def test_a_new_site_with_an_id_taken_elsewhere_is_refused(tmp_path):
    other = live_site(site_id="100000888", name="別の事務所", code="ZZZ")
    plan = diff(desired(tmp_path, SITE), current([other]), State(), FP)
    assert len(plan.errors) == 1 and "'ABCD1234' is already registered" in plan.errors[0]


# -- end to end -------------------------------------------------------------------------------


@pytest.fixture
def quickstart(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "quickstart"
    copy_example("quickstart", path)
    monkeypatch.chdir(tmp_path)
    return path


def _delete_by_hand(quickstart: Path) -> str:
    """Delete the site (its users first), as a person would on the screens."""
    sandbox = AinasSandbox(quickstart / "ainas.sandbox.sqlite")
    try:
        admin = sandbox.first_admin("1")
        actor = admin.__class__(admin.login_id, "1", admin.role, None, False)
        sites, _ = sandbox.list_sites(actor)
        for login in ("dairi002", "dairi001"):
            sandbox.delete(actor, "user", login)
        sandbox.delete(actor, "site", sites[0]["site_id"])
        return sites[0]["site_id"]
    finally:
        sandbox.close()


def test_a_site_made_again_by_hand_is_bound_again_not_duplicated(quickstart):
    assert run("apply", "quickstart", "--auto-approve").exit_code == 0
    old_id = _delete_by_hand(quickstart)
    # made again outside this state (by hand, or by another copy of the manifests): a new 拠点ID
    again = run("apply", "quickstart", "--auto-approve", "--state", "elsewhere.json")
    assert again.exit_code == 0, again.stderr
    plan = run("plan", "quickstart")
    assert plan.exit_code == 0, plan.stderr
    assert "<= site.akihabara" in plan.stdout
    assert f"# 拠点ID {old_id} recorded for this site no longer exists in AINAS" in plan.stdout
    assert "+ site.akihabara" not in plan.stdout
    applied = run("apply", "quickstart", "--auto-approve")
    assert applied.exit_code == 0, applied.stderr
    sandbox = AinasSandbox(quickstart / "ainas.sandbox.sqlite")
    try:
        admin = sandbox.first_admin("1")
        actor = admin.__class__(admin.login_id, "1", admin.role, None, False)
        sites, total = sandbox.list_sites(actor)
    finally:
        sandbox.close()
    assert total == 1  # not a second site
    state = json.loads((quickstart / "ainas.state.json").read_text(encoding="utf-8"))
    assert state["sites"]["akihabara"]["site_id"] == sites[0]["site_id"] != old_id
    assert run("plan", "quickstart", "--detailed-exitcode").exit_code == 0
