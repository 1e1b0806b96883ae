"""``ainas-provision probe``: compare AINAS's real screens with the screen catalogue, read-only."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ainas_provision.errors import AinasProvisionError
from ainas_provision.i18n import N_, _, ngettext


@click.command(
    "probe",
    help=N_(
        "Compare AINAS's real screens with the screen catalogue, read-only: every "
        "screen reachable without writing, found or missing (exit 1 if anything the "
        "tool needs is missing)."
    ),
)
@click.argument(
    "path", type=click.Path(path_type=Path), default=".", required=False
)  # .ainas/ here
@click.option(
    "--target",
    required=False,
    metavar="browser+https://…",
    help=N_("AINAS's login URL, as browser+https://HOST/PATH [default: $AINAS_TARGET]."),
)
@click.option(
    "--write-override",
    "override",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help=N_(
        "Save the real pull-down options seen as a local catalogue override (ainas-screens.local.yaml)."
    ),
)
def command(path: Path, target: str | None, override: Path | None) -> None:
    from ainas_provision.domain.desired import DesiredState
    from ainas_provision.targets.browser import BrowserOptions, open_browser
    from ainas_provision.targets.browser.probe import probe, write_override

    target = target or os.environ.get("AINAS_TARGET")
    if not target or not target.startswith("browser+https://"):
        raise AinasProvisionError(
            _("probe needs --target browser+https://HOST/PATH (AINAS's login URL)")
        )
    directory = path if path.is_dir() else path.parent
    options = BrowserOptions(evidence_dir=directory / ".ainas")  # screenshots of what failed
    backend = open_browser(target, DesiredState.empty(""), os.environ, options=options)
    try:
        findings = probe(backend)
    finally:
        backend.close()
    width = max(len(f.screen) for f in findings)
    marks = {True: _("found"), False: _("MISSING")}
    mark_width = max(map(len, marks.values()))
    for f in findings:
        mark = marks[f.found].ljust(mark_width)
        note = f"  ({f.note})" if f.note else ""
        click.echo(f"{f.screen.ljust(width)}  {f.item}  {mark}  {f.expected}{note}")
    missing = [f for f in findings if not f.found]
    if override is not None:
        count = write_override(override, findings)
        click.echo(
            ngettext(
                "wrote {count} pull-down to {file}", "wrote {count} pull-downs to {file}", count
            ).format(count=count, file=override),
            err=True,
        )
    if missing:
        click.secho(
            ngettext(
                "probe: {count} expected item missing",
                "probe: {count} expected items missing",
                len(missing),
            ).format(count=len(missing)),
            fg="red",
            err=True,
        )
        raise SystemExit(1)
    click.secho(_("probe: every expected screen, label and button was found"), fg="green", err=True)
