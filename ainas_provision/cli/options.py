"""Options shared by several commands."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from ainas_provision.i18n import N_

manifest_path = click.argument("path", type=click.Path(path_type=Path), default=".", required=False)

vars_files = click.option(
    "--vars",
    "vars_files",
    multiple=True,
    metavar="[NAME=]FILE",
    help=N_(
        "A data file for templates (*.yaml.j2): a CSV file becomes one variable named after "
        "the file (a list of rows), a YAML or JSON file's top-level keys become variables; "
        "NAME=FILE names the variable. Repeatable; a later file wins, and over the vars: setting."
    ),
)


def _no_cache(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        from ainas_provision.manifest import cache

        cache.disable()
        ctx.call_on_close(cache.enable)  # for this command only (tests run many in a process)


no_cache = click.option(
    "--no-cache",
    is_flag=True,
    expose_value=False,
    callback=_no_cache,
    help=N_(
        "Validate the manifests again from their files, neither reading nor writing the cache "
        "of parsed files and validated trees (see README: The cache)."
    ),
)


def output_format(choices: tuple[str, ...]):
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(choices),
        default=choices[0],
        show_default=True,
        help=N_("Output format."),
    )


def target_options(func):
    """--target, --state and --site: what to provision, where the state is, which sites."""
    func = click.option(
        "--site",
        "sites",
        multiple=True,
        metavar="HANDLE",
        help=N_("Limit to this site and the users in it (repeatable)."),
    )(func)
    func = click.option(
        "--state",
        "state_path",
        default=None,
        metavar="FILE|postgresql://…",
        help=N_(
            "The state: a file, or postgresql://…/DB[?schema=S][#NAME] "
            "[default: $AINAS_STATE, else connection.state, else ainas.state.json beside the manifests]."
        ),
    )(func)
    func = click.option(
        "--target",
        default=None,
        metavar="TARGET",
        help=N_(
            "sandbox:PATH, https://… or browser+https://… [default: $AINAS_TARGET, else the "
            "embedded sandbox]."
        ),
    )(func)
    return func


rewrite_unknown_secrets = click.option(
    "--rewrite-unknown-secrets",
    is_flag=True,
    help=N_(
        "Write from the manifests the write-only secrets this tool never wrote (it cannot "
        "compare them); without it they are left as they are."
    ),
)


def run_options(path, vars_files, target, state_path, sites, rewrite_unknown_secrets, **more):
    """The workflow options of the options plan and apply share (``more``: apply's own)."""
    from ainas_provision.workflow.run import Options

    return Options(
        path=path,
        state_path=state_path,
        target=target,
        sites=list(sites),
        vars_files=list(vars_files),
        rewrite_unknown_secrets=rewrite_unknown_secrets,
        **more,
    )


def command_line(*words, **options) -> str:
    """A command to suggest, runnable as printed: ``ainas-provision`` and ``words``, then each
    option given (``target="x"`` -> ``--target x``; a list repeats it; None is left out),
    quoted for a POSIX shell."""
    parts = ["ainas-provision", *map(str, words)]
    for name, value in options.items():
        for item in value if isinstance(value, list | tuple) else [value]:
            if item is not None:
                parts += [f"--{name.replace('_', '-')}", str(item)]
    return " ".join(shlex.quote(part) for part in parts)
