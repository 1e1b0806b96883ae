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
from ainas_provision.plan.changes import Note
from ainas_provision.plan.diff import today_in_japan
from ainas_provision.plan.plan import Plan
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
