"""``ainas-provision plan``: what applying the manifests would change."""

from __future__ import annotations

from pathlib import Path

import click

from ainas_provision.cli import options
from ainas_provision.i18n import N_, _, ngettext
from ainas_provision.plan import render
from ainas_provision.workflow import run as workflow

EXIT_CHANGES = 2


@click.command(
    "plan",
    help=N_("Read the target and show what applying the manifests at PATH would change."),
)
@options.manifest_path
@options.vars_files
@options.no_cache
@options.target_options
@options.rewrite_unknown_secrets
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path, dir_okay=False),
    help=N_("Save the plan for `apply --plan`."),
)
@click.option(
    "--detailed-exitcode", is_flag=True, help=N_("Exit 2 when there are changes, 0 when none.")
)
@options.output_format(("text", "json", "markdown"))
def command(
    path,
    vars_files,
    target,
    state_path,
    sites,
    rewrite_unknown_secrets,
    out,
    detailed_exitcode,
    output_format,
):
    # a plan that is only shown writes nothing; a saved one is made as apply will see it (the
    # state key and the embedded sandbox's tenant are created, so that the plan stays valid)
    opts = options.run_options(
        path, vars_files, target, state_path, sites, rewrite_unknown_secrets, dry_run=out is None
    )
    run = workflow.open_run(opts, announce=lambda message: click.echo(message, err=True))
    try:
        plan = workflow.make_plan(run)
    finally:
        run.close()
    render.emit(plan, output_format)
    if plan.errors:
        raise SystemExit(1)
    if len(plan.deletions) > plan.max_deletes:
        click.secho(
            ngettext(
                "Warning: this plan deletes {count} resource and policy.max_deletes is {limit}: "
                "apply will need --allow-deletes {count}",
                "Warning: this plan deletes {count} resources and policy.max_deletes is {limit}: "
                "apply will need --allow-deletes {count}",
                len(plan.deletions),
            ).format(count=len(plan.deletions), limit=plan.max_deletes),
            fg="yellow",
            err=True,
        )
    if out is not None:
        plan.save(out)
        again = options.command_line(
            "apply", path, plan=out, target=target, state=state_path, vars=list(vars_files)
        )
        click.echo(
            _("Saved the plan to {file}: apply it with `{command}`").format(
                file=out, command=again
            ),
            err=True,
        )
    if detailed_exitcode and plan.has_changes:
        raise SystemExit(EXIT_CHANGES)
