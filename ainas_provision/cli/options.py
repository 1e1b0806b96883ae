"""Options shared by several commands."""

from __future__ import annotations

from pathlib import Path

import click

manifest_path = click.argument("path", type=click.Path(path_type=Path), default=".", required=False)

vars_files = click.option(
    "--vars",
    "vars_files",
    multiple=True,
    metavar="[NAME=]FILE",
    help="A data file for templates (*.yaml.j2): a CSV file becomes one variable named after "
    "the file (a list of rows), a YAML or JSON file's top-level keys become variables; "
    "NAME=FILE names the variable. Repeatable; a later file wins, and over the vars: setting.",
)


def output_format(choices: tuple[str, ...]):
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(choices),
        default=choices[0],
        show_default=True,
        help="Output format.",
    )
