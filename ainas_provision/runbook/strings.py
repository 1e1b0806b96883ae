"""Every text of the runbook page and checklist, in one place, in Japanese and English.

AINAS's own words — screen names, menu items, field labels — come from the screen catalogue and
are never translated: the person reads them on AINAS's screens. The guide's warnings are quoted
as the guide prints them, in both languages (the English text adds a gloss). What is here is the
runbook's own voice: its buttons, its questions, its explanations.

The command passes the tool's language (``--lang``, ``AINAS_LANG``, else the locale: see
:mod:`ainas_provision.i18n`); :func:`language` is the same choice for callers without the CLI.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

# the guide's own warnings, quoted (スタートガイド Ver 4.1)
GUIDE_WRITE_ONCE = "登録後は変更できません"
GUIDE_WRITE_ONLY = "入力後に内容を再確認することができません"
GUIDE_WRITE_ONLY_FULL = "入力後に内容を再確認することができませんので、必ずメモ等へお控えください。"
GUIDE_BATCH = "登録後は納付利用者ID、一括利用者ID及び、一括利用者パスワードの変更はできません。"
GUIDE_EXACT_OSS = "1文字でも入力誤りがあると、OSS申請時にエラーとなります。正確に入力してください。"
GUIDE_EXACT_SITE = "1文字でも入力誤りがあると、車検証等交付物を受け取れない場合がございます。正確に入力してください。"
GUIDE_CERTIFICATE = (
    "電子証明書の内容通りに入力してください。値に誤りがある場合は申請できません。"
    "証明書パスワードは更新の都度入力が必要です。"
)
GUIDE_REPEAT = "確認のため、パスワードの再入力が必要です。(上下段同じものを入力してください)"

# the warnings of each screen, by catalogue screen id
SCREEN_WARNINGS = {
    "certificate_update": (GUIDE_CERTIFICATE, GUIDE_EXACT_OSS),
    "site_register": (GUIDE_EXACT_SITE,),
    "site_update": (GUIDE_EXACT_SITE,),
    "batch_account_register": (GUIDE_BATCH,),
    "kei_batch_account_register": (GUIDE_BATCH,),
}

JA: dict[str, str] = {
    "lang": "ja",
    "title": "ランブック — AINAS 初期設定の手順",
    "subtitle": "代理人組織ID {organization_id} ・ 計画 {plan} (状態シリアル {serial})",
    "intro": "AINASの画面を横に開き、各手順の画面で値を入力して「確定」したら、この画面で「完了」を押してください。"
    "シークレットは「表示」「コピー」を押したときだけ、この端末のツールから取得します。",
    "keys": "キー操作: j / k で手順を移動、c で次の値をコピー、Enter で送信",
    "step": "手順 {number}",
    "of": "/ {total}",
    "menu": "メニュー",
    "screen": "画面",
    "field": "項目",
    "value": "入力する値",
    "copy": "コピー",
    "copied": "コピーしました",
    "show": "表示",
    "hide": "隠す",
    "secret_from": "値は {source} から (この画面には載せません)",
    "leave_empty": "(空欄のまま)",
    "checked": "☑ チェックする",
    "unchecked": "☐ チェックしない",
    "file": "{type}のファイル {name} を「参照」で選択",
    "press": "入力が完了したら「{button}」をクリックします。",
    "unchanged": "ほかの項目は変更しません。",
    "done": "完了",
    "failed": "失敗",
    "ask": "AINASの「{screen}」画面に表示された{label}を入力してください",
    "ask_pattern_site_id": "{label}は半角数字9桁です",
    "fail_prompt": "AINASが表示したメッセージを貼り付けてください",
    "fail_submit": "失敗として記録して終了",
    "status_done": "完了 ({by}, {at})",
    "status_failed": "失敗 ({by}, {at}): {message}",
    "current": "現在の手順",
    "all_done": "すべての手順が完了しました。状態に記録済みです。このページを閉じてかまいません。",
    "ended_failed": "失敗を記録して終了しました。状態は完了した手順までを記録しています。"
    "原因を直してから、もう一度 runbook を開いてください。",
    "nothing": "変更はありません: AINASは状態の記録どおりです。",
    "error": "エラー: {message}",
    "site_in_menu": "代理人拠点ID {site_id} ({name})",
    "site_pending": "{name} の代理人拠点ID (手順 {number} で登録)",
    "org_in_menu": "代理人組織ID {organization_id}",
    "login_in_menu": "ログインID {login_id}",
    "cert_in_menu": "代理人証明書 (最新の登録)",
    "site_value": "{name} (代理人拠点ID {site_id})",
    "site_value_pending": "{name} (手順 {number} で登録した拠点)",
    "today": "入力当日の日付 ({date})",
    "verb_create": "登録",
    "verb_renew": "登録 (更新)",
    "verb_update": "更新",
    "verb_adopt": "確認",
    "verb_replace": "削除して再登録",
    "verb_delete": "削除",
    "checklist_title": "AINAS 初期設定チェックリスト",
    "checklist_intro": "計画 {plan} (状態シリアル {serial}) の手順です。"
    "シークレットは参照先のみを記載しています。値はこの文書に含まれません。",
    "checklist_ask": "{label} (「{screen}」画面に表示): ____________",
    "checklist_done": "完了 (担当者・日時): ____________",
    "warning": "注意",
    "write_once_gloss": "",
    "write_only_gloss": "",
}

EN: dict[str, str] = {
    **JA,
    "lang": "en",
    "title": "Runbook — the AINAS setup, step by step",
    "subtitle": "代理人組織ID {organization_id} · plan {plan} (state serial {serial})",
    "intro": "Keep AINAS open beside this page. On each step's screens, enter the values, press "
    "確定, then press Done here. A secret is fetched from this computer's tool only when you "
    "press Show or Copy.",
    "keys": "Keys: j / k move between steps, c copies the next value, Enter submits",
    "step": "Step {number}",
    "of": "of {total}",
    "menu": "Menu",
    "screen": "Screen",
    "field": "Field",
    "value": "Value to enter",
    "copy": "Copy",
    "copied": "Copied",
    "show": "Show",
    "hide": "Hide",
    "secret_from": "the value comes from {source} (never shown on this page)",
    "leave_empty": "(leave empty)",
    "checked": "☑ check it",
    "unchecked": "☐ leave unchecked",
    "file": "choose the file {name} ({type}) with 参照",
    "press": "When everything is entered, click 「{button}」.",
    "unchanged": "Leave the other fields as they are.",
    "done": "Done",
    "failed": "Failed",
    "ask": "Enter the {label} that AINAS shows on 「{screen}」",
    "ask_pattern_site_id": "{label} is 9 half-width digits",
    "fail_prompt": "Paste the message AINAS showed",
    "fail_submit": "Record the failure and stop",
    "status_done": "done ({by}, {at})",
    "status_failed": "failed ({by}, {at}): {message}",
    "current": "current step",
    "all_done": "All steps are done and recorded in the state. You can close this page.",
    "ended_failed": "The failure is recorded and the runbook has stopped. The state records the "
    "steps that were done. Fix the cause, then open the runbook again.",
    "nothing": "No changes: AINAS is as the state records it.",
    "error": "Error: {message}",
    "site_in_menu": "代理人拠点ID {site_id} ({name})",
    "site_pending": "the 代理人拠点ID of {name} (registered in step {number})",
    "org_in_menu": "代理人組織ID {organization_id}",
    "login_in_menu": "ログインID {login_id}",
    "cert_in_menu": "代理人証明書 (the latest registration)",
    "site_value": "{name} (代理人拠点ID {site_id})",
    "site_value_pending": "{name} (the site registered in step {number})",
    "today": "the day of entry ({date})",
    "verb_create": "register",
    "verb_renew": "register (renewal)",
    "verb_update": "update",
    "verb_adopt": "check",
    "verb_replace": "delete and register again",
    "verb_delete": "delete",
    "checklist_title": "AINAS setup checklist",
    "checklist_intro": "The steps of plan {plan} (state serial {serial}). Secrets are named by "
    "their source only: no value is in this document.",
    "checklist_ask": "{label} (shown on 「{screen}」): ____________",
    "checklist_done": "Done (who, when): ____________",
    "warning": "Warning",
    "write_once_gloss": " (cannot be changed after registration)",
    "write_only_gloss": " (cannot be viewed again after entry)",
}

LANGUAGES = {"ja": JA, "en": EN}


def language(env: Mapping[str, str] = os.environ) -> str:
    """``ja`` or ``en``: ``AINAS_LANG``, else the locale."""
    for name in ("AINAS_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name)
        if value:
            return "ja" if value.lower().startswith("ja") else "en"
    return "en"


def strings(lang: str) -> dict[str, str]:
    return LANGUAGES.get(lang, EN)
