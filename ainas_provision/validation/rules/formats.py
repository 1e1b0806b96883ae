"""Half-width forms: times, postal codes, IDs, phone numbers, e-mail addresses, dates.

The schema's pattern decides whether a value is right; these explain what is wrong with it,
naming a full-width or look-alike character when that is the cause.
"""

from __future__ import annotations

import datetime
import re

from ainas_provision.i18n import N_, _
from ainas_provision.validation.rules import chars
from ainas_provision.validation.rules.registry import Explanation, explainer


def _non_ascii(value: str, allowed=None) -> tuple[str, int] | None:
    """The first character that is not half-width (or not ``allowed``), described, with a
    half-width fix when there is one."""
    for i, ch in enumerate(value):
        if not chars.is_ascii(ch) or not ch.isprintable() or (allowed and not allowed(ch)):
            text = _("{character} at character {position}").format(
                character=chars.describe(ch), position=i + 1
            )
            fix = chars.to_halfwidth(ch)
            if fix:
                text += _(" — use half-width '{fix}'").format(fix=fix)
            return text, i
    return None


def _explain_form(value, label: str, form: str, allowed=None) -> Explanation:
    """``form`` is marked with ``N_`` where it is written, and translated here."""
    if not isinstance(value, str):
        return Explanation(_("{label} must be {form}").format(label=label, form=_(form)))
    odd = _non_ascii(value, allowed)
    if odd:
        text, index = odd
        return Explanation(
            _("{label} '{value}' must be {form}: {detail}").format(
                label=label, value=value, form=_(form), detail=text
            ),
            index,
        )
    return Explanation(
        _("{label} '{value}' must be {form}").format(label=label, value=value, form=_(form))
    )


@explainer("time", "times (締切時間) are HH:MM from 00:00 to 23:59, half-width")
def time_of_day(value, label, schema) -> Explanation:
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,2}:[0-9]{2}", value):
        hours, minutes = (int(p) for p in value.split(":"))
        if hours > 23 or minutes > 59:
            return Explanation(
                _("{label} '{value}' is not a time of day: use 00:00 to 23:59").format(
                    label=label, value=value
                )
            )
        return Explanation(
            _("{label} '{value}' must be written with two-digit hours: '{fixed}'").format(
                label=label, value=value, fixed=f"{hours:02d}:{minutes:02d}"
            )
        )
    return _explain_form(value, label, N_("a time HH:MM (00:00 to 23:59), half-width"))


@explainer("postal-code", "郵便番号 is NNN-NNNN, half-width digits")
def postal_code(value, label, schema) -> Explanation:
    if isinstance(value, str) and re.fullmatch(r"[0-9]{7}", value):
        return Explanation(
            _("{label} '{value}' needs its hyphen: '{fixed}'").format(
                label=label, value=value, fixed=f"{value[:3]}-{value[3:]}"
            )
        )
    return _explain_form(value, label, N_("NNN-NNNN with half-width digits, e.g. 123-4567"))


@explainer(
    "commission-number",
    "記録等事務代行者委託番号 is 10 half-width digits (inferred: warning)",
    "inferred",
)
def commission_number(value, label, schema) -> Explanation:
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return Explanation(
            _("{label} must be exactly 10 digits; '{value}' has {count}").format(
                label=label, value=value, count=len(value)
            )
        )
    return _explain_form(value, label, N_("10 half-width digits"))


@explainer(
    "halfwidth-id",
    "OSS IDs (納付利用者ID, 一括利用者ID) and 代理人組織ID are half-width letters and digits",
)
def halfwidth_id(value, label, schema) -> Explanation:
    if isinstance(value, str):
        for i, ch in enumerate(value):
            if ch.isascii() and not ch.isalnum():
                return Explanation(
                    _("{label} '{value}' must be {form}: {detail}").format(
                        label=label,
                        value=value,
                        form=_("half-width letters and digits only"),
                        detail=_("{character} at character {position}").format(
                            character=chars.describe(ch), position=i + 1
                        ),
                    ),
                    i,
                )
    return _explain_form(value, label, N_("half-width letters and digits only"))


@explainer(
    "halfwidth-code",
    "代理人拠点コード is half-width letters, digits, '-' and '_' (inferred: warning)",
    "inferred",
)
def halfwidth_code(value, label, schema) -> Explanation:
    return _explain_form(
        value, label, N_("half-width letters, digits, '-' or '_' (at most 20)"), _code_char
    )


def _code_char(ch: str) -> bool:
    return ch.isalnum() or ch in "-_"


@explainer("digits", "numbers shown beside names are half-width digits")
def digits(value, label, schema) -> Explanation:
    return _explain_form(value, label, N_("half-width digits"))


@explainer(
    "phone",
    "電話番号 is half-width digits with hyphens, 03-5357-1317 (inferred: warning)",
    "inferred",
)
def phone(value, label, schema) -> Explanation:
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return Explanation(
            _("{label} '{value}' needs hyphens between its parts, e.g. 03-5357-1317").format(
                label=label, value=value
            )
        )
    return _explain_form(
        value, label, N_("a phone number in half-width digits with hyphens, e.g. 090-1234-5678")
    )


@explainer("email", "メールアドレス is a half-width e-mail address")
def email(value, label, schema) -> Explanation:
    return _explain_form(
        value, label, N_("an e-mail address in half-width characters, e.g. dairi@example.jp")
    )


@explainer("date", "dates are YYYY-MM-DD and exist in the calendar")
def date(value, label, schema) -> Explanation:
    if isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        try:
            datetime.date.fromisoformat(value)
        except ValueError:
            return Explanation(
                _("{label} '{value}' is not a day in the calendar").format(label=label, value=value)
            )
    if isinstance(value, str):
        # the guide's own form, 2018/09/10 (also 2018.9.10, 2018年9月10日): say what to write
        parts = re.fullmatch(
            r"([0-9]{4})\s*[/.年]\s*([0-9]{1,2})\s*[/.月]\s*([0-9]{1,2})日?", value
        )
        if parts:
            year, month, day = (int(p) for p in parts.groups())
            return Explanation(
                f"{label} '{value}' must be written YYYY-MM-DD: write '{year:04d}-{month:02d}-{day:02d}'"
            )
    return _explain_form(value, label, N_("a date YYYY-MM-DD, e.g. 2026-12-01"))


@explainer("site-handle", "site handles are half-width letters, digits, '-' and '_'")
def site_handle(value, label, schema) -> Explanation:
    return _explain_form(
        value,
        _("site handle"),
        N_("half-width letters, digits, '-' or '_', starting with a letter or digit"),
        _code_char,
    )


@explainer("login-id", "user ログインIDs are half-width letters, digits and . _ @ -")
def login_id(value, label, schema) -> Explanation:
    return _explain_form(
        value,
        _("login ID"),
        N_("half-width letters, digits, '.', '_', '@' or '-' (at most 64)"),
        lambda ch: ch.isalnum() or ch in "._@-",
    )


_CONFUSED = {"0": "o", "1": "l", "9": "g"}


@explainer("admin-login-id", "admin ログインIDs are 5 characters of a-z and 2-8 (never 0, 1, 9)")
def admin_login_id(value, label, schema) -> Explanation:
    rule = _("admin login IDs are exactly 5 characters of a-z and 2-8 (never 0, 1 or 9)")
    if not isinstance(value, str):
        return Explanation(_("admin login ID must be text: {rule}").format(rule=rule))
    for i, ch in enumerate(value):
        if ch in _CONFUSED:
            return Explanation(
                _(
                    "admin login ID '{value}' has {character} at character {position}: {rule}"
                    " — did you mean '{suggestion}'?"
                ).format(
                    value=value,
                    character=chars.describe(ch),
                    position=i + 1,
                    rule=rule,
                    suggestion=_CONFUSED[ch],
                ),
                i,
            )
        if "A" <= ch <= "Z":
            return Explanation(
                _(
                    "admin login ID '{value}' has upper-case '{character}' at character "
                    "{position}: {rule}"
                ).format(value=value, character=ch, position=i + 1, rule=rule),
                i,
            )
        if not ("a" <= ch <= "z" or "2" <= ch <= "8"):
            return Explanation(
                _(
                    "admin login ID '{value}' has {character} at character {position}: {rule}"
                ).format(value=value, character=chars.describe(ch), position=i + 1, rule=rule),
                i,
            )
    return Explanation(
        _("admin login ID '{value}' has {count} characters: {rule}").format(
            value=value, count=len(value), rule=rule
        )
    )


@explainer("https-url", "the connection URL is https://")
def https_url(value, label, schema) -> Explanation:
    return Explanation(
        _("{label} must start with https:// (AINAS is reached over HTTPS only)").format(label=label)
    )
