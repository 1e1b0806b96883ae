"""``ainas-provision render``: the manifests after templating and merging, secrets masked."""

from __future__ import annotations

from pathlib import Path

import click

from ainas_provision.cli import options
from ainas_provision.cli.report import print_diagnostics, summary_line
from ainas_provision.i18n import N_
from ainas_provision.manifest.output import rendered_manifest, to_json, to_yaml
from ainas_provision.validation.engine import validate


@click.command(
    "render",
    help=N_(
        "Print the manifests at PATH as one document, after templating (*.yaml.j2) "
        "and merging.\n"
        "\n"
        "Secrets are masked: {env:} and {file:} references are shown as written, any "
        "value as (sensitive). The manifests are checked as by validate, except that "
        "secrets are not read."
    ),
)
@options.manifest_path
@options.vars_files
@options.no_cache
@options.output_format(("yaml", "json"))
def command(path: Path, vars_files: tuple[str, ...], output_format: str) -> None:
    result = validate(path, vars_files=vars_files, resolve_secrets=False)
    print_diagnostics(result.diagnostics)
    if not result.ok:
        click.echo(summary_line(result), err=True)
        raise SystemExit(1)
    document = rendered_manifest(result.merged)
    click.echo(to_json(document) if output_format == "json" else to_yaml(document), nl=False)
    if output_format == "json":
        click.echo()
