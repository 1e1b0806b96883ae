"""A cache of parsed, schema-valid manifest files, keyed by their content.

Loading a large manifest is mostly YAML parsing and building the marked values (20,000 users: a
second of CPU). A file that did not change since the last run does not need either: its parsed
form is kept in the cache under a key that is the hash of everything the parse depends on — the
file's bytes, the path it is shown as (marks name it), the schema and the tool's version. A changed
file has another key, so an entry never goes stale; an entry that cannot be read (a partial
write, another format, damage) is a miss. Deleting the cache at any time is safe: the next run
parses again and refills it.

Only plain ``.yaml`` files are cached, and only once they load without a problem and pass the
schema (templates depend on their data; a file with a diagnostic is re-read to explain it). A file
with a secret written in plain text (allowed under ``policy.allow_plaintext_secrets``) is never
cached: the cache holds no secret value, only references (``{env:}``, ``{file:}``) and
ciphertext (``{encrypted:}``).

Where: ``$AINAS_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/ainas-provision`` (default
``~/.cache/ainas-provision``; on Windows ``%LOCALAPPDATA%\\ainas-provision\\cache``). Entries are
``marshal`` data (the interpreter's own fast format for plain values): one pack file per
manifest tree (named by a hash of its absolute path) holding the entries of its files, read
once and rewritten whole (atomically) when a file changed, so that entries of files that
changed or went away drop out; the directory is created private to the user.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import marshal
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ainas_provision import __version__, portable
from ainas_provision.diagnostics import Diagnostic
from ainas_provision.files import read_regular
from ainas_provision.manifest.loader import Document, display_path, load_data, load_file
from ainas_provision.manifest.marks import NO_RAW, PLACE, Mark, MarkedList, MarkedMap

# bump when the entry layout changes (the tool's version is in the key as well)
FORMAT = 2
_MAP, _LIST = 0, 1


def default_directory(env: Mapping[str, str] | None = None) -> Path:
    """Where the cache lives (see the module's documentation)."""
    env = os.environ if env is None else env
    if env.get("AINAS_CACHE_DIR"):
        return Path(env["AINAS_CACHE_DIR"])
    if sys.platform == "win32" and env.get("LOCALAPPDATA"):
        return Path(env["LOCALAPPDATA"]) / "ainas-provision" / "cache"
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ainas-provision"


@dataclass
class Counts:
    """What the cache of parsed files did in one run (for --debug and the tests)."""

    hits: int = 0
    misses: int = 0
    writes: int = 0
    refused: int = 0  # valid files not cached: a plain-text secret in them


class ManifestCache:
    """Parsed files by content key, one pack per manifest tree. ``counts`` says what happened
    in this process. :meth:`begin` reads the tree's pack, :meth:`load` serves each file,
    :meth:`keep` adds what was parsed and passed the schema, :meth:`finish` writes the pack
    (only when it changed)."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or default_directory()
        self.counts = Counts()
        self._salt: bytes | None = None
        self._pack: Path | None = None
        self._old: dict[str, bytes] = {}  # the pack as read: key -> entry
        self._new: dict[str, bytes] = {}  # the entries of this run's files
        self._hits: set[int] = set()  # ids of the documents read from the cache
        self._fresh: dict[int, str] = {}  # id of a document parsed this run -> its key

    # -- a run -------------------------------------------------------------------------------
    def begin(self, root: Path) -> None:
        """Read the pack of the manifests at ``root`` (a damaged or missing one is empty)."""
        name = hashlib.blake2b(str(root.resolve()).encode("utf-8", "surrogateescape"))
        self._pack = self.directory / f"v{FORMAT}" / f"{name.hexdigest()[:32]}.pack"
        self._old, self._new = {}, {}
        try:
            stored = marshal.loads(self._pack.read_bytes())
            if isinstance(stored, dict) and stored.get("format") == FORMAT:
                self._old = stored["entries"]
        except (OSError, ValueError, EOFError, TypeError, KeyError):
            pass

    def finish(self) -> None:
        """Write the pack: this run's files only (entries of files gone or changed drop out)."""
        if self._pack is None or self._new.keys() == self._old.keys():
            return
        payload = marshal.dumps({"format": FORMAT, "entries": self._new})
        temporary = self._pack.with_name(f".{self._pack.name}.{os.getpid()}.tmp")
        try:
            self._pack.parent.mkdir(parents=True, exist_ok=True)
            _private(self.directory)
            try:
                temporary.write_bytes(payload)
                os.replace(temporary, self._pack)  # readers see a whole pack or the old one
            except BaseException:
                temporary.unlink(missing_ok=True)
                raise
        except OSError:
            return  # a cache that cannot be written is only a slower next run

    def load(
        self, path: Path, root: Path | None = None
    ) -> tuple[Document | None, Diagnostic | None]:
        """A plain manifest file, from the cache when its content is known, else parsed (and
        remembered, to be stored by :meth:`keep` once the schema accepts it). Read as
        :func:`~ainas_provision.manifest.loader.load_file` reads it (inside ``root``, a
        regular file only): the bytes are always read, to know them."""
        shown = display_path(path)
        try:
            data = read_regular(path, within=root, shown=shown)
        except OSError:
            return load_file(path, root)  # which reports it
        key = self.key(data, shown)
        doc = self.get(key, path, shown)
        if doc is not None:
            self._hits.add(id(doc))
            return doc, None
        doc, problem = load_data(path, data, shown)
        if doc is not None and problem is None:
            self._fresh[id(doc)] = key
        return doc, problem

    def known_valid(self, doc: Document) -> bool:
        """Whether ``doc`` came from the cache (so it loaded and passed the schema before)."""
        return id(doc) in self._hits

    def keep(self, doc: Document) -> None:
        """Store ``doc``, parsed in this run and accepted by the schema."""
        key = self._fresh.pop(id(doc), None)
        if key is not None:
            self.put(key, doc)

    # -- keys --------------------------------------------------------------------------------
    def _prefix(self) -> bytes:
        if self._salt is None:
            self._salt = hashlib.blake2b(
                f"{FORMAT}\0".encode() + tool_identity(), digest_size=16
            ).digest()
        return self._salt

    def key(self, data: bytes, shown: str) -> str:
        digest = hashlib.blake2b(self._prefix(), digest_size=20)
        digest.update(shown.encode("utf-8", "surrogateescape") + b"\0")
        digest.update(data)
        return digest.hexdigest()

    # -- entries -----------------------------------------------------------------------------
    def get(self, key: str, path: Path, shown: str) -> Document | None:
        """The document cached under ``key``, or None (a miss: absent or unreadable)."""
        entry = self._old.get(key)
        try:
            if entry is None:
                raise KeyError(key)
            version, stored_shown, encoded, exact = marshal.loads(entry)
            if version != FORMAT or stored_shown != shown:
                raise ValueError("another entry")
            root = _decode(encoded, _mark_factory(shown))
            if not isinstance(root, MarkedMap):
                raise ValueError("not a document")
        except (ValueError, EOFError, TypeError, IndexError, KeyError):
            self.counts.misses += 1
            return None
        root.exact = exact
        self._new[key] = entry
        self.counts.hits += 1
        return Document(path, shown, root)

    def put(self, key: str, doc: Document) -> None:
        """Keep ``doc`` (loaded and schema-valid) unless it holds a secret in plain text."""
        if _has_plaintext_secret(doc.root):
            self.counts.refused += 1
            return
        exact = getattr(doc.root, "exact", True)
        try:
            try:
                entry = marshal.dumps((FORMAT, doc.display, _encode(doc.root, set()), exact))
            except ValueError:  # a place was made a Mark while validating: stored as numbers
                encoded = _encode(doc.root, set(), positions=_marks)
                entry = marshal.dumps((FORMAT, doc.display, encoded, exact))
        except ValueError:
            return  # aliases: not cached
        self._new[key] = entry
        self.counts.writes += 1


def tool_identity() -> bytes:
    """What a cached result depends on in the tool itself: its version, the interpreter's, the
    manifest schema, and the size and modification time of every file of the tool's packages
    (an editable install or a patched copy changes its code without changing its version; an
    installed one never changes them: a few hundred ``stat`` calls, once per process)."""
    from ainas_provision import schema

    global _files_seen
    if _files_seen is None:
        files = hashlib.blake2b(digest_size=20)
        for package in _PACKAGES:
            try:
                directory = Path(importlib.import_module(package).__file__).parent
                for entry in sorted(_package_files(directory)):
                    files.update(entry)
            except (OSError, TypeError):  # no files to see (a zip): the version alone
                files.update(b"\0?")
        _files_seen = files.digest()
    digest = hashlib.blake2b(_files_seen, digest_size=20)
    digest.update(f"\0{__version__}\0{sys.version_info[:2]}\0".encode())
    digest.update(schema.schema_text().encode("utf-8"))
    return digest.digest()


_PACKAGES = ("ainas_provision", "ainas_catalogue")
_files_seen: bytes | None = None


def _package_files(directory: Path, relative: str = ""):
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.name == "__pycache__" or entry.name.startswith("."):
                continue
            name = f"{relative}/{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                yield from _package_files(Path(entry.path), name)
            else:
                info = entry.stat()
                yield f"{name}\0{info.st_size}\0{info.st_mtime_ns}\0".encode(
                    "utf-8", "surrogateescape"
                )


def _private(directory: Path) -> None:
    """The cache holds manifest contents (no secrets): readable by its owner only, where modes
    exist (on Windows the user's profile protects it)."""
    with contextlib.suppress(OSError):
        portable.make_private_directory(directory)


def _mark_factory(shown: str):
    # as loader.parse_document makes marks for a plain file
    def make_mark(line: int, col: int) -> Mark:
        return Mark(shown, line + 1, col + 1)

    return make_mark


def _has_plaintext_secret(root: MarkedMap) -> bool:
    from ainas_provision.secrets.walk import iter_secret_values

    return any(isinstance(holder[key], str) for _, holder, key in iter_secret_values(root))


def _position(stored):
    """A stored place as the parser gives it (see :func:`~ainas_provision.manifest.marks.place`)."""
    if isinstance(stored, Mark):
        return (stored.line - 1) * PLACE + stored.col - 1
    return stored


def _marks(places):
    if isinstance(places, dict):
        if any(isinstance(v, Mark) for v in places.values()):
            return {k: _position(v) for k, v in places.items()}
        return places
    if any(isinstance(v, Mark) for v in places):
        return [_position(v) for v in places]
    return places


def _same(places):
    return places


_CONTAINERS = (MarkedMap, MarkedList)


def _encode(node, seen: set[int], positions=_same):
    """Marked containers as tuples of plain values, with the keys (or indexes) of the values
    that are containers themselves: decoding copies the others in one step. A container met
    twice (a YAML alias) is not cached: written out, aliases could expand enormously.
    ``positions`` converts the stored places (a place made a Mark is not marshal data)."""
    if id(node) in seen:
        raise ValueError("an alias")
    seen.add(id(node))
    if node.__class__ is MarkedMap:
        items = dict(node)
        nested = [k for k, v in items.items() if v.__class__ in _CONTAINERS]
        for key in nested:
            items[key] = _encode(items[key], seen, positions)
        return (
            _MAP,
            _position(node._mark),
            items,
            nested,
            positions(node.key_marks),
            positions(node.value_marks),
            dict(node.raw),
        )
    if node.__class__ is MarkedList:
        items = list(node)
        nested = [i for i, v in enumerate(items) if v.__class__ in _CONTAINERS]
        for index in nested:
            items[index] = _encode(items[index], seen, positions)
        return (
            _LIST,
            _position(node._mark),
            items,
            nested,
            positions(node.item_marks),
            dict(node.raw),
        )
    raise ValueError("an unmarked container")  # never from the loader: not cached


def _decode(encoded, make_mark):
    if encoded[0] == _MAP:
        _, mark, items, nested, key_marks, value_marks, raw = encoded
        node = MarkedMap(mark, make_mark)
        node.update(items)
        for key in nested:
            node[key] = _decode(items[key], make_mark)
        node.key_marks, node.value_marks, node.raw = key_marks, value_marks, raw or NO_RAW
        return node
    _, mark, items, nested, item_marks, raw = encoded
    node = MarkedList(mark, make_mark)
    node.extend(items)
    for index in nested:
        node[index] = _decode(items[index], make_mark)
    node.item_marks, node.raw = item_marks, raw or NO_RAW
    return node


_disabled = False


def disable() -> None:
    """``--no-cache``: this process neither reads nor writes the cache."""
    global _disabled
    _disabled = True


def enable() -> None:
    global _disabled
    _disabled = False


def cache_enabled() -> bool:
    return not _disabled and os.environ.get("AINAS_NO_CACHE", "") in ("", "0")
