"""``ainas-provision show``: print a saved plan."""

from __future__ import annotations

from pathlib import Path

import click

from ainas_provision.cli import options
from ainas_provision.i18n import N_
from ainas_provision.plan import render
from ainas_provision.plan.plan import Plan


@click.command(
    "show",
    help=N_("Print the plan saved in FILE by `plan --out`."),
)
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@options.output_format(("text", "json", "markdown"))
@click.option(
    "--digest",
    "digest_only",
    is_flag=True,
    help=N_("Print only the plan's digest (what `apply --expect-digest` checks)."),
)
def command(file: Path, output_format: str, digest_only: bool) -> None:
    plan = Plan.load(file)
    if digest_only:
        click.echo(plan.digest())
        return
    render.emit(plan, output_format)
