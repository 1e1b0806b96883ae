"""``ainas-provision import``: manifests describing a live tenant, and a state that binds them."""

from __future__ import annotations

from pathlib import Path

import click

from ainas_provision.cli import options
from ainas_provision.cli.progress import Progress
from ainas_provision.i18n import N_, _, ngettext
from ainas_provision.workflow import run as workflow


@click.command(
    "import",
    help=N_(
        "Write manifests that describe the target, and bind the state to them, so "
        "that an existing tenant comes under management: `plan` right after shows no "
        "changes."
    ),
)
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("."),
    show_default=True,
    help=N_("Directory to write the manifests to."),
)
@click.option(
    "--target",
    default=None,
    metavar="TARGET",
    help=N_("sandbox:PATH or https://… [default: $AINAS_TARGET]."),
)
@click.option(
    "--state",
    "state_path",
    default=None,
    metavar="FILE|postgresql://…",
    help=N_(
        "The state to bind: a file, or postgresql://…/DB[?schema=S][#NAME] "
        "[default: $AINAS_STATE, else ainas.state.json in --out]."
    ),
)
@click.option(
    "--organization-id",
    default=None,
    metavar="ID",
    help=N_("The 代理人組織ID to import (a sandbox file may hold several)."),
)
@click.option("--force", is_flag=True, help=N_("Overwrite manifests already in --out."))
def command(
    out: Path, target: str | None, state_path: str | None, organization_id: str | None, force: bool
) -> None:
    settings = workflow.ImportOptions(
        out=out, target=target, state_path=state_path, organization_id=organization_id, force=force
    )
    progress: Progress | None = None

    def wrote(name: str, number: int, total: int) -> None:
        nonlocal progress
        if progress is None:
            progress = Progress(total, _("writing manifests"))
        progress.advance(_("wrote {file}").format(file=name), number)

    try:
        imported, state_path = workflow.import_tenant(
            settings, announce=lambda message: click.echo(message, err=True), wrote=wrote
        )
    finally:
        if progress is not None:
            progress.close()
    sites = len(imported.bindings)
    users = len(imported.users)
    click.echo(
        _(
            "Imported {sites} and {users} into {directory}; the state {state} binds and manages them."
        ).format(
            sites=ngettext("{count} site", "{count} sites", sites).format(count=sites),
            users=ngettext("{count} user", "{count} users", users).format(count=users),
            directory=out,
            state=state_path,
        )
    )
    # the plan to run next reaches the same target and state as this import did
    plan = options.command_line("plan", out, target=target, state=settings.state_path)
    if imported.secrets:
        click.echo(
            _(
                "The write-only secrets are {{env: …}} placeholders ({count} variables, e.g. "
                "{example}): set them, then `{command}` shows no changes (and a note for each "
                "secret the tool has never written)."
            ).format(count=len(imported.secrets), example=imported.secrets[0], command=plan)
        )
    else:
        click.echo(_("`{command}` shows no changes.").format(command=plan))
