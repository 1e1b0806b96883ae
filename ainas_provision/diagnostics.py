"""Diagnostics: one problem, with its place, its rule and the value's path."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from ainas_provision.i18n import N_, _
from ainas_provision.manifest.marks import Mark


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


# the words printed for people (the JSON keeps the values above)
SEVERITY_WORDS = {Severity.ERROR: N_("error"), Severity.WARNING: N_("warning")}


@dataclass(frozen=True)
class Diagnostic:
    """A problem found in the manifests.

    ``path`` is the dotted path of the value (``sites.akihabara.registered.review_deadline``);
    ``rule`` is the stable rule ID shown with the message. The mark's ``note`` (e.g. the data row
    a template line was rendered from) is shown first among the notes.
    """

    mark: Mark | None
    message: str
    rule: str
    path: str = ""
    severity: Severity = Severity.ERROR
    notes: tuple[str, ...] = field(default=())

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def __str__(self) -> str:
        place = f"{self.mark}: " if self.mark else ""
        where = f" ({self.path})" if self.path else ""
        text = f"{place}{_(SEVERITY_WORDS[self.severity])}: {self.message} [{self.rule}]{where}"
        for note in self.all_notes:
            text += "\n    " + _("note: {note}").format(note=note)
        return text

    @property
    def all_notes(self) -> tuple[str, ...]:
        if self.mark is not None and self.mark.note:
            return (self.mark.note, *self.notes)
        return self.notes

    def as_json(self) -> dict:
        return {
            "severity": self.severity.value,
            "rule": self.rule,
            "message": self.message,
            "file": self.mark.file if self.mark else None,
            "line": self.mark.line if self.mark else None,
            "column": self.mark.col if self.mark else None,
            "path": self.path,
            "notes": list(self.all_notes),
        }

    def sort_key(self) -> tuple:
        if self.mark is None:
            return ("", 0, 0, self.rule)
        return (self.mark.file, self.mark.line, self.mark.col, self.rule)


def dotted(path) -> str:
    """``("sites", "akihabara", "name")`` -> ``sites.akihabara.name``; list indexes as ``[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out
