"""Printing diagnostics for people."""

from __future__ import annotations

from collections import Counter

import click

from ainas_provision.diagnostics import Diagnostic
from ainas_provision.i18n import _, ngettext

# a rule reported more often than this is shown by its first few, then a count and places:
# fifty branches without their variables would print hundreds of lines of one mistake
GROUP_AFTER = 10
SHOWN = 3
PLACES = 5


def print_diagnostics(diagnostics: list[Diagnostic]) -> None:
    counts = Counter((d.rule, d.severity) for d in diagnostics)
    shown: Counter = Counter()
    held: dict[tuple, list[Diagnostic]] = {}
    for diagnostic in diagnostics:
        group = (diagnostic.rule, diagnostic.severity)
        if counts[group] > GROUP_AFTER and shown[group] >= SHOWN:
            held.setdefault(group, []).append(diagnostic)
            continue
        shown[group] += 1
        click.secho(str(diagnostic), fg=_color(diagnostic), err=True)
    for (rule, severity), rest in held.items():
        places = ", ".join(_place(d) for d in rest[:PLACES] if d.mark)
        more = ", …" if len(rest) > PLACES else ""
        if severity.value == "error":
            text = ngettext(
                "… and {count} more error [{rule}] like these, at {places} (--format json lists "
                "every one)",
                "… and {count} more errors [{rule}] like these, at {places} (--format json lists "
                "every one)",
                len(rest),
            )
        else:
            text = ngettext(
                "… and {count} more warning [{rule}] like these, at {places} (--format json lists "
                "every one)",
                "… and {count} more warnings [{rule}] like these, at {places} (--format json "
                "lists every one)",
                len(rest),
            )
        click.secho(
            text.format(count=len(rest), rule=rule, places=places + more),
            fg=_color(rest[0]),
            err=True,
        )


def _place(diagnostic: Diagnostic) -> str:
    """file:line:col, with the data row of a template line (the same line for every row)."""
    note = diagnostic.mark.note or ""
    if note.startswith("rendered from row "):
        return f"{diagnostic.mark} ({note.removeprefix('rendered from ').split(' of ')[0]})"
    return str(diagnostic.mark)


def _color(diagnostic: Diagnostic) -> str:
    return "red" if diagnostic.is_error else "yellow"


def summary_line(result) -> str:
    files = ngettext("{count} file", "{count} files", len(result.files))
    files = files.format(count=len(result.files))
    warnings = ngettext("{count} warning", "{count} warnings", len(result.warnings))
    warnings = warnings.format(count=len(result.warnings))
    if result.ok:
        if result.warnings:
            return _("valid: {files}, {warnings}").format(files=files, warnings=warnings)
        return _("valid: {files}").format(files=files)
    errors = ngettext("{count} error", "{count} errors", len(result.errors))
    errors = errors.format(count=len(result.errors))
    return _("invalid: {errors}, {warnings} in {files}").format(
        errors=errors, warnings=warnings, files=files
    )
