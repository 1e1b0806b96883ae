"""``ainas-provision validate``: every problem of the manifests, offline."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ainas_provision.cli import options
from ainas_provision.cli.report import print_diagnostics, summary_line
from ainas_provision.i18n import N_
from ainas_provision.validation.tree import validate_tree

FORMAT_VERSION = 1


@click.command(
    "validate",
    help=N_("Check the manifests at PATH (schema, AINAS rules, secrets, certificate), offline."),
)
@options.manifest_path
@options.vars_files
@options.no_cache
@options.output_format(("text", "json"))
@click.option(
    "--skip-secrets",
    is_flag=True,
    help=N_(
        "Check the form of secret references but do not resolve them (no environment, no key "
        "needed: for pre-commit); the certificate is then checked for presence only."
    ),
)
def command(
    path: Path, vars_files: tuple[str, ...], output_format: str, skip_secrets: bool
) -> None:
    result, _desired = validate_tree(
        path, vars_files=vars_files, resolve_secrets=not skip_secrets
    )
    if output_format == "json":
        click.echo(
            json.dumps(
                {
                    "format_version": FORMAT_VERSION,
                    "valid": result.ok,
                    "files": result.files,
                    "errors": len(result.errors),
                    "warnings": len(result.warnings),
                    "diagnostics": [d.as_json() for d in result.diagnostics],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        print_diagnostics(result.diagnostics)
        click.echo(summary_line(result), err=not result.ok)
    raise SystemExit(0 if result.ok else 1)
