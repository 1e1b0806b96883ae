"""Full-width and katakana fields: the characters the guide warns about, named one by one."""

from __future__ import annotations

import re
import unicodedata

from ainas_provision.i18n import N_, _, ngettext
from ainas_provision.validation.rules import chars
from ainas_provision.validation.rules.registry import Explanation, explainer

# A value longer than this is wrong by its length already (the schema says so): only its first
# characters are looked at, so that a 10 MB value costs no more to explain than a short one
# (naming every character of it took over a gigabyte).
EXPLAINED_LENGTH = 1000

# dashes typed where a カナ field wants the long-vowel mark ー: hyphen-minus, full-width
# hyphen-minus, em dash, en dash, hyphen, horizontal bar, minus sign
DASHES = frozenset("-－—–‐―−")


def bad_characters(pattern: str, value: str) -> list[int]:
    """Indexes of the characters of ``value`` outside the character class of an anchored
    ``^[...]+$`` pattern (the schema's pattern decides; this only points)."""
    match = re.fullmatch(r"\^(\[.*\])[+*]\$", pattern)
    if not match:
        return []
    one = re.compile(match.group(1))
    return [i for i, ch in enumerate(value) if not one.fullmatch(ch)]


def _convert(value: str, convert) -> str:
    out = []
    for ch in value:
        out.append(convert(ch) or ch)
    # half-width voiced marks become combining marks; NFC joins them: ﾀﾞ -> ダ
    return unicodedata.normalize("NFC", "".join(out))


def _offenders(value: str, bad: list[int], convert) -> tuple[str, int]:
    first = bad[0]
    ch = value[first]
    text = _("{character} at character {position}").format(
        character=chars.describe(ch), position=first + 1
    )
    fix = convert(ch)
    if fix and ch in DASHES:  # a guess: a dash typed for the long-vowel mark
        text += f" (did you mean the long-vowel mark 'ー' ({chars.code_point(fix)})?)"
    elif fix:
        text += _(" — use '{fix}' ({code_point})").format(fix=fix, code_point=chars.code_point(fix))
    if len(bad) > 1:
        more = ngettext(
            ", and {count} more such character", ", and {count} more such characters", len(bad) - 1
        )
        text += more.format(count=len(bad) - 1)
    return text, first


def _explain(value, label: str, schema: dict, form: str, convert) -> Explanation:
    """Name the first character outside the schema's class, its fix, and the whole value fixed.
    Only the first EXPLAINED_LENGTH characters are looked at: a huge value is named, not echoed."""
    if not isinstance(value, str) or not value:
        return Explanation(_("{label} must be {form}").format(label=label, form=_(form)))
    shown = value[:EXPLAINED_LENGTH]
    bad = bad_characters(schema["pattern"], shown)
    if not bad:
        return Explanation(_("{label} must be {form}").format(label=label, form=_(form)))
    if len(shown) < len(value):
        bad = bad[:1]  # the first is named; the rest of the value is not looked at
    text, first = _offenders(value, bad, convert)
    message = _("{label} must be {form}: {detail}").format(label=label, form=_(form), detail=text)
    fixed = _convert(shown, convert)
    if len(shown) == len(value) and not bad_characters(schema["pattern"], fixed):
        message += _("; write '{fixed}'").format(fixed=fixed)
    return Explanation(message, first)


@explainer(
    "fullwidth", "全角 fields (拠点名, 略称, 証明書等管理業者名, …) take full-width characters only"
)
def fullwidth(value, label, schema) -> Explanation:
    return _explain(value, label, schema, N_("full-width (全角)"), chars.to_fullwidth)


@explainer("katakana", "カナ fields take full-width katakana and full-width spaces only")
def katakana(value, label, schema) -> Explanation:
    return _explain(value, label, schema, N_("full-width katakana (全角カナ)"), _to_katakana)


def _to_katakana(ch: str) -> str | None:
    return "ー" if ch in DASHES else chars.to_katakana(ch)
