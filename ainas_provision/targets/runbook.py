"""The ``runbook:`` target: AINAS as the state records it, for a plan a person carries out.

The tool cannot read AINAS here: a person types the steps in, and confirms each one. What is
*current* is therefore what the state records as done — the sites it binds (with the fields a
person confirmed), the batch accounts and users it records, the certificate it registered — so
that ``plan --target runbook:`` compares the manifests with that, and the diff, the guard rails
and the saved plans work as for any target.

Where the state knows a resource but not its fields (an ``apply`` to a machine target made it),
the manifests' values are taken as current: nothing contradicts them, and the plan says so
(:data:`CANNOT_READ`). The organization and the admins are the association's and cannot be
compared either: they are taken as the manifests state them.

This backend only reads. Its ``create``, ``update`` and ``delete`` refuse: a runbook's changes
are made by a person, and recorded by :mod:`ainas_provision.runbook.session`.
"""

from __future__ import annotations

from collections.abc import Collection

from ainas_provision.domain import kinds
from ainas_provision.domain.desired import DesiredState
from ainas_provision.i18n import N_
from ainas_provision.state.model import State
from ainas_provision.targets.base import BackendError, CurrentState, LiveResource, Session

CANNOT_READ = N_(
    "the runbook target cannot read AINAS: this plan compares the manifests with what the state "
    "records as done by people (and by earlier applies); the organization and the admins are "
    "taken as the manifests state them"
)


def recorded(state: State, address: str) -> dict | None:
    """The fields a person confirmed for the resource at ``address`` (``site.akihabara``,
    ``batch_account.akihabara``, ``user.dairi001``, ``certificate``), as the runbook recorded
    them in the state's ``runbook`` section; None when no person confirmed it."""
    book = state.runbook or {}
    entry = (book.get("recorded") or {}).get(address) or {}
    fields = entry.get("fields")
    return dict(fields) if isinstance(fields, dict) else None


class RunbookBackend:
    description = "the runbook (a person at AINAS)"

    def __init__(self, state: State, desired: DesiredState) -> None:
        self.state = state
        self.desired = desired

    def session(self) -> Session:
        # the tool logs in nowhere: the person at AINAS does, as an admin (the guide's setup)
        return Session("", kinds.ADMIN_ROLE)

    def organization_id(self) -> str:
        return self.desired.organization_id

    def read(self, *, sites: Collection[str] | None = None) -> CurrentState:
        desired, state = self.desired, self.state
        org = {k: v for k, v in desired.organization.fields.items() if v is not None}
        current = CurrentState(LiveResource("organization", desired.organization_id, org))
        cert = state.certificate
        if cert and cert.get("fingerprint"):
            fields = recorded(state, "certificate")
            if fields is None and desired.certificate is not None:
                fields = {n: desired.certificate.fields.get(n) for n in kinds.CERTIFICATE_TYPED}
            current.certificates.append(
                LiveResource(
                    "certificate",
                    str(cert.get("id") or ""),
                    {
                        **(fields or {}),
                        "fingerprint": cert["fingerprint"],
                        "expiry_date": cert.get("expiry_date"),
                    },
                )
            )
        for handle in state.sites:
            site_id = state.site_id(handle)
            if sites is not None and site_id not in sites:
                continue
            wanted = desired.sites.get(handle)
            fields = recorded(state, f"site.{handle}")
            if fields is None:
                fields = dict(wanted.fields) if wanted else {"name": handle}
            current.sites[site_id] = LiveResource("site", site_id, fields)
            prints = state.fingerprints("sites", handle)
            for kind in kinds.BATCH_ACCOUNTS:
                fields = recorded(state, f"{kind.name}.{handle}")
                if fields is None and any(name.startswith(f"{kind.name}.") for name in prints):
                    group = getattr(desired, kind.group)
                    fields = dict(group[handle].fields) if handle in group else {}
                if fields is not None:
                    getattr(current, kind.group)[site_id] = LiveResource(kind.name, site_id, fields)
        for login_id in state.users:
            fields = recorded(state, f"user.{login_id}")
            wanted = desired.users.get(login_id)
            if fields is None:
                fields = dict(wanted.fields) if wanted else {"name": login_id, "role": None}
            handle = fields.pop("site", None)
            fields["site_id"] = state.site_id(handle) if handle else None
            if sites is not None and fields["site_id"] not in sites:
                continue
            current.users[login_id] = LiveResource("user", login_id, fields)
        for login_id, admin in desired.admins.items():
            current.users.setdefault(
                login_id,
                LiveResource(
                    "user",
                    login_id,
                    {"name": admin.fields.get("name"), "role": kinds.ADMIN_ROLE, "site_id": None},
                ),
            )
        current.scope = sorted(sites) if sites is not None else None
        return current

    def _refuse(self, *args, **kwargs):
        raise BackendError(
            "runbook",
            "the runbook target is carried out by a person: run `ainas-provision runbook` (or "
            "`apply --target runbook:`), which shows the steps and records what is confirmed",
        )

    create = update = delete = _refuse

    def close(self) -> None:
        pass
