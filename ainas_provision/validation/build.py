"""Building the desired state from valid manifests: each resource a flat mapping of its fields
(names as its :class:`~ainas_provision.domain.kinds.Kind` lists them) plus its secrets."""

from __future__ import annotations

from ainas_provision.domain import kinds
from ainas_provision.domain.desired import (
    DesiredCertificate,
    DesiredState,
    Policy,
    Resource,
)
from ainas_provision.manifest.marks import mark_of
from ainas_provision.secrets.values import Secret
from ainas_provision.validation.engine import Validation


def _plain(node):
    """A marked mapping as plain dicts (for values compared and digested)."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    return node


def _get(node, dotted: str):
    for part in dotted.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _plain(value):
    """Marked containers as plain lists and dicts (what a backend and a plan file hold)."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


# each kind's fields as (name, path parts, secret, default): split once, not per resource
_FIELD_PLANS: dict[str, tuple[tuple[str, tuple[str, ...], bool, object], ...]] = {}


def _field_plan(kind: kinds.Kind) -> tuple[tuple[str, tuple[str, ...], bool, object], ...]:
    plan = _FIELD_PLANS.get(kind.name)
    if plan is None:
        plan = _FIELD_PLANS[kind.name] = tuple(
            (spec.name, tuple(spec.name.split(".")), spec.secret, spec.default)
            for spec in kind.fields
        )
    return plan


# where each kind's secrets are in the manifests: {key} is the resource's key
_PREFIXES = {
    kinds.ORGANIZATION.name: "organization",
    kinds.CERTIFICATE.name: "certificate",
    kinds.SITE.name: "sites.{key}",
    kinds.BATCH_ACCOUNT.name: "sites.{key}.registered.batch_account",
    kinds.KEI_BATCH_ACCOUNT.name: "sites.{key}.kei.batch_account",
    kinds.USER.name: "users.{key}",
    kinds.ADMIN.name: "admins.{key}",
}


# each kind's secret fields, in its order: (name, the path's end after the prefix)
_SECRET_NAMES: dict[str, tuple[tuple[str, str], ...]] = {}


def _secret_names(kind: kinds.Kind) -> tuple[tuple[str, str], ...]:
    names = _SECRET_NAMES.get(kind.name)
    if names is None:
        names = _SECRET_NAMES[kind.name] = tuple(
            (name, f".{name}") for name, _parts, secret, _default in _field_plan(kind) if secret
        )
    return names


def _secrets_of(kind: kinds.Kind, key: str, secrets: dict[str, Secret]) -> dict[str, Secret]:
    """A resource's secrets, by field name, in the kind's order."""
    names = _secret_names(kind)
    if not names:
        return {}
    prefix = _PREFIXES[kind.name].format(key=key)
    found: dict[str, Secret] = {}
    for name, end in names:
        value = secrets.get(prefix + end)
        if value is not None:
            found[name] = value
    return found


def _resource(kind: kinds.Kind, key: str, node, secrets: dict[str, Secret], mark) -> Resource:
    fields: dict[str, object] = {}
    for name, parts, secret, default in _field_plan(kind):
        if secret:
            continue
        value = node
        for part in parts:  # as _get, inlined: 20,000 users have 150,000 fields
            if not isinstance(value, dict):
                value = None
                break
            value = value.get(part)
        if value is None:
            value = default
        elif isinstance(value, list | dict):
            value = _plain(value)
        fields[name] = value
    return Resource(kind.name, key, fields, _secrets_of(kind, key, secrets), mark)


def _connection_secrets(secrets: dict[str, Secret]) -> dict[str, Secret]:
    return {
        name.removeprefix("connection."): value
        for name, value in secrets.items()
        if name.startswith("connection.")
    }


def _certificate_fields(certificate: DesiredCertificate, check, cert_type) -> None:
    """What the certificate holds, as the certificate's fields (read on every run)."""
    certificate.path = check.path if check else None
    certificate.info = check.info if check else None
    certificate.fields["type"] = cert_type
    if certificate.info:
        certificate.fields.update(
            trade_name=certificate.info.trade_name,
            representative_name=certificate.info.representative_name,
            address=certificate.info.address,
            expiry_date=certificate.info.expiry_date.isoformat(),
        )


def certificate_as_written(validation: Validation) -> tuple[dict, object] | None:
    """The certificate's fields as the manifests give them (before what the certificate holds
    is added) and its declared type: what the cache of validated trees keeps of it."""
    merged = validation.merged
    cert = merged.get("certificate") if merged is not None else None
    if not isinstance(cert, dict):
        return None
    return _resource(kinds.CERTIFICATE, "", cert, {}, None).fields, cert.get("type")


_GROUPS = (
    ("sites", kinds.SITE),
    ("batch_accounts", kinds.BATCH_ACCOUNT),
    ("kei_batch_accounts", kinds.KEI_BATCH_ACCOUNT),
    ("users", kinds.USER),
    ("admins", kinds.ADMIN),
)


def complete(desired: DesiredState, validation: Validation) -> DesiredState:
    """A desired state kept without its secrets (by the cache of validated trees), given this
    run's: each resource's secrets as :func:`build` gives them, and what the certificate holds
    (it was opened again, with its password). ``validation.ok`` must be true."""
    if not validation.ok:
        raise ValueError("complete() needs manifests without errors")
    secrets = validation.secrets
    get = secrets.get
    for group, kind in _GROUPS:
        names = _secret_names(kind)
        if not names:
            continue
        # as _secrets_of, inlined (20,000 users): the prefix around the key, joined by an
        # f-string as str.format joins it, a single secret field looked up at once
        before, _key, after = _PREFIXES[kind.name].partition("{key}")
        if len(names) == 1:
            ((name, end),) = names
            after += end
            for key, resource in getattr(desired, group).items():
                value = get(f"{before}{key}{after}")
                resource.secrets = {} if value is None else {name: value}
            continue
        for key, resource in getattr(desired, group).items():
            prefix = f"{before}{key}{after}"
            found = {}
            for name, end in names:
                value = get(prefix + end)
                if value is not None:
                    found[name] = value
            resource.secrets = found
    singles = ((desired.organization, kinds.ORGANIZATION), (desired.certificate, kinds.CERTIFICATE))
    for resource, its_kind in singles:
        if resource is not None:
            resource.secrets = _secrets_of(its_kind, "", secrets)
    if desired.certificate is not None:
        check = validation.certificate
        _certificate_fields(desired.certificate, check, desired.certificate.fields.get("type"))
    desired.connection_secrets = _connection_secrets(secrets)
    return desired


def build(validation: Validation) -> DesiredState:
    """The desired state of valid manifests (``validation.ok`` must be true)."""
    if not validation.ok or validation.merged is None:
        raise ValueError("build() needs manifests without errors")
    merged = validation.merged
    secrets = validation.secrets
    org = merged["organization"]
    organization = _resource(kinds.ORGANIZATION, "", org, secrets, mark_of(merged, "organization"))
    certificate = None
    cert = merged.get("certificate")
    if isinstance(cert, dict):
        base = _resource(kinds.CERTIFICATE, "", cert, secrets, mark_of(merged, "certificate"))
        certificate = DesiredCertificate(base.kind, base.key, base.fields, base.secrets, base.mark)
        _certificate_fields(certificate, validation.certificate, cert.get("type"))
    sites: dict[str, Resource] = {}
    batch: dict[str, Resource] = {}
    kei_batch: dict[str, Resource] = {}
    site_nodes = merged.get("sites") or {}
    for handle, node in site_nodes.items():
        mark = mark_of(site_nodes, handle)
        sites[handle] = _resource(kinds.SITE, handle, node, secrets, mark)
        account = _get(node, "registered.batch_account")
        if isinstance(account, dict):
            batch[handle] = _resource(
                kinds.BATCH_ACCOUNT,
                handle,
                account,
                secrets,
                mark_of(node["registered"], "batch_account"),
            )
        account = _get(node, "kei.batch_account")
        if isinstance(account, dict):
            kei_batch[handle] = _resource(
                kinds.KEI_BATCH_ACCOUNT,
                handle,
                account,
                secrets,
                mark_of(node["kei"], "batch_account"),
            )
    users: dict[str, Resource] = {}
    user_nodes = merged.get("users") or {}
    for login_id, node in user_nodes.items():
        users[login_id] = _resource(
            kinds.USER, login_id, node, secrets, mark_of(user_nodes, login_id)
        )
    admins: dict[str, Resource] = {}
    admin_nodes = merged.get("admins") or {}
    for login_id, node in admin_nodes.items():
        admins[login_id] = _resource(
            kinds.ADMIN,
            login_id,
            node or {},
            secrets,
            mark_of(admin_nodes, login_id),
        )
    policy_node = merged.get("policy") or {}
    policy = Policy(**{k: v for k, v in policy_node.items() if k in Policy.__dataclass_fields__})
    connection = _plain(merged.get("connection") or {})
    connection_secrets = _connection_secrets(secrets)
    return DesiredState(
        organization_expect=_plain(org.get("expect") or {}),
        moved=[(str(m["from"]), str(m["to"])) for m in merged.get("moved") or []],
        organization_id=str(org["id"]),
        organization=organization,
        certificate=certificate,
        sites=sites,
        batch_accounts=batch,
        kei_batch_accounts=kei_batch,
        users=users,
        admins=admins,
        policy=policy,
        connection=connection,
        connection_secrets=connection_secrets,
        connection_dir=(
            validation.origin["connection"].directory if "connection" in validation.origin else None
        ),
    )
