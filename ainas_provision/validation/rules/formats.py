"""Half-width forms: times, postal codes, IDs, phone numbers, e-mail addresses, dates.

The schema's pattern decides whether a value is right; these explain what is wrong with it,
naming a full-width or look-alike character when that is the cause.
"""

from __future__ import annotations

import datetime
import re

from ainas_provision.validation.rules import chars
from ainas_provision.validation.rules.registry import Explanation, explainer


def _non_ascii(value: str, allowed=None) -> tuple[str, int] | None:
    """The first character that is not half-width (or not ``allowed``), described, with a
    half-width fix when there is one."""
    for i, ch in enumerate(value):
        if not chars.is_ascii(ch) or not ch.isprintable() or (allowed and not allowed(ch)):
            text = f"{chars.describe(ch)} at character {i + 1}"
            fix = chars.to_halfwidth(ch)
            if fix:
                text += f" — use half-width '{fix}'"
            return text, i
    return None


def _explain_form(value, label: str, form: str, allowed=None) -> Explanation:
    if not isinstance(value, str):
        return Explanation(f"{label} must be {form}")
    shown = f"'{value}'"
    odd = _non_ascii(value, allowed)
    if odd:
        text, index = odd
        return Explanation(f"{label} {shown} must be {form}: {text}", index)
    return Explanation(f"{label} {shown} must be {form}")


@explainer("time", "times (締切時間) are HH:MM from 00:00 to 23:59, half-width")
def time_of_day(value, label, schema) -> Explanation:
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,2}:[0-9]{2}", value):
        hours, minutes = (int(p) for p in value.split(":"))
        if hours > 23 or minutes > 59:
            return Explanation(f"{label} '{value}' is not a time of day: use 00:00 to 23:59")
        return Explanation(
            f"{label} '{value}' must be written with two-digit hours: '{hours:02d}:{minutes:02d}'"
        )
    return _explain_form(value, label, "a time HH:MM (00:00 to 23:59), half-width")


@explainer("postal-code", "郵便番号 is NNN-NNNN, half-width digits")
def postal_code(value, label, schema) -> Explanation:
    if isinstance(value, str) and re.fullmatch(r"[0-9]{7}", value):
        return Explanation(f"{label} '{value}' needs its hyphen: '{value[:3]}-{value[3:]}'")
    return _explain_form(value, label, "NNN-NNNN with half-width digits, e.g. 123-4567")


@explainer("commission-number", "記録等事務代行者委託番号 is 10 half-width digits")
def commission_number(value, label, schema) -> Explanation:
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return Explanation(f"{label} must be exactly 10 digits; '{value}' has {len(value)}")
    return _explain_form(value, label, "10 half-width digits")


@explainer(
    "halfwidth-id",
    "OSS IDs (納付利用者ID, 一括利用者ID) and 代理人組織ID are half-width letters and digits",
)
def halfwidth_id(value, label, schema) -> Explanation:
    if isinstance(value, str):
        for i, ch in enumerate(value):
            if ch.isascii() and not ch.isalnum():
                return Explanation(
                    f"{label} '{value}' must be half-width letters and digits only: "
                    f"{chars.describe(ch)} at character {i + 1}",
                    i,
                )
    return _explain_form(value, label, "half-width letters and digits only")


@explainer("halfwidth-code", "代理人拠点コード is half-width letters, digits, '-' and '_'")
def halfwidth_code(value, label, schema) -> Explanation:
    return _explain_form(
        value, label, "half-width letters, digits, '-' or '_' (at most 20)", _code_char
    )


def _code_char(ch: str) -> bool:
    return ch.isalnum() or ch in "-_"


@explainer("digits", "numbers shown beside names are half-width digits")
def digits(value, label, schema) -> Explanation:
    return _explain_form(value, label, "half-width digits")


@explainer("phone", "電話番号 is half-width digits with hyphens (03-5357-1317)")
def phone(value, label, schema) -> Explanation:
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return Explanation(f"{label} '{value}' needs hyphens between its parts, e.g. 03-5357-1317")
    return _explain_form(
        value, label, "a phone number in half-width digits with hyphens, e.g. 090-1234-5678"
    )


@explainer("email", "メールアドレス is a half-width e-mail address")
def email(value, label, schema) -> Explanation:
    return _explain_form(
        value, label, "an e-mail address in half-width characters, e.g. dairi@example.jp"
    )


@explainer("date", "dates are YYYY-MM-DD and exist in the calendar")
def date(value, label, schema) -> Explanation:
    if isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        try:
            datetime.date.fromisoformat(value)
        except ValueError:
            return Explanation(f"{label} '{value}' is not a day in the calendar")
    return _explain_form(value, label, "a date YYYY-MM-DD, e.g. 2026-12-01")


@explainer("site-handle", "site handles are half-width letters, digits, '-' and '_'")
def site_handle(value, label, schema) -> Explanation:
    return _explain_form(
        value,
        "site handle",
        "half-width letters, digits, '-' or '_', starting with a letter or digit",
        _code_char,
    )


@explainer("login-id", "user ログインIDs are half-width letters, digits and . _ @ -")
def login_id(value, label, schema) -> Explanation:
    return _explain_form(
        value,
        "login ID",
        "half-width letters, digits, '.', '_', '@' or '-' (at most 64)",
        lambda ch: ch.isalnum() or ch in "._@-",
    )


_CONFUSED = {"0": "o", "1": "l", "9": "g"}


@explainer("admin-login-id", "admin ログインIDs are 5 characters of a-z and 2-8 (never 0, 1, 9)")
def admin_login_id(value, label, schema) -> Explanation:
    rule = "admin login IDs are exactly 5 characters of a-z and 2-8 (never 0, 1 or 9)"
    if not isinstance(value, str):
        return Explanation(f"admin login ID must be text: {rule}")
    for i, ch in enumerate(value):
        if ch in _CONFUSED:
            return Explanation(
                f"admin login ID '{value}' has {chars.describe(ch)} at character {i + 1}: {rule}"
                f" — did you mean '{_CONFUSED[ch]}'?",
                i,
            )
        if "A" <= ch <= "Z":
            return Explanation(
                f"admin login ID '{value}' has upper-case '{ch}' at character {i + 1}: {rule}",
                i,
            )
        if not ("a" <= ch <= "z" or "2" <= ch <= "8"):
            return Explanation(
                f"admin login ID '{value}' has {chars.describe(ch)} at character {i + 1}: {rule}",
                i,
            )
    return Explanation(f"admin login ID '{value}' has {len(value)} characters: {rule}")


@explainer("https-url", "the connection URL is https://")
def https_url(value, label, schema) -> Explanation:
    return Explanation(f"{label} must start with https:// (AINAS is reached over HTTPS only)")
