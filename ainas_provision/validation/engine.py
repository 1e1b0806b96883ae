"""Validation, end to end: load, check each file against the schema, merge, run the rules across
values, resolve secrets. Every problem is collected; nothing stops at the first."""

from __future__ import annotations

import datetime as dt
import gc
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ainas_provision import validation
from ainas_provision.diagnostics import Diagnostic
from ainas_provision.manifest.cache import ManifestCache, cache_enabled
from ainas_provision.manifest.loader import (
    TEMPLATE_SUFFIX,
    Document,
    load_file,
    manifest_files,
    manifest_root,
)
from ainas_provision.manifest.marks import Mark, MarkedMap, key_mark_of
from ainas_provision.secrets.crypto import SecretsKeyError, load_key, make_decryptor
from ainas_provision.secrets.values import Secret
from ainas_provision.validation.rules.certificate import (
    CertificateCheck,
    CertificateInputs,
    certificate_inputs,
    check_inputs,
)
from ainas_provision.validation.rules.secrets import SecretSites, resolve_sites, secret_sites


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
    files: list[str] = field(default_factory=list)  # the manifest files, as shown
    # what is checked again on every run (secrets and the certificate), found in the manifests
    secret_sites: SecretSites | None = None
    certificate_inputs: CertificateInputs | None = None

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
    manifest). Pause it, and restore whatever state it had.

    Re-enabled, the collector would at once scan every object built meanwhile (a third of a
    second at 20,000 users), for nothing: they live until the command ends. A command's own
    process therefore moves them to the permanent generation (``gc.freeze``) first; a process
    that goes on to other work (a test run) does not, so that it keeps collecting them."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if validation.ONE_SHOT_PROCESS:
                gc.freeze()
            gc.enable()


def load_documents(
    path: Path, *, vars_files: Sequence[str | Path] = (), cache: ManifestCache | None = None
) -> tuple[list[Document], list[Diagnostic]]:
    """Load the manifests at ``path``, in file order.

    Plain files are read first; their ``vars:`` settings and ``vars_files`` (as given to
    ``--vars``: ``FILE`` or ``NAME=FILE``; later ones win) name the data files; then templates
    (``*.yaml.j2``) are rendered with those variables. A file named as data is never loaded as a
    manifest. With a ``cache``, plain files whose content it knows are not parsed again.
    """
    from ainas_provision.manifest import datafiles  # see check_manifests

    files, problems = manifest_files(path)
    root = manifest_root(path) if files else None  # what manifests may read: nothing outside
    loaded: dict[Path, tuple[Document | None, list[Diagnostic]]] = {}
    sources: list[datafiles.VarsSource] = []
    for file in files:
        if file.name.endswith(TEMPLATE_SUFFIX):
            continue
        doc, problem = cache.load(file, root) if cache is not None else load_file(file, root)
        found = [problem] if problem else []
        if doc:
            setting, setting_problems = datafiles.vars_setting(doc, root)
            sources.extend(setting)
            found.extend(setting_problems)
        loaded[file] = (doc, found)
    sources.extend(datafiles.parse_vars_option(str(item)) for item in vars_files)
    variables, variable_problems = datafiles.load_variables(sources)
    problems.extend(variable_problems)
    data_files = datafiles.data_file_paths(sources)
    documents: list[Document] = []
    for file in files:
        if data_files and datafiles.is_data_file(file, data_files):
            continue
        if file in loaded:
            doc, found = loaded[file]
        else:
            from ainas_provision.manifest.templates import load_template  # Jinja2, when used

            doc, problem = load_template(file, variables, root)
            found = [problem] if problem else []
            if doc and "vars" in doc.root:
                found.append(_vars_in_template(doc))
        problems.extend(found)
        if doc:
            documents.append(doc)
    return documents, problems


def _vars_in_template(doc: Document) -> Diagnostic:
    from ainas_provision.manifest.datafiles import RULE

    return Diagnostic(
        key_mark_of(doc.root, "vars"),
        "vars: is read from plain manifest files only (templates are rendered with the "
        "variables it names): move it to a .yaml file",
        RULE,
        "vars",
    )


def validate(
    path: Path,
    *,
    vars_files: Sequence[str | Path] = (),
    env: Mapping[str, str] | None = None,
    decrypt: Callable[[str, str], str] | None = None,
    resolve_secrets: bool = True,
    now: dt.datetime | None = None,
    cache: ManifestCache | bool | None = True,
) -> Validation:
    """Validate the manifests at ``path``. ``vars_files`` are data files for templates, as given
    to ``--vars``; ``now`` is the moment certificates are judged at. ``cache``: True for the
    cache of parsed files in its usual place (unless switched off, see
    :func:`ainas_provision.manifest.cache.disable`), False for none, or a cache to use."""
    now = now or dt.datetime.now(dt.UTC)
    if cache is True:
        cache = ManifestCache() if cache_enabled() else None
    with gc_paused():
        return _validate(
            path,
            vars_files=vars_files,
            env=env,
            decrypt=decrypt,
            resolve_secrets=resolve_secrets,
            now=now,
            cache=cache or None,
        )


def _directory(path: Path) -> Path:
    return path if path.is_dir() else path.parent


def _validate(path, *, vars_files, env, decrypt, resolve_secrets, now, cache) -> Validation:
    result = check_manifests(path, vars_files=vars_files, env=env, cache=cache)
    finish(result, env=env, decrypt=decrypt, resolve_secrets=resolve_secrets, now=now)
    return result


def check_manifests(
    path: Path,
    *,
    vars_files: Sequence[str | Path] = (),
    env: Mapping[str, str] | None = None,
    cache: ManifestCache | None = None,
) -> Validation:
    """What the manifests' files alone decide: loading, the schema, merging, the rules across
    values. Its outcome depends on no secret and on no date, only on the files read, the
    screen catalogue and the run's language (the cache of validated trees keeps it); what
    depends on secret values is :func:`finish`'s."""
    # what only validating the files needs (merging, the schema's explanations, every rule, the
    # templates' data files) is imported here: a run whose outcome comes from the cache of
    # validated trees calls finish() alone, and does without
    from ainas_provision.manifest.merge import merge
    from ainas_provision.validation.rules import inferred, references
    from ainas_provision.validation.schema_errors import check_document

    result = Validation(path)
    if cache is not None:
        cache.begin(path)
    documents, problems = load_documents(path, vars_files=vars_files, cache=cache)
    result.documents = documents
    result.files = [doc.display for doc in documents]
    result.diagnostics.extend(problems)
    for doc in documents:
        if cache is not None and cache.known_valid(doc):
            continue  # it passed the schema when it was cached
        found = check_document(doc)
        result.diagnostics.extend(found)
        if cache is not None and not found:
            cache.keep(doc)
    if cache is not None:
        cache.finish()
    if documents:
        merged, origin, conflicts = merge(documents)
        result.merged, result.origin = merged, origin
        result.diagnostics.extend(conflicts)
        result.diagnostics.extend(references.check(merged))
        result.diagnostics.extend(
            inferred.check(merged, _directory(path), os.environ if env is None else env)
        )
        result.secret_sites = secret_sites(merged, origin)
        result.certificate_inputs = certificate_inputs(merged, origin)
    elif not problems:
        result.diagnostics.append(Diagnostic(Mark(str(path), 1, 1), "no manifest found", "path"))
    return result


def finish(
    result: Validation,
    *,
    env: Mapping[str, str] | None = None,
    decrypt: Callable[[str, str], str] | None = None,
    resolve_secrets: bool = True,
    now: dt.datetime,
) -> None:
    """What depends on secret values and on the day, done on every run: resolving the secrets
    (each reference once), the password rule on what they resolve to, the certificate opened
    with its password and judged at ``now``. Then the diagnostics in file order."""
    if result.secret_sites is not None:
        if resolve_secrets:
            key_problem = None
            if decrypt is None:
                try:
                    key = load_key(os.environ if env is None else env)
                except SecretsKeyError as exc:
                    key, key_problem = None, str(exc)
                decrypt = make_decryptor(key) if key else None
            resolved = resolve_sites(
                result.secret_sites, env=env, decrypt=decrypt, key_problem=key_problem
            )
            result.secrets = resolved.values
            result.diagnostics.extend(resolved.diagnostics)
        result.certificate = check_inputs(
            result.certificate_inputs, result.secrets, now, root=manifest_root(result.path)
        )
        result.diagnostics.extend(result.certificate.diagnostics)
    result.diagnostics.sort(key=Diagnostic.sort_key)
