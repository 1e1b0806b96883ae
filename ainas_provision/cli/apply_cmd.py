"""``ainas-provision apply``: make AINAS match the manifests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from ainas_provision import portable
from ainas_provision.apply.executor import Outcome
from ainas_provision.cli import options
from ainas_provision.cli.progress import Progress
from ainas_provision.errors import AinasProvisionError
from ainas_provision.i18n import N_, _, ngettext
from ainas_provision.plan import render
from ainas_provision.plan.changes import Change
from ainas_provision.plan.plan import Plan
from ainas_provision.workflow import run as workflow

VERBS = {
    "create": N_("creating"),
    "renew": N_("registering"),
    "update": N_("updating"),
    "adopt": N_("adopting"),
    "replace": N_("replacing"),
    "delete": N_("deleting"),
}


class ProgressPrinter:
    """Progress of an apply: a bar with counts on a terminal; elsewhere (CI logs) a line per
    change started and finished. Failures and skips are printed as lines in both cases."""

    def __init__(self) -> None:
        self.progress: Progress | None = None

    def __call__(
        self, event: str, change: Change, outcome: Outcome | None, done: int, total: int
    ) -> None:
        if self.progress is None:
            self.progress = Progress(total, _("applying"))
        progress = self.progress
        if event == "start":
            progress.started(f"{change.address}: {_(VERBS[change.action])}…")
        elif event == "done":
            progress.advance(f"{change.address}: {outcome.message}", done, color="green")
        else:
            failed = event == "failed"
            text = (
                _("failed: {message}").format(message=outcome.message)
                if failed
                else outcome.message
            )
            progress.line(
                f"{change.address}: {text} [{done}/{total}]",
                color="red" if failed else "yellow",
                err=True,
            )
            progress.skip()

    def close(self) -> None:
        if self.progress is not None:
            self.progress.close()


def confirm(auto_approve: bool) -> None:
    if auto_approve:
        return
    if not portable.interactive_stdin():
        raise AinasProvisionError(
            _(
                "apply asks for confirmation, and there is no terminal to ask on: run it in a "
                "terminal, pass --auto-approve, or apply a reviewed plan with --plan FILE"
            )
        )
    try:
        answer = click.prompt(
            _("Do you want to perform these actions? Only 'yes' will be accepted")
            + (
                _(" (type yes and Enter, or re-run with --auto-approve)")
                if not sys.stdin.isatty()
                else ""
            ),
            default="",
            show_default=False,
        )
    except click.Abort as exc:
        # click turns Ctrl-C into Abort (exit 1): give it back its meaning, exit 130
        if isinstance(exc.__context__, KeyboardInterrupt):
            raise KeyboardInterrupt from None
        raise AinasProvisionError(
            _("apply cancelled (end of input): nothing was changed")
        ) from None
    if answer.strip() != "yes":
        raise AinasProvisionError(_("apply cancelled: nothing was changed"))


def summarize(outcomes: list[Outcome]) -> bool:
    done = sum(o.status == "done" for o in outcomes)
    failed = [o for o in outcomes if o.status == "failed"]
    skipped = [o for o in outcomes if o.status == "skipped"]
    if not failed and not skipped:
        message = ngettext(
            "Apply complete: {count} change applied.",
            "Apply complete: {count} changes applied.",
            done,
        )
        click.secho(message.format(count=done), fg="green")
        return True
    click.secho(
        _("Apply finished with errors: {done} applied, {failed} failed, {skipped} skipped.").format(
            done=done, failed=len(failed), skipped=len(skipped)
        ),
        fg="red",
        err=True,
    )
    for outcome in failed:
        click.echo(
            "  "
            + _("failed: {address}: {message}").format(
                address=outcome.change.address, message=outcome.message
            ),
            err=True,
        )
    if skipped:
        names = ", ".join(o.change.address for o in skipped[:10])
        more = _(" and {count} more").format(count=len(skipped) - 10) if len(skipped) > 10 else ""
        click.echo("  " + _("skipped: {names}").format(names=names) + more, err=True)
    click.echo(_("The state records what was applied; run apply again to finish."), err=True)
    return False


@click.command(
    "apply",
    help=N_("Apply the manifests at PATH (or a saved plan) to the target."),
)
@options.manifest_path
@options.vars_files
@options.no_cache
@options.target_options
@options.rewrite_unknown_secrets
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help=N_("Apply exactly this saved plan."),
)
@click.option(
    "--expect-digest",
    metavar="SHA256",
    help=N_(
        "With --plan: refuse the plan unless its digest is this one (the digest printed with "
        "the reviewed plan)."
    ),
)
@click.option("--auto-approve", is_flag=True, help=N_("Do not ask for confirmation."))
@click.option(
    "--parallelism",
    type=click.IntRange(1, 64),
    default=None,
    help=N_("Changes in flight at once [default: 4; the browser target: 1, each one a browser]."),
)
@click.option(
    "--allow-deletes",
    type=click.IntRange(0),
    default=None,
    metavar="N",
    help=N_("Allow up to N deletions (overrides policy.max_deletes)."),
)
@click.option(
    "--lock-timeout",
    type=click.FloatRange(0),
    default=0,
    show_default=True,
    metavar="SECONDS",
    help=N_("Wait this long for the state lock."),
)
@click.option(
    "--supervised",
    is_flag=True,
    help=N_(
        "Browser target: a visible browser; the tool fills each screen and waits for you to "
        "check it and press 確定."
    ),
)
@click.option(
    "--trace",
    is_flag=True,
    help=N_(
        "Browser target: record a Playwright trace under .ainas/ (it holds every typed value, "
        "passwords included)."
    ),
)
def command(
    path,
    vars_files,
    target,
    state_path,
    sites,
    rewrite_unknown_secrets,
    plan_file,
    expect_digest,
    auto_approve,
    parallelism,
    allow_deletes,
    lock_timeout,
    supervised,
    trace,
):
    if expect_digest is not None and plan_file is None:
        raise AinasProvisionError(
            _("--expect-digest checks a saved plan: give it with --plan FILE")
        )
    if (target or os.environ.get("AINAS_TARGET")) == "runbook:":
        # a person carries out the runbook target's changes: show them the steps
        from ainas_provision.cli import runbook_cmd

        opts = options.run_options(path, vars_files, target, state_path, sites, False)
        raise SystemExit(
            runbook_cmd.serve(
                opts, plan_file, allow_deletes=allow_deletes, open_browser=sys.stdout.isatty()
            )
        )
    opts = options.run_options(
        path,
        vars_files,
        target,
        state_path,
        sites,
        rewrite_unknown_secrets,
        lock_timeout=lock_timeout,
        parallelism=parallelism or 4,
        supervised=supervised,
        trace=trace,
    )
    if trace:
        click.secho(
            _(
                "warning: --trace records every value typed into the browser, passwords "
                "included, in a trace file under .ainas/: delete it once read, and never share it"
            ),
            fg="yellow",
            err=True,
        )
    run = workflow.open_run(opts, announce=lambda message: click.echo(message, err=True), lock=True)
    if parallelism is None:  # the target's own default (a browser per change in flight: one)
        parallelism = run.target.type.default_parallelism
        run.options.parallelism = parallelism
    try:
        ok = _apply(run, plan_file, expect_digest, auto_approve, parallelism, allow_deletes)
    finally:
        run.close()
    raise SystemExit(0 if ok else 1)


def _execute(run, plan, parallelism) -> list[Outcome]:
    printer = ProgressPrinter()
    try:
        # a plan that stops at its first step (the password change) is planned again after it
        return workflow.execute(run, plan, parallelism, printer, last=not plan.incomplete)
    finally:
        printer.close()


def _apply(run, plan_file, expect_digest, auto_approve, parallelism, allow_deletes) -> bool:
    if plan_file is not None:
        saved = Plan.load(plan_file)
        workflow.connect(run)
        # what runs is the fresh plan, once the saved one is shown to be the same plan
        plan = workflow.check_saved_plan(run, saved, expect_digest)
        render.echo_text(plan)
        plan.raise_if_unsafe(allow_deletes)
    else:
        plan = workflow.make_plan(run)
        render.echo_text(plan)
        plan.raise_if_unsafe(allow_deletes)
        if not plan.has_changes:
            if plan.forget or run.pending_moves:  # only the state changes (forget, moved:)
                _execute(run, plan, parallelism)
            return True
        confirm(auto_approve)
    outcomes = _execute(run, plan, parallelism)
    if plan.incomplete and all(o.status == "done" for o in outcomes):
        # the password is changed: now the target can be read, and the rest planned
        click.echo("")
        plan = workflow.make_plan(run)
        render.echo_text(plan)
        plan.raise_if_unsafe(allow_deletes)
        if plan.has_changes:
            confirm(auto_approve or plan_file is not None)
            outcomes += _execute(run, plan, parallelism)
    return summarize(outcomes)
