"""Editing what the state manages without touching AINAS: list, move (rename), remove.

Terraform users reach for ``state list``, ``state mv`` and ``state rm``; the manifests' ``moved:``
section is ``state mv`` reviewed in a pull request. Addresses are the plan's: ``site.HANDLE``,
``user.LOGIN_ID``, ``certificate``.

A move keeps a site's 拠点ID, so that renaming a handle no longer deletes the live 代理人拠点 and
creates another (a new 拠点ID, its batch accounts registered twice). The one subtlety is the
fingerprints of write-only secrets: each is keyed by its resource's address, so a fingerprint made
for ``batch_account.old`` says nothing about ``batch_account.new``. A move therefore re-keys each
fingerprint whose value it can confirm (the manifests' secret, checked against the old
fingerprint) and drops the others — the next plan then reports those values as never written by
the tool, instead of planning a change of a write-once password.

Users cannot be moved: in AINAS a user *is* its ログインID, so a user under another key is another
user. Every edit is a list of journal records (``State.apply``), written like an apply's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ainas_provision.domain.kinds import CERTIFICATE, KINDS, SITE, USER, Kind
from ainas_provision.errors import AinasProvisionError
from ainas_provision.i18n import _
from ainas_provision.state.model import Put, Record, Remove, SiteEntry, State

ADDRESSED = {kind.name: kind for kind in (SITE, USER)}  # what an edit addresses by key
# the state's fingerprint names of a site are "<kind>.<field>" (a batch account's), kept at the
# address "<kind>.<handle>"

# (fingerprint name, new handle) -> the manifests' secret value, or None when unknown
SecretLookup = Callable[[str, str], str | None]


class StateEditError(AinasProvisionError):
    """An edit the state cannot take (an unknown or taken address)."""


def parse(address: str) -> tuple[Kind, str | None]:
    """``site.akihabara`` -> (SITE, "akihabara"); ``certificate`` -> (CERTIFICATE, None)."""
    if address == CERTIFICATE.name:
        return CERTIFICATE, None
    name, _dot, key = address.partition(".")
    if name not in ADDRESSED or not key:
        raise StateEditError(
            _(
                "{address} is not a state address: give site.HANDLE, user.LOGIN_ID or certificate "
                "(`ainas-provision state list` shows them)"
            ).format(address=repr(address))
        )
    return ADDRESSED[name], key


def _section(kind: Kind) -> str:
    """The state section that remembers resources of ``kind`` (the certificate: its own)."""
    return kind.state_section or kind.single or kind.name


def addresses(state: State) -> list[tuple[str, str]]:
    """(address, what it is bound to) of everything the state manages, in plan order."""
    out: list[tuple[str, str]] = []
    if state.certificate:
        out.append(
            ("certificate", f"fingerprint {str(state.certificate.get('fingerprint'))[:16]}…")
        )
    out += [(f"site.{h}", f"拠点ID {e.site_id}") for h, e in sorted(state.sites.items())]
    out += [(f"user.{login}", "ログインID") for login in sorted(state.users)]
    return out


def _known(state: State, address: str) -> tuple[Kind, str | None]:
    kind, key = parse(address)
    present = (
        state.certificate is not None if key is None else key in getattr(state, _section(kind))
    )
    if not present:
        raise StateEditError(
            _("the state manages no {address} (`ainas-provision state list`)").format(
                address=address
            )
        )
    return kind, key


def move(
    state: State,
    old: str,
    new: str,
    fingerprint: Callable[[str, str, str], str] | None = None,
    secret: SecretLookup | None = None,
) -> tuple[list[Record], list[str]]:
    """The journal records that rename ``old`` to ``new`` (both ``site.…``), and the names of
    the fingerprints that could not be re-keyed (dropped)."""
    kind, old_key = _known(state, old)
    new_kind, new_key = parse(new)
    if not (kind.renamable and new_kind is kind):
        if kind.of_user or new_kind.of_user:
            raise StateEditError(
                _(
                    "{old} -> {new}: a user is its ログインID in AINAS — a user under another "
                    "ログインID is another user, so it cannot be moved; remove one and create the "
                    "other"
                ).format(old=old, new=new)
            )
        raise StateEditError(
            _("{old} -> {new}: only sites move (site.OLD site.NEW)").format(old=old, new=new)
        )
    if new_key in state.sites:
        raise StateEditError(
            _("{new} is already in the state (bound to 拠点ID {site_id}): remove it first").format(
                new=new, site_id=state.sites[new_key]["site_id"]
            )
        )
    entry = state.sites[old_key]
    kept, dropped = {}, []
    for name, value in sorted(entry.fingerprints.items()):
        owner_name, _dot, field = name.partition(".")
        owner = KINDS.get(owner_name)  # a batch account's secrets are its site's to keep
        plain = secret(name, new_key) if secret and owner and owner.is_batch_account else None
        if (
            plain is not None
            and fingerprint is not None
            and fingerprint(f"{owner_name}.{old_key}", field, plain) == value
        ):
            kept[name] = fingerprint(f"{owner_name}.{new_key}", field, plain)
        else:
            dropped.append(name)
    moved = SiteEntry(entry.site_id, kept)
    section = _section(kind)
    return [Remove(section, old_key), Put(section, new_key, moved)], dropped


def remove(state: State, address: str) -> list[Record]:
    """The records that stop managing ``address`` (AINAS keeps it)."""
    kind, key = _known(state, address)
    return [Remove(_section(kind), key)]


def secret_lookup(desired) -> SecretLookup:
    """Secret values of the manifests' batch accounts, by fingerprint name and handle."""

    def lookup(name: str, handle: str) -> str | None:
        kind, _dot, field = name.partition(".")
        spec = KINDS.get(kind)
        table: Mapping = getattr(desired, spec.group) if spec and spec.is_batch_account else {}
        resource = table.get(handle)
        value = resource.secrets.get(field) if resource is not None else None
        return value.reveal() if value is not None and hasattr(value, "reveal") else None

    return lookup
