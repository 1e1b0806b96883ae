"""Checking a large manifest directory against the schema on a second core.

Loading (YAML with a mark for every value) and JSON Schema validation are the two slow steps of
validating hundreds of files. On a system with ``fork``, they run side by side: a forked child
reads the plain YAML files on its own — without marks, which is faster — checks them against the
schema, and reports back only *which* files have problems; meanwhile the parent loads every file
with its marks. The parent then explains the files the child found wrong (rare, and their
messages need the marks), and checks itself whatever the child did not (templates, or all files
if the child failed in any way): the result never depends on the speed-up.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import yaml

from ainas_provision import schema as manifest_schema
from ainas_provision.diagnostics import Diagnostic
from ainas_provision.manifest.loader import MANIFEST_SUFFIXES, Document
from ainas_provision.manifest.yamlfile import ManifestLoader
from ainas_provision.validation.schema_errors import check_document

# below this many files, a second process costs more than it saves
MIN_FILES = 64
# The child reads its files again (without marks) before checking them, while the parent reads
# everything once and checks the rest: half of the bytes each about balances the two.
CHILD_SHARE = 0.6


def _can_fork() -> bool:
    return hasattr(os, "fork") and sys.platform.startswith("linux") and (os.cpu_count() or 1) > 1


def _weight(path: Path) -> int:
    """The work a file is: its lines (about one value each; bytes would overweigh Japanese)."""
    try:
        return path.read_bytes().count(b"\n") + 1
    except OSError:
        return 0


def _share(files: list[Path], share: float) -> list[Path]:
    """About ``share`` of the work of ``files``, large files first."""
    weights = {path: _weight(path) for path in files}
    total = sum(weights.values()) or 1
    taken, weight = [], 0
    for path in sorted(files, key=weights.__getitem__, reverse=True):
        if weight + weights[path] / 2 <= share * total:
            taken.append(path)
            weight += weights[path]
    return taken


def _check_plain(files: list[Path]) -> dict:
    """In the child: which files the schema accepts, read without marks."""
    validator = manifest_schema.validator()
    checked, invalid = [], []
    for path in files:
        key = str(path)
        try:
            loader = ManifestLoader(path.read_text(encoding="utf-8-sig"))
            try:
                data = loader.get_single_data()
            finally:
                loader.dispose()
        except (OSError, ValueError, yaml.YAMLError, RecursionError):
            continue  # the parent's own loading reports it
        checked.append(key)
        if not validator.is_valid(data):
            invalid.append(key)
    return {"checked": checked, "invalid": invalid}


class Precheck:
    """A child process checking plain YAML files while the parent loads them."""

    def __init__(self, files: list[Path]) -> None:
        self.pid = 0
        self.read_end = -1
        self.assigned: set[str] = set()
        plain = [f for f in files if f.name.endswith(MANIFEST_SUFFIXES)]
        if len(plain) < MIN_FILES or not _can_fork():
            return
        plain = _share(plain, CHILD_SHARE)
        manifest_schema.validator()  # built before the fork, for both processes
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(read_end)
                with os.fdopen(write_end, "w") as out:
                    json.dump(_check_plain(plain), out)
            finally:
                os._exit(0)
        os.close(write_end)
        self.pid, self.read_end = pid, read_end
        self.assigned = {str(f) for f in plain}

    def result(self) -> tuple[set[str], set[str]]:
        """(files checked, files with problems); both empty when there is no child."""
        if not self.pid:
            return set(), set()
        with os.fdopen(self.read_end) as pipe:
            answer = pipe.read()
        _, status = os.waitpid(self.pid, 0)
        self.pid = 0
        try:
            data = json.loads(answer) if status == 0 else {}
            return set(data["checked"]), set(data["invalid"])
        except (ValueError, KeyError, TypeError):
            return set(), set()


def check_documents(
    documents: list[Document], precheck: Precheck | None = None
) -> list[Diagnostic]:
    """Schema diagnostics for every document: the parent checks the files the child was not
    given, then the child's answer tells which of its files need explaining."""
    assigned = precheck.assigned if precheck is not None else set()
    out: list[Diagnostic] = []
    for doc in documents:
        if str(doc.path) not in assigned:
            out.extend(check_document(doc))
    if not assigned:
        return out
    checked, invalid = precheck.result()
    for doc in documents:
        key = str(doc.path)
        if key in assigned and (key in invalid or key not in checked):
            out.extend(check_document(doc))
    return out
