"""Every text of the runbook page and checklist, in one place, through the tool's gettext catalog.

AINAS's own words — screen names, menu items, field labels — come from the screen catalogue and
are never translated: the person reads them on AINAS's screens. The guide's warnings are quoted
as the guide prints them, in both languages (the English text adds a gloss, in the catalog's
English message, that the Japanese does not need). What is here is the runbook's own voice: its
buttons, its questions, its explanations — written in English, marked with ``N_()`` and looked
up in ``ainas_provision/locale`` like every other message of the tool (README: translations).

The page is drawn for one language, the session's (the tool's: ``--lang``, ``AINAS_LANG``, else
the locale, see :mod:`ainas_provision.i18n`); :func:`strings` looks every text up in that
language's catalog, so that a page, a checklist or a step list is in one language whatever
another thread prints meanwhile. The page's script receives the table as JSON.
"""

from __future__ import annotations

from ainas_provision import i18n
from ainas_provision.i18n import N_

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

# the runbook's own texts, by the name the page, the steps and the checklist use
TEXTS: dict[str, str] = {
    "title": N_("Runbook — the AINAS setup, step by step"),
    "subtitle": N_("代理人組織ID {organization_id} · plan {plan} (state serial {serial})"),
    "intro": N_(
        "Keep AINAS open beside this page. On each step's screens, enter the values, press "
        "確定, then press Done here. A secret is fetched from this computer's tool only when you "
        "press Show or Copy."
    ),
    "keys": N_("Keys: j / k move between steps, c copies the next value, Enter submits"),
    "step": N_("Step {number}"),
    "of": N_("of {total}"),
    "menu": N_("Menu"),
    "screen": N_("Screen"),
    "field": N_("Field"),
    "value": N_("Value to enter"),
    "copy": N_("Copy"),
    "copied": N_("Copied"),
    "show": N_("Show"),
    "hide": N_("Hide"),
    "secret_from": N_("the value comes from {source} (never shown on this page)"),
    "leave_empty": N_("(leave empty)"),
    "checked": N_("☑ check it"),
    "unchecked": N_("☐ leave unchecked"),
    "file": N_("choose the file {name} ({type}) with 参照"),
    "press": N_("When everything is entered, click 「{button}」."),
    "unchanged": N_("Leave the other fields as they are."),
    "done": N_("Done"),
    "failed": N_("Failed"),
    "ask": N_("Enter the {label} that AINAS shows on 「{screen}」"),
    "ask_pattern_site_id": N_("{label} is 9 half-width digits"),
    "fail_prompt": N_("Paste the message AINAS showed"),
    "fail_submit": N_("Record the failure and stop"),
    "status_done": N_("done ({by}, {at})"),
    "status_failed": N_("failed ({by}, {at}): {message}"),
    "current": N_("current step"),
    "all_done": N_("All steps are done and recorded in the state. You can close this page."),
    "ended_failed": N_(
        "The failure is recorded and the runbook has stopped. The state records the steps that "
        "were done. Fix the cause, then open the runbook again."
    ),
    "nothing": N_("No changes: AINAS is as the state records it."),
    "error": N_("Error: {message}"),
    "site_pending": N_("the 代理人拠点ID of {name} (registered in step {number})"),
    "cert_in_menu": N_("代理人証明書 (the latest registration)"),
    "site_value_pending": N_("{name} (the site registered in step {number})"),
    "verb_create": N_("register"),
    "verb_renew": N_("register (renewal)"),
    "verb_update": N_("update"),
    "verb_adopt": N_("check"),
    "verb_replace": N_("delete and register again"),
    "verb_delete": N_("delete"),
    "checklist_title": N_("AINAS setup checklist"),
    "checklist_intro": N_(
        "The steps of plan {plan} (state serial {serial}). Secrets are named by their source "
        "only: no value is in this document."
    ),
    "checklist_ask": N_("{label} (shown on 「{screen}」): ____________"),
    "checklist_done": N_("Done (who, when): ____________"),
    "warning": N_("Warning"),
    # the guide's warning, glossed in English (the Japanese is the guide's words alone)
    "write_once": N_("{warning} (cannot be changed after registration)"),
    "write_only": N_("{warning} (cannot be viewed again after entry)"),
}

# AINAS's own words with a value filled in: the same in both languages
SCREEN_WORDS = {
    "site_in_menu": "代理人拠点ID {site_id} ({name})",
    "org_in_menu": "代理人組織ID {organization_id}",
    "login_in_menu": "ログインID {login_id}",
    "site_value": "{name} (代理人拠点ID {site_id})",
}


def strings(lang: str) -> dict[str, str]:
    """Every text, in ``lang`` (``ja`` or ``en``), by name; ``lang`` names the language."""
    catalog = i18n.translation(lang)
    table = {name: catalog.gettext(message) for name, message in TEXTS.items()}
    return {**table, **SCREEN_WORDS, "lang": "ja" if lang == "ja" else "en"}
