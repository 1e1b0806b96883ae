"""``ainas-provision sandbox init | serve | reset``: the bundled AINAS sandbox server."""

from __future__ import annotations

from pathlib import Path

import click

from ainas_emulator import init as sandbox_init
from ainas_emulator.errors import SandboxError
from ainas_emulator.store import DEFAULT_HASH_COST, MAX_HASH_COST, MIN_HASH_COST
from ainas_provision import portable
from ainas_provision.errors import AinasProvisionError
from ainas_provision.i18n import N_, _

directory_argument = click.argument("directory", type=click.Path(path_type=Path, file_okay=False))


@click.group(
    "sandbox",
    short_help=N_("The AINAS sandbox server (HTTPS, mutual TLS)."),
    help=N_("The AINAS sandbox: test CA and certificates, the HTTPS server with mutual TLS."),
)
def command() -> None:
    pass


@command.command(
    "init",
    short_help=N_("Create a sandbox: certificates, a tenant, its notice."),
    help=N_(
        "Create a sandbox in DIRECTORY: CA, server and client certificates, a tenant "
        "with three admins, and its 利用登録通知書."
    ),
)
@directory_argument
@click.option(
    "--organization-id",
    default=sandbox_init.DEFAULT_ORGANIZATION_ID,
    show_default=True,
    help=N_("代理人組織ID of the tenant."),
)
@click.option(
    "--name",
    default=sandbox_init.DEFAULT_NAME,
    show_default=True,
    help=N_("代理人組織名 of the tenant."),
)
@click.option("--force", is_flag=True, help=N_("Replace an existing sandbox in DIRECTORY."))
def init_command(directory: Path, organization_id: str, name: str, force: bool) -> None:
    manifests = sorted(
        p.name for pattern in ("*.yaml", "*.yml", "*.yaml.j2") for p in directory.glob(pattern)
    )
    if manifests:
        # its private keys and the client certificate would sit beside manifests kept in git
        raise AinasProvisionError(
            _(
                "{directory} holds manifests ({file}…): a sandbox keeps private keys and "
                "certificates that do not belong beside them; make it in a directory of its own, "
                "e.g. `ainas-provision sandbox init rehearsal`"
            ).format(directory=directory, file=manifests[0])
        )
    try:
        files = sandbox_init.init_sandbox(
            directory, organization_id=organization_id, name=name, force=force
        )
    except SandboxError as exc:
        raise AinasProvisionError(str(exc)) from None
    admins = ", ".join(login_id for login_id, _name in sandbox_init.ADMINS)
    click.echo(
        _(
            "made the sandbox in {directory}: 代理人組織ID {organization_id} ({name}), admins "
            "{admins} (initial password 99999999)"
        ).format(directory=directory, organization_id=organization_id, name=name, admins=admins)
    )
    click.echo(
        _(
            "what a new agent receives is in {path} ({protection}: it holds the client "
            "certificate's password)"
        ).format(path=files.notice, protection=portable.private_note())
    )
    click.echo(
        _("serve it with: {command}").format(command=f"ainas-provision sandbox serve {directory}")
    )


@command.command(
    "serve",
    short_help=N_("Serve a sandbox over HTTPS with mutual TLS."),
    help=N_("Serve the sandbox in DIRECTORY over HTTPS, requiring a client certificate of its CA."),
)
@directory_argument
@click.option("--host", default="127.0.0.1", show_default=True, help=N_("Address to listen on."))
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8443,
    show_default=True,
    help=N_("Port to listen on (0: any free port; the URL printed says which)."),
)
@click.option(
    "--latency-ms",
    type=click.FloatRange(0),
    default=0,
    show_default=True,
    help=N_("Delay every request by this many milliseconds."),
)
@click.option(
    "--fail-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help=N_(
        "Fraction of requests that fail: with HTTP 500 before the change, or with the connection "
        "cut after it (and, with --stall-ms, stalled before it or answered late after it)."
    ),
)
@click.option(
    "--stall-ms",
    type=click.FloatRange(0),
    default=0,
    show_default=True,
    help=N_(
        "With --fail-rate: also stall requests this long before the change, or hold the answer "
        "this long after it (a client timeout)."
    ),
)
@click.option(
    "--spike-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help=N_("Fraction of requests delayed by --spike-ms more (latency spikes)."),
)
@click.option(
    "--spike-ms",
    type=click.FloatRange(0),
    default=0,
    show_default=True,
    help=N_("A spike's extra latency."),
)
@click.option(
    "--seed", type=int, default=None, help=N_("Seed of the failures' and spikes' choices.")
)
@click.option(
    "--page-size",
    type=click.IntRange(1, 10_000),
    default=100,
    show_default=True,
    help=N_("Maximum page size of every list."),
)
@click.option("--access-log", is_flag=True, help=N_("Log every request (method, path, status)."))
@click.option(
    "--hash-cost",
    type=click.IntRange(MIN_HASH_COST, MAX_HASH_COST),
    default=DEFAULT_HASH_COST,
    show_default=True,
    help=N_(
        "scrypt cost of the passwords the server hashes, as the exponent of N (2**COST): lower "
        "it for benchmarks, so that the client is measured rather than the server's hashing."
    ),
)
def serve_command(
    directory: Path,
    host: str,
    port: int,
    latency_ms: float,
    fail_rate: float,
    stall_ms: float,
    spike_rate: float,
    spike_ms: float,
    seed: int | None,
    page_size: int,
    access_log: bool,
    hash_cost: int,
) -> None:
    from ainas_emulator.serve import SandboxServer, ServeOptions  # loads uvicorn

    options = ServeOptions(
        host,
        port,
        latency_ms,
        fail_rate,
        seed,
        page_size,
        access_log,
        stall_ms=stall_ms,
        spike_rate=spike_rate,
        spike_ms=spike_ms,
        hash_cost=hash_cost,
    )
    try:
        server = SandboxServer(directory, options)
    except SandboxError as exc:
        raise AinasProvisionError(str(exc)) from None
    server.run(lambda line: click.echo(line))


@command.command(
    "reset",
    short_help=N_("Empty the tenant back to how it was made."),
    help=N_(
        "Empty the tenant in DIRECTORY back to how it was made (admins with "
        "99999999); the certificates are kept."
    ),
)
@directory_argument
def reset_command(directory: Path) -> None:
    try:
        tenants = sandbox_init.reset_sandbox(directory)
    except SandboxError as exc:
        raise AinasProvisionError(str(exc)) from None
    for tenant in tenants:
        admins = ", ".join(login_id for login_id, _name in tenant.admins)
        click.echo(
            _(
                "reset 代理人組織ID {organization_id} ({name}): no certificate, site or user; "
                "admins {admins} with the initial password 99999999"
            ).format(organization_id=tenant.organization_id, name=tenant.name, admins=admins)
        )
