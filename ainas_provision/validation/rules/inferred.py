"""Rules the tool infers: warnings that say so, and how to silence them.

The start guide states some rules (全角 for 代理人拠点名, the admin login ID, the password rule,
郵便番号 as ``123-4567``): breaking one is an error. Others the project reads from what the guide
merely shows — a length seen in one dummy example, a form guessed for a field the guide never
describes, a pull-down option it never lists. AINAS may well accept what such a rule refuses,
so breaking one is a *warning* that says the rule is inferred, what it was inferred from, and how
to silence it: the screen catalogue's local override (``ainas-screens.local.yaml`` beside the
manifests, or the file named by ``AINAS_SCREENS_FILE``), where a person records what the real
screen accepted —

- ``warn_inferred: false`` on the field turns off the inferred form check of that field;
- ``add_options: [VALUE]`` marks a pull-down option as seen on the real screen.

:data:`INFERRED` is the list the README prints; each entry names the manifest fields it checks
and the catalogue field (screen and field ID) that silences it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from ainas_provision.diagnostics import Diagnostic, Severity
from ainas_provision.i18n import N_, _
from ainas_provision.manifest.marks import Mark, MarkedMap, mark_of
from ainas_provision.validation.rules import formats  # noqa: F401  (registers the rules used)
from ainas_provision.validation.rules.registry import RULES, register

register(
    "kana-space",
    "カナ fields use the full-width space '　', not the half-width ' ' (inferred: warning)",
    "inferred",
)
register(
    "assumed-option",
    "a pull-down option the guide never shows is reported (inferred: warning)",
    "inferred",
)


@dataclass(frozen=True)
class Inferred:
    """A value form inferred, not stated by the guide: a warning, silenced by the catalogue."""

    rule: str
    paths: tuple[str, ...]  # manifest paths, ``*`` for any site handle
    screen: str  # the catalogue screen and field that silence it
    field: str
    source: str  # what the rule was inferred from
    check: Callable[[str], bool] | None = None  # True: the value passes

    def silence(self) -> str:
        return _(
            "if AINAS accepts it, silence this with `warn_inferred: false` under "
            "screens.{screen}.fields.{field} in ainas-screens.local.yaml"
        ).format(screen=self.screen, field=self.field)


def _full(pattern: str) -> Callable[[str], bool]:
    compiled = re.compile(pattern)
    return lambda value: compiled.fullmatch(value) is not None


INFERRED: tuple[Inferred, ...] = (
    Inferred(
        "commission-number",
        ("sites.*.registered.commission_number",),
        "site_register",
        "commission_number",
        N_("the guide's one dummy example is 1234567890"),
        _full(r"[0-9]{10}"),
    ),
    Inferred(
        "halfwidth-code",
        ("sites.*.code",),
        "site_register",
        "site_code",
        N_("the guide gives 代理人拠点コード no form"),
        _full(r"[A-Za-z0-9_-]{1,20}"),
    ),
    Inferred(
        "phone",
        ("sites.*.registered.batch_account.phone",),
        "batch_account_register",
        "phone",
        N_("the guide's examples are 090-1234-5678 and 03-5357-1317"),
        _full(r"0[0-9]{1,4}-[0-9]{1,4}-[0-9]{3,4}"),
    ),
    Inferred(
        "phone",
        ("sites.*.kei.batch_account.phone",),
        "kei_batch_account_register",
        "phone",
        N_("the guide's examples are 090-1234-5678 and 03-5357-1317"),
        _full(r"0[0-9]{1,4}-[0-9]{1,4}-[0-9]{3,4}"),
    ),
    Inferred(
        "kana-space",
        ("certificate.trade_name_kana",),
        "certificate_update",
        "trade_name_kana",
        N_("the guide's example マルマル　マルマル has the full-width space"),
        lambda value: " " not in value,
    ),
    Inferred(
        "kana-space",
        ("certificate.representative_name_kana",),
        "certificate_update",
        "representative_name_kana",
        N_("the guide's example マルマル　マルマル has the full-width space"),
        lambda value: " " not in value,
    ),
)

# pull-downs that carry options the guide never shows (the catalogue marks them `assumed`)
SELECTIONS: tuple[tuple[str, str, str], ...] = (
    ("sites.*.registered.inspection_ecert_update", "site_register", "inspection_ecert_update"),
    ("sites.*.registered.interim_ecert_update", "site_register", "interim_ecert_update"),
    ("sites.*.kei.inspection_ecert_update", "site_register", "kei_inspection_ecert_update"),
    (
        "sites.*.registered.batch_account.payment_method_national",
        "batch_account_register",
        "payment_method_national",
    ),
    (
        "sites.*.kei.batch_account.payment_method_fees",
        "kei_batch_account_register",
        "payment_method_fees",
    ),
)


def _values(merged: MarkedMap, path: str) -> Iterator[tuple[str, object, Mark | None]]:
    """(dotted path, value, mark) of every value at ``path`` (``*`` matches any key)."""

    def walk(node, parts: list[str], done: list[str]):
        if not isinstance(node, Mapping):
            return
        head, rest = parts[0], parts[1:]
        keys = list(node) if head == "*" else [head] if head in node else []
        for key in keys:
            child = node[key]
            if not rest:
                yield ".".join([*done, str(key)]), child, mark_of(node, key)
            else:
                yield from walk(child, rest, [*done, str(key)])

    yield from walk(merged, path.split("."), [])


def check(merged: MarkedMap, directory: Path | None, env: Mapping[str, str]) -> list[Diagnostic]:
    """The inferred rules' warnings for the merged manifests at ``directory``."""
    import ainas_catalogue

    try:
        catalogue = ainas_catalogue.for_directory(directory, env)
    except ainas_catalogue.CatalogueError as exc:
        return [Diagnostic(None, str(exc), "assumed-option", "", Severity.ERROR)]
    out: list[Diagnostic] = []
    for rule in INFERRED:
        field = catalogue.screen(rule.screen).field(rule.field)
        if not getattr(field, "warn_inferred", True):
            continue
        for pattern in rule.paths:
            for path, value, mark in _values(merged, pattern):
                if not isinstance(value, str) or not value or rule.check(value):
                    continue
                out.append(_warning(rule, path, value, mark))
    for pattern, screen_id, field_id in SELECTIONS:
        field = catalogue.screen(screen_id).field(field_id)
        assumed = {o.value for o in field.options if o.source == "assumed"}
        for path, value, mark in _values(merged, pattern):
            if value in assumed:
                out.append(
                    Diagnostic(
                        mark,
                        _(
                            "{label} '{value}' is an option the start guide never shows "
                            "(inferred: the guide shows {shown}); check it on the real screen, "
                            "and once seen there, record it with `add_options: [{value}]` under "
                            "screens.{screen}.fields.{field} in ainas-screens.local.yaml"
                        ).format(
                            label=field.label,
                            value=value,
                            shown=_shown(field),
                            screen=screen_id,
                            field=field_id,
                        ),
                        "assumed-option",
                        path,
                        Severity.WARNING,
                    )
                )
    return out


def _shown(field) -> str:
    shown = [f"'{o.value}'" for o in field.options if o.source == "guide"]
    return _(", ").join(shown) or _("no option")


def _warning(rule: Inferred, path: str, value: str, mark: Mark | None) -> Diagnostic:
    from ainas_provision.validation.schema_errors import label_for  # (imports the rules)

    label = label_for(path.split("."))
    if rule.rule == "kana-space":
        index: int | None = value.index(" ")
        fixed = value.replace(" ", "\u3000")
        message = _(
            "{label}: half-width space ' ' (U+0020) at character {position}; the guide writes "
            "the full-width '　' (U+3000) — write '{fixed}'"
        ).format(label=label, position=index + 1, fixed=fixed)
    else:
        explanation = RULES[rule.rule].explain(value, label, {})
        message, index = explanation.message, explanation.index
    if index is not None and mark is not None and "\n" not in value:
        mark = Mark(mark.file, mark.line, mark.col + index, mark.note)
    return Diagnostic(
        mark,
        _("{message} (an inferred rule, not stated by the guide: {source}; {silence})").format(
            message=message, source=_(rule.source), silence=rule.silence()
        ),
        rule.rule,
        path,
        Severity.WARNING,
    )


__all__ = ["INFERRED", "SELECTIONS", "check"]
