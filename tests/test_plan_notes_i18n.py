"""A plan's notes are language-neutral data, rendered in the run's language: a note is saved as
its template and arguments (the digest covers them, not the rendered message), so a plan saved
under ``--lang ja`` is the same plan, with the same digest, when it is shown or applied in
English — and the other way round."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from ainas_emulator.service import AinasSandbox
from ainas_provision import i18n
from ainas_provision.plan.changes import Change, Note
from ainas_provision.plan.diff import today_in_japan
from ainas_provision.plan.plan import Plan, PlanRefused
from ainas_provision.targets.runbook import CANNOT_READ
from tests.conftest import copy_example
from tests.helpers import run
from tests.test_start_date import set_start_date

START_EN = "利用開始日 (start_date) is 2030-01-01, not the day of entry ("
START_JA = "利用開始日 (start_date) が 2030-01-01 で、スタートガイドが求める入力当日の日付（"


@pytest.fixture
def quickstart(tmp_path, monkeypatch) -> Path:
    path = copy_example("quickstart", tmp_path / "quickstart")
    monkeypatch.chdir(tmp_path)
    set_start_date(path, "2030-01-01")  # a warning note: not the day of entry
    return path


def lang(language: str) -> dict[str, str]:
    return {"AINAS_LANG": language}


@pytest.mark.parametrize(("saved_in", "applied_in"), [("ja", "en"), ("en", "ja")])
def test_a_plan_saved_in_one_language_applies_in_the_other(quickstart, saved_in, applied_in):
    plan = run("plan", "quickstart", "--out", "p.json", env=lang(saved_in))
    assert plan.exit_code == 0, plan.stderr
    assert (START_JA if saved_in == "ja" else START_EN) in plan.stdout
    saved = json.loads(Path("p.json").read_text(encoding="utf-8"))
    [note] = [n for n in saved["notes"] if n["address"] == "certificate"]
    assert note["template"].startswith("利用開始日 (start_date) is {stated}, not the day")
    assert note["args"] == {"stated": "2030-01-01", "today": today_in_japan().isoformat()}
    assert note["message"].startswith(START_JA if saved_in == "ja" else START_EN)

    digests = {
        language: run("show", "p.json", "--digest", env=lang(language)).stdout.strip()
        for language in ("en", "ja")
    }
    assert digests["en"] == digests["ja"] == saved["digest"]
    shown = run("show", "p.json", env=lang(applied_in))
    assert (START_JA if applied_in == "ja" else START_EN) in shown.stdout
    assert (START_EN if applied_in == "ja" else START_JA) not in shown.stdout
    as_json = json.loads(run("show", "p.json", "--format", "json", env=lang(applied_in)).stdout)
    [shown_note] = [n for n in as_json["notes"] if n["address"] == "certificate"]
    assert shown_note["message"].startswith(START_JA if applied_in == "ja" else START_EN)
    assert as_json["digest"] == saved["digest"]  # the document printed keeps its digest

    applied = run(
        "apply",
        "quickstart",
        "--plan",
        "p.json",
        "--expect-digest",
        saved["digest"],
        "--auto-approve",
        env=lang(applied_in),
    )
    assert applied.exit_code == 0, applied.stdout + applied.stderr


def test_the_notes_of_a_plan_render_in_japanese(tmp_path, monkeypatch):
    """The APIアカウント's expiry and the 会員 the tool does not manage, in text, markdown and
    JSON; the rule-like fields (level, address) stay as they are."""
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
    expiry = (
        f"APIアカウントのパスワードの有効期限は {soon}（パスワード有効期限）で、あと 20日です"
        "（60日前から警告します）。AINAS の代理人拠点の画面で更新してください"
    )
    member = "会員 会員一郎 (M001): このツールでは管理しません（そのままにします）"
    text = run("plan", "quickstart", env=lang("ja"))
    assert text.exit_code == 0, text.stderr
    assert f"  ! site.akihabara: {expiry}" in text.stdout
    assert f"  - site.akihabara: {member}" in text.stdout
    assert "not managed" not in text.stdout
    markdown = run("plan", "quickstart", "--format", "markdown", env=lang("ja")).stdout
    assert f"`site.akihabara`: {member}" in markdown
    notes = json.loads(run("plan", "quickstart", "--format", "json", env=lang("ja")).stdout)
    assert {(n["level"], n["address"], n["message"]) for n in notes["notes"]} >= {
        ("info", "site.akihabara", member)
    }
    assert "0123456789abcdef" not in text.stdout + markdown


def test_a_note_is_its_template_and_arguments():
    note = Note(
        "info",
        "user.stranger",
        "not managed: the live user {login_id} ({name}) is in "
        "no manifest; left alone (policy.prune: true would delete it)",
        {"login_id": "stranger", "name": "誰か"},
    )
    assert note.message.startswith("not managed: the live user stranger (誰か) is in no")
    i18n.set_language("ja")
    assert note.message.startswith("管理対象外: AINAS の利用者 stranger（誰か）は")
    assert Note("info", "target", CANNOT_READ).message != CANNOT_READ  # the runbook's, too
    saved = note.to_json()
    assert Note.from_json(saved) == note
    assert saved["message"].startswith("管理対象外")


@pytest.mark.parametrize(
    "template",
    [
        "{login_id.__class__}",  # an attribute of an argument
        "{missing}",  # no such argument: showing it would fail
        "{login_id:>99999999}",  # a format spec
        "{login_id!r}",
        "{0}",
    ],
)
def test_a_note_template_a_plan_file_could_abuse_is_refused(template):
    with pytest.raises(ValueError, match="notes are not in the form"):
        Note.from_json(
            {"level": "info", "address": "a", "template": template, "args": {"login_id": "x"}}
        )


def test_a_plan_file_of_the_older_form_is_refused_cleanly(quickstart):
    assert run("plan", "quickstart", "--out", "p.json").exit_code == 0
    data = json.loads(Path("p.json").read_text(encoding="utf-8"))
    for note in data["notes"]:
        del note["template"], note["args"]
    from ainas_provision.plan.plan import content_digest

    data["digest"] = content_digest({k: v for k, v in data.items() if k != "digest"})
    Path("p.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    shown = run("show", "p.json")
    assert shown.exit_code == 1
    assert "p.json is not a plan saved by `ainas-provision plan --out`" in shown.stderr
    with pytest.raises(Exception, match="not a plan saved"):
        Plan.load(Path("p.json"))


# -- each change's note, and the plan's refusals ---------------------------------------------

ADOPT_SITE_EN = "      # adopting the live site 拠点ID "
ADOPT_SITE_JA = "      # AINAS の代理人拠点（拠点ID "
ADOPT_USER_EN = "      # adopting the live user (the tool will manage it from now on)"
ADOPT_USER_JA = "      # AINAS の利用者を取り込みます（今後はこのツールで管理します）"


@pytest.fixture
def adoptable(tmp_path, monkeypatch) -> Path:
    """The quickstart applied, then its state lost: the next plan adopts the live site and
    users, each change with its note."""
    path = copy_example("quickstart", tmp_path / "quickstart")
    monkeypatch.chdir(tmp_path)
    assert run("apply", "quickstart", "--auto-approve").exit_code == 0
    (path / "ainas.state.json").unlink()
    return path


@pytest.mark.parametrize(("saved_in", "applied_in"), [("ja", "en"), ("en", "ja")])
def test_change_notes_render_in_the_runs_language_and_apply_in_the_other(
    adoptable, saved_in, applied_in
):
    plan = run("plan", "quickstart", "--out", "p.json", env=lang(saved_in))
    assert plan.exit_code == 0, plan.stderr
    site_note, user_note = (
        (ADOPT_SITE_JA, ADOPT_USER_JA) if saved_in == "ja" else (ADOPT_SITE_EN, ADOPT_USER_EN)
    )
    assert site_note in plan.stdout and user_note in plan.stdout
    saved = json.loads(Path("p.json").read_text(encoding="utf-8"))
    site = next(c for c in saved["changes"] if c["address"] == "site.akihabara")
    assert site["note_template"] == "adopting the live site 拠点ID {live_id}"
    assert site["note_args"] == {"live_id": site["live_id"]}
    assert site["note"] == (
        f"AINAS の代理人拠点（拠点ID {site['live_id']}）を取り込みます"
        if saved_in == "ja"
        else f"adopting the live site 拠点ID {site['live_id']}"
    )

    digests = {
        language: run("show", "p.json", "--digest", env=lang(language)).stdout.strip()
        for language in ("en", "ja")
    }
    assert digests["en"] == digests["ja"] == saved["digest"]
    shown = run("show", "p.json", env=lang(applied_in)).stdout
    other_site, other_user = (
        (ADOPT_SITE_JA, ADOPT_USER_JA) if applied_in == "ja" else (ADOPT_SITE_EN, ADOPT_USER_EN)
    )
    assert other_site in shown and other_user in shown
    assert site_note not in shown
    markdown = run("show", "p.json", "--format", "markdown", env=lang(applied_in)).stdout
    assert f"#   {other_user.strip().removeprefix('# ')}" in markdown
    as_json = json.loads(run("show", "p.json", "--format", "json", env=lang(applied_in)).stdout)
    shown_site = next(c for c in as_json["changes"] if c["address"] == "site.akihabara")
    assert shown_site["note"].startswith(
        "AINAS の代理人拠点" if applied_in == "ja" else "adopting the live site"
    )
    assert as_json["digest"] == saved["digest"]

    applied = run(
        "apply",
        "quickstart",
        "--plan",
        "p.json",
        "--expect-digest",
        saved["digest"],
        "--auto-approve",
        env=lang(applied_in),
    )
    assert applied.exit_code == 0, applied.stdout + applied.stderr
    assert run("plan", "quickstart", "--detailed-exitcode").exit_code == 0


def test_a_change_note_edited_in_a_plan_file_is_refused(adoptable):
    """The note's template and arguments are covered by the digest: the file's digest made
    again after an edit (its text with it), the saved plan still differs from the fresh one, by
    where it is."""
    from ainas_provision.plan.plan import content_digest

    assert run("plan", "quickstart", "--out", "p.json").exit_code == 0
    data = json.loads(Path("p.json").read_text(encoding="utf-8"))
    site = next(c for c in data["changes"] if c["address"] == "site.akihabara")
    site["note_args"]["live_id"] = "999999999"
    site["note"] = "adopting the live site 拠点ID 999999999"  # a file consistent in itself
    data["digest"] = content_digest({k: v for k, v in data.items() if k != "digest"})
    Path("p.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    refused = run("apply", "quickstart", "--plan", "p.json", "--auto-approve", env=lang("ja"))
    assert refused.exit_code == 1
    assert "変更 site.akihabara の note_args.live_id が異なります" in refused.stderr
    assert "保存された計画は" in refused.stderr


def test_a_change_note_is_its_template_and_arguments():
    change = Change(
        "adopt",
        "site",
        "akihabara",
        live_id="100000777",
        note_template="adopting the live site 拠点ID {live_id}",
        note_args={"live_id": "100000777"},
    )
    assert change.note == "adopting the live site 拠点ID 100000777"
    assert Change("create", "site", "kanda").note is None
    i18n.set_language("ja")
    assert change.note == "AINAS の代理人拠点（拠点ID 100000777）を取り込みます"
    saved = change.to_json()
    assert saved["note"] == change.note
    assert "note" not in change.neutral_json()
    assert Change.from_json(saved) == change


@pytest.mark.parametrize(
    ("template", "args"),
    [
        ("{live_id.__class__}", {"live_id": "1"}),
        ("{missing}", {"live_id": "1"}),
        ("{live_id:>99999999}", {"live_id": "1"}),
        ("{live_id!r}", {"live_id": "1"}),
        ("{0}", {"live_id": "1"}),
        ("a {", {}),
        (None, {"live_id": "1"}),  # arguments without a template
        ("{live_id}", {"live_id": 1}),  # not text
        (["a"], {}),
    ],
)
def test_a_change_note_a_plan_file_could_abuse_is_refused(template, args):
    data = Change("adopt", "site", "a", note_template="x").to_json()
    data.update(note_template=template, note_args=args)
    with pytest.raises(ValueError, match="changes' notes are not in the form"):
        Change.from_json(data)


def test_the_max_deletes_refusal_in_japanese(adoptable):
    assert run("apply", "quickstart", "--auto-approve").exit_code == 0
    manifest = adoptable / "ainas.yaml"
    text = manifest.read_text(encoding="utf-8")
    start = text.index("  dairi002:\n")
    manifest.write_text(text[:start] + text[text.index("\nadmins:") + 1 :], encoding="utf-8")
    refused = run("apply", "quickstart", "--auto-approve", env=lang("ja"))
    assert refused.exit_code == 1
    assert (
        "この計画は 1件（user.dairi002）を削除します。policy.max_deletes（0）で許可される件数を"
        "超えています。削除されるものを確認してから、--allow-deletes 1 を付けてもう一度実行して"
        "ください"
    ) in refused.stderr
    english = run("apply", "quickstart", "--auto-approve")
    assert (
        "the plan deletes 1 resource (user.dairi002), more than policy.max_deletes (0) allows; "
        "review them, then run again with --allow-deletes 1"
    ) in english.stderr


def test_the_refusals_of_a_plan_in_japanese():
    deletions = [Change("delete", "user", f"u{i:02d}") for i in range(12)]
    plan = Plan(changes=deletions, max_deletes=2)
    i18n.set_language("ja")
    with pytest.raises(PlanRefused) as refused:
        plan.raise_if_unsafe()
    assert str(refused.value).startswith("この計画は 12件（user.u00, ")
    assert "user.u09 ほか2件）を削除します" in str(refused.value)
    with pytest.raises(PlanRefused) as refused:
        Plan(errors=["site.a: 理由"]).raise_if_unsafe()
    assert str(refused.value) == "この計画は適用できません:\n  - site.a: 理由\n何も変更していません"
    i18n.set_language("en")
    with pytest.raises(PlanRefused) as refused:
        plan.raise_if_unsafe()
    assert "(user.u00, user.u01, user.u02, user.u03, user.u04, user.u05, user.u06, " in str(
        refused.value
    )
    assert "user.u09 and 2 more), more than policy.max_deletes (2) allows" in str(refused.value)
    with pytest.raises(PlanRefused) as refused:
        Plan(errors=["e"]).raise_if_unsafe()
    assert str(refused.value) == "the plan cannot be applied:\n  - e\nnothing was changed"


@pytest.mark.parametrize(
    "edit",
    [
        lambda data: data.pop("note"),
        lambda data: data.update(note="adopting the live site 拠点ID 100000999"),
        lambda data: data.update(note=None),
        lambda data: data.update(note_template=None, note_args={}),  # its text left alone
    ],
)
def test_a_change_note_text_edited_in_a_plan_file_is_refused(edit):
    """The text is not covered by the digest: it must be what its template and arguments say,
    in English or in Japanese."""
    change = Change(
        "adopt",
        "site",
        "a",
        note_template="adopting the live site 拠点ID {live_id}",
        note_args={"live_id": "100000777"},
    )
    for language in ("en", "ja"):
        i18n.set_language(language)
        data = change.to_json()  # its note in this language, read back in English
        i18n.set_language("en")
        assert Change.from_json(dict(data)) == change
        edit(data)
        with pytest.raises(ValueError, match="changes' notes are not in the form"):
            Change.from_json(data)
    data = Change("create", "site", "a").to_json()
    data["note"] = "a text of no template"
    with pytest.raises(ValueError, match="changes' notes are not in the form"):
        Change.from_json(data)


@pytest.mark.parametrize("message", [None, "managed: the live user x", "管理対象外"])
def test_a_note_message_edited_in_a_plan_file_is_refused(message):
    note = Note("info", "user.x", "not managed: the live user {login_id}", {"login_id": "x"})
    data = note.to_json()
    assert Note.from_json(dict(data)) == note
    data["message"] = message
    with pytest.raises(ValueError, match="its notes are not in the form"):
        Note.from_json(data)
    del data["message"]
    with pytest.raises(ValueError, match="its notes are not in the form"):
        Note.from_json(data)
