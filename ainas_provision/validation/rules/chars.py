"""Naming characters the way a person needs to see them: the glyph, its code point, and what
kind of character it is (the guide's warnings are all about look-alikes)."""

from __future__ import annotations

import unicodedata

from ainas_provision.i18n import N_, _

_NAMES = {
    " ": N_("half-width space"),
    "\u3000": N_("full-width space"),
    "\t": N_("tab"),
    "0": N_("digit zero"),
    "1": N_("digit one"),
    "9": N_("digit nine"),
    "o": N_("letter o"),
    "l": N_("letter l"),
    "g": N_("letter g"),
}


def code_point(ch: str) -> str:
    return f"U+{ord(ch):04X}"


def is_ascii(ch: str) -> bool:
    return ord(ch) < 0x80


def is_halfwidth_katakana(ch: str) -> bool:
    return 0xFF61 <= ord(ch) <= 0xFF9F


def is_hiragana(ch: str) -> bool:
    return 0x3041 <= ord(ch) <= 0x309F


def is_fullwidth_ascii(ch: str) -> bool:
    """Full-width forms of ASCII (Ａ, １, －, ＠ …) and the full-width space."""
    return 0xFF01 <= ord(ch) <= 0xFF5E or ch == "\u3000"


def kind(ch: str) -> str:
    return _(_kind(ch))


def _kind(ch: str) -> str:
    if ch in _NAMES:
        return _NAMES[ch]
    if is_halfwidth_katakana(ch):
        return N_("half-width katakana")
    if is_hiragana(ch):
        return N_("hiragana")
    if is_fullwidth_ascii(ch):
        return N_("full-width")
    if is_ascii(ch):
        if ord(ch) < 0x20 or ord(ch) == 0x7F:
            return N_("control character")
        return N_("half-width")
    width = unicodedata.east_asian_width(ch)
    if width in ("F", "W"):
        return N_("full-width")
    if width == "H":
        return N_("half-width")
    return N_("character")


def describe(ch: str) -> str:
    """``half-width space ' ' (U+0020)``; ``full-width '〇' (U+3007 IDEOGRAPHIC NUMBER ZERO)``:
    look-alikes (〇/○, ー/－/-) are told apart by their Unicode names."""
    shown = ch if ch.isprintable() else ""
    name = unicodedata.name(ch, "")
    if is_ascii(ch) or not name or name.startswith("CJK UNIFIED IDEOGRAPH"):
        return f"{kind(ch)} '{shown}' ({code_point(ch)})"
    return f"{kind(ch)} '{shown}' ({code_point(ch)} {name})"


def to_fullwidth(ch: str) -> str | None:
    """The full-width counterpart of a half-width character, if it has one."""
    if ch == " ":
        return "\u3000"
    if 0x21 <= ord(ch) <= 0x7E:
        return chr(ord(ch) + 0xFEE0)
    if is_halfwidth_katakana(ch):
        return unicodedata.normalize("NFKC", ch)
    return None


def to_halfwidth(ch: str) -> str | None:
    if ch == "\u3000":
        return " "
    if 0xFF01 <= ord(ch) <= 0xFF5E:
        return chr(ord(ch) - 0xFEE0)
    return None


def to_katakana(ch: str) -> str | None:
    if 0x3041 <= ord(ch) <= 0x3096 or 0x309D <= ord(ch) <= 0x309E:
        return chr(ord(ch) + 0x60)
    if ch == " ":
        return "\u3000"
    if is_halfwidth_katakana(ch):
        return unicodedata.normalize("NFKC", ch)
    return None
