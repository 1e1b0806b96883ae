"""Messages in the operator's language: English, or Japanese.

The language is chosen once per run, before anything is printed, in this order:
``--lang`` (``ja`` or ``en``), ``AINAS_LANG``, then the locale (``LC_ALL``, ``LC_MESSAGES``,
``LANG``: a value starting ``ja`` means Japanese), then — on Windows — the user's UI language.
Anything else is English.

Messages are written in English in the code, as ``_("… {name} …").format(name=…)`` (named
placeholders, so that a translation may put them in another order), and looked up in a gettext
catalog: ``ainas_provision/locale/ja/LC_MESSAGES/ainas_provision.po``, kept with Babel
(``pybabel extract`` / ``update`` / ``compile``, see the README) and compiled into the ``.mo`` file
installed with the package. ``N_()`` marks a text for the catalog where it is defined (a table of
summaries) and translated where it is used. Rule IDs, JSON keys and exit codes never change with
the language. The Japanese uses the start guide's own terms (see ``locale/glossary.md``).
"""

from __future__ import annotations

import gettext
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

DOMAIN = "ainas_provision"
LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("en", "ja")

_translation: gettext.NullTranslations = gettext.NullTranslations()
_language = "en"


def _windows_ui_language() -> str | None:  # pragma: no cover - Windows only
    try:
        import ctypes

        lang_id = ctypes.windll.kernel32.GetUserDefaultUILanguage()  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return None
    return "ja" if lang_id & 0x3FF == 0x11 else None  # LANG_JAPANESE


def choose(option: str | None = None, env: Mapping[str, str] = os.environ) -> str:
    """The language for this run: ``"ja"`` or ``"en"``."""
    for value in (option, env.get("AINAS_LANG")):
        if value:
            return "ja" if value.lower().startswith("ja") else "en"
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name)
        if value:  # the first one set decides, as in POSIX
            return "ja" if value.lower().startswith("ja") else "en"
    if sys.platform == "win32":
        return _windows_ui_language() or "en"
    return "en"


def translation(language: str) -> gettext.NullTranslations:
    """The catalog of ``language`` (``"ja"`` or ``"en"``: the messages as written), for a text
    drawn in one given language whatever the run's (the runbook's page)."""
    if language == "ja":
        return gettext.translation(DOMAIN, LOCALE_DIR, languages=["ja"], fallback=True)
    return gettext.NullTranslations()


def set_language(language: str) -> None:
    """Use ``language`` (``"ja"`` or ``"en"``) for every message from now on."""
    global _translation, _language
    _translation = translation(language)
    _language = "ja" if language == "ja" else "en"


def language() -> str:
    return _language


def in_every_language(make: Callable[[], str]) -> set[str]:
    """What ``make`` says in each language (a text a saved plan kept in the language of the run
    that made it, checked by a run in another)."""
    chosen = _language
    try:
        said = set()
        for each in LANGUAGES:
            set_language(each)
            said.add(make())
        return said
    finally:
        set_language(chosen)


def _(message: str) -> str:
    """``message`` in the chosen language."""
    return _translation.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _translation.ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Marks ``message`` for the catalog; it is translated where it is used, with ``_()``."""
    return message
