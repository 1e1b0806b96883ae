"""Merging the sections of several manifest files into one manifest.

Single sections (``organization``, ``certificate``, ``policy``, ``connection``, ``vars``) may be
defined in one file only; keyed sections (``sites``, ``users``, ``admins``) merge by key, and the same
key in two files is an error naming both places. The merged tree keeps every original mark.
"""

from __future__ import annotations

from ainas_provision.diagnostics import Diagnostic
from ainas_provision.i18n import N_, _
from ainas_provision.manifest.loader import Document
from ainas_provision.manifest.marks import Mark, MarkedMap, key_mark_of, mark_of, set_raw

KEYED_SECTIONS = ("sites", "users", "admins")
_DEFINED_TWICE = {
    "sites": N_("site '{name}' is defined twice: here and at {first}; keep one definition"),
    "users": N_("user '{name}' is defined twice: here and at {first}; keep one definition"),
    "admins": N_("admin '{name}' is defined twice: here and at {first}; keep one definition"),
}


def merge(documents: list[Document]) -> tuple[MarkedMap, dict[str, Document], list[Diagnostic]]:
    """Merge documents. Returns the merged root, which document each section or keyed entry
    came from (``"sites.akihabara"`` -> its document), and the conflicts found."""
    first_mark = documents[0].root.mark if documents else Mark("<manifests>", 1, 1)
    merged = MarkedMap(first_mark)
    origin: dict[str, Document] = {}
    problems: list[Diagnostic] = []
    for doc in documents:
        root = doc.root
        for section, value in root.items():
            key_mark = key_mark_of(root, section)
            if section in KEYED_SECTIONS and isinstance(value, dict):
                target = merged.get(section)
                if target is None:
                    target = MarkedMap(mark_of(root, section))
                    merged[section] = target
                    merged.key_marks[section] = key_mark
                    merged.value_marks[section] = mark_of(root, section)
                for name, entry in value.items():
                    where = f"{section}.{name}"
                    entry_key_mark = key_mark_of(value, name)
                    if where in origin:
                        first = target.key_marks[name]
                        problems.append(
                            Diagnostic(
                                entry_key_mark,
                                _(_DEFINED_TWICE[section]).format(name=name, first=first),
                                "duplicate-definition",
                                where,
                            )
                        )
                        continue
                    origin[where] = doc
                    target[name] = entry
                    target.key_marks[name] = entry_key_mark
                    target.value_marks[name] = mark_of(value, name)
                    if name in value.raw:
                        set_raw(target, name, value.raw[name])
                continue
            if section == "version":
                # every file carries its own version; the merged manifest keeps the first
                if section not in merged:
                    merged[section] = value
                    merged.key_marks[section] = key_mark
                    merged.value_marks[section] = mark_of(root, section)
                continue
            if section in origin:
                first = merged.key_marks[section]
                problems.append(
                    Diagnostic(
                        key_mark,
                        _(
                            "section '{section}' is defined twice: here and at {first}; a "
                            "manifest has one — keep one of them"
                        ).format(section=section, first=first),
                        "duplicate-definition",
                        section,
                    )
                )
                continue
            origin[section] = doc
            merged[section] = value
            merged.key_marks[section] = key_mark
            merged.value_marks[section] = mark_of(root, section)
            if section in root.raw:
                set_raw(merged, section, root.raw[section])
    return merged, origin, problems
