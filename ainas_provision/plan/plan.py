"""The plan: what will change, what a reviewer should know, and whether it may be applied.

Guard rails live here, checked before anything is sent: a plan with errors (a write-once field
changed, an ambiguous adoption, a change the acting user may not make) is refused; a plan with
more deletions than ``policy.max_deletes`` is refused unless ``--allow-deletes N`` allows them.
A saved plan records the state's lineage and serial and digests of the target and of the
manifests, so that applying it later is refused when anything moved.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

from ainas_provision.errors import AinasProvisionError
from ainas_provision.plan.changes import Change, Note

FORMAT_VERSION = 1


class PlanRefused(AinasProvisionError):
    """The plan cannot be applied; the message says why and what to do."""


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    target: dict = field(default_factory=dict)  # {"kind", "description", "organization_id"}
    lineage: str = ""
    serial: int = 0
    target_digest: str = ""
    manifest_digest: str = ""
    key_check: str | None = None
    max_deletes: int = 0
    scope: list[str] | None = None  # site handles, when limited with --site
    created_at: str = field(
        default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    )
    # set when the plan could not look past a first step (a forced password change)
    incomplete: str | None = None
    # state entries of managed resources that no longer exist in AINAS: dropped on apply
    forget: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.changes.sort()

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    @property
    def deletions(self) -> list[Change]:
        return [c for c in self.changes if c.is_deletion]

    def counts(self) -> dict[str, int]:
        counts = {"add": 0, "change": 0, "replace": 0, "destroy": 0, "adopt": 0}
        for change in self.changes:
            if change.action in ("create", "renew"):
                counts["add"] += 1
            elif change.action == "update":
                counts["change"] += 1
            elif change.action == "replace":
                counts["replace"] += 1
            elif change.action == "delete":
                counts["destroy"] += 1
            elif change.action == "adopt":
                counts["adopt"] += 1
        return counts

    def raise_if_unsafe(self, allow_deletes: int | None = None) -> None:
        """Refuse a plan with errors, or with more deletions than allowed."""
        if self.errors:
            raise PlanRefused(
                "the plan cannot be applied:\n"
                + "\n".join(f"  - {error}" for error in self.errors)
                + "\nnothing was changed"
            )
        limit = self.max_deletes if allow_deletes is None else allow_deletes
        deletions = self.deletions
        if len(deletions) > limit:
            listed = ", ".join(c.address for c in deletions[:10])
            more = f" and {len(deletions) - 10} more" if len(deletions) > 10 else ""
            raise PlanRefused(
                f"the plan deletes {len(deletions)} resource{'s' if len(deletions) > 1 else ''} "
                f"({listed}{more}), more than policy.max_deletes ({self.max_deletes}) allows; "
                f"review them, then run again with --allow-deletes {len(deletions)}"
            )

    # -- the saved form --------------------------------------------------------------------
    def to_json(self) -> dict:
        return {
            "format_version": FORMAT_VERSION,
            "created_at": self.created_at,
            "target": self.target,
            "state": {"lineage": self.lineage, "serial": self.serial, "key_check": self.key_check},
            "target_digest": self.target_digest,
            "manifest_digest": self.manifest_digest,
            "max_deletes": self.max_deletes,
            "scope": self.scope,
            "incomplete": self.incomplete,
            "forget": [list(item) for item in self.forget],
            "summary": self.counts(),
            "changes": [c.to_json() for c in self.changes],
            "notes": [n.to_json() for n in self.notes],
            "errors": list(self.errors),
        }

    @classmethod
    def from_json(cls, data: dict) -> Plan:
        if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
            raise ValueError("not a plan file of this version")
        state = data.get("state") or {}
        return cls(
            changes=[Change.from_json(c) for c in data.get("changes", [])],
            notes=[Note.from_json(n) for n in data.get("notes", [])],
            errors=list(data.get("errors", [])),
            target=dict(data.get("target") or {}),
            lineage=state.get("lineage", ""),
            serial=int(state.get("serial", 0)),
            key_check=state.get("key_check"),
            target_digest=data.get("target_digest", ""),
            manifest_digest=data.get("manifest_digest", ""),
            max_deletes=int(data.get("max_deletes", 0)),
            scope=data.get("scope"),
            created_at=data.get("created_at", ""),
            incomplete=data.get("incomplete"),
            forget=[tuple(item) for item in data.get("forget", [])],
        )

    def save(self, path: Path) -> None:
        from ainas_provision.state.store import write_atomically

        write_atomically(path, json.dumps(self.to_json(), ensure_ascii=False, indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> Plan:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls.from_json(data)
        except FileNotFoundError:
            raise AinasProvisionError(f"no such plan file: {path}") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise AinasProvisionError(
                f"{path} is not a plan saved by `ainas-provision plan --out` ({exc})"
            ) from None
