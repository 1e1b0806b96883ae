"""How to reach an AINAS endpoint: the URL, the login, the client certificate, the CA.

Each setting comes from the environment (``AINAS_LOGIN_ID``, ``AINAS_PASSWORD``,
``AINAS_CLIENT_CERT``, ``AINAS_CLIENT_CERT_PASSWORD``, ``AINAS_CA_FILE``) or from the manifests'
``connection:`` section; the environment wins. File paths from the environment are relative to the
working directory, those of the section to the manifest that defines it. Every setting remembers
where it came from, so that an error can say what to fix — never its value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ainas_provision.domain.desired import DesiredState
from ainas_provision.errors import AinasProvisionError
from ainas_provision.i18n import _
from ainas_provision.secrets.refs import is_text
from ainas_provision.secrets.values import Secret

ENV = {
    "login_id": "AINAS_LOGIN_ID",
    "password": "AINAS_PASSWORD",
    "client_cert": "AINAS_CLIENT_CERT",
    "client_cert_password": "AINAS_CLIENT_CERT_PASSWORD",
    "ca_file": "AINAS_CA_FILE",
}
SECRETS = ("password", "client_cert_password")
PATHS = ("client_cert", "ca_file")


@dataclass(frozen=True)
class Connection:
    """Where and how to reach AINAS over HTTPS, and where each setting came from."""

    url: str  # https://host[:port], no trailing slash
    login_id: str | None = None
    password: Secret | None = None
    client_cert: Path | None = None
    client_cert_password: Secret | None = None
    ca_file: Path | None = None
    sources: dict[str, str] = field(default_factory=dict)

    def source(self, name: str) -> str:
        """Where a setting came from, or where to give it: for messages."""
        return self.sources.get(name) or f"{ENV[name]} or connection.{name}"


def _normalized(url: str) -> str:
    return url.rstrip("/")


def resolve_connection(
    url: str, desired: DesiredState | None, env: Mapping[str, str]
) -> Connection:
    """The settings to reach ``url`` (the target), from ``env`` and the manifests."""
    section = dict(desired.connection) if desired else {}
    secrets = dict(desired.connection_secrets) if desired else {}
    base = desired.connection_dir if desired and desired.connection_dir else Path.cwd()
    values: dict[str, object] = {}
    sources: dict[str, str] = {}
    from_section = []
    for name, variable in ENV.items():
        value = env.get(variable)
        if value:
            if name in SECRETS:
                if not is_text(value):
                    raise AinasProvisionError(
                        _("{variable} is not valid UTF-8 text").format(variable=variable)
                    )
                values[name] = Secret(value, variable)
            elif name in PATHS:
                values[name] = Path(value)
            else:
                values[name] = value
            sources[name] = variable
            continue
        given = secrets.get(name) if name in SECRETS else section.get(name)
        if given is None or given == "":
            continue
        values[name] = base / str(given) if name in PATHS else given
        sources[name] = f"connection.{name}"
        from_section.append(name)
    wanted = section.get("url")
    if from_section and wanted and _normalized(str(wanted)) != _normalized(url):
        raise AinasProvisionError(
            _(
                "the manifests' connection section is for {wanted}, but the target is {url}: "
                "refusing to send its {settings} elsewhere; use --target {wanted}, or give the "
                "settings for this target in the environment (AINAS_*)"
            ).format(wanted=wanted, url=url, settings=", ".join(from_section))
        )
    return Connection(url=_normalized(url), sources=sources, **values)
