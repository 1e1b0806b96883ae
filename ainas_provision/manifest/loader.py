"""Loading manifests: a file, or a directory of files, into marked documents.

Every failure here is a :class:`Diagnostic` with its place; loading goes on past a broken file so
that one run reports every problem.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ainas_provision.diagnostics import Diagnostic
from ainas_provision.files import read_regular
from ainas_provision.i18n import N_, _
from ainas_provision.manifest.marks import Mark, MarkedMap

MANIFEST_SUFFIXES = (".yaml", ".yml")
TEMPLATE_SUFFIX = ".yaml.j2"


@dataclass
class Document:
    """One manifest file, parsed: ``root`` is its top-level mapping."""

    path: Path  # on disk
    display: str  # as shown in messages
    root: MarkedMap

    @property
    def directory(self) -> Path:
        return self.path.parent


def display_path(path: Path) -> str:
    """A path as a person typed it: relative to the working directory when below it."""
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


# the screen catalogue's local override (ainas_catalogue.OVERRIDE_NAME): not a manifest
SCREENS_OVERRIDE = "ainas-screens.local.yaml"


def find_manifest_files(root: Path) -> list[Path]:
    """Manifest files below a directory, in a stable order; hidden entries and the screen
    catalogue's override file are skipped."""
    return [Path(name) for name in manifest_names(root)]


def manifest_names(root: Path) -> list[str]:
    """:func:`find_manifest_files` as the paths' strings: what the cache of validated trees
    keys a tree by, on every run (a thousand ``Path`` objects cost several times the walk)."""
    found: list[str] = []
    join = os.path.join
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith(".") or name == SCREENS_OVERRIDE:
                continue
            if name.endswith(MANIFEST_SUFFIXES) or name.endswith(TEMPLATE_SUFFIX):
                found.append(join(dirpath, name))
    return found


def manifest_files(path: Path) -> tuple[list[Path], list[Diagnostic]]:
    """The files that make up the manifests at ``path`` (a file or a directory)."""
    shown = display_path(path)
    if not path.exists():
        return [], [
            Diagnostic(
                Mark(shown, 1, 1),
                _(
                    "no such file or directory: {path}; give a manifest file or a directory of them"
                ).format(path=shown),
                "path",
            )
        ]
    if path.is_dir():
        files = find_manifest_files(path)
        if not files:
            return [], [
                Diagnostic(
                    Mark(shown, 1, 1),
                    _(
                        "no manifest in directory {path}: it holds no *.yaml, *.yml or {template} file"
                    ).format(path=shown, template="*" + TEMPLATE_SUFFIX),
                    "path",
                )
            ]
        return files, []
    return [path], []


def decode(
    data: bytes,
    shown: str,
    *,
    what: str = N_("manifests"),
    rule: str = "encoding",
) -> tuple[str | None, Diagnostic | None]:
    """Decode UTF-8 (a BOM is allowed); anything else is an error with the byte's place.
    ``what`` names the kind of file in the advice (marked N_, translated here), ``rule`` the
    rule reported."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        col = len(before.rsplit(b"\n", 1)[-1].decode("utf-8", "replace")) + 1
        hint = ""
        try:
            data.decode("cp932")
            hint = _(" (it reads as Shift_JIS: save it as UTF-8)")
        except UnicodeDecodeError:
            pass
        return None, Diagnostic(
            Mark(shown, line, col),
            _(
                "the file is not UTF-8: byte {byte} cannot start a character{hint}; {what} must "
                "be saved as UTF-8"
            ).format(byte=f"0x{data[exc.start]:02x}", hint=hint, what=_(what)),
            rule,
        )


def parse_document(
    text: str, path: Path, shown: str, make_mark=None
) -> tuple[Document | None, Diagnostic | None]:
    """Parse one file's text into a :class:`Document`."""
    # PyYAML, only when a file is parsed: a run whose manifests come from the cache of
    # validated trees parses none (see ARCHITECTURE.md, start-up)
    from ainas_provision.manifest.yamlfile import YamlProblem, parse_yaml

    if make_mark is None:

        def make_mark(line: int, col: int) -> Mark:
            return Mark(shown, line + 1, col + 1)

    try:
        root = parse_yaml(text, make_mark)
    except YamlProblem as problem:
        return None, Diagnostic(problem.mark, problem.message, problem.rule)
    if root is None:
        return None, Diagnostic(
            make_mark(0, 0),
            _(
                "the file is empty: a manifest file holds `version: 1` and at least one section "
                "(organization, certificate, sites, users, admins, policy)"
            ),
            "empty-file",
        )
    if not isinstance(root, MarkedMap):
        return None, Diagnostic(
            make_mark(0, 0),
            _(
                "a manifest file must be a mapping of sections (version, organization, sites, "
                "…), not a list"
            )
            if isinstance(root, list)
            else _(
                "a manifest file must be a mapping of sections (version, organization, sites, "
                "…), not a single value"
            ),
            "not-a-mapping",
        )
    return Document(path, shown, root), None


def manifest_root(path: Path) -> Path:
    """The directory the manifests at ``path`` may read from (links resolved): the directory
    given, or the one of the file given."""
    resolved = path.resolve()
    return resolved if resolved.is_dir() else resolved.parent


def load_file(path: Path, root: Path | None = None) -> tuple[Document | None, Diagnostic | None]:
    """Load one manifest file; with ``root``, only if it is inside that directory (links
    resolved). Only a regular file is read (see :mod:`ainas_provision.files`)."""
    shown = display_path(path)
    try:
        data = read_regular(path, within=root, shown=shown)
    except OSError as exc:
        return None, Diagnostic(
            Mark(shown, 1, 1),
            _("cannot read the file: {reason}").format(reason=exc.strerror),
            "path",
        )
    return load_data(path, data, shown)


def load_data(path: Path, data: bytes, shown: str) -> tuple[Document | None, Diagnostic | None]:
    """A manifest file's bytes, already read, into a :class:`Document`."""
    text, problem = decode(data, shown)
    if problem:
        return None, problem
    return parse_document(text, path, shown)
