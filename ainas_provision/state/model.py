"""The state: what the tool knows that AINAS does not show.

It binds site handles to 拠点IDs, remembers which sites and users the tool manages, keeps keyed
fingerprints of the write-only secrets it wrote, and carries a lineage and a serial that saved
plans are checked against. It never holds a secret value, nor anything from which one could be
guessed without the fingerprint key (which lives outside the state).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

FORMAT_VERSION = 1


class StateFormatError(ValueError):
    """A state file this version cannot read."""


@dataclass
class State:
    lineage: str = ""  # given by the first apply that writes the state
    serial: int = 0
    target: dict | None = None  # {"kind", "organization_id", "location"}
    key_check: str | None = None  # proves which fingerprint key made the fingerprints
    certificate: dict | None = (
        None  # {"id", "fingerprint", "expiry_date"} of the registration in force
    )
    sites: dict[str, dict] = field(default_factory=dict)  # handle -> {"site_id", "fingerprints"}
    users: dict[str, dict] = field(default_factory=dict)  # login ID -> {"fingerprints"}
    # the runbook in progress: {"plan", "from_serial", "serial", "steps": {address: {...}}}
    runbook: dict | None = None

    # -- reading -------------------------------------------------------------------------
    def site_id(self, handle: str) -> str | None:
        entry = self.sites.get(handle)
        return entry["site_id"] if entry else None

    def handle_of(self, site_id: str) -> str | None:
        for handle, entry in self.sites.items():
            if entry["site_id"] == site_id:
                return handle
        return None

    def fingerprints(self, section: str, key: str) -> dict[str, str]:
        entry = getattr(self, section).get(key)
        return dict(entry.get("fingerprints", {})) if entry else {}

    # -- changing (every change is also a journal record; see store.py) --------------------
    def apply(self, record: dict) -> None:
        """Apply one journal record: ``{"op": "set"|"delete", "section", "key", "value"}``."""
        op, section = record["op"], record["section"]
        if section in ("target", "key_check", "certificate", "runbook"):
            setattr(self, section, None if op == "delete" else copy.deepcopy(record["value"]))
            return
        if section not in ("sites", "users"):
            raise StateFormatError(f"unknown state section {section!r}")
        table = getattr(self, section)
        if op == "delete":
            table.pop(record["key"], None)
        else:
            check_entry(section, record["key"], record["value"])
            table[record["key"]] = copy.deepcopy(record["value"])

    def copy(self) -> State:
        return copy.deepcopy(self)

    # -- the file form ---------------------------------------------------------------------
    def to_json(self) -> dict:
        return {
            "format_version": FORMAT_VERSION,
            "lineage": self.lineage,
            "serial": self.serial,
            "target": self.target,
            "key_check": self.key_check,
            "certificate": self.certificate,
            "sites": dict(sorted(self.sites.items())),
            "users": dict(sorted(self.users.items())),
            **({"runbook": self.runbook} if self.runbook is not None else {}),
        }

    @classmethod
    def from_json(cls, data: dict) -> State:
        if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
            raise StateFormatError(
                f"format_version {data.get('format_version') if isinstance(data, dict) else None!r}"
                f" is not {FORMAT_VERSION}"
            )
        try:
            state = cls(
                lineage=str(data["lineage"]),
                serial=int(data["serial"]),
                target=data.get("target"),
                key_check=data.get("key_check"),
                certificate=data.get("certificate"),
                sites=dict(data.get("sites") or {}),
                users=dict(data.get("users") or {}),
                runbook=data.get("runbook"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StateFormatError(f"missing or malformed field: {exc}") from None
        for section in ("sites", "users"):
            for key, entry in getattr(state, section).items():
                check_entry(section, key, entry)
        return state


def check_entry(section: str, key: object, entry: object) -> None:
    """An entry of ``sites`` (``{"site_id": "…", "fingerprints": {name: "…"}}``) or ``users``
    (``{"fingerprints": {…}}``) as this version writes it; else a :class:`StateFormatError`
    naming the entry, so that a hand-edited state is reported, not crashed on."""
    where = f"{section}.{key}"
    if not isinstance(key, str) or not isinstance(entry, dict):
        raise StateFormatError(f"{where} is {_json_type(entry)}, not an entry of the state")
    if section == "sites" and not isinstance(entry.get("site_id"), str):
        raise StateFormatError(
            f"{where}.site_id is {_json_type(entry.get('site_id'))}, not a 拠点ID"
        )
    fingerprints = entry.get("fingerprints", {})
    if not isinstance(fingerprints, dict) or not all(
        isinstance(name, str) and isinstance(value, str) for name, value in fingerprints.items()
    ):
        raise StateFormatError(
            f"{where}.fingerprints is {_json_type(fingerprints)}, not a mapping of field names "
            "to fingerprints"
        )


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "a string" if isinstance(value, str) else type(value).__name__
