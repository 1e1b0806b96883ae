"""The state: what the tool knows that AINAS does not show.

It binds site handles to 拠点IDs, remembers which sites and users the tool manages, keeps keyed
fingerprints of the write-only secrets it wrote, and carries a lineage and a serial that saved
plans are checked against. It never holds a secret value, nor anything from which one could be
guessed without the fingerprint key (which lives outside the state).

The state changes only by :data:`Record`\\ s — :class:`Put` or :class:`Remove` of one entry —
which a store makes durable one by one during an apply (see :mod:`.protocols`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

FORMAT_VERSION = 1

Section = Literal["target", "key_check", "certificate", "runbook", "sites", "users"]
SINGLE: tuple[Section, ...] = ("target", "key_check", "certificate", "runbook")
TABLES: tuple[Section, ...] = ("sites", "users")


class StateFormatError(ValueError):
    """A state file this version cannot read."""


@dataclass(frozen=True)
class SiteEntry:
    """A managed site: its 拠点ID and the fingerprints of its batch accounts' secrets
    (``batch_account.batch_password`` …)."""

    site_id: str
    fingerprints: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"site_id": self.site_id, "fingerprints": dict(sorted(self.fingerprints.items()))}

    @classmethod
    def from_json(cls, data: object) -> SiteEntry:
        if not isinstance(data, dict) or not isinstance(data.get("site_id"), str):
            raise StateFormatError(f"a site entry needs a site_id: {data!r}")
        return cls(data["site_id"], _prints(data.get("fingerprints")))


@dataclass(frozen=True)
class UserEntry:
    """A managed user: the fingerprints of the secrets the tool wrote for it."""

    fingerprints: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"fingerprints": dict(sorted(self.fingerprints.items()))}

    @classmethod
    def from_json(cls, data: object) -> UserEntry:
        if not isinstance(data, dict):
            raise StateFormatError(f"a user entry is a mapping: {data!r}")
        return cls(_prints(data.get("fingerprints")))


def _prints(data: object) -> dict[str, str]:
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise StateFormatError(f"fingerprints are a mapping of strings: {data!r}")
    return dict(data)


_ENTRY = {"sites": SiteEntry, "users": UserEntry}


def entry_from_json(section: str, data: object, key: object = "?") -> SiteEntry | UserEntry:
    """A site or user entry as a store wrote it (``to_json``); a malformed one is named."""
    if section not in _ENTRY:
        raise StateFormatError(f"unknown state section {section!r}")
    check_entry(section, key, data)
    return _ENTRY[section].from_json(data)


@dataclass(frozen=True)
class Put:
    """Set one entry: a site (``SiteEntry``), a user (``UserEntry``), or the single values
    ``target`` (the identity dict), ``key_check`` (a string), ``certificate`` (a dict)."""

    section: Section
    key: str | None
    value: object

    def to_json(self) -> dict:
        value = self.value.to_json() if hasattr(self.value, "to_json") else self.value
        return {"op": "set", "section": self.section, "key": self.key, "value": value}


@dataclass(frozen=True)
class Remove:
    """Remove one entry (or clear a single value)."""

    section: Section
    key: str | None

    def to_json(self) -> dict:
        return {"op": "delete", "section": self.section, "key": self.key}


Record = Put | Remove


def record_from_json(data: object) -> Record:
    """A record as a store wrote it (:meth:`Put.to_json`, :meth:`Remove.to_json`)."""
    if not isinstance(data, dict):
        raise StateFormatError(f"a state record is a mapping: {data!r}")
    op, section, key = data.get("op"), data.get("section"), data.get("key")
    if section not in SINGLE + TABLES:
        raise StateFormatError(f"unknown state section {section!r}")
    if section in TABLES and not isinstance(key, str):
        raise StateFormatError(f"a {section} record needs a key: {data!r}")
    if op == "delete":
        return Remove(section, key)
    if op != "set":
        raise StateFormatError(f"unknown state record {op!r}")
    value = data.get("value")
    if section in TABLES:
        check_entry(section, key, value)
        value = _ENTRY[section].from_json(value)
    return Put(section, key, copy.deepcopy(value))


@dataclass
class State:
    """What the tool remembers of a tenant (see the module)."""

    lineage: str = ""  # given by the first apply that writes the state
    serial: int = 0
    target: dict | None = None  # {"kind", "organization_id", "location"}
    key_check: str | None = None  # proves which fingerprint key made the fingerprints
    certificate: dict | None = None  # {"id", "fingerprint", "expiry_date"} of the one in force
    sites: dict[str, SiteEntry] = field(default_factory=dict)  # handle -> its 拠点ID, prints
    users: dict[str, UserEntry] = field(default_factory=dict)  # login ID -> prints
    # the runbook in progress: {"plan", "from_serial", "serial", "steps": {address: {...}}}
    runbook: dict | None = None

    # -- reading -------------------------------------------------------------------------
    def site_id(self, handle: str) -> str | None:
        entry = self.sites.get(handle)
        return entry.site_id if entry else None

    def handle_of(self, site_id: str) -> str | None:
        for handle, entry in self.sites.items():
            if entry.site_id == site_id:
                return handle
        return None

    def fingerprints(self, section: str, key: str) -> dict[str, str]:
        entry = getattr(self, section).get(key)
        return dict(entry.fingerprints) if entry else {}

    # -- changing (every change is also a durable record; see protocols.py) ----------------
    def apply(self, record: Record) -> None:
        """Apply one record."""
        section = record.section
        if section in SINGLE:
            value = None if isinstance(record, Remove) else copy.deepcopy(record.value)
            setattr(self, section, value)
            return
        if section not in TABLES:
            raise StateFormatError(f"unknown state section {section!r}")
        table = getattr(self, section)
        if isinstance(record, Remove):
            table.pop(record.key, None)
        else:
            if not isinstance(record.value, _ENTRY[section]):
                raise StateFormatError(f"a {section} entry must be a {_ENTRY[section].__name__}")
            table[record.key] = record.value

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
            "sites": {k: v.to_json() for k, v in sorted(self.sites.items())},
            "users": {k: v.to_json() for k, v in sorted(self.users.items())},
            **({"runbook": self.runbook} if self.runbook is not None else {}),
        }

    @classmethod
    def from_json(cls, data: dict) -> State:
        """The state a store decoded (``data`` is the state's to keep: its entries' mappings
        are taken as they are, not copied)."""
        if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
            raise StateFormatError(
                f"format_version {data.get('format_version') if isinstance(data, dict) else None!r}"
                f" is not {FORMAT_VERSION}"
            )
        try:
            sites = data.get("sites") or {}
            users = data.get("users") or {}
            if not isinstance(sites, dict) or not isinstance(users, dict):
                raise TypeError("sites and users are mappings")
            return cls(
                lineage=str(data["lineage"]),
                serial=int(data["serial"]),
                target=data.get("target"),
                key_check=data.get("key_check"),
                certificate=data.get("certificate"),
                sites=_sites_from_json(sites),
                users=_users_from_json(users),
                runbook=data.get("runbook"),
            )
        except StateFormatError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise StateFormatError(f"missing or malformed field: {exc}") from None


# A state holds an entry for each managed site and user (21,000 at 20,000 users), read at every
# plan: an entry as this version writes it is taken at once; any other goes through
# entry_from_json, which names what is wrong with it. The tables are the decoder's own, fresh
# from the file (State.from_json's data is given, not lent): an entry keeps its fingerprints'
# mapping as decoded, not a copy.


def _text_pairs(prints: object) -> bool:
    """``prints`` is a mapping of text to text (an entry's fingerprints as this version writes
    them)."""
    if type(prints) is not dict:
        return False
    for name, value in prints.items():
        if type(name) is not str or type(value) is not str:
            return False
    return True


def _sites_from_json(table: dict) -> dict[str, SiteEntry]:
    out = {}
    for key, data in table.items():
        if type(key) is str and type(data) is dict and type(data.get("site_id")) is str:
            prints = data.get("fingerprints")
            if _text_pairs(prints):
                out[key] = SiteEntry(data["site_id"], prints)
                continue
        out[key] = entry_from_json("sites", data, key)
    return out


def _users_from_json(table: dict) -> dict[str, UserEntry]:
    # 20,000 entries: the test of _text_pairs written out in the loop (no call per entry)
    out = {}
    for key, data in table.items():
        if type(key) is str and type(data) is dict:
            prints = data.get("fingerprints")
            if type(prints) is dict:
                for name, value in prints.items():
                    if type(name) is not str or type(value) is not str:
                        break
                else:
                    out[key] = UserEntry(prints)
                    continue
        out[key] = entry_from_json("users", data, key)
    return out


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
