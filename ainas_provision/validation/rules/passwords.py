"""The AINAS password rule, stated once: at least 8 characters, of at least three of the four
kinds (digits, upper case, lower case, symbols), half-width. Used by validation and by the
sandbox, which enforces it on its own as AINAS does."""

from __future__ import annotations

from ainas_provision.i18n import N_, _
from ainas_provision.validation.rules.registry import register

MIN_LENGTH = 8
KINDS = (N_("digits"), N_("upper case"), N_("lower case"), N_("symbols"))

register(
    "password",
    "user passwords: at least 8 half-width characters of 3 of 4 kinds (digits, upper, lower, symbols)",
    "secrets",
)


def kinds_of(value: str) -> set[str]:
    found = set()
    for ch in value:
        if ch.isascii() and ch.isdigit():
            found.add("digits")
        elif "A" <= ch <= "Z":
            found.add("upper case")
        elif "a" <= ch <= "z":
            found.add("lower case")
        elif ch.isascii() and ch.isprintable() and ch != " ":
            found.add("symbols")
    return found


def password_problem(value: str) -> str | None:
    """What is wrong with a password, in words that never repeat it; None when it is fine."""
    problems = []
    if any(not (ch.isascii() and ch.isprintable()) or ch == " " for ch in value):
        problems.append(_("it contains a space or a character that is not half-width"))
    if len(value) < MIN_LENGTH:
        problems.append(_("it is shorter than {count} characters").format(count=MIN_LENGTH))
    kinds = kinds_of(value)
    if len(kinds) < 3:
        have = _(", ").join(_(k) for k in KINDS if k in kinds) or _("none")
        problems.append(
            _("it combines {count} of the 4 kinds ({kinds}); 3 are needed").format(
                count=len(kinds), kinds=have
            )
        )
    if not problems:
        return None
    return _(
        "does not meet the AINAS password rule (at least 8 half-width characters combining 3 of: "
        "digits, upper case, lower case, symbols): {problems}"
    ).format(problems=_("; ").join(problems))
