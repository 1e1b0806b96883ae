"""Printing diagnostics for people."""

from __future__ import annotations

import click

from ainas_provision.diagnostics import Diagnostic


def print_diagnostics(diagnostics: list[Diagnostic]) -> None:
    for diagnostic in diagnostics:
        color = "red" if diagnostic.is_error else "yellow"
        click.secho(str(diagnostic), fg=color, err=True)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary_line(result) -> str:
    files = _plural(len(result.documents), "file")
    if result.ok:
        text = f"valid: {files}"
        if result.warnings:
            text += f", {_plural(len(result.warnings), 'warning')}"
        return text
    return (
        f"invalid: {_plural(len(result.errors), 'error')}, "
        f"{_plural(len(result.warnings), 'warning')} in {files}"
    )
