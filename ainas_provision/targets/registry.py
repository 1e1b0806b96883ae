"""Targets: what ``--target`` (or ``AINAS_TARGET``) names, and the backend that reaches it.

- absent: the embedded sandbox in ``ainas.sandbox.sqlite`` beside the manifests;
- ``sandbox:PATH``: the embedded sandbox in another file;
- ``https://…``: the sandbox server's JSON API over mutual TLS;
- ``browser+https://…``: AINAS itself (or the sandbox server's web screens), through its screens
  in a browser, with the same client certificate (:mod:`ainas_provision.targets.browser`);
- ``runbook:``: a person does the steps at AINAS (``ainas-provision runbook``); what is current
  is what the state records as done (the tool cannot read AINAS there).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ainas_provision import portable
from ainas_provision.domain.desired import DesiredState
from ainas_provision.errors import AinasProvisionError
from ainas_provision.i18n import _, ngettext
from ainas_provision.state.model import State
from ainas_provision.targets.base import Backend

DEFAULT_SANDBOX = "ainas.sandbox.sqlite"
JAPAN = dt.timezone(dt.timedelta(hours=9), "JST")
# [project decision] the admin a new embedded-sandbox tenant gets when the manifests list none
DEFAULT_ADMIN = ("kanri", "管理者")


class TargetType:
    """One kind of target: how its ``--target`` is written, what it can do, how it is opened.

    Capabilities, read by the workflow instead of testing which target it is:

    - ``max_parallelism``: at most this many changes at once (None: as many as asked);
    - ``default_parallelism``: how many at once when ``--parallelism`` is not given;
    - ``cheap_reads``: reading the whole tenant costs little (a local file), so a scoped plan
      need not read less;
    - ``reads_ainas``: the tool reads AINAS itself (false for a person at AINAS: what is
      current is what the state records as done);
    - ``serves_any_state``: a state written through another target of the same organization
      may be used with it, and the reverse (a person works on whichever AINAS the office uses);
    - ``tenant_is_organization``: two locations of this type reaching the same 代理人組織ID are
      the same tenant (an URL spelt two ways), since opening confirms the ID before any read.
    """

    name: str = ""
    prefix: str = ""  # what a --target of this type starts with
    max_parallelism: int | None = None
    default_parallelism: int = 4
    cheap_reads: bool = False
    reads_ainas: bool = True
    serves_any_state: bool = False
    tenant_is_organization: bool = False

    def parse(self, spec: str) -> str:
        """The location in ``spec`` (which starts with ``prefix``); raises for a malformed one."""
        return spec

    def describe(self, location: str) -> str:
        return location

    def identity_location(self, location: str, relative_to: Path | None) -> str:
        """The location as the state records it."""
        return location

    def organizations(self, location: str) -> list[str] | None:
        """The tenants the target holds, when it can tell without logging in (None: it cannot)."""
        return None

    def own_options(self, *, supervised: bool, trace: bool, evidence_dir: Path):
        """The target's own options, from the run's (the browser's); None: it takes none."""
        return None

    def open(
        self,
        target: Target,
        desired: DesiredState,
        env,
        announce,
        *,
        create_tenant: bool,
        parallelism: int | None,
        dry_run: bool,
        state: State | None,
        options=None,
    ) -> Backend:
        """The backend of ``target``; ``options`` are the target's own (the browser's)."""
        raise NotImplementedError


class SandboxType(TargetType):
    name, prefix = "sandbox", "sandbox:"
    cheap_reads = True

    def parse(self, spec: str) -> str:
        location = spec.removeprefix(self.prefix)
        if not location:
            raise AinasProvisionError(
                _("--target sandbox:PATH needs a path, e.g. sandbox:ainas.sandbox.sqlite")
            )
        return location

    def describe(self, location: str) -> str:
        return _("embedded sandbox {location}").format(location=location)

    def identity_location(self, location: str, relative_to: Path | None) -> str:
        if relative_to is not None:
            with contextlib.suppress(ValueError):
                return os.path.relpath(Path(location).resolve(), relative_to.resolve())
        return location

    def organizations(self, location: str) -> list[str] | None:
        if not Path(location).is_file():
            raise AinasProvisionError(_("no sandbox at {location}").format(location=location))
        from ainas_emulator.service import AinasSandbox

        sandbox = AinasSandbox(Path(location))
        try:
            return sandbox.tenants()
        finally:
            sandbox.close()

    def open(
        self,
        target,
        desired,
        env,
        announce,
        *,
        create_tenant,
        parallelism,
        dry_run,
        state,
        options=None,
    ):
        return _open_sandbox(target, desired, env, announce, create_tenant, dry_run)


class HttpsType(TargetType):
    name, prefix = "https", "https://"
    tenant_is_organization = True

    def parse(self, spec: str) -> str:
        return normalize_url(spec)

    def open(
        self,
        target,
        desired,
        env,
        announce,
        *,
        create_tenant,
        parallelism,
        dry_run,
        state,
        options=None,
    ):
        from ainas_provision.targets.https.backend import open_https  # only when used

        backend = open_https(target, desired, env, parallelism=parallelism)
        days = desired.policy.cert_expiry_warning_days if desired is not None else 60
        warning = client_cert_expiry_warning(backend.tls, days)
        if warning:
            announce(warning)
        return backend


class RunbookType(TargetType):
    name, prefix = "runbook", "runbook:"
    reads_ainas = False
    serves_any_state = True

    def parse(self, spec: str) -> str:
        if spec != self.prefix:
            raise AinasProvisionError(
                _("--target {spec}: the runbook target takes nothing after 'runbook:'").format(
                    spec=spec
                )
            )
        return ""

    def describe(self, location: str) -> str:
        return "the runbook (a person at AINAS; what the state records as done)"

    def open(
        self,
        target,
        desired,
        env,
        announce,
        *,
        create_tenant,
        parallelism,
        dry_run,
        state,
        options=None,
    ):
        from ainas_provision.targets.runbook import RunbookBackend

        return RunbookBackend(state if state is not None else State(), desired)


class BrowserType(TargetType):
    name, prefix = "browser", "browser+https://"
    default_parallelism = 1  # a browser per change in flight

    def parse(self, spec: str) -> str:
        return spec if spec.endswith("/") else spec + "/"

    def own_options(self, *, supervised: bool, trace: bool, evidence_dir: Path):
        from ainas_provision.targets.browser import BrowserOptions  # Playwright, only when used

        return BrowserOptions(supervised=supervised, trace=trace, evidence_dir=evidence_dir)

    def open(
        self,
        target,
        desired,
        env,
        announce,
        *,
        create_tenant,
        parallelism,
        dry_run,
        state,
        options=None,
    ):
        from ainas_provision.targets.browser import open_browser  # Playwright, only when used

        return open_browser(target.location, desired, env, parallelism=parallelism, options=options)


# scheme -> type: adding a target is one module and one line here
TYPES: dict[str, TargetType] = {
    t.name: t for t in (SandboxType(), HttpsType(), BrowserType(), RunbookType())
}


def type_of(name: object) -> TargetType:
    """The type a state or plan names (an unknown one, or a value that is no name, reads as the
    bare location)."""
    return TYPES.get(name, TargetType()) if isinstance(name, str) else TargetType()


@dataclass(frozen=True)
class Target:
    """A target as --target names it: its type and its location."""

    kind: str  # a name of TYPES
    location: str  # a path (sandbox) or a URL

    @property
    def type(self) -> TargetType:
        return type_of(self.kind)

    def identity(self, organization_id: str, relative_to: Path | None = None) -> dict:
        location = self.type.identity_location(self.location, relative_to)
        return {"kind": self.kind, "location": location, "organization_id": organization_id}

    def describe(self) -> str:
        return self.type.describe(self.location)


def describe_identity(identity: dict) -> str:
    """A target as a state or a plan records it, for people."""
    where = identity.get("location") or ""
    return type_of(identity.get("kind")).describe(where)


def same_tenant(recorded: dict, identity: dict) -> bool:
    """Whether a state recorded for ``recorded`` may be used with the target ``identity``.
    [project decision] A person at AINAS works on whichever AINAS the office uses: a state the
    runbook wrote serves the machine targets of the same organization, and the runbook serves a
    state any target of that organization wrote."""
    if recorded == identity:
        return True
    same_org = recorded.get("organization_id") == identity.get("organization_id")
    recorded_type = recorded.get("kind")  # the identity's "kind" is the target type's name
    if recorded_type == identity.get("kind") and type_of(recorded_type).tenant_is_organization:
        # an AINAS tenant is its 代理人組織ID, whatever the URL is spelt: https://localhost:8443
        # and https://127.0.0.1:8443/ reach the same one (connect confirms the ID before reading)
        return same_org
    serves = (
        type_of(recorded.get("kind")).serves_any_state
        or type_of(identity.get("kind")).serves_any_state
    )
    return serves and same_org


def normalize_url(url: str) -> str:
    """One spelling of an HTTPS URL: the host in lower case, no default port, no trailing '/'."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port and parts.port != 443 else ""
    path = parts.path.rstrip("/")
    return urlunsplit(("https", f"{host}{port}", path, parts.query, ""))


def client_cert_expiry_warning(tls, days: int, now: dt.datetime | None = None) -> str | None:
    """The client certificate (AINAS_CLIENT_CERT) expiring within ``days``: said ahead, like
    the signing certificate's, since AINAS cannot be reached at all once it has expired."""
    if tls.not_after is None:
        return None
    now = now or dt.datetime.now(dt.UTC)
    left = tls.not_after - now
    if left > dt.timedelta(days=days):
        return None
    expires = tls.not_after.astimezone(JAPAN).date().isoformat()
    return ngettext(
        "warning: the client certificate {file} ({subject}) expires on {date} (Japan time), in "
        "{left} day (warning within {days} days): ask the association for the renewed "
        "クライアント証明書 in time",
        "warning: the client certificate {file} ({subject}) expires on {date} (Japan time), in "
        "{left} days (warning within {days} days): ask the association for the renewed "
        "クライアント証明書 in time",
        left.days,
    ).format(file=tls.certificate, subject=tls.subject, date=expires, left=left.days, days=days)


def manifest_dir(path: Path) -> Path:
    return path if path.is_dir() else path.parent


def resolve(spec: str | None, manifest_path: Path, env: Mapping[str, str] = os.environ) -> Target:
    spec = spec or env.get("AINAS_TARGET") or None
    if spec is None:
        default = portable.relpath(manifest_dir(manifest_path) / DEFAULT_SANDBOX)
        return Target(TYPES["sandbox"].name, default)
    for target_type in TYPES.values():
        if spec.startswith(target_type.prefix):
            return Target(target_type.name, target_type.parse(spec))
    if spec.startswith("http://"):
        raise AinasProvisionError(
            _(
                "--target {spec}: AINAS is reached over HTTPS with a client certificate only; "
                "use https://"
            ).format(spec=spec)
        )
    written = ", ".join(f"{t.prefix}…" for t in TYPES.values())
    raise AinasProvisionError(
        _(
            "--target {spec} is not a target: give one of {written}, or leave it out for the "
            "embedded sandbox beside the manifests"
        ).format(spec=spec, written=written)
    )


def open_backend(
    target: Target,
    desired: DesiredState,
    env: Mapping[str, str] = os.environ,
    announce: Callable[[str], None] = lambda message: None,
    *,
    create_tenant: bool = True,
    parallelism: int | None = None,
    dry_run: bool = False,
    state: State | None = None,
    browser=None,
) -> Backend:
    """The backend of ``target``. On first use, the embedded sandbox creates the tenant of the
    manifests (unless ``create_tenant`` is false: then a missing tenant is an error). With
    ``dry_run`` (a plan that is not saved) nothing is written: a sandbox file that does not hold
    the tenant yet is stood in for by a scratch copy, deleted on close, holding the tenant the
    association would create. At most ``parallelism`` changes are in flight (and never more than
    the target's ``max_parallelism``). The runbook reads ``state``."""
    target_type = target.type
    if target_type.max_parallelism is not None:
        parallelism = min(parallelism or target_type.max_parallelism, target_type.max_parallelism)
    return target_type.open(
        target,
        desired,
        env,
        announce,
        create_tenant=create_tenant,
        parallelism=parallelism,
        dry_run=dry_run,
        state=state,
        options=browser,
    )


def _open_sandbox(
    target: Target, desired: DesiredState, env, announce, create_tenant: bool, dry_run: bool
) -> Backend:
    from ainas_provision.targets.embedded import SandboxBackend

    exists = Path(target.location).is_file()
    if not create_tenant and not exists:
        raise AinasProvisionError(_("no sandbox at {location}").format(location=target.location))
    login = {"login_id": env.get("AINAS_LOGIN_ID") or None, "password": env.get("AINAS_PASSWORD")}
    backend = None
    if exists:
        backend = SandboxBackend(Path(target.location), desired.organization_id, **login)
        if not backend.tenant_exists() and dry_run and not backend.sandbox.tenants():
            backend.close()
            backend = None
    if backend is None and dry_run:
        import tempfile  # a plan of a tenant not created yet only

        scratch = tempfile.TemporaryDirectory(prefix="ainas-plan-")
        backend = SandboxBackend(
            Path(scratch.name) / DEFAULT_SANDBOX, desired.organization_id, scratch=scratch, **login
        )
    elif backend is None:
        backend = SandboxBackend(Path(target.location), desired.organization_id, **login)
    if not backend.tenant_exists():
        others = backend.sandbox.tenants()
        if not create_tenant or others:
            backend.close()
            held = (
                _(" (it holds 代理人組織ID {ids})").format(ids=", ".join(others)) if others else ""
            )
            raise AinasProvisionError(
                _(
                    "{target} holds no tenant with 代理人組織ID {organization_id}{held}: refusing to "
                    "plan against another organization; check --target, or organization.id"
                ).format(
                    target=target.describe(), organization_id=desired.organization_id, held=held
                )
            )
        admins = [
            (login, (admin.fields.get("name") or "管理者"))
            for login, admin in desired.admins.items()
        ]
        admins = admins or [DEFAULT_ADMIN]
        org = desired.organization.fields
        name = org.get("name") or f"代理人{desired.organization_id}"
        backend.create_tenant(name, org.get("short_name") or name, admins)
        logins = ngettext("admin {logins}", "admins {logins}", len(admins)).format(
            logins=", ".join(login for login, _name in admins)
        )
        if backend.scratch is not None:
            announce(
                _(
                    "{location} holds no tenant yet: planning against the tenant 代理人組織ID "
                    "{organization_id} the association would create, with {admins} (initial "
                    "password 99999999); nothing is written until apply creates it"
                ).format(
                    location=target.location,
                    organization_id=desired.organization_id,
                    admins=logins,
                )
            )
            return backend
        announce(
            _(
                "created the sandbox tenant 代理人組織ID {organization_id} in {location}, as the "
                "association would, with {admins} (initial password 99999999)"
            ).format(
                organization_id=desired.organization_id, location=target.location, admins=logins
            )
        )
    return backend
