"""``ainas-provision schema``: print the manifest JSON Schema."""

from __future__ import annotations

import click

from ainas_provision.schema import schema_text


@click.command("schema")
def command() -> None:
    """Print the manifest JSON Schema (for editors and other tools)."""
    click.echo(schema_text(), nl=False)
