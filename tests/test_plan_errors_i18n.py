"""A plan's errors in the run's language: each kept as its N_()-marked English template and the
values that fill it (``error_templates``, covered by the digest), its text (``errors``) made in
the language of the run that shows it and, read from a plan file, checked against what makes
it."""

from __future__ import annotations

import copy
import json
import pickle
from pathlib import Path

import pytest

from ainas_provision import i18n
from ainas_provision.plan.changes import PlanError
from ainas_provision.plan.plan import Plan, PlanRefused, content_digest
from tests.conftest import copy_example
from tests.helpers import run

RULE = "登録後は納付利用者ID、一括利用者ID及び、一括利用者パスワードの変更はできません"
WRITE_ONCE_EN = (
    "batch_account.akihabara: 一括利用者ID (batch_user_id) is 'ABCD1234' in AINAS and "
    "'ABCD9999' in the manifests, but AINAS refuses to change it after registration "
    f"({RULE}); put the registered value back, or delete the site and create it anew"
)
WRITE_ONCE_JA = (
    "batch_account.akihabara: 一括利用者ID（batch_user_id）は AINAS では 'ABCD1234'、マニフェスト"
    f"では 'ABCD9999' ですが、登録後は変更できません（{RULE}）。登録済みの値に戻すか、代理人拠点を"
    "削除して登録し直してください"
)
TEMPLATE = (
    "{address}: {label} ({name}) is '{old}' in AINAS and '{new}' in the manifests, but AINAS "
    "refuses to change it after registration ({rule}); put the registered value back, or delete "
    "the site and create it anew"
)


def lang(language: str) -> dict[str, str]:
    return {"AINAS_LANG": language}


@pytest.fixture
def write_once(tmp_path, monkeypatch) -> Path:
    """The quickstart applied, then its registered 一括利用者ID changed in the manifest."""
    path = copy_example("quickstart", tmp_path / "quickstart")
    monkeypatch.chdir(tmp_path)
    assert run("apply", "quickstart", "--auto-approve").exit_code == 0
    manifest = path / "ainas.yaml"
    text = manifest.read_text(encoding="utf-8")
    assert "batch_user_id: ABCD1234" in text
    manifest.write_text(text.replace("batch_user_id: ABCD1234", "batch_user_id: ABCD9999"))
    return path


def test_a_write_once_refusal_in_japanese(write_once):
    planned = run("plan", "quickstart", env=lang("ja"))
    assert planned.exit_code == 1
    assert f"エラー: {WRITE_ONCE_JA}\n" in planned.stdout
    assert "refuses" not in planned.stdout + planned.stderr
    applied = run("apply", "quickstart", "--auto-approve", env=lang("ja"))
    assert applied.exit_code == 1
    assert f"  - {WRITE_ONCE_JA}\n" in applied.stderr
    english = run("apply", "quickstart", "--auto-approve", env=lang("en"))
    assert english.exit_code == 1
    assert f"the plan cannot be applied:\n  - {WRITE_ONCE_EN}\nnothing was changed" in (
        english.stderr
    )


@pytest.mark.parametrize(("saved_in", "shown_in"), [("ja", "en"), ("en", "ja")])
def test_a_saved_plan_with_errors_is_shown_in_the_other_language(write_once, saved_in, shown_in):
    planned = run("plan", "quickstart", "--format", "json", env=lang(saved_in))
    assert planned.exit_code == 1
    Path("p.json").write_text(planned.stdout, encoding="utf-8")
    saved = json.loads(planned.stdout)
    assert saved["errors"] == [WRITE_ONCE_JA if saved_in == "ja" else WRITE_ONCE_EN]
    [neutral] = saved["error_templates"]
    assert neutral == {
        "template": TEMPLATE,
        "args": {
            "address": "batch_account.akihabara",
            "label": "一括利用者ID",
            "name": "batch_user_id",
            "old": "ABCD1234",
            "new": "ABCD9999",
            "rule": RULE,
        },
    }

    digests = {
        language: run("show", "p.json", "--digest", env=lang(language)).stdout.strip()
        for language in ("en", "ja")
    }
    assert digests["en"] == digests["ja"] == saved["digest"]
    shown = run("show", "p.json", env=lang(shown_in))
    assert shown.exit_code == 0, shown.stderr
    expected, other = (
        (f"エラー: {WRITE_ONCE_JA}", WRITE_ONCE_EN)
        if shown_in == "ja"
        else (f"Error: {WRITE_ONCE_EN}", WRITE_ONCE_JA)
    )
    assert expected in shown.stdout and other not in shown.stdout
    markdown = run("show", "p.json", "--format", "markdown", env=lang(shown_in)).stdout
    assert f"- ❌ {expected.split(': ', 1)[1]}" in markdown
    as_json = json.loads(run("show", "p.json", "--format", "json", env=lang(shown_in)).stdout)
    assert as_json["errors"] == [expected.split(": ", 1)[1]]
    assert as_json["error_templates"] == saved["error_templates"]
    assert as_json["digest"] == saved["digest"]


def _resaved(data: dict) -> None:
    data["digest"] = content_digest({k: v for k, v in data.items() if k != "digest"})
    Path("p.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


@pytest.mark.parametrize(
    "edit",
    [
        lambda data: data["errors"].__setitem__(0, "nothing to see here"),
        lambda data: data["errors"].__setitem__(0, WRITE_ONCE_EN.replace("ABCD9999", "ABCD1234")),
        lambda data: data["errors"].clear(),
        lambda data: data["errors"].append(WRITE_ONCE_EN),
        lambda data: data["error_templates"][0].update(template="{address.__class__}"),
        lambda data: data["error_templates"][0].update(extra="x"),
        lambda data: data["error_templates"][0]["args"].update(old=1234),
        lambda data: data["error_templates"][0]["args"].pop("rule"),
    ],
)
def test_an_error_edited_in_a_plan_file_is_refused(write_once, edit):
    """Its text is not covered by the digest (it is in the language of the run that wrote the
    file): it must be what its template and arguments say in English or in Japanese, and the
    template may hold only plain named placeholders with their values — the digest made again
    after the edit, the file is still refused, saying why, and no traceback."""
    planned = run("plan", "quickstart", "--format", "json", env=lang("ja"))
    data = json.loads(planned.stdout)
    edit(data)
    _resaved(data)
    shown = run("show", "p.json")
    assert shown.exit_code == 1
    assert "Traceback" not in shown.stderr
    assert "is not a plan saved by `ainas-provision plan --out`" in shown.stderr
    assert "(its errors are not in the form `plan --out` writes)" in shown.stderr


def test_a_plan_file_without_the_errors_templates_is_refused(write_once):
    data = json.loads(run("plan", "quickstart", "--format", "json").stdout)
    del data["error_templates"]
    _resaved(data)
    shown = run("show", "p.json")
    assert shown.exit_code == 1
    assert "(its error_templates is missing or of the wrong type)" in shown.stderr


def test_a_plan_error_is_its_template_and_arguments():
    args = {"login_id": "u01"}
    template = (
        "the password of {login_id} is still the initial one, and AINAS allows nothing else "
        "until it is changed: set AINAS_NEW_PASSWORD (or connection.new_password) to the new "
        "password"
    )
    i18n.set_language("ja")
    try:
        error = PlanError(template, args)
        assert error.startswith("u01 のパスワードは初期パスワードのままです")
    finally:
        i18n.set_language("en")
    assert error.to_json() == {"template": template, "args": args}
    english = template.format(**args)  # as before
    # copied by what makes it, in the language of the run that copies it
    for copied in (copy.deepcopy(error), pickle.loads(pickle.dumps(error))):
        assert (copied, copied.template, copied.args) == (english, template, args)
    assert PlanError.from_json(error.to_json(), str(error)) == english
    # a text of no template is kept as it is, braces included
    plain = Plan(errors=["site.a: {not} a placeholder"]).errors[0]
    assert plain == "site.a: {not} a placeholder" and plain.to_json()["args"] == {}
    assert PlanError.from_json(plain.to_json(), str(plain)) == plain
    with pytest.raises(PlanRefused, match=r"  - site.a: \{not\} a placeholder\n"):
        Plan(errors=[plain]).raise_if_unsafe()
