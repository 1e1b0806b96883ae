"""Options shared by several commands."""

from __future__ import annotations

from pathlib import Path

import click

manifest_path = click.argument("path", type=click.Path(path_type=Path), default=".", required=False)


def output_format(choices: tuple[str, ...]):
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(choices),
        default=choices[0],
        show_default=True,
        help="Output format.",
    )
