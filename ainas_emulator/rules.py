"""AINAS's input rules, as the emulator enforces them: one screen form at a time, with the
messages AINAS would show — in Japanese, naming the field by its label on the screen.

The rules come from the screen catalogue (``ainas_catalogue``): each field's input kind,
required, maximum length, character class (全角, 全角カナ, 半角英数字 …), format (HH:MM,
NNN-NNNN, YYYY/MM/DD …) and pull-down options. The checks themselves are written here, on their
own, not borrowed from the tool: the tool's validation and this module are two implementations of
the same guide, and a test feeds both the same values (``tests/test_emulator_differential.py``).

Where the catalogue marks a rule *inferred* (read from one example in the guide, e.g. the ten
digits of 記録等事務代行者委託番号), the emulator enforces it all the same: it plays AINAS as the
project understands it, while the tool reports such a rule as a warning.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

import ainas_catalogue
from ainas_emulator.errors import AinasError

# 全角: no ASCII (control characters included), no half-width katakana or half-width forms
NOT_FULLWIDTH = re.compile(r"[\u0000-\u007f\uff61-\uffdc\uffe8-\uffee]")
# 全角カナ: katakana, the middle dot, the long-vowel mark, iteration marks, the full-width space
KATAKANA = re.compile(r"[\u30a1-\u30fa\u30fb\u30fc\u30fd\u30fe\u3000]+")
HALFWIDTH_ALNUM = re.compile(r"[A-Za-z0-9]+")
HALFWIDTH = re.compile(r"[!-~]+")
ADMIN_LOGIN_ID = re.compile(r"[a-z2-8]{5}")
PASSWORD_MIN = 8

CHAR_MESSAGES = {
    "fullwidth": "{label}は全角で入力してください。",
    "katakana": "{label}は全角カナで入力してください。",
    "halfwidth_alnum": "{label}は半角英数字で入力してください。",
    "halfwidth_digits": "{label}は半角数字で入力してください。",
    "halfwidth": "{label}は半角文字で入力してください。",
}
FORMAT_MESSAGES = {
    "time": "{label}はHH:MM形式(00:00～23:59、半角)で入力してください。",
    "postal_code": "{label}はNNN-NNNN形式(半角数字)で入力してください。",
    "date": "{label}はYYYY/MM/DD形式の正しい日付で入力してください。",
    "digits": "{label}は半角数字で入力してください。",
    "commission_number": "{label}は半角数字10桁で入力してください。",
    "phone": "{label}は半角数字とハイフンで入力してください(例: 090-1234-5678)。",
    "email": "{label}の形式が正しくありません(例: dairi@example.jp)。",
    "site_code": "{label}は半角英数字、ハイフン、アンダーバーで入力してください。",
    "admin_login_id": "{label}は英字小文字と0、1、9を除いた数字の5文字で入力してください。",
    "user_login_id": "{label}は半角英数字と . _ @ - で、英数字から始めて64文字以内で入力してください。",
    "password": "{label}は8文字以上で、数字、英大文字、英小文字、記号のうち3種類以上を組合せてください。",
}


def catalogue() -> ainas_catalogue.Catalogue:
    """The catalogue as the guide describes AINAS (a local override describes what a user saw
    on the real screens for the tool's sake; the emulator plays the guide's AINAS)."""
    return ainas_catalogue.load()


def screen(screen_id: str) -> ainas_catalogue.Screen:
    return catalogue().screen(screen_id)


def refuse(code: str, message: str, status: int = 400) -> AinasError:
    return AinasError(code, message, status)


def reveal(value):
    """A secret arrives as a Secret-like object (in process) or as text (over HTTP)."""
    shown = getattr(value, "reveal", None)
    return shown() if shown else value


def empty(value) -> bool:
    """A screen has no difference between an empty box and an absent one."""
    return value is None or value == ""


# -- the checks ------------------------------------------------------------------------------
def password_kinds(value: str) -> int:
    kinds = set()
    for ch in value:
        if "0" <= ch <= "9":
            kinds.add("digit")
        elif "A" <= ch <= "Z":
            kinds.add("upper")
        elif "a" <= ch <= "z":
            kinds.add("lower")
        else:
            kinds.add("symbol")
    return len(kinds)


def password_ok(value: str) -> bool:
    """8 or more half-width characters (no space), of 3 of: digits, upper, lower, symbols."""
    return (
        len(value) >= PASSWORD_MIN
        and HALFWIDTH.fullmatch(value) is not None
        and password_kinds(value) >= 3
    )


def _date_ok(value: str) -> bool:
    match = re.fullmatch(r"([0-9]{4})/([0-9]{2})/([0-9]{2})", value)
    if not match:
        return False
    try:
        dt.date(*(int(part) for part in match.groups()))
    except ValueError:
        return False
    return True


def _format_ok(name: str, value: str) -> bool:
    if name == "password":
        return password_ok(value)
    if name == "date":
        return _date_ok(value)
    pattern = catalogue().formats[name].pattern
    return pattern is not None and re.fullmatch(pattern, value) is not None


def _chars_ok(name: str, value: str) -> bool:
    if name == "fullwidth":
        return NOT_FULLWIDTH.search(value) is None
    if name == "katakana":
        return KATAKANA.fullmatch(value) is not None
    if name == "halfwidth_alnum":
        return HALFWIDTH_ALNUM.fullmatch(value) is not None
    if name == "halfwidth_digits":
        return re.fullmatch(r"[0-9]+", value) is not None
    if name == "halfwidth":
        return HALFWIDTH.fullmatch(value) is not None
    return True  # any


def field_problem(field: ainas_catalogue.Field, value) -> AinasError | None:
    """What AINAS says of ``value`` typed into ``field`` (not empty), or None."""
    label = field.label
    if field.input == "checkbox":
        if not isinstance(value, bool):
            return refuse("invalid-value", f"{label}の値の形式が正しくありません。")
        return None
    if field.input == "file":
        if not isinstance(value, bytes | bytearray):
            return refuse("invalid-value", f"{label}を選択してください。")
        return None
    if not isinstance(value, str):
        return refuse("invalid-value", f"{label}の値の形式が正しくありません。")
    if field.max_length is not None and len(value) > field.max_length:
        return refuse("too-long", f"{label}は{field.max_length}文字以内で入力してください。")
    if field.input == "select" and field.options and not field.open:
        if value not in field.option_values:
            return refuse("invalid-selection", f"{label}は選択肢から選択してください。")
        return None
    if field.chars and not _chars_ok(field.chars, value):
        return refuse(f"chars-{field.chars}", CHAR_MESSAGES[field.chars].format(label=label))
    if field.format and not _format_ok(field.format, value):
        return refuse(f"format-{field.format}", FORMAT_MESSAGES[field.format].format(label=label))
    return None


def required_message(field: ainas_catalogue.Field) -> str:
    verb = "選択" if field.input in ("select", "file") else "入力"
    return f"{field.label}を{verb}してください。"


def check_form(
    screen_id: str,
    fields: Mapping[str, object],
    *,
    partial: bool = False,
    skip: tuple[str, ...] = (),
) -> dict[str, object]:
    """Check a form of screen ``screen_id`` as AINAS does when its button is pressed; returns
    the values (secrets revealed, empty as None). ``partial``: only the fields sent are checked
    (an update through the API changes the fields it names). Refuses, naming the field, the
    first field in screen order that is wrong — as a screen shows one message at a time."""
    form = screen(screen_id)
    editable = {field.id: field for field in form.inputs}
    unknown = [name for name in fields if name not in editable and name not in skip]
    if unknown:
        raise refuse("unknown-field", f"{form.name}に存在しない項目です: {', '.join(sorted(unknown))}")
    values: dict[str, object] = {}
    for field in form.inputs:
        if field.id in skip:
            continue
        if field.id not in fields and partial:
            continue
        value = reveal(fields.get(field.id))
        if field.input == "checkbox":
            value = bool(value) if value is None else value
        if empty(value):
            if field.required:
                raise refuse("required", required_message(field))
            values[field.id] = None
            continue
        problem = field_problem(field, value)
        if problem is not None:
            raise problem
        values[field.id] = value
    return values


def check_admin_login_id(login_id: object) -> None:
    if not isinstance(login_id, str) or not ADMIN_LOGIN_ID.fullmatch(login_id):
        raise refuse(
            "invalid-login-id",
            FORMAT_MESSAGES["admin_login_id"].format(label="管理者ユーザーのログインID"),
        )


def check_password(value: object, label: str = "パスワード") -> str:
    value = reveal(value)
    if not isinstance(value, str) or value == "":
        raise refuse("required", f"{label}を入力してください。")
    if not password_ok(value):
        raise refuse("password-rule", FORMAT_MESSAGES["password"].format(label=label))
    return value


def today_in_japan() -> dt.date:
    return dt.datetime.now(dt.timezone(dt.timedelta(hours=9))).date()


def parse_screen_date(value: str) -> dt.date:
    year, month, day = (int(part) for part in value.split("/"))
    return dt.date(year, month, day)
