"""``ainas-provision schema``: print the manifest JSON Schema."""

from __future__ import annotations

import click

from ainas_provision.i18n import N_
from ainas_provision.schema import schema_text


@click.command(
    "schema",
    help=N_("Print the manifest JSON Schema (for editors and other tools)."),
)
def command() -> None:
    click.echo(schema_text(), nl=False)
