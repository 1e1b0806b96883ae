"""Printing diagnostics for people."""

from __future__ import annotations

import click

from ainas_provision.diagnostics import Diagnostic
from ainas_provision.i18n import _, ngettext


def print_diagnostics(diagnostics: list[Diagnostic]) -> None:
    for diagnostic in diagnostics:
        color = "red" if diagnostic.is_error else "yellow"
        click.secho(str(diagnostic), fg=color, err=True)


def summary_line(result) -> str:
    files = ngettext("{count} file", "{count} files", len(result.documents))
    files = files.format(count=len(result.documents))
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
