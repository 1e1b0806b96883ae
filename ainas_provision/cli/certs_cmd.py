"""``ainas-provision certs``: look at a signing certificate as AINAS will read it."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path

import click

from ainas_provision.certs.errors import CertificateError
from ainas_provision.certs.info import CertificateInfo, validity_problems
from ainas_provision.certs.reader import detect_type, load_p12, read_certificate
from ainas_provision.certs.types import CORPORATE, TYPES
from ainas_provision.cli import options
from ainas_provision.i18n import N_, _

FORMAT_VERSION = 1


@click.group(
    "certs",
    help=N_("Signing certificates (電子証明書, .p12)."),
)
def command() -> None:
    pass


@command.command(
    "inspect",
    help=N_("Show what AINAS reads from the certificate FILE: 屋号, 氏名, 住所, 証明書有効期限."),
)
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option(
    "--type",
    "cert_type",
    type=click.Choice(TYPES),
    default=None,
    help=N_("The certificate's type; detected when not given."),
)
@click.option(
    "--password-env",
    metavar="NAME",
    help=N_("Read the PIN/password from this environment variable instead of asking."),
)
@options.output_format(("text", "json"))
def inspect(
    file: Path, cert_type: str | None, password_env: str | None, output_format: str
) -> None:
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise CertificateError(
            "unreadable",
            _("{file}: cannot read it: {reason}").format(file=file, reason=exc.strerror),
        ) from None
    password = _password(password_env)
    try:
        loaded = load_p12(data, password)
        cert = loaded.cert.certificate
        info = read_certificate(cert, cert_type=cert_type or detect_type(cert))
    except CertificateError as exc:
        raise CertificateError(exc.reason, f"{file}: {exc.message}") from None
    problems = validity_problems(info, dt.datetime.now(dt.UTC))
    if output_format == "json":
        document = {
            "format_version": FORMAT_VERSION,
            "file": str(file),
            "certificate": info.as_json(),
            "problems": [
                {"code": p.code, "severity": p.severity, "message": p.message} for p in problems
            ],
        }
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
        return
    click.echo(_text(info))
    for problem in problems:
        click.secho(_("warning: {message}").format(message=problem.message), fg="yellow", err=True)


def _japan(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone(dt.timedelta(hours=9))).isoformat()


def on_terminal() -> bool:
    return sys.stdin.isatty()


def _password(env_name: str | None) -> str:
    if env_name is None:
        if not on_terminal():  # getpass would read it echoed, with a Python warning
            raise CertificateError(
                "no-password",
                _(
                    "there is no terminal to ask for the PIN/password on: put it in an "
                    "environment variable and pass --password-env NAME"
                ),
            )
        return click.prompt(_("PIN/password"), hide_input=True, default="", show_default=False)
    if env_name not in os.environ:
        raise CertificateError(
            "no-password",
            _("--password-env names {name}, which is not set").format(name=env_name),
        )
    return os.environ[env_name]


def _text(info: CertificateInfo) -> str:
    missing = "(not in the certificate)"
    lines = [
        ("種別", info.cert_type),
        ("屋号(漢字)", info.trade_name or missing),
        ("氏名又は代表者名(漢字)", info.representative_name or missing),
        ("住所(都道府県〜番地)", info.address or missing),
        ("証明書有効期限", info.expiry_date.isoformat()),
    ]
    if info.cert_type == CORPORATE:
        lines += [
            ("会社法人等番号", info.registered_number or missing),
            ("代表者の資格", info.director_title or missing),
            ("登記所", info.registry_office or missing),
        ]
    lines += [
        ("subject", info.subject),
        ("issuer", info.issuer),
        ("serial", info.serial_number),
        # in Japan time, as AINAS and the 証明書有効期限 above show dates
        ("valid", f"{_japan(info.not_before)} .. {_japan(info.not_after)}"),
        ("SHA-256", info.fingerprint_sha256),
    ]
    return "\n".join(f"{label}: {value}" for label, value in lines)
