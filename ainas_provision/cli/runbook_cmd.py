"""``ainas-provision runbook``: the plan as AINAS's screens, for a person at AINAS."""

from __future__ import annotations

import os
import sys
import webbrowser
from pathlib import Path

import click

from ainas_provision import i18n
from ainas_provision.cli import options
from ainas_provision.errors import AinasProvisionError
from ainas_provision.i18n import N_, _, ngettext
from ainas_provision.workflow import run as workflow

EXIT_INTERRUPTED = 130


def _announce(message: str) -> None:
    click.echo(message, err=True)


def serve(
    opts: workflow.Options,
    plan_file: Path | None,
    *,
    allow_deletes: int | None = None,
    open_browser: bool = False,
) -> int:
    """Open the runbook page and serve it until the runbook ends; the exit code."""
    from ainas_provision.runbook.server import RunbookServer
    from ainas_provision.runbook.session import open_session

    lang = i18n.language()  # --lang, AINAS_LANG, else the locale
    session = open_session(opts, plan_file, lang, _announce, allow_deletes=allow_deletes)
    try:
        remaining = [a for a in session.addresses if a not in session.statuses]
        if not remaining:
            click.echo(_("No changes: nothing for the runbook to do."))
            return 0
        done = len(session.addresses) - len(remaining)
        if done:
            click.echo(
                _("Resuming: {done} of {total} steps are recorded as done.").format(
                    done=done, total=len(session.addresses)
                )
            )
        server = RunbookServer(session)
        count = len(remaining)
        click.echo(
            ngettext("Runbook: {count} step.", "Runbook: {count} steps.", count).format(count=count)
        )
        click.echo(_("Open {url} (this computer only; Ctrl+C stops)").format(url=server.url))
        sys.stdout.flush()
        if open_browser:
            webbrowser.open(server.url)
        server.serve()
        ended = session.ended
    finally:
        session.close()
    if ended == "done":
        click.secho(_("Runbook complete: every step is recorded in the state."), fg="green")
        return 0
    if ended == "failed":
        failed = session.failed
        click.secho(
            _(
                "Runbook stopped: {step} failed ({message}). The state records the steps that "
                "were done; fix the cause and run the runbook again."
            ).format(step=session.current or "?", message=failed.message),
            fg="red",
            err=True,
        )
        return 1
    left = [a for a in session.addresses if a not in session.statuses]
    click.echo(
        ngettext(
            "Runbook stopped with {count} step left; run it again to resume.",
            "Runbook stopped with {count} steps left; run it again to resume.",
            len(left),
        ).format(count=len(left)),
        err=True,
    )
    return EXIT_INTERRUPTED


def export(opts: workflow.Options, plan_file: Path | None, output_format: str, out: Path | None):
    from ainas_provision.plan.plan import Plan
    from ainas_provision.runbook import export as exporter
    from ainas_provision.runbook import steps
    from ainas_provision.runbook.session import check_saved_plan, plan_id, short

    lang = i18n.language()  # --lang, AINAS_LANG, else the locale
    opts.target = "runbook:"
    run = workflow.open_run(opts, _announce)
    try:
        workflow.connect(run)
        if plan_file is None:
            plan = workflow.make_plan(run)
        else:
            plan = check_saved_plan(run, Plan.load(plan_file))
        built = steps.build(plan, run.desired, run.state, lang)
        header = {"plan": short(plan_id(plan)), "serial": plan.serial}
    finally:
        run.close()
    if output_format == "markdown":
        document = exporter.markdown(built, header, lang)
    else:
        document = exporter.page(built, header, lang)
    if out is None:
        click.echo(document, nl=False)
        return
    from ainas_provision.state.store import write_atomically

    write_atomically(out, document)
    click.echo(
        ngettext(
            "Wrote the checklist of {count} step to {path}",
            "Wrote the checklist of {count} steps to {path}",
            len(built),
        ).format(count=len(built), path=out),
        err=True,
    )


@click.command(
    "runbook",
    help=N_(
        "Show the plan for the manifests at PATH as AINAS's screens, step by step, on "
        "a local page; what the person confirms is recorded in the state."
    ),
)
@options.manifest_path
@options.vars_files
@click.option(
    "--state",
    "state_path",
    default=None,
    metavar="FILE|postgresql://…",
    help=N_(
        "The state: a file, or postgresql://…/DB[?schema=S][#NAME] "
        "[default: $AINAS_STATE, else connection.state, else ainas.state.json beside the manifests]."
    ),
)
@click.option(
    "--site", "sites", multiple=True, metavar="HANDLE", help=N_("Limit to this site (repeatable).")
)
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help=N_("Carry out exactly this saved plan (made with `plan --target runbook: --out FILE`)."),
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["page", "markdown", "html"]),
    default="page",
    show_default=True,
    help=N_("page: serve the local page; markdown or html: write a printable checklist."),
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help=N_("Where to write the checklist (with --format markdown|html) [default: stdout]."),
)
@click.option("--no-browser", is_flag=True, help=N_("Print the page's address; do not open it."))
@click.option(
    "--allow-deletes",
    type=click.IntRange(0),
    default=None,
    metavar="N",
    help=N_("Allow up to N deletions (overrides policy.max_deletes)."),
)
def command(
    path, vars_files, state_path, sites, plan_file, output_format, out, no_browser, allow_deletes
):
    opts = workflow.Options(
        path=path,
        state_path=state_path,
        target="runbook:",
        sites=list(sites),
        vars_files=list(vars_files),
        env=os.environ,
    )
    if output_format != "page":
        export(opts, plan_file, output_format, out)
        return
    if out is not None:
        raise AinasProvisionError(_("--out goes with --format markdown or html"))
    raise SystemExit(
        serve(
            opts,
            plan_file,
            allow_deletes=allow_deletes,
            open_browser=not no_browser and sys.stdout.isatty(),  # a person at a terminal
        )
    )
