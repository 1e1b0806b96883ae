"""The emulator on its own: every rule the start guide states, checked by calling it directly,
each violation refused with AINAS's Japanese message naming the field — and the start guide's
own values accepted."""

from __future__ import annotations

import datetime as dt

import pytest

from ainas_emulator.errors import AinasError
from ainas_emulator.service import AinasSandbox
from ainas_provision.certs import pki
from ainas_provision.certs.types import SCRIVENER

JST = dt.timezone(dt.timedelta(hours=9))
TODAY = dt.datetime.now(JST).date()
PIN = "Cert-Pin-01"
SITE = {
    "site_name": "利活用事務所",
    "site_short_name": "利活用事務所",
    "site_code": None,
    "certificate_manager_name": "利活用　一郎",
    "review_deadline": "16:00",
    "commission_number": "1234567890",
    "inspection_ecert_update": "運輸支局等",
    "interim_ecert_update": "運輸支局等",
    "kei_certificate_manager_name": "利活用　一郎",
    "kei_certificate_manager_number": "123456789",
    "kei_review_deadline": "16:00",
    "kei_client_receipt_selectable": False,
    "kei_inspection_ecert_update": "軽検協事務所等",
}
BATCH = {
    "payment_user_id": "12345678",
    "batch_user_id": "ABCD1234",
    "batch_password": "password",
    "arrival_number_password": "password",
    "payment_method_national": "ダイレクト納付(国庫金限定)",
    "payment_method_prefectural": "ダイレクト納付",
    "email": "dairi@example.jp",
    "contact_name": "利活用 太郎",
    "phone": "090-1234-5678",
}
KEI_BATCH = {
    "payment_user_id": "KNAB1234",
    "batch_user_id": "KIAB1234",
    "batch_password": "password",
    "arrival_number_password": "qwerty01",
    "payment_method_fees": "ダイレクト納付(国庫金限定)",
    "payment_method_kei_tax": "ダイレクト納付",
    "contact_name": "担当 太郎",
    "phone": "03-5357-1317",
}
STAFF = {
    "login_id": "dairi002",
    "user_name": "利活用 花子",
    "password": "Hanako-Pw-1",
    "role": "担当者(送信可)",
    "default_destination_prefecture": "東京都",
    "default_destination_office": "練馬",
    "kei_default_destination_prefecture": "東京都",
    "kei_default_destination_office": "東京",
}
CERTIFICATE = {
    "trade_name_kana": "ダイリニンエー",
    "representative_name_kana": "マルマル　マルマル",
    "postal_code": "123-4567",
    "address_building": None,
    "start_date": TODAY.strftime("%Y/%m/%d"),
    "password": PIN,
}


def p12(not_before: dt.datetime, not_after: dt.datetime) -> bytes:
    issued = pki.make_signing_certificate(
        SCRIVENER,
        trade_name="代理人A",
        representative_name="〇〇　〇〇",
        address="東京都千代田区三崎町２丁目１５−６",
        not_before=not_before,
        not_after=not_after,
    )
    return pki.export_pfx(issued, PIN)


@pytest.fixture(scope="module")
def files():
    now = dt.datetime.now(dt.UTC)
    return {
        "valid": p12(now - dt.timedelta(days=30), now + dt.timedelta(days=700)),
        "expired": p12(now - dt.timedelta(days=800), now - dt.timedelta(days=1)),
        "future": p12(now + dt.timedelta(days=10), now + dt.timedelta(days=700)),
    }


@pytest.fixture
def ainas(tmp_path):
    sandbox = AinasSandbox(tmp_path / "ainas.sqlite")
    sandbox.create_tenant("1", "代理人A", "代理人A", [("abcde", "利活用一郎")])
    yield sandbox
    sandbox.close()


def admin(sandbox):
    first = sandbox.first_admin("1")
    return first.__class__(first.login_id, "1", first.role, None, False)


def refused(call) -> AinasError:
    with pytest.raises(AinasError) as caught:
        call()
    return caught.value


def test_the_start_guides_own_values_are_accepted(ainas, files):
    actor = admin(ainas)
    site_id = ainas.create(actor, "site", SITE)
    ainas.create(actor, "batch_account", BATCH, parent=site_id)
    ainas.create(actor, "kei_batch_account", KEI_BATCH, parent=site_id)
    ainas.create(actor, "user", {**STAFF, "site": site_id})
    ainas.create(actor, "certificate", {**CERTIFICATE, "file": files["valid"]})
    (site,), _ = ainas.list_sites(actor)
    assert site["fields"]["site_name"] == "利活用事務所"
    assert site["batch_account"]["payment_method_national"] == "ダイレクト納付(国庫金限定)"
    (cert,) = ainas.list_certificates(actor)
    assert cert["type"] == SCRIVENER and cert["start_date"] == CERTIFICATE["start_date"]


ZENKAKU = "{}は全角で入力してください。"
TIME = "{}はHH:MM形式(00:00～23:59、半角)で入力してください。"
SELECT = "{}は選択肢から選択してください。"

SITE_VIOLATIONS = [
    ("site_name", "利活用 事務所", ZENKAKU.format("代理人拠点名")),
    ("site_name", "Rikatsuyo", ZENKAKU.format("代理人拠点名")),
    ("site_name", "ﾘｶﾂﾖｳ事務所", ZENKAKU.format("代理人拠点名")),
    ("site_name", None, "代理人拠点名を入力してください。"),
    ("site_name", "事" * 101, "代理人拠点名は100文字以内で入力してください。"),
    ("site_short_name", "利活用1", ZENKAKU.format("代理人拠点名(略称)")),
    ("certificate_manager_name", "利活用 一郎", ZENKAKU.format("証明書等管理業者名")),
    ("kei_certificate_manager_name", "利活用 一郎", ZENKAKU.format("軽証明書等管理業者名")),
    ("review_deadline", "24:00", TIME.format("登録審査開始締切時間")),
    ("review_deadline", "16時", TIME.format("登録審査開始締切時間")),
    ("review_deadline", "１６:００", TIME.format("登録審査開始締切時間")),
    ("kei_review_deadline", "9:00", TIME.format("軽検査記録審査開始締切時間")),
    ("kei_review_deadline", "16:60", TIME.format("軽検査記録審査開始締切時間")),
    ("commission_number", "123456789", "記録等事務代行者委託番号は半角数字10桁で入力してください。"),
    ("commission_number", "１２３４５６７８９０", "記録等事務代行者委託番号は半角数字10桁で入力してください。"),
    ("inspection_ecert_update", "窓口", SELECT.format("継続検査デフォルト電子車検証更新区分")),
    ("interim_ecert_update", "軽検協事務所等", SELECT.format("中間登録デフォルト電子車検証更新区分")),
    ("kei_inspection_ecert_update", "運輸支局等", SELECT.format("(軽)継続検査デフォルト電子車検証更新区分")),
    ("site_code", "本店", "代理人拠点コードは半角英数字、ハイフン、アンダーバーで入力してください。"),
    ("kei_certificate_manager_number", "１２３", "軽証明書等管理業者番号は半角数字で入力してください。"),
    ("kei_client_receipt_selectable", "設定可", "(軽)継続検査依頼人車検証等受取区分設定可否の値の形式が正しくありません。"),
]


@pytest.mark.parametrize(("field", "value", "message"), SITE_VIOLATIONS)
def test_a_site_breaking_a_rule_is_refused_naming_the_field(ainas, field, value, message):
    error = refused(lambda: ainas.create(admin(ainas), "site", {**SITE, field: value}))
    assert error.message == message
    assert error.status == 400
    assert ainas.list_sites(admin(ainas))[1] == 0


def test_a_site_update_is_checked_as_the_registration(ainas):
    actor = admin(ainas)
    site_id = ainas.create(actor, "site", SITE)
    error = refused(lambda: ainas.update(actor, "site", site_id, {"site_short_name": "Shiten"}))
    assert error.message == ZENKAKU.format("代理人拠点名(略称)")


BATCH_VIOLATIONS = [
    ("batch_account", "payment_method_national", "現金", SELECT.format("納付形態(警察・支局)")),
    ("batch_account", "payment_method_prefectural", "ダイレクト納付(国庫金限定)", SELECT.format("納付形態(県税)")),
    ("batch_account", "phone", "電話", "電話番号は半角数字とハイフンで入力してください(例: 090-1234-5678)。"),
    ("batch_account", "phone", "09012345678", "電話番号は半角数字とハイフンで入力してください(例: 090-1234-5678)。"),
    ("batch_account", "email", "dairi@", "メールアドレスの形式が正しくありません(例: dairi@example.jp)。"),
    ("batch_account", "payment_user_id", "１２３４５６７８", "納付利用者IDは半角英数字で入力してください。"),
    ("batch_account", "batch_user_id", "ABCD-1234", "一括利用者IDは半角英数字で入力してください。"),
    ("batch_account", "arrival_number_password", None, "到達番号パスワードを入力してください。"),
    ("batch_account", "payment_method_national", None, "納付形態(警察・支局)を選択してください。"),
    ("kei_batch_account", "payment_method_fees", "現金", SELECT.format("納付形態(検査手数料等・自動車重量税)")),
    ("kei_batch_account", "payment_method_kei_tax", "現金", SELECT.format("納付形態(軽自動車税環境性能割)")),
    ("kei_batch_account", "batch_password", "", "一括利用者パスワードを入力してください。"),
]


@pytest.mark.parametrize(("kind", "field", "value", "message"), BATCH_VIOLATIONS)
def test_a_batch_account_breaking_a_rule_is_refused_naming_the_field(
    ainas, kind, field, value, message
):
    actor = admin(ainas)
    site_id = ainas.create(actor, "site", SITE)
    base = BATCH if kind == "batch_account" else KEI_BATCH
    error = refused(lambda: ainas.create(actor, kind, {**base, field: value}, parent=site_id))
    assert error.message == message
    (site,), _ = ainas.list_sites(actor)
    assert site[kind] is None


@pytest.mark.parametrize("field", ["payment_user_id", "batch_user_id", "batch_password"])
def test_the_write_once_fields_cannot_change(ainas, field):
    actor = admin(ainas)
    site_id = ainas.create(actor, "site", SITE)
    ainas.create(actor, "batch_account", BATCH, parent=site_id)
    error = refused(lambda: ainas.update(actor, "batch_account", site_id, {field: "ZZZZ9999"}))
    assert error.message == (
        "登録後は納付利用者ID、一括利用者ID及び、一括利用者パスワードの変更はできません。"
    )
    assert error.status == 409


CERTIFICATE_VIOLATIONS = [
    ("trade_name_kana", "だいりにんえー", "屋号(カナ)は全角カナで入力してください。"),
    ("trade_name_kana", "ﾀﾞｲﾘﾆﾝｴｰ", "屋号(カナ)は全角カナで入力してください。"),
    ("representative_name_kana", "マルマル マルマル", "氏名又は代表者名(カナ)は全角カナで入力してください。"),
    ("representative_name_kana", "丸丸", "氏名又は代表者名(カナ)は全角カナで入力してください。"),
    ("postal_code", "1234567", "郵便番号はNNN-NNNN形式(半角数字)で入力してください。"),
    ("postal_code", "１２３-４５６７", "郵便番号はNNN-NNNN形式(半角数字)で入力してください。"),
    ("start_date", "2026-12-01", "利用開始日はYYYY/MM/DD形式の正しい日付で入力してください。"),
    ("start_date", "2026/02/30", "利用開始日はYYYY/MM/DD形式の正しい日付で入力してください。"),
    ("start_date", None, "利用開始日を入力してください。"),
    ("password", None, "証明書パスワードを入力してください。"),
]


@pytest.mark.parametrize(("field", "value", "message"), CERTIFICATE_VIOLATIONS)
def test_a_certificate_breaking_a_rule_is_refused_naming_the_field(
    ainas, files, field, value, message
):
    fields = {**CERTIFICATE, "file": files["valid"], field: value}
    error = refused(lambda: ainas.create(admin(ainas), "certificate", fields))
    assert error.message == message
    assert ainas.list_certificates(admin(ainas)) == []


def test_the_start_date_is_the_day_of_entry_not_an_earlier_one(ainas, files):
    fields = {**CERTIFICATE, "file": files["valid"], "start_date": "2018/09/10"}
    error = refused(lambda: ainas.create(admin(ainas), "certificate", fields))
    assert error.message == (
        f"利用開始日は入力当日({TODAY.strftime('%Y/%m/%d')})以降の日付を入力してください。"
    )


@pytest.mark.parametrize(
    ("which", "message"),
    [
        ("expired", "証明書の有効期限が切れています"),
        ("future", "証明書の有効期間が始まっていません。"),
    ],
)
def test_a_certificate_out_of_its_validity_is_refused(ainas, files, which, message):
    fields = {**CERTIFICATE, "file": files[which]}
    error = refused(lambda: ainas.create(admin(ainas), "certificate", fields))
    assert error.message.startswith(message)
    assert error.code.startswith("certificate-")


def test_a_wrong_certificate_password_is_refused_on_registration_and_update(ainas, files):
    actor = admin(ainas)
    wrong = {**CERTIFICATE, "file": files["valid"], "password": "Wrong-Pin-1"}
    error = refused(lambda: ainas.create(actor, "certificate", wrong))
    assert "証明書パスワード" in error.message
    cert_id = ainas.create(actor, "certificate", {**CERTIFICATE, "file": files["valid"]})
    update = {"postal_code": "765-4321", "password": "Wrong-Pin-1"}
    error = refused(lambda: ainas.update(actor, "certificate", cert_id, update))
    assert error.message == "証明書パスワードが正しくありません。"
    error = refused(lambda: ainas.update(actor, "certificate", cert_id, {"postal_code": "765-4321"}))
    assert error.message == "証明書パスワードを入力してください。"


USER_VIOLATIONS = [
    ("password", "password", "パスワードは8文字以上で、数字、英大文字、英小文字、記号のうち3種類以上を組合せてください。"),
    ("password", "Ab1!", "パスワードは8文字以上で、数字、英大文字、英小文字、記号のうち3種類以上を組合せてください。"),
    ("login_id", "山田", "ログインIDは半角英数字と . _ @ - で、英数字から始めて64文字以内で入力してください。"),
    ("role", "管理者", "権限は選択肢から選択してください。"),
    ("default_destination_prefecture", "東京", SELECT.format("デフォルト申請先(都道府県)")),
    ("default_destination_office", "Nerima", ZENKAKU.format("デフォルト申請先(運輸支局等)")),
    ("user_name", None, "ユーザー名を入力してください。"),
]


@pytest.mark.parametrize(("field", "value", "message"), USER_VIOLATIONS)
def test_a_user_breaking_a_rule_is_refused_naming_the_field(ainas, field, value, message):
    actor = admin(ainas)
    site_id = ainas.create(actor, "site", SITE)
    error = refused(lambda: ainas.create(actor, "user", {**STAFF, "site": site_id, field: value}))
    assert error.message == message
    assert ainas.list_users(actor)[1] == 1  # the admin only


@pytest.mark.parametrize("login_id", ["abcd0", "abcd1", "abcg9", "ABCDE", "abcdef", "abc"])
def test_admin_login_ids_follow_the_notices_rule(tmp_path, login_id):
    sandbox = AinasSandbox(tmp_path / "ainas.sqlite")
    try:
        error = refused(lambda: sandbox.create_tenant("1", "代理人A", "代理人A", [(login_id, "管理者")]))
        assert error.message == (
            "管理者ユーザーのログインIDは英字小文字と0、1、9を除いた数字の5文字で入力してください。"
        )
        assert sandbox.tenants() == []
    finally:
        sandbox.close()


def test_a_new_password_follows_the_rule(ainas):
    actor = ainas.login("abcde", "99999999")
    error = refused(
        lambda: ainas.change_password(actor, "short", current_password="99999999")
    )
    assert error.message.startswith("パスワードは8文字以上で")


def test_the_organization_short_name_is_checked(ainas):
    error = refused(
        lambda: ainas.update(admin(ainas), "organization", "1", {"short_name": "代" * 101})
    )
    assert error.message == "代理人組織名(略称)は100文字以内で入力してください。"


def test_a_screen_submission_is_the_same_service(ainas):
    """A second front end (web screens) calls the service by screen: the same rules apply."""
    actor = admin(ainas)
    site_id = ainas.submit(actor, "site_register", SITE)
    error = refused(
        lambda: ainas.submit(actor, "site_update", {"review_deadline": "25:00"}, target=site_id)
    )
    assert error.message == TIME.format("登録審査開始締切時間")
    login_id = ainas.submit(
        actor,
        "site_manager_register",
        {"login_id": "kanri01", "user_name": "管理", "password": "Kanri-Pw-01", "site": site_id},
    )
    assert ainas.list_users(actor, login_ids=[login_id])[0][0]["role"] == "拠点管理者"
