"""The desired state: what the manifests say AINAS should hold, as resources.

Built from a validation that found no errors. Each resource is a flat mapping of its fields
(names as in :mod:`ainas_provision.domain.kinds`) plus its secrets, which stay :class:`Secret`
objects until a backend sends them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from ainas_provision.certs.info import CertificateInfo
from ainas_provision.domain.kinds import KINDS
from ainas_provision.manifest.marks import Mark
from ainas_provision.secrets.values import Secret


class _Place:
    """A resource's ``mark``: a :class:`Mark` (or None), which may also be given as the plain
    ``(file, line, column, note)`` the cache of validated trees keeps, made a Mark when it is
    first read. A kept tree of 20,000 users has 23,000 places, and a plan reads one only to
    report a problem with that resource: building them all cost more than the rest of the
    resources. (A dataclass field whose default is a descriptor: ``__init__`` assigns
    through ``__set__``, the default is ``__get__(None, …)``.)"""

    def __get__(self, resource: Resource | None, owner=None) -> Mark | None:
        if resource is None:
            return None  # the field's default
        place = resource._mark
        if place.__class__ is tuple:
            place = resource._mark = Mark(*place)
        return place

    def __set__(self, resource: Resource, place: Mark | tuple | None) -> None:
        resource._mark = place


@dataclass
class Resource:
    """One resource the manifests ask for: its kind, its key, its fields and its secrets."""

    kind: str
    key: str
    fields: dict[str, object]
    secrets: dict[str, Secret] = field(default_factory=dict)
    mark: Mark | None = _Place()  # a descriptor: see _Place

    @property
    def address(self) -> str:
        return f"{self.kind}.{self.key}" if self.key else self.kind

    @property
    def title(self) -> str:
        """A person's name for it: the site's or user's name, the certificate's holder."""
        for name in ("name", "trade_name"):
            value = self.fields.get(name)
            if isinstance(value, str):
                return value
        return ""


@dataclass(frozen=True)
class Policy:
    """What the plan reads of ``policy`` (plain-text secrets are validation's, read from the
    manifests there)."""

    prune: bool = False
    max_deletes: int = 0
    # the days ahead of expiry the plan warns of (a renewal, the APIアカウント, the client
    # certificate); validation reads the same setting for the signing certificate
    cert_expiry_warning_days: int = 60


@dataclass
class DesiredCertificate(Resource):
    """The signing certificate the manifests name: its file and what was read from it."""

    path: Path | None = None
    info: CertificateInfo | None = None


@dataclass
class DesiredState:
    """Everything the manifests ask AINAS to hold, by kind, with the policy that guards it."""

    organization_id: str
    organization: Resource
    certificate: DesiredCertificate | None
    sites: dict[str, Resource]
    batch_accounts: dict[str, Resource]
    kei_batch_accounts: dict[str, Resource]
    users: dict[str, Resource]
    admins: dict[str, Resource]
    policy: Policy
    connection: dict[str, object] = field(default_factory=dict)
    connection_secrets: dict[str, Secret] = field(default_factory=dict)
    # the directory of the manifest that defines `connection`: its file paths are relative to it
    connection_dir: Path | None = None
    # organization.expect: the 代理人ステータス and 申請可否 the plan asserts (the association's)
    organization_expect: dict = field(default_factory=dict)
    # moved: [(site.OLD, site.NEW)]: renamed handles whose state binding moves with them
    moved: list[tuple[str, str]] = field(default_factory=list)
    # the digest, once known for this very state (the cache of validated trees keeps it with
    # the state: the 20,000 resources of a large tree are not serialized again on every run)
    known_digest: str | None = field(default=None, repr=False, compare=False)

    @classmethod
    def empty(cls, organization_id: str) -> DesiredState:
        """Nothing desired: what opening a target needs when there are no manifests (import)."""
        organization = Resource("organization", "", {})
        return cls(organization_id, organization, None, {}, {}, {}, {}, {}, Policy())

    def resource(self, kind: str, key: str) -> Resource | None:
        """The manifests' resource of ``kind`` (a name of ``kinds.KINDS``) and ``key``: by its
        handle in the kind's group, or the one of the tenant (the certificate); None when the
        manifests describe none (a change's payload is then all there is)."""
        spec = KINDS[kind]
        if spec.group is not None:
            return getattr(self, spec.group).get(key)
        return getattr(self, spec.single) if spec.single else None

    def resources(self) -> list[Resource]:
        out: list[Resource] = [self.organization]
        if self.certificate:
            out.append(self.certificate)
        for group in (
            self.sites,
            self.batch_accounts,
            self.kei_batch_accounts,
            self.users,
            self.admins,
        ):
            out.extend(group.values())
        return out

    def digest(self) -> str:
        """A digest of everything the manifests ask for except secret values (which saved
        plans check through fingerprints): it changes when the manifests do."""
        if self.known_digest is not None:
            return self.known_digest
        body = [[r.address, r.fields, sorted(r.secrets)] for r in self.resources()]
        if self.organization_expect:
            body.append(["organization.expect", self.organization_expect])
        if self.moved:
            body.append(["moved", self.moved])
        if self.certificate and self.certificate.info:
            body.append(["certificate.fingerprint", self.certificate.info.fingerprint_sha256])
        text = json.dumps(body, ensure_ascii=False, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()
