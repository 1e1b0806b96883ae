"""Validation, end to end: load, check each file against the schema, merge, run the rules across
values, resolve secrets. Every problem is collected; nothing stops at the first."""

from __future__ import annotations

import datetime as dt
import gc
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import ainas_provision.rules  # noqa: F401  (registers every rule)
from ainas_provision.diagnostics import Diagnostic
from ainas_provision.manifest.loader import Document, load_file, manifest_files
from ainas_provision.manifest.marks import Mark, MarkedMap
from ainas_provision.manifest.merge import merge
from ainas_provision.rules import references
from ainas_provision.rules.certificate import CertificateCheck
from ainas_provision.rules.certificate import check as check_certificate
from ainas_provision.rules.secrets import resolve_all
from ainas_provision.secrets.crypto import SecretsKeyError, load_key, make_decryptor
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
    certificate: CertificateCheck | None = None
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
    now: dt.datetime | None = None,
) -> Validation:
    """Validate the manifests at ``path``. ``now`` is the moment certificates are judged at."""
    now = now or dt.datetime.now(dt.UTC)
    with gc_paused():
        return _validate(path, env=env, decrypt=decrypt, resolve_secrets=resolve_secrets, now=now)


def _validate(path, *, env, decrypt, resolve_secrets, now) -> Validation:
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
        if resolve_secrets:
            key_problem = None
            if decrypt is None:
                try:
                    key = load_key(os.environ if env is None else env)
                except SecretsKeyError as exc:
                    key, key_problem = None, str(exc)
                decrypt = make_decryptor(key) if key else None
            resolved = resolve_all(
                merged, origin, env=env, decrypt=decrypt, key_problem=key_problem
            )
            result.secrets = resolved.values
            result.diagnostics.extend(resolved.diagnostics)
        result.certificate = check_certificate(merged, origin, result.secrets, now)
        result.diagnostics.extend(result.certificate.diagnostics)
    elif not problems:
        result.diagnostics.append(Diagnostic(Mark(str(path), 1, 1), "no manifest found", "path"))
    result.diagnostics.sort(key=Diagnostic.sort_key)
    return result
