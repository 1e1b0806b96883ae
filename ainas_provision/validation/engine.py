"""Validation, end to end: load, check each file against the schema, merge, run the rules across
values, resolve secrets. Every problem is collected; nothing stops at the first."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import ainas_provision.rules  # noqa: F401  (registers every rule)
from ainas_provision.diagnostics import Diagnostic
from ainas_provision.manifest.loader import Document, load_file, manifest_files
from ainas_provision.manifest.marks import Mark, MarkedMap
from ainas_provision.manifest.merge import merge
from ainas_provision.rules import certificate as certificate_rules
from ainas_provision.rules import references
from ainas_provision.rules.secrets import resolve_all
from ainas_provision.secrets.values import Secret
from ainas_provision.validation.schema_errors import check_document


@dataclass
class Validation:
    """What validation found, and what it built on the way."""

    path: Path
    documents: list[Document] = field(default_factory=list)
    merged: MarkedMap | None = None
    origin: dict[str, Document] = field(default_factory=dict)
    secrets: dict[str, Secret] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]

    @property
    def ok(self) -> bool:
        return not self.errors


@contextmanager
def gc_paused() -> Iterator[None]:
    """Loading builds hundreds of thousands of small containers and no cycles; the cyclic
    garbage collector would rescan them all again and again (it doubles the time of a large
    manifest). Pause it, and restore whatever state it had."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_documents(path: Path) -> tuple[list[Document], list[Diagnostic]]:
    files, problems = manifest_files(path)
    documents: list[Document] = []
    for file in files:
        doc, problem = load_file(file)
        if problem:
            problems.append(problem)
        if doc:
            documents.append(doc)
    return documents, problems


def validate(
    path: Path,
    *,
    env: Mapping[str, str] | None = None,
    decrypt: Callable[[str, str], str] | None = None,
    resolve_secrets: bool = True,
) -> Validation:
    with gc_paused():
        return _validate(path, env=env, decrypt=decrypt, resolve_secrets=resolve_secrets)


def _validate(path, *, env, decrypt, resolve_secrets) -> Validation:
    result = Validation(path)
    documents, problems = load_documents(path)
    result.documents = documents
    result.diagnostics.extend(problems)
    for doc in documents:
        result.diagnostics.extend(check_document(doc))
    if documents:
        merged, origin, conflicts = merge(documents)
        result.merged, result.origin = merged, origin
        result.diagnostics.extend(conflicts)
        result.diagnostics.extend(references.check(merged))
        result.diagnostics.extend(certificate_rules.check_file(merged, origin))
        if resolve_secrets:
            resolved = resolve_all(merged, origin, env=env, decrypt=decrypt)
            result.secrets = resolved.values
            result.diagnostics.extend(resolved.diagnostics)
    elif not problems:
        result.diagnostics.append(Diagnostic(Mark(str(path), 1, 1), "no manifest found", "path"))
    result.diagnostics.sort(key=Diagnostic.sort_key)
    return result
