"""The runbook without a browser: its steps, what a confirmation records, the ``runbook:``
target, stale and resumed runbooks, the printable checklist, and the local server's refusals."""

from __future__ import annotations

import json

import httpx
import pytest

from ainas_provision.plan.plan import PlanRefused
from ainas_provision.runbook import steps as runbook_steps
from ainas_provision.runbook.session import RunbookRefused
from ainas_provision.runbook.strings import GUIDE_BATCH, GUIDE_WRITE_ONCE, GUIDE_WRITE_ONLY
from ainas_provision.state.store import LocalStateStore
from tests.helpers import run
from tests.runbook_support import (
    CANARIES,
    QUICKSTART_STEPS,
    SITE_ID,
    assert_files_clean,
    assert_no_canary,
    make_workspace,
    served,
    session,
)


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    return make_workspace(tmp_path, monkeypatch)


def state_of(path):
    return LocalStateStore(path / "ainas.state.json").load()


def confirm_all(opened, site_id=SITE_ID):
    for address in list(opened.addresses):
        if address in opened.statuses:
            continue
        answers = {"site_id": site_id} if address.startswith("site.") else {}
        opened.confirm(address, answers)


# -- the steps -------------------------------------------------------------------------------
def test_steps_are_the_guides_screens_in_the_order_ainas_needs(workspace):
    opened = session(workspace, lang="ja")
    try:
        built = opened.steps()
    finally:
        opened.close()
    assert [s.address for s in built] == QUICKSTART_STEPS
    cert, site, batch, kei, manager, staff = built
    assert [s.name for s in cert.screens] == ["代理人証明書登録", "代理人証明書更新"]
    assert cert.screens[0].menu == ["代理人組織管理", "代理人組織ID 1", "代理人証明書登録"]
    assert site.screens[0].name == "代理人拠点登録"
    assert site.screens[0].menu == ["代理人拠点管理", "代理人拠点登録"]
    values = {f.label: f.value for f in site.screens[0].fields}
    assert values["代理人拠点名"] == "利活用事務所"
    assert values["証明書等管理業者名"] == "利活用　一郎"  # the full-width space, exactly
    assert values["記録等事務代行者委託番号"] == "1234567890"
    assert values["代理人拠点コード"] is None  # left empty
    assert [a.label for a in site.asks] == ["代理人拠点ID"]
    assert site.asks[0].screen == "代理人拠点照会"
    # the site's 拠点ID is not known yet: the menu path says where it comes from
    assert batch.screens[0].menu[1] == "利活用事務所 の代理人拠点ID (手順 2 で登録)"
    assert batch.screens[0].warnings == [GUIDE_BATCH]
    fields = {f.label: f for f in batch.screens[0].fields}
    assert fields["納付利用者ID"].value == "12345678"
    assert GUIDE_WRITE_ONCE in fields["一括利用者ID"].warnings
    assert fields["一括利用者パスワード"].value is None
    assert fields["一括利用者パスワード"].source == "{env: RB_BATCH}"
    assert any(GUIDE_WRITE_ONLY in w for w in fields["到達番号パスワード"].warnings)
    assert kei.screens[0].name == "軽一括利用者アカウント登録"
    assert manager.screens[0].name == "代理人拠点管理者ユーザー登録"
    staff_fields = {f.label: f for f in staff.screens[0].fields}
    assert staff.screens[0].name == "代理人担当者ユーザー登録"
    assert staff_fields["ログインID"].value == "dairi002"
    assert staff_fields["パスワード"].source == "{file: secrets/dairi002-password.txt}"
    assert staff_fields["パスワード"].repeat
    assert staff_fields["デフォルト申請先(都道府県)"].value == "東京都"
    assert staff_fields["デフォルト申請先(運輸支局等)"].value == "練馬"
    assert staff_fields["権限"].value == "担当者(送信可)"
    assert staff_fields["代理人拠点"].value == "利活用事務所 (手順 2 で登録した代理人拠点)"
    assert_no_canary(json.dumps([s.to_json() for s in built], ensure_ascii=False), "the steps")


def test_steps_name_a_site_by_its_id_once_it_is_known(workspace):
    opened = session(workspace)
    try:
        opened.confirm("certificate")
        opened.confirm("site.akihabara", {"site_id": SITE_ID})
        built = {s.address: s for s in opened.steps()}
    finally:
        opened.close()
    assert built["batch_account.akihabara"].screens[0].menu == [
        "代理人拠点管理",
        f"代理人拠点ID {SITE_ID} (利活用事務所)",
        "一括利用者アカウント登録",
    ]
    staff = {f.id: f.value for f in built["user.dairi002"].screens[0].fields}
    assert staff["site"] == f"利活用事務所 (代理人拠点ID {SITE_ID})"


def test_order_puts_each_sites_batch_accounts_after_it():
    from ainas_provision.plan.changes import Change

    changes = [
        Change("create", "batch_account", "b"),
        Change("create", "site", "b"),
        Change("create", "kei_batch_account", "a"),
        Change("create", "site", "a"),
        Change("create", "user", "u", payload={"role": "拠点管理者"}),
        Change("delete", "site", "old"),
        Change("create", "certificate"),
    ]
    ordered = [c.address for c in runbook_steps.order(sorted(changes))]
    assert ordered == [
        "certificate",
        "site.a",
        "kei_batch_account.a",
        "site.b",
        "batch_account.b",
        "user.u",
        "site.old",
    ]


# -- confirmations and the state ---------------------------------------------------------------
def test_a_confirmed_step_is_recorded_at_once_with_who_and_when(workspace):
    opened = session(workspace)
    try:
        opened.confirm("certificate")
        after_one = state_of(workspace)
        opened.confirm("site.akihabara", {"site_id": SITE_ID})
        opened.confirm("batch_account.akihabara")
    finally:
        opened.close()
    assert after_one.serial == 1
    assert after_one.target == {"kind": "runbook", "location": "", "organization_id": "1"}
    assert after_one.certificate["fingerprint"]
    state = state_of(workspace)
    assert state.serial == 3
    assert state.site_id("akihabara") == SITE_ID
    entry = state.sites["akihabara"]
    assert set(entry.fingerprints) == {
        "batch_account.batch_password",
        "batch_account.arrival_number_password",
    }
    assert set(entry.to_json()) == {
        "site_id",
        "fingerprints",
    }  # what an apply records, nothing more
    progress = state.runbook
    entered = progress["recorded"]["site.akihabara"]
    assert entered["fields"]["name"] == "利活用事務所"
    assert entered["by"] and entered["at"]
    assert set(progress["recorded"]) == {
        "certificate",
        "site.akihabara",
        "batch_account.akihabara",
    }
    assert progress["from_serial"] == 0 and progress["serial"] == 3
    assert [a for a, s in progress["steps"].items() if s["status"] == "done"] == QUICKSTART_STEPS[
        :3
    ]
    assert progress["steps"]["site.akihabara"]["answers"] == {"site_id": SITE_ID}
    assert_files_clean(workspace)


@pytest.mark.parametrize(
    ("site_id", "why"),
    [
        ("", "enter the 代理人拠点ID"),
        ("12345", "is not a 代理人拠点ID"),
        ("1007022420", "is not a 代理人拠点ID"),
        ("１００７０２２４２", "is not a 代理人拠点ID"),  # full-width digits
        ("10070224a", "is not a 代理人拠点ID"),
    ],
)
def test_a_wrong_site_id_is_refused_and_nothing_recorded(workspace, site_id, why):
    opened = session(workspace)
    try:
        opened.confirm("certificate")
        with pytest.raises(RunbookRefused, match=why):
            opened.confirm("site.akihabara", {"site_id": site_id})
        assert opened.current == "site.akihabara"
    finally:
        opened.close()
    state = state_of(workspace)
    assert state.serial == 1 and state.sites == {}


def test_a_site_id_bound_to_another_site_is_refused(workspace):
    text = (workspace / "ainas.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "users:", "  kanda:\n    name: 神田事務所\n    short_name: 神田事務所\n\nusers:", 1
    )
    (workspace / "ainas.yaml").write_text(text, encoding="utf-8")
    opened = session(workspace)
    try:
        opened.confirm("certificate")
        opened.confirm("site.akihabara", {"site_id": SITE_ID})
        for address in ("batch_account.akihabara", "kei_batch_account.akihabara"):
            opened.confirm(address)
        with pytest.raises(RunbookRefused, match=r"already recorded for site\.akihabara"):
            opened.confirm("site.kanda", {"site_id": SITE_ID})
    finally:
        opened.close()


def test_steps_are_confirmed_in_order(workspace):
    opened = session(workspace)
    try:
        with pytest.raises(RunbookRefused, match="comes after certificate"):
            opened.confirm("batch_account.akihabara")
        with pytest.raises(RunbookRefused, match="asks for nothing named site_id"):
            opened.confirm("certificate", {"site_id": SITE_ID})
    finally:
        opened.close()
    assert state_of(workspace).serial == 0


def test_after_every_step_the_runbook_target_plans_no_changes(workspace):
    result = run("plan", str(workspace), "--target", "runbook:")
    assert result.exit_code == 0, result.stderr
    assert "cannot read AINAS" in result.stdout
    assert "Plan: 6 to add" in result.stdout
    opened = session(workspace)
    try:
        confirm_all(opened)
        assert opened.ended == "done"
    finally:
        opened.close()
    result = run("plan", str(workspace), "--target", "runbook:", "--detailed-exitcode")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "No changes" in result.stdout
    result = run("runbook", str(workspace), "--no-browser")
    assert result.exit_code == 0 and "nothing for the runbook to do" in result.stdout
    assert_files_clean(workspace)


def test_a_change_of_the_manifests_after_the_runbook_is_planned(workspace):
    opened = session(workspace)
    try:
        confirm_all(opened)
    finally:
        opened.close()
    text = (workspace / "ainas.yaml").read_text(encoding="utf-8")
    (workspace / "ainas.yaml").write_text(text.replace("name: 管理者1", "name: 管理者一"))
    opened = session(workspace, lang="ja")
    try:
        built = opened.steps()
    finally:
        opened.close()
    assert [s.address for s in built] == ["user.dairi001"]
    screen = built[0].screens[0]
    assert screen.name == "ユーザー更新"
    assert screen.menu == ["代理人ユーザー管理", "ログインID dairi001", "ユーザー更新"]
    assert screen.partial
    assert {f.label: f.value for f in screen.fields}["ユーザー名"] == "管理者一"


def test_a_deletion_is_a_step_too(workspace):
    opened = session(workspace)
    try:
        confirm_all(opened)
    finally:
        opened.close()
    text = (workspace / "ainas.yaml").read_text(encoding="utf-8")
    start = text.index("  dairi002:")
    end = text.index("admins:")
    (workspace / "ainas.yaml").write_text(text[:start] + "\n" + text[end:], encoding="utf-8")
    with pytest.raises(PlanRefused, match="--allow-deletes 1"):
        session(workspace)
    opened = session(workspace, lang="ja", allow_deletes=1)
    try:
        (step,) = opened.steps()
        assert step.address == "user.dairi002" and step.action == "delete"
        assert step.screens[0].name == "ユーザー削除"
        assert step.screens[0].menu == ["代理人ユーザー管理", "ログインID dairi002", "ユーザー削除"]
        assert step.screens[0].button == "削除"
        opened.confirm("user.dairi002")
    finally:
        opened.close()
    state = state_of(workspace)
    assert "dairi002" not in state.users
    assert "user.dairi002" not in state.runbook["recorded"]
    result = run("plan", str(workspace), "--target", "runbook:", "--detailed-exitcode")
    assert result.exit_code == 0, result.stdout + result.stderr


def test_a_failed_step_ends_the_runbook_with_a_true_state(workspace):
    opened = session(workspace)
    try:
        opened.confirm("certificate")
        with pytest.raises(RunbookRefused, match="paste the message"):
            opened.fail("site.akihabara", "  ")
        opened.fail("site.akihabara", "代理人拠点名は全角で入力してください。")
        assert opened.ended == "failed"
        with pytest.raises(RunbookRefused, match="has ended"):
            opened.confirm("site.akihabara", {"site_id": SITE_ID})
    finally:
        opened.close()
    state = state_of(workspace)
    assert state.sites == {}
    failed = state.runbook["steps"]["site.akihabara"]
    assert failed["status"] == "failed"
    assert failed["message"] == "代理人拠点名は全角で入力してください。"
    # opened again: what was done is done; the failed step is the first one
    opened = session(workspace)
    try:
        assert opened.addresses[0] == "site.akihabara"
    finally:
        opened.close()


def test_a_state_written_by_another_run_makes_the_open_runbook_stale(workspace):
    opened = session(workspace)
    try:
        opened.confirm("certificate")
        # another writer (a second process, once the lock was broken) moves the state
        store = LocalStateStore(workspace / "ainas.state.json")
        other = store.load()
        store.begin(other)
        store.commit(other)
        with pytest.raises(RunbookRefused, match="the runbook is stale"):
            opened.confirm("site.akihabara", {"site_id": SITE_ID})
    finally:
        opened.close()
    assert state_of(workspace).sites == {}


def test_the_state_is_locked_while_the_runbook_is_open(workspace):
    opened = session(workspace)
    try:
        result = run("apply", str(workspace), "--auto-approve", "--target", "sandbox:x.sqlite")
        assert result.exit_code == 1
        assert "runbook" in result.stderr and "lock" in result.stderr
    finally:
        opened.close()


def test_the_runbook_keeps_its_record_in_a_postgresql_state(
    workspace, postgres_server, pg_database, monkeypatch
):
    from ainas_provision.state.keys import key_text, new_key
    from ainas_provision.state.postgres import PostgresStateStore

    monkeypatch.setenv("AINAS_STATE_KEY", key_text(new_key()))
    url = postgres_server.url(pg_database) + "#runbook"
    opened = session(workspace, state=url)
    try:
        opened.confirm("certificate")
        opened.confirm("site.akihabara", {"site_id": SITE_ID})
    finally:
        opened.close()
    opened = session(workspace, state=url)  # opened again: it resumes
    try:
        assert opened.addresses[0] == "batch_account.akihabara"
        store = opened.run.store
        assert isinstance(store, PostgresStateStore)
        state = store.load()
    finally:
        opened.close()
    assert state.site_id("akihabara") == SITE_ID
    assert state.runbook["recorded"]["site.akihabara"]["fields"]["name"] == "利活用事務所"
    assert not (workspace / "ainas.state.json").exists()
    result = run("plan", str(workspace), "--target", "runbook:", "--state", url)
    assert result.exit_code == 0, result.stderr
    assert "Plan: 4 to add" in result.stdout


# -- saved plans -----------------------------------------------------------------------------
def test_a_saved_plan_resumes_and_a_stale_one_is_refused(workspace, tmp_path):
    saved = tmp_path / "runbook.plan"
    result = run("plan", str(workspace), "--target", "runbook:", "--out", str(saved))
    assert result.exit_code == 0, result.stderr
    opened = session(workspace, plan_file=saved)
    try:
        opened.confirm("certificate")
        opened.confirm("site.akihabara", {"site_id": SITE_ID})
    finally:
        opened.close()
    opened = session(workspace, plan_file=saved)  # closed, then opened again
    try:
        assert opened.current == "batch_account.akihabara"
        assert set(opened.statuses) == {"certificate", "site.akihabara"}
    finally:
        opened.close()
    # the state moves by something else: the saved plan is stale
    store = LocalStateStore(workspace / "ainas.state.json")
    other = store.load()
    store.begin(other)
    store.commit(other)
    with pytest.raises(PlanRefused, match="the plan is stale"):
        session(workspace, plan_file=saved)
    result = run("runbook", str(workspace), "--plan", str(saved), "--no-browser")
    assert result.exit_code == 1
    assert "the plan is stale" in result.stderr and "Traceback" not in result.stderr


def test_a_plan_for_another_target_is_not_a_runbook(workspace, tmp_path):
    saved = tmp_path / "sandbox.plan"
    assert run("plan", str(workspace), "--out", str(saved)).exit_code == 0
    result = run("runbook", str(workspace), "--plan", str(saved), "--no-browser")
    assert result.exit_code == 1
    assert "plan --target runbook: --out FILE" in result.stderr


# -- the checklist ---------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["markdown", "html"])
def test_the_printable_checklist_names_secrets_by_reference_only(workspace, tmp_path, fmt):
    out = tmp_path / f"checklist.{fmt}"
    result = run(
        "runbook", str(workspace), "--format", fmt, "--out", str(out), env={"AINAS_LANG": "ja"}
    )
    assert result.exit_code == 0, result.stderr
    document = out.read_text(encoding="utf-8")
    assert_no_canary(document, "the checklist")
    for expected in (
        "代理人証明書登録",
        "代理人拠点管理",
        "代理人拠点登録",
        "利活用　一郎",
        "{env: RB_BATCH}",
        "{file: secrets/dairi002-password.txt}",
        GUIDE_BATCH,
        "代理人拠点照会",
        "代理人担当者ユーザー登録",
    ):
        assert expected in document, expected
    assert document.count("手順 ") >= 6
    assert state_of(workspace).serial == 0  # a checklist records nothing


# -- the local server --------------------------------------------------------------------------
def test_the_server_answers_its_token_and_address_only(workspace):
    with served(workspace) as (server, _):
        base = server.url
        port = server.app.port
        assert base.startswith(f"http://127.0.0.1:{port}/")
        assert len(server.app.token) >= 40
        with httpx.Client() as client:
            page = client.get(base)
            assert page.status_code == 200
            assert page.headers["cache-control"] == "no-store"
            assert "script-src 'self'" in page.headers["content-security-policy"]
            assert_no_canary(page.text, "the page")
            steps = client.get(base + "api/steps")
            assert_no_canary(steps.text, "the steps")
            assert "{env: RB_BATCH}" in steps.text
            assert client.get(f"http://127.0.0.1:{port}/").status_code == 404
            assert client.get(f"http://127.0.0.1:{port}/wrong-token/").status_code == 404
            assert client.get(base, headers={"Host": f"evil.example:{port}"}).status_code == 403
            secret = {"step": "batch_account.akihabara", "field": "batch_password"}
            assert client.post(base + "api/secret", content=json.dumps(secret)).status_code == 415
            refused = client.post(
                base + "api/secret", json=secret, headers={"Origin": "http://evil.example"}
            )
            assert refused.status_code == 403
            revealed = client.post(base + "api/secret", json=secret)
            assert revealed.json() == {"value": CANARIES["RB_BATCH"]}
            assert revealed.headers["cache-control"] == "no-store"
            unknown = client.post(
                base + "api/secret", json={"step": "site.akihabara", "field": "x"}
            )
            assert unknown.status_code == 409
        # nothing listens on another address
        with pytest.raises(httpx.ConnectError), httpx.Client() as client:
            client.get(f"http://127.0.0.2:{port}/")


# -- the runbook in Japanese -----------------------------------------------------------------
def test_the_runbooks_texts_come_from_the_catalog_in_both_languages():
    from ainas_provision.runbook.strings import TEXTS, strings

    english, japanese = strings("en"), strings("ja")
    assert set(english) == set(japanese) and english["lang"] == "en" and japanese["lang"] == "ja"
    assert english["done"] == TEXTS["done"] == "Done" and japanese["done"] == "完了"
    # every text of the runbook's own voice is translated (AINAS's own words are not texts)
    same = [name for name in TEXTS if english[name] == japanese[name]]
    assert not same, same
    assert japanese["write_once"].format(warning=GUIDE_WRITE_ONCE) == GUIDE_WRITE_ONCE
    assert (
        english["write_once"].format(warning=GUIDE_WRITE_ONCE).startswith(GUIDE_WRITE_ONCE + " (")
    )


def test_the_runbooks_refusals_in_japanese(workspace, tmp_path, monkeypatch):
    from ainas_provision import i18n

    i18n.set_language("ja")  # as the command does under AINAS_LANG=ja (reset after each test)
    opened = session(workspace, lang="ja")
    try:
        with pytest.raises(RunbookRefused, match="certificate の後の手順です"):
            opened.confirm("batch_account.akihabara")
        opened.confirm("certificate")
        with pytest.raises(
            RunbookRefused, match=r"「12345」は代理人拠点IDではありません.*半角数字9桁"
        ):
            opened.confirm("site.akihabara", {"site_id": "12345"})
        with pytest.raises(
            RunbookRefused, match="代理人拠点照会画面に表示される代理人拠点IDを入力"
        ):
            opened.confirm("site.akihabara", {"site_id": ""})
        store = LocalStateStore(workspace / "ainas.state.json")
        other = store.load()
        store.begin(other)
        store.commit(other)
        with pytest.raises(RunbookRefused, match="ランブックが古くなっています"):
            opened.confirm("site.akihabara", {"site_id": SITE_ID})
    finally:
        opened.close()
    monkeypatch.setenv("AINAS_LANG", "ja")
    saved = tmp_path / "sandbox.plan"
    assert run("plan", str(workspace), "--out", str(saved)).exit_code == 0
    result = run("runbook", str(workspace), "--plan", str(saved), "--no-browser")
    assert result.exit_code == 1
    assert "ランブックのものではありません" in result.stderr, result.stderr
    result = run("plan", str(workspace), "--target", "runbook:")
    assert result.exit_code == 0, result.stderr
    assert "ランブックのターゲットはAINASを読み取れません" in result.stdout
    out = tmp_path / "checklist.md"
    result = run("runbook", str(workspace), "--format", "markdown", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    assert (
        f"5 手順のチェックリストを {out} に書き出しました"
    )  # the certificate is done in result.stderr
    document = out.read_text(encoding="utf-8")
    assert document.startswith("# AINAS 初期設定チェックリスト")
    assert "シークレットは参照先のみを記載しています" in document
    result = run("runbook", str(workspace), "--out", str(out))
    assert result.exit_code == 1 and "--out は --format markdown または html と" in result.stderr
    with served(workspace, lang="ja") as (server, _), httpx.Client() as client:
        port = server.app.port
        wrong = client.get(f"http://127.0.0.1:{port}/wrong-token/")
        assert wrong.status_code == 404
        assert wrong.text == "見つかりません: ランブックが表示したアドレスを開いてください"
