"""The cache of validated trees: a second run over unchanged manifests does not validate them again.

Validation has two parts (see :mod:`ainas_provision.validation.engine`). What the files alone
decide — loading, templates and their data files, the schema, merging, the rules across values,
the inferred rules with the screen catalogue — and the desired state built from it, take most of
a large tree's time (20,000 users: half a second even with every file's parse cached). What
depends on secret values — resolving ``{env:}``, ``{file:}`` and ``{encrypted:}``, the password
rule, the signing certificate opened with its password and judged on today's date — is done on
every run, and is quick: each distinct reference is resolved once.

So one entry per manifest tree keeps the first part's outcome: the manifest files' names, the
diagnostics (warnings; a tree with an error is not kept) with their places and in the language
of the run, every secret field's place and reference (never a value: a tree with a secret
written in plain text is not kept), what the certificate check reads of the manifests, and —
when a plan or an apply built it — the desired state without its secrets, with its digest.

The entry is used only when everything that outcome was computed from is the same:

- the key: the entry's format, the tool (:func:`~ainas_provision.manifest.cache.tool_identity`:
  version, interpreter, schema, the tool's own files), the run's language, the working
  directory (files are shown relative to it), the path and ``--vars-file`` options as given,
  the list of manifest files, and the screen catalogue's local override in force (named by
  ``AINAS_SCREENS_FILE`` or found beside the manifests; its name and bytes, or its absence);
- every file the first part read, manifests, templates (and what they include) and data files
  alike, recorded with a hash of its bytes while it was read
  (:func:`ainas_provision.files.recording`): each is read again, through the same checks, and
  must give the same bytes (a read that failed must fail again).

Nothing else is read by that part: templates see only their data files, the rules no clock and
no environment variable other than the catalogue's. Reading and hashing a thousand files is a
few tens of milliseconds; parsing them is what is saved.

The entry is ``marshal`` data (the interpreter's own format for plain values, as in the cache
of parsed files): loading it builds strings, numbers, tuples, lists and dicts and runs no code,
unlike ``pickle``, which would run whatever a file that someone else could write told it to.
The objects (diagnostics, marks, resources) are rebuilt from those plain values by the code
here; a resource's place is given as its plain tuple and made a Mark only when read (a plan
reads one only to report that resource). A header (format, key, the reads) comes first, so that an entry that does not apply is
refused before its body is read; any damage (a truncated or foreign file, another format) is a
miss, and the entry is written again, whole, through a temporary file renamed over it, readable
by its owner only. Deleting it at any time is safe.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import marshal
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from ainas_catalogue import CatalogueError
from ainas_provision import i18n
from ainas_provision.diagnostics import Diagnostic, Severity
from ainas_provision.domain.desired import DesiredCertificate, DesiredState, Policy, Resource
from ainas_provision.files import Read, read_again, recording
from ainas_provision.manifest.cache import (
    ManifestCache,
    _private,
    cache_enabled,
    default_directory,
    tool_identity,
)
from ainas_provision.manifest.loader import manifest_names
from ainas_provision.manifest.marks import Mark
from ainas_provision.validation.build import build, certificate_as_written, complete
from ainas_provision.validation.engine import Validation, check_manifests, finish, gc_paused
from ainas_provision.validation.rules.certificate import CertificateInputs
from ainas_provision.validation.rules.secrets import SecretSites

FORMAT = 2  # 2: the reads' hashes are SHA-256
log = logging.getLogger("ainas_provision")
_GROUPS = ("sites", "batch_accounts", "kei_batch_accounts", "users", "admins")


def validate_tree(
    path: Path,
    *,
    vars_files: Sequence[str | Path] = (),
    env: Mapping[str, str] | None = None,
    resolve_secrets: bool = True,
    now: dt.datetime | None = None,
    desired: bool = False,
    cache: TreeCache | bool = True,
) -> tuple[Validation, DesiredState | None]:
    """Validate the manifests at ``path`` as :func:`~ainas_provision.validation.engine.validate`
    does (the same diagnostics, the same secrets), using the cache of validated trees: True for
    the cache in its usual place (unless switched off: ``--no-cache``, ``AINAS_NO_CACHE``), False
    for none, or a cache to use. With ``desired``, also the desired state (None when the
    manifests have an error). The validation holds no parsed document nor merged tree when it
    came from the cache: its ``files`` name the files."""
    now = now or dt.datetime.now(dt.UTC)
    tree: TreeCache | None = None
    if isinstance(cache, TreeCache):
        tree = cache
    elif cache and cache_enabled():
        tree = TreeCache()
    with gc_paused():
        entry = tree.lookup(path, vars_files, env, desired=desired) if tree is not None else None
        if entry is not None:
            log.debug("validation: the manifests are unchanged, their checked outcome is reused")
            result = entry.validation(path)
            finish(result, env=env, resolve_secrets=resolve_secrets, now=now)
            state = None
            if desired and result.ok:
                state = complete(entry.desired, result)
                info = state.certificate.info if state.certificate is not None else None
                if (info.fingerprint_sha256 if info else None) != entry.certificate_fingerprint:
                    state.known_digest = None  # another certificate: made again when asked
            return result, state
        files = ManifestCache(tree.directory) if tree is not None else None
        with recording() if tree is not None else contextlib.nullcontext([]) as reads:
            result = check_manifests(path, vars_files=vars_files, env=env, cache=files)
        static = list(result.diagnostics)
        finish(result, env=env, resolve_secrets=resolve_secrets, now=now)
        state = build(result) if desired and result.ok else None
        if tree is not None:
            if state is not None:
                state.known_digest = state.digest()  # kept with it, and the plan's
            tree.store(
                result,
                static,
                reads,
                state,
                certificate_fields=certificate_as_written(result) if state else None,
            )
        return result, state


@dataclass
class Counts:
    """What the cache of validated trees did in one run (for --debug and the tests)."""

    hits: int = 0
    misses: int = 0  # looked up, no entry that applies
    writes: int = 0
    refused: int = 0  # not kept: a plain-text secret in the manifests


@dataclass
class Entry:
    """A kept outcome, as read back: the first part of validation, and the desired state
    without its secrets when one was kept."""

    files: list[str]
    diagnostics: list[Diagnostic]
    sites: SecretSites
    certificate: CertificateInputs | None
    desired: DesiredState | None
    certificate_fingerprint: str | None  # the one the desired state's digest was made with

    def validation(self, path: Path) -> Validation:
        """A validation holding the kept outcome (no parsed document, no merged tree), ready
        for :func:`~ainas_provision.validation.engine.finish`."""
        result = Validation(path)
        result.files = list(self.files)
        result.diagnostics = list(self.diagnostics)
        result.secret_sites = self.sites
        result.certificate_inputs = self.certificate
        return result


class TreeCache:
    """Validated trees, one entry per tree (see the module). ``counts`` says what happened in
    this process; :meth:`lookup` then :meth:`store` (after a miss)."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or default_directory()
        self.counts = Counts()
        self._key: bytes | None = None
        self._entry: Path | None = None

    # -- the key -----------------------------------------------------------------------------
    def _begin(self, path: Path, vars_files: Sequence[str | Path], env: Mapping[str, str]) -> bool:
        """Compute the key of the tree at ``path`` (False: a tree this cache does not keep)."""
        self._key = self._entry = None
        # the manifest files as manifest_files finds them (none: a problem validation reports,
        # and a tree that is not kept), as strings
        if path.is_dir():
            files = manifest_names(path)
            if not files:
                return False
        elif path.exists():
            files = [str(path)]
        else:
            return False
        try:
            override = _override(path, env)
        except (CatalogueError, OSError):  # reported by validation, which is not kept then
            return False
        vars_given = [str(item) for item in vars_files]
        language = i18n.language()
        digest = hashlib.blake2b(digest_size=20)
        for part in (
            str(FORMAT),
            tool_identity().hex(),
            language,
            os.getcwd(),
            str(path),
            *vars_given,
            "\0files",
            *files,
            "\0override",
            *override,
        ):
            digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
        self._key = digest.digest()
        name = hashlib.blake2b(
            "\0".join([str(path.resolve()), language, *vars_given]).encode(
                "utf-8", "surrogateescape"
            ),
            digest_size=16,
        ).hexdigest()
        self._entry = self.directory / f"tree-v{FORMAT}" / f"{name}.entry"
        return True

    # -- a run -------------------------------------------------------------------------------
    def lookup(
        self,
        path: Path,
        vars_files: Sequence[str | Path] = (),
        env: Mapping[str, str] | None = None,
        *,
        desired: bool = False,
    ) -> Entry | None:
        """The entry of the tree at ``path`` when everything it was made from is unchanged (with
        the desired state, if ``desired``), else None."""
        if not self._begin(path, vars_files, os.environ if env is None else env):
            return None
        try:
            data = self._entry.read_bytes()
            size = int.from_bytes(data[:8], "little")
            form, key, reads, has_desired = marshal.loads(data[8 : 8 + size])
            if form != FORMAT or key != self._key or (desired and not has_desired):
                raise ValueError("another entry")
            folders: dict[str, str] = {}
            if not all(read_again(tuple(read), folders) for read in reads):
                raise ValueError("a file changed")
            entry = _decode(marshal.loads(memoryview(data)[8 + size :]), desired)
        except (OSError, ValueError, EOFError, TypeError, IndexError, KeyError, AttributeError):
            self.counts.misses += 1
            return None
        self.counts.hits += 1
        return entry

    def store(
        self,
        validation: Validation,
        static: list[Diagnostic],
        reads: list[Read],
        desired: DesiredState | None = None,
        *,
        certificate_fields: tuple[dict, object] | None = None,
    ) -> None:
        """Keep the outcome of ``validation`` (checked in this run, after a :meth:`lookup` that
        missed): ``static`` its diagnostics before secrets and the certificate, ``reads`` the
        files it read, ``desired`` the state built from it, with ``certificate_fields`` the
        certificate's fields as the manifests give them and its type."""
        if self._key is None or self._entry is None or validation.secret_sites is None:
            return
        if any(d.is_error for d in static):
            return
        if validation.secret_sites.has_plaintext:
            self.counts.refused += 1
            return
        try:
            body = marshal.dumps(
                _encode(validation, static, desired, certificate_fields), marshal.version
            )
            header = marshal.dumps(
                (FORMAT, self._key, [list(read) for read in reads], desired is not None)
            )
        except ValueError:  # a value marshal cannot hold: not kept
            return
        try:
            self._entry.parent.mkdir(parents=True, exist_ok=True)
            _private(self.directory)
            import tempfile  # a write's only: a run that reuses its entry does without it

            fd, temporary = tempfile.mkstemp(
                prefix=f".{self._entry.name}.", suffix=".tmp", dir=self._entry.parent
            )  # mode 0600
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(len(header).to_bytes(8, "little"))
                    handle.write(header)
                    handle.write(body)
                os.replace(temporary, self._entry)  # readers see a whole entry or the old one
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise
        except OSError:
            return  # a cache that cannot be written is only a slower next run
        self.counts.writes += 1


def _override(path: Path, env: Mapping[str, str]) -> tuple[str, str]:
    """The screen catalogue's override in force, and a hash of its bytes (or its absence)."""
    import ainas_catalogue

    directory = path if path.is_dir() else path.parent
    found = ainas_catalogue.find_override(directory, env)
    if found is None:
        return "", ""
    return str(found), hashlib.blake2b(Path(found).read_bytes(), digest_size=20).hexdigest()


# -- encoding ----------------------------------------------------------------------------------


class _Places:
    """Marks as (file index, line, column, note), with one table of file names."""

    def __init__(self, files: list[str] | None = None) -> None:
        self.files = files if files is not None else []
        self._index = {name: i for i, name in enumerate(self.files)}

    def encode(self, mark: Mark | None):
        if mark is None:
            return None
        index = self._index.get(mark.file)
        if index is None:
            index = self._index[mark.file] = len(self.files)
            self.files.append(mark.file)
        return (index, mark.line, mark.col, mark.note)

    def decode(self, place) -> Mark | None:
        if place is None:
            return None
        index, line, col, note = place
        return Mark(self.files[index], line, col, note)


def _encode(
    validation: Validation,
    static: list[Diagnostic],
    desired: DesiredState | None,
    certificate_fields: tuple[dict, object] | None,
) -> dict:
    places = _Places()
    sites = validation.secret_sites
    cert = validation.certificate_inputs
    body: dict = {
        "files": list(validation.files),
        "diagnostics": [
            (places.encode(d.mark), d.message, d.rule, d.path, d.severity.value, tuple(d.notes))
            for d in static
        ],
        "sites": (
            [tuple(map(_plain_key, path)) for path in sites.paths],
            list(sites.site_group),
            [(reference, folder) for reference, folder in sites.groups],
            list(sites.folders),
            [places.encode(sites.mark(i)) for i in range(len(sites.paths))],
        ),
        "certificate": None
        if cert is None
        else (
            str(cert.path),
            cert.file,
            places.encode(cert.file_mark),
            cert.cert_type,
            cert.attributes,
            [(key, wanted, places.encode(mark)) for key, wanted, mark in cert.expect],
            cert.warning_days,
        ),
        "desired": None,
    }
    if desired is not None:
        # one object for equal texts (20,000 users name a few roles and a thousand sites):
        # marshal writes an object met again as a reference, which loads at once
        same: dict[str, str] = {}
        canonical = same.setdefault

        def kept(value):
            if value.__class__ is str:
                return canonical(value, value)
            if value.__class__ is list:  # a list of texts (a prefecture and an office): the
                # list stays the resource's own, its texts are shared
                return [canonical(item, item) if item.__class__ is str else item for item in value]
            return value

        def resource(r: Resource) -> tuple:
            fields = {name: kept(value) for name, value in r.fields.items()}
            return (r.kind, r.key, fields, _mark(r.mark))

        certificate = None
        if desired.certificate is not None and certificate_fields is not None:
            fields, cert_type = certificate_fields
            c = desired.certificate
            certificate = (c.kind, c.key, fields, _mark(c.mark), cert_type)
        info = desired.certificate.info if desired.certificate is not None else None
        body["desired"] = (
            desired.organization_id,
            resource(desired.organization),
            certificate,
            [[resource(r) for r in getattr(desired, group).values()] for group in _GROUPS],
            asdict(desired.policy),
            desired.connection,
            None if desired.connection_dir is None else str(desired.connection_dir),
            desired.organization_expect,
            [list(pair) for pair in desired.moved],
            desired.digest(),
            info.fingerprint_sha256 if info is not None else None,
        )
    body["places"] = places.files
    return body


def _mark(mark: Mark | None) -> tuple | None:
    # a resource's place whole (its file's name is one string for all: marshal keeps it once)
    return None if mark is None else (mark.file, mark.line, mark.col, mark.note)


def _plain_key(part):
    return part if isinstance(part, str | int) else str(part)


def _decode(body: dict, want_desired: bool) -> Entry:
    places = _Places(list(body["places"]))
    decode = places.decode
    diagnostics = [
        Diagnostic(decode(mark), message, rule, path, Severity(severity), tuple(notes))
        for mark, message, rule, path, severity, notes in body["diagnostics"]
    ]
    paths, site_group, groups, folders, site_places = body["sites"]
    if not (len(paths) == len(site_group) == len(site_places)):
        raise ValueError("secret sites out of step")
    sites = SecretSites(
        paths=paths,
        site_group=site_group,
        groups=[(reference, folder) for reference, folder in groups],
        folders=folders,
        places=site_places,
        place_files=places.files,
    )
    cert = body["certificate"]
    certificate = None
    if cert is not None:
        path, file, mark, cert_type, attributes, expect, days = cert
        certificate = CertificateInputs(
            path=Path(path),
            file=file,
            file_mark=decode(mark),
            cert_type=cert_type,
            attributes=attributes,
            expect=[(key, wanted, decode(place)) for key, wanted, place in expect],
            warning_days=days,
        )
    desired, fingerprint = None, None
    if want_desired and body["desired"] is not None:
        desired, fingerprint = _decode_desired(body["desired"])
    return Entry(body["files"], diagnostics, sites, certificate, desired, fingerprint)


def _decode_desired(kept) -> tuple[DesiredState, str | None]:
    (
        organization_id,
        organization,
        certificate,
        groups,
        policy,
        connection,
        connection_dir,
        expect,
        moved,
        digest,
        fingerprint,
    ) = kept
    kind, key, fields, mark = organization
    cert = None
    if certificate is not None:
        c_kind, c_key, c_fields, c_mark, cert_type = certificate
        cert = DesiredCertificate(c_kind, c_key, c_fields, {}, c_mark)
        cert.fields["type"] = cert_type
    # each place as kept, a (file, line, column, note) tuple: made a Mark only if it is read
    by_group = [{k: Resource(kd, k, f, {}, m) for kd, k, f, m in rows} for rows in groups]
    sites, batch, kei, users, admins = by_group
    desired = DesiredState(
        organization_id=organization_id,
        organization=Resource(kind, key, fields, {}, mark),
        certificate=cert,
        sites=sites,
        batch_accounts=batch,
        kei_batch_accounts=kei,
        users=users,
        admins=admins,
        policy=Policy(**policy),
        connection=connection,
        connection_dir=None if connection_dir is None else Path(connection_dir),
        organization_expect=expect,
        moved=[(str(a), str(b)) for a, b in moved],
    )
    desired.known_digest = digest
    return desired, fingerprint
