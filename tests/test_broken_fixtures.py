"""One broken manifest per failure kind: the exact message, with its line and column.

Each fixture under ``tests/fixtures/broken/`` holds one mistake (or one kind of mistake): a
``.yaml`` file, a template (``.yaml.j2``), or a directory of files. The expected lines are what
``ainas-provision validate FIXTURE`` prints, after the fixture's path.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ainas_provision.validation.engine import validate
from ainas_provision.validation.rules import every_rule

RULES = every_rule()

BROKEN = "tests/fixtures/broken"

EXPECTED = {
    "admin-login-id": [
        ":5:6: error: admin login ID 'abc1e' has digit one '1' (U+0031) at character 4: admin login IDs are exactly 5 characters of a-z and 2-8 (never 0, 1 or 9) — did you mean 'l'? [admin-login-id] (admins.abc1e)",
    ],
    "certificate-expect": [
        ":14:27: error: 氏名又は代表者名(漢字) (expect.representative_name) '〇○\u3000〇〇' differs from the certificate's '〇〇\u3000〇〇': at character 2 the manifest has character '○' (U+25CB WHITE CIRCLE), the certificate full-width '〇' (U+3007 IDEOGRAPHIC NUMBER ZERO). AINAS reads this field from the certificate; one character off and OSS filings fail [certificate-expect] (certificate.expect.representative_name)",
        ":15:29: error: 住所(都道府県〜番地) (expect.address) '東京都千代田区三崎町2丁目15ー6' differs from the certificate's '東京都千代田区三崎町2丁目15-6': at character 16 the manifest has full-width 'ー' (U+30FC KATAKANA-HIRAGANA PROLONGED SOUND MARK), the certificate half-width '-' (U+002D). AINAS reads this field from the certificate; one character off and OSS filings fail [certificate-expect] (certificate.expect.address)",
    ],
    "certificate-expiring": [
        ":6:9: warning: certs/gyoseishoshi.p12: the certificate expires on 2029-10-31 (証明書有効期限), in 1071 days (warning within 1200 days): renew it in time [certificate-expiring] (certificate.file)",
    ],
    "certificate-file": [
        ":6:9: error: 証明書ファイル (file) certs/missing.p12 does not exist (looked for tests/fixtures/broken/certs/missing.p12) [certificate-file] (certificate.file)",
    ],
    "certificate-open": [
        ":6:9: error: certs/gyoseishoshi.p12: cannot open the .p12 file: either the PIN/password is wrong, or the file uses a legacy encryption (such as RC2-40) that this OpenSSL cannot read (this file is encrypted with AES-256). Check the PIN/password; if it is right, re-export the file with AES encryption [certificate-open] (certificate.file)",
    ],
    "certificate-type": [
        ":6:9: error: certs/corporate.p12: this is a 商業登記電子証明書 (it has the registeredCorporationInfo extension), not a 行政書士電子証明書; check `certificate.type` [certificate-type] (certificate.file)",
    ],
    "certificate-validity": [
        ":6:9: error: certs/expired.p12: the certificate expired on 2021-01-01 (証明書有効期限; not after 2020-12-31T15:00:00+00:00), 2154 days ago: AINAS will not accept it; renew it and use the new .p12 [certificate-validity] (certificate.file)",
    ],
    "commission-number": [
        ":10:27: warning: 記録等事務代行者委託番号 (commission_number) must be exactly 10 digits; '123456789' has 9 (an inferred rule, not stated by the guide: the guide's one dummy example is 1234567890; if AINAS accepts it, silence this with `warn_inferred: false` under screens.site_register.fields.commission_number in ainas-screens.local.yaml) [commission-number] (sites.akihabara.registered.commission_number)",
    ],
    "date": [
        ":11:15: error: 利用開始日 (start_date) '2026-02-30' is not a day in the calendar [date] (certificate.start_date)",
    ],
    "digits": [
        ":10:36: error: 軽証明書等管理業者番号 (certificate_manager_number) '１２３４５６７８９' must be half-width digits: full-width '１' (U+FF11 FULLWIDTH DIGIT ONE) at character 1 — use half-width '1' [digits] (sites.akihabara.kei.certificate_manager_number)",
    ],
    "duplicate-definition": [
        "/b.yaml:3:3: error: site 'akihabara' is defined twice: here and at tests/fixtures/broken/duplicate-definition/a.yaml:5:3; keep one definition [duplicate-definition] (sites.akihabara)",
    ],
    "duplicate-key": [
        ":5:3: error: key 'id' appears twice in this mapping (first at line 3); YAML would silently keep only the last one — remove or rename one of them [duplicate-key]",
    ],
    "email": [
        ":17:21: error: メールアドレス (email) 'dairi＠example.jp' must be an e-mail address in half-width characters, e.g. dairi@example.jp: full-width '＠' (U+FF20 FULLWIDTH COMMERCIAL AT) at character 6 — use half-width '@' [email] (sites.akihabara.kei.batch_account.email)",
    ],
    "empty-dir": [
        ":1:1: error: no manifest in directory tests/fixtures/broken/empty-dir: it holds no *.yaml, *.yml or *.yaml.j2 file [path]",
    ],
    "empty-file": [
        ":1:1: error: the file is empty: a manifest file holds `version: 1` and at least one section (organization, certificate, sites, users, admins, policy) [empty-file]",
    ],
    "encoding": [
        ":4:9: error: the file is not UTF-8: byte 0x91 cannot start a character (it reads as Shift_JIS: save it as UTF-8); manifests must be saved as UTF-8 [encoding]",
    ],
    "enum": [
        ":11:11: error: 権限 (role) '担当者（送信可）' is not one of the AINAS choices: 拠点管理者, 担当者(送信可), 担当者(送信不可) — did you mean '担当者(送信可)'? (full-width and half-width characters differ) [enum] (users.dairi002.role)",
    ],
    "fullwidth": [
        ":9:36: error: 証明書等管理業者名 (certificate_manager_name) must be full-width (全角): half-width space ' ' (U+0020) at character 4 — use '\u3000' (U+3000); write '利活用\u3000一郎' [fullwidth] (sites.akihabara.registered.certificate_manager_name)",
    ],
    "halfwidth-code": [
        ":8:11: warning: 代理人拠点コード (code) '秋葉原' must be half-width letters, digits, '-' or '_' (at most 20): full-width '秋' (U+79CB) at character 1 (an inferred rule, not stated by the guide: the guide gives 代理人拠点コード no form; if AINAS accepts it, silence this with `warn_inferred: false` under screens.site_register.fields.site_code in ainas-screens.local.yaml) [halfwidth-code] (sites.akihabara.code)",
    ],
    "halfwidth-id": [
        ":12:24: error: 一括利用者ID (batch_user_id) 'ＡＢＣＤ1234' must be half-width letters and digits only: full-width 'Ａ' (U+FF21 FULLWIDTH LATIN CAPITAL LETTER A) at character 1 — use half-width 'A' [halfwidth-id] (sites.akihabara.registered.batch_account.batch_user_id)",
    ],
    "https-url": [
        ":5:8: error: AINASログインURL (url) must start with https:// (AINAS is reached over HTTPS only) [https-url] (connection.url)",
    ],
    "katakana-halfwidth": [
        ":8:20: error: 屋号(カナ) (trade_name_kana) must be full-width katakana (全角カナ): half-width katakana 'ﾀ' (U+FF80 HALFWIDTH KATAKANA LETTER TA) at character 1 — use 'タ' (U+30BF), and 7 more such characters; write 'ダイリニンエー' [katakana] (certificate.trade_name_kana)",
        ":9:33: warning: 氏名又は代表者名(カナ) (representative_name_kana): half-width space ' ' (U+0020) at character 5; the guide writes the full-width '\u3000' (U+3000) — write 'マルマル\u3000マルマル' (an inferred rule, not stated by the guide: the guide's example マルマル\u3000マルマル has the full-width space; if AINAS accepts it, silence this with `warn_inferred: false` under screens.certificate_update.fields.representative_name_kana in ainas-screens.local.yaml) [kana-space] (certificate.representative_name_kana)",
    ],
    "kana-space": [
        ":9:33: warning: 氏名又は代表者名(カナ) (representative_name_kana): half-width space ' ' (U+0020) at character 5; the guide writes the full-width '\u3000' (U+3000) — write 'マルマル\u3000マルマル' (an inferred rule, not stated by the guide: the guide's example マルマル\u3000マルマル has the full-width space; if AINAS accepts it, silence this with `warn_inferred: false` under screens.certificate_update.fields.representative_name_kana in ainas-screens.local.yaml) [kana-space] (certificate.representative_name_kana)",
    ],
    "assumed-option": [
        ":10:32: warning: 継続検査デフォルト電子車検証更新区分 '代理人事務所等' is an option the start guide never shows (inferred: the guide shows '運輸支局等'); check it on the real screen, and once seen there, record it with `add_options: [代理人事務所等]` under screens.site_register.fields.inspection_ecert_update in ainas-screens.local.yaml [assumed-option] (sites.akihabara.registered.inspection_ecert_update)",
    ],
    "katakana": [
        ":8:23: error: 屋号(カナ) (trade_name_kana) must be full-width katakana (全角カナ): hiragana 'に' (U+306B HIRAGANA LETTER NI) at character 4 — use 'ニ' (U+30CB), and 1 more such character; write 'ダイリニンエー' [katakana] (certificate.trade_name_kana)",
    ],
    "login-id": [
        ":9:8: error: login ID 'dairi 002' must be half-width letters, digits, '.', '_', '@' or '-' (at most 64): half-width space ' ' (U+0020) at character 6 [login-id] (users.dairi 002)",
    ],
    "moved-reference": [
        ":8:28: error: moved: to site.akibahara, which no manifest defines; name the site's new handle [moved-reference] (moved.1.to)",
    ],
    "not-a-mapping": [
        ":1:1: error: a manifest file must be a mapping of sections (version, organization, sites, …), not a list [not-a-mapping]",
    ],
    "organization-required": [
        ':1:1: error: no manifest file defines the organization: add `organization: {id: "…"}` with the 代理人組織ID from the 利用登録通知書 [organization-required] (organization)',
    ],
    "password": [
        ":13:23: error: パスワード (initial_password) of user 'dairi002' does not meet the AINAS password rule (at least 8 half-width characters combining 3 of: digits, upper case, lower case, symbols): it is shorter than 8 characters; it combines 1 of the 4 kinds (lower case); 3 are needed [password] (users.dairi002.initial_password)",
    ],
    "phone": [
        ":17:17: warning: 電話番号 (phone) '0353571317' needs hyphens between its parts, e.g. 03-5357-1317 (an inferred rule, not stated by the guide: the guide's examples are 090-1234-5678 and 03-5357-1317; if AINAS accepts it, silence this with `warn_inferred: false` under screens.kei_batch_account_register.fields.phone in ainas-screens.local.yaml) [phone] (sites.akihabara.kei.batch_account.phone)",
    ],
    "postal-code": [
        ":10:17: error: 郵便番号 (postal_code) '1234567' needs its hyphen: '123-4567' [postal-code] (certificate.postal_code)",
    ],
    "required": [
        ":2:1: error: 代理人組織 (organization) is missing the required key 'id' (代理人組織ID) [required] (organization.id)",
    ],
    "schema": [
        ":5:16: error: 削除上限 (max_deletes) must be at least 0, not -1 [schema] (policy.max_deletes)",
    ],
    "secret-encrypted": [
        ":13:23: error: 1 encrypted secret cannot be decrypted — no secrets key is set: set AINAS_SECRETS_KEY to the key, or AINAS_SECRETS_KEY_FILE to the file holding it. Fields that need it: users.dairi002.initial_password [secret-encrypted] (users.dairi002.initial_password)",
    ],
    "secret-env": [
        ":13:23: error: パスワード (initial_password) needs the environment variable AINAS_TEST_UNSET_VARIABLE, which is not set [secret-env] (users.dairi002.initial_password)",
    ],
    "secret-file": [
        ":13:23: error: パスワード (initial_password) reads secrets/no-such-file.txt, which does not exist [secret-file] (users.dairi002.initial_password)",
    ],
    "secret-form": [
        ":13:23: error: パスワード (initial_password) has an unknown key 'envv' — did you mean 'env'? A secret is {env: NAME}, {file: path} or {encrypted: …} [secret-form] (users.dairi002.initial_password)",
    ],
    "secret-plaintext": [
        ":13:23: error: パスワード (initial_password) holds a plain-text secret: use {env: NAME}, {file: path} or {encrypted: …} (or set policy.allow_plaintext_secrets: true for demos and tests) [secret-plaintext] (users.dairi002.initial_password)",
    ],
    "site-code-unique": [
        ":12:11: error: 代理人拠点コード 'AKB' is also the code of site 'akihabara' (at tests/fixtures/broken/site-code-unique.yaml:8:11); codes identify sites and must differ [site-code-unique] (sites.kanda.code)",
    ],
    "site-handle": [
        ":5:3: error: site handle '秋葉原' must be half-width letters, digits, '-' or '_', starting with a letter or digit: full-width '秋' (U+79CB) at character 1 [site-handle] (sites.秋葉原)",
    ],
    "site-name-unique": [
        ":9:11: warning: 代理人拠点名 '利活用事務所' is also the name of site 'akihabara'; staff pick sites by name, so give each a distinct one (or a 代理人拠点コード) [site-name-unique] (sites.kanda.name)",
    ],
    "site-reference": [
        ":12:11: error: user 'dairi002' belongs to site 'akihabra', which no manifest defines — did you mean 'akihabara'? [site-reference] (users.dairi002.site)",
    ],
    "staff-only": [
        ":14:5: error: デフォルト申請先 (default_destination) is for staff users only; user 'dairi001' is a 拠点管理者 — remove it, or make the user 担当者(送信可) or 担当者(送信不可) [staff-only] (users.dairi001.default_destination)",
    ],
    "time": [
        ":10:25: error: 軽検査記録審査開始締切時間 (review_deadline) '24:00' is not a time of day: use 00:00 to 23:59 [time] (sites.akihabara.kei.review_deadline)",
    ],
    "too-complex": [
        ":9:4: error: the document's aliases expand to more than 2,000,000 values; write the values out or use fewer aliases [too-complex]",
    ],
    "type": [
        ':11:26: error: 納付利用者ID (payment_user_id) must be text, not a number: write it in quotes, "01234567" (YAML reads 01234567 as the number 342391) [type] (sites.akihabara.registered.batch_account.payment_user_id)',
    ],
    "unknown-key": [
        ":4:3: error: unknown key 'nmae' in 代理人組織 (organization) — did you mean 'name'? [unknown-key] (organization.nmae)",
    ],
    "template-error": [
        ":5:1: error: refused by the template sandbox: access to attribute '__class__' of 'str' object is unsafe [template-error]",
    ],
    "template-syntax": [
        ":8:1: error: template syntax error: Encountered unknown tag 'endfro'. Jinja was looking for the following tags: 'endfor' or 'else'. The innermost block that needs to be closed is 'for'. [template-syntax]",
    ],
    "template-undefined": [
        "/branches.yaml.j2:5:1: error: no column 'nmae' in tests/fixtures/broken/template-undefined/branches.csv — did you mean 'name'? [template-undefined]"
        "\n    note: while rendering row 1 of tests/fixtures/broken/template-undefined/branches.csv (line 2, code: SJK01)",
    ],
    "user-is-admin": [
        ":7:3: error: user 'abcde' has the ログインID of an admin (管理者, at tests/fixtures/broken/user-is-admin.yaml:13:3): ログインIDs are unique in AINAS, and admins are the association's — give the user another ログインID [user-is-admin] (users.abcde)",
    ],
    "vars-file": [
        "/branches.csv:3:1: error: row 2 of tests/fixtures/broken/vars-file/branches.csv has 2 values; the header has 3 columns (code, name, short_name) [vars-file] (vars.branches)",
        "/organization.yaml:6:12: error: data file tests/fixtures/broken/vars-file/data/regions.json does not exist [vars-file] (vars.regions)",
    ],
    "yaml-syntax": [
        ":5:1: error: YAML syntax error: while parsing a flow sequence; did not find expected ',' or ']' (the construct starts at line 4) [yaml-syntax]",
    ],
    "yaml-tag": [
        ":3:7: error: unsupported tag 'tag:yaml.org,2002:python/object/apply:os.system': manifests use plain YAML mappings and lists only [yaml-tag]",
    ],
    "nonexistent": [
        ":1:1: error: no such file or directory: tests/fixtures/broken/nonexistent; give a manifest file or a directory of them [path]",
    ],
}


# certificates are judged at a fixed moment, so that "expires in N days" stays true
NOW = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)


def fixture_path(name: str) -> str:
    """A directory (several files), a template (``.yaml.j2``) or one ``.yaml`` file."""
    path = f"{BROKEN}/{name}"
    if Path(path).is_dir() or name == "nonexistent":
        return path
    if Path(f"{path}.yaml.j2").exists():
        return f"{path}.yaml.j2"
    return f"{path}.yaml"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_broken_fixture_reports_exact_message(name, in_repo, schema_validators):
    """Byte for byte the same whichever validator decides (the compiled one, or the pure-Python
    fallback): the explanation is always the Python validator's."""
    path = fixture_path(name)
    result = validate(Path(path), now=NOW)
    expected = [path + line for line in EXPECTED[name]]
    assert [str(d) for d in result.diagnostics] == expected
    assert result.ok == (not any(": error: " in line for line in expected))


def test_every_rule_has_a_broken_fixture():
    seen = set()
    for lines in EXPECTED.values():
        for line in lines:
            seen.add(line.rsplit("[", 1)[1].split("]", 1)[0])
    missing = set(RULES) - seen
    assert not missing, f"rules without a broken fixture: {sorted(missing)}"
