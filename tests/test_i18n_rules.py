"""The diagnostics of the schema (type, limits), form, password, secret and certificate rules in Japanese: each broken
fixture gives, under ``--lang ja``, the same place, rule ID and value path as in English, with the
Japanese wording (the guide's own where it has one)."""

from __future__ import annotations

import re

import pytest

from tests.conftest import FIXTURES, REPO
from tests.helpers import run

PLACE = re.compile(r"^(\S+:\d+:\d+): \S+: (.*) (\[[a-z-]+\]) \((.+)\)$")

JAPANESE = {
    "type": 'は文字列で入力してください（数値になっています）。引用符で囲んで "01234567" と入力',
    "schema": "は0以上で入力してください（-1になっています）",
    "time": "は時刻ではありません。00:00～23:59で入力してください",
    "postal-code": "にはハイフンが必要です: '123-4567'",
    "date": "は暦にない日付です",
    "phone": "は区切りにハイフンを入れてください（例: 03-5357-1317）（ガイドに記載のない推定による規則です",
    "email": "半角の '@' を使用してください",
    "admin-login-id": "の4文字目に数字の1 '1' (U+0031)があります。管理者のログインIDは",
    "login-id": "ログインIDの 'dairi 002' は半角英数字",
    "password": "AINAS のパスワードの条件（半角8文字以上で、数字・英大文字・英小文字・記号のうち3種類以上",
    "secret-encrypted": "暗号化されたシークレット1件を復号できません",
    "certificate-file": "証明書ファイル (file) certs/missing.p12 がありません",
    "site-reference": "はどのマニフェストにも定義されていません（'akihabara' の誤りではありませんか）",
    "staff-only": "は担当者だけの項目です。利用者 'dairi001' は拠点管理者です",
    "site-code-unique": "代理人拠点コード 'AKB' は代理人拠点 'akihabara'",
    "site-name-unique": "担当者は名前で代理人拠点を選ぶため",
    "certificate-expect": "1文字でも入力誤りがあると、OSS申請時にエラーとなります",
    "secret-env": "は、環境変数 AINAS_TEST_UNSET_VARIABLE が必要ですが、設定されていません",
    "secret-file": "は、secrets/no-such-file.txt を読み取りますが、このファイルはありません",
    "secret-form": "は、不明なキー 'envv' があります（'env' のことですか？）",
    "secret-plaintext": "は、シークレットが平文で書かれています",
    "kana-space": "の5文字目に半角スペース ' ' (U+0020)があります。ガイドでは全角の '　'",
    "assumed-option": "の '代理人事務所等' は、スタートガイドに載っていない選択肢です",
    "certificate-open": ".p12 ファイルを開けません。PIN・パスワードが違うか",
    "certificate-type": "これは商業登記電子証明書（registeredCorporationInfo 拡張があります）で",
    "certificate-validity": "電子証明書の有効期限は 2021-01-01（証明書有効期限。",
    "certificate-expiring": "電子証明書の有効期限は 2029-10-31（証明書有効期限）で、あと ",
    "moved-reference": "moved: の移動先 site.akibahara はどのマニフェストにも定義されていません",
    "organization-required": "代理人組織を定義しているマニフェストファイルがありません",
}


def lines(result) -> list[tuple[str, str, str, str]]:
    """The diagnostics (the summary line, on stderr or stdout, is not one)."""
    found = [PLACE.match(line) for line in result.stderr.splitlines()]
    return [match.groups() for match in found if match]


@pytest.mark.parametrize("rule", sorted(JAPANESE))
def test_rule_speaks_japanese_at_the_same_place(rule, monkeypatch):
    monkeypatch.chdir(REPO)
    path = str((FIXTURES / "broken" / f"{rule}.yaml").relative_to(REPO))
    monkeypatch.setenv("AINAS_LANG", "en")
    english = run("validate", path)
    monkeypatch.setenv("AINAS_LANG", "ja")
    japanese = run("validate", path)
    assert english.exit_code == japanese.exit_code
    en, ja = lines(english), lines(japanese)
    assert [(p, r, v) for p, _m, r, v in en] == [(p, r, v) for p, _m, r, v in ja] and ja
    assert any(r == f"[{rule}]" for _p, _m, r, _v in ja)
    assert JAPANESE[rule] in japanese.stderr, japanese.stderr
    assert not re.search(r"\b(must|cannot|does not|differs)\b", japanese.stderr)


def test_the_lock_refusal_in_japanese():
    from ainas_provision import i18n
    from ainas_provision.state.protocols import LockError, LockInfo

    holder = LockInfo("x", "kanri@pc01", "pc01", 4242, "apply", "2026-11-29T10:00:00+00:00")
    english = str(LockError.held(holder))
    i18n.set_language("ja")
    try:
        waiting = str(LockError.held(holder))
        waited = str(LockError.held(holder, timeout=30))
    finally:
        i18n.set_language("en")
    assert english.startswith("the state is locked by kanri@pc01 (pid 4242, apply) since")
    assert waiting.startswith(
        "ステートは kanri@pc01（pid 4242、apply、2026-11-29T10:00:00+00:00 から）"
    )
    assert "--lock-timeout" in waiting and "30秒待ちましたが" in waited


def test_a_saved_plan_refused_in_japanese(tmp_path, monkeypatch):
    from tests.conftest import copy_example

    copy_example("quickstart", tmp_path / "quickstart")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AINAS_LANG", "ja")
    assert run("plan", "quickstart", "--out", "plan.json").exit_code == 0
    wrong = "sha256:" + "0" * 64
    refused = run("apply", "quickstart", "--plan", "plan.json", "--expect-digest", wrong)
    assert refused.exit_code == 1
    assert f"レビューされた {wrong} ではありません" in refused.stderr
    assert "何も変更していません" in refused.stderr


LOADING = {
    "yaml-syntax": "YAML の構文エラー: ",
    "duplicate-key": "キー 'id' がこのマッピングに 2 回あります（最初は 3行目）",
    "encoding": "（Shift_JIS として読めます。UTF-8 で保存してください）。マニフェストは UTF-8 で保存",
    "empty-file": "ファイルが空です。マニフェストファイルには `version: 1` と",
    "not-a-mapping": "のマッピングでなければなりません。リストになっています",
    "yaml-tag": "は使えません。マニフェストには YAML の単純なマッピングとリストだけを使います",
    "too-complex": "文書のエイリアスを展開すると 2,000,000 個を超える値になります",
}


@pytest.mark.parametrize("rule", sorted(LOADING))
def test_a_file_that_cannot_be_read_is_explained_in_japanese(rule, monkeypatch):
    """The loader's diagnostics (no value path: the file itself is at fault)."""
    monkeypatch.chdir(REPO)
    path = str((FIXTURES / "broken" / f"{rule}.yaml").relative_to(REPO))
    place = re.compile(r"^(\S+:\d+:\d+): \S+: (.*) \[([a-z-]+)\]$")
    found = {}
    for lang in ("en", "ja"):
        monkeypatch.setenv("AINAS_LANG", lang)
        result = run("validate", path)
        assert result.exit_code == 1
        found[lang] = [m.groups() for m in map(place.match, result.stderr.splitlines()) if m]
    assert [(p, r) for p, _m, r in found["en"]] == [(p, r) for p, _m, r in found["ja"]]
    assert found["ja"] and found["ja"][0][2] == rule
    assert LOADING[rule] in found["ja"][0][1]


@pytest.mark.parametrize(
    ("fixture", "japanese"),
    [
        (
            "template-undefined",
            "に列 'nmae' はありません（'name' のことですか？） [template-undefined]",
        ),
        ("vars-file", "の 2行目の値は 2個ですが、ヘッダーの列は 3個です（code, name, short_name）"),
        ("template-syntax.yaml.j2", "エラー: テンプレートの構文エラー: "),
    ],
)
def test_templates_and_data_files_are_explained_in_japanese(fixture, japanese, monkeypatch):
    monkeypatch.chdir(FIXTURES / "broken")
    monkeypatch.setenv("AINAS_LANG", "ja")
    result = run("validate", fixture)
    assert result.exit_code == 1
    assert japanese in result.stderr, result.stderr
