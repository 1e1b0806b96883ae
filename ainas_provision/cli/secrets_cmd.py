"""``ainas-provision secrets``: a key, and values encrypted for manifest fields."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ainas_provision.i18n import N_, _
from ainas_provision.secrets import crypto

DEFAULT_KEY_FILE = "ainas-secrets.key"


@click.group(
    "secrets",
    help=N_('Encrypted secrets for manifests ({encrypted: "v1:…"}).'),
)
def command() -> None:
    pass


@command.command(
    "keygen",
    help=N_("Write a new secrets key file."),
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=DEFAULT_KEY_FILE,
    show_default=True,
    help=N_("The key file to write (mode 0600); an existing file is never overwritten."),
)
def keygen(out: Path) -> None:
    key = crypto.write_key_file(out)
    click.echo(
        _("wrote a new secrets key to {file} (key ID {key_id})").format(
            file=out, key_id=crypto.key_id(key)
        )
    )
    click.echo(
        _(
            "keep it out of git (add it to .gitignore) and share it safely; point {file_variable} "
            "at it, or put its content in {variable}"
        ).format(file_variable=crypto.KEY_FILE_ENV, variable=crypto.KEY_ENV)
    )


@command.command(
    "encrypt",
    help=N_(
        "Encrypt a value for FIELD_PATH.\n"
        "\n"
        "The value is read from standard input, never from an argument (arguments end "
        "up in shell history); one trailing newline is stripped."
    ),
)
@click.option(
    "--path",
    "field_path",
    required=True,
    metavar="FIELD_PATH",
    help=N_(
        "The manifest path of the field, e.g. sites.akihabara.registered.batch_account.batch_password."
    ),
)
def encrypt(field_path: str) -> None:
    key = crypto.require_key()
    if sys.stdin.isatty():  # a person typing: do not echo the secret
        value = click.prompt(_("value"), hide_input=True, confirmation_prompt=True, err=True)
    else:
        value = _strip_newline(sys.stdin.read())
    if value == "":
        raise click.UsageError(_("the value read from standard input is empty"))
    token = crypto.encrypt(value, field_path, key)
    click.echo(f'{{encrypted: "{token}"}}')


@command.command(
    "decrypt",
    help=N_(
        "Decrypt TOKEN (or standard input) and print the value.\n"
        "\n"
        'For a person holding the key; TOKEN may be pasted as {encrypted: "v1:…"}.'
    ),
)
@click.option(
    "--path",
    "field_path",
    required=True,
    metavar="FIELD_PATH",
    help=N_("The manifest path the value was encrypted for."),
)
@click.argument("token", required=False)
def decrypt(field_path: str, token: str | None) -> None:
    key = crypto.require_key()
    if token is None:
        token = sys.stdin.read()
    click.echo(crypto.decrypt(_unwrap(token), field_path, key))


def _strip_newline(text: str) -> str:
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith("\n") else text


def _unwrap(token: str) -> str:
    """Accept the token alone, quoted, or as pasted from a manifest: {encrypted: "v1:…"}."""
    text = token.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
        if text.startswith("encrypted:"):
            text = text[len("encrypted:") :].strip()
    return text.strip("\"'")
