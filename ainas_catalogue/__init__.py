"""The AINAS screen catalogue: AINAS as its start guide shows it, as data.

``screens.yaml`` beside this module lists every screen by its name in the guide (ログイン,
代理人拠点登録, …), how it is reached (its menu path), its fields in screen order — label as printed,
input kind, required, write-once, write-only, character class, format, pull-down options each
marked as shown in the guide, assumed or observed — its buttons and its confirmation flow. It is
the single description of AINAS shared by the tool (labels, the mapping of manifest fields), the
emulator (its field names and rules) and anything that drives or draws the screens.

This package is a leaf: it imports nothing of the tool or the emulator. Loading is lazy and cheap
— nothing is read at import, the YAML is read once on first use and cached, and its parsed form is
kept beside the package's bytecode for the next run (see :func:`_parsed`) — and the catalogue
is not checked against its schema (``screens.schema.json``) at run time: a test does that.

**The local override.** What the guide does not show (a pull-down option, a label as the real
screen prints it) can be added in a YAML file, found as:

1. the file named by the environment variable ``AINAS_SCREENS_FILE`` (an error if it is missing);
2. else ``ainas-screens.local.yaml`` in the manifest directory (the manifest loader skips it).

Its format (``screens.schema.json``'s ``$defs/override``)::

    version: 1
    screens:
      site_register:                      # a screen id of the catalogue
        fields:
          storage_sticker_receipt:         # a field id of that screen
            add_options: [窓口受取]         # pull-down options seen on the real screen
          review_deadline:
            label: 登録審査開始締切時刻      # the label as the real screen prints it
          commission_number:
            warn_inferred: false         # the real screen takes other forms: no warning
      staff_register:
        fields:
          default_menu: {options: [申請データ作成, 申請データ一覧]}  # the whole list, as seen

Options it names are marked ``observed``; ``options`` replaces the list, ``add_options`` adds
to it. An override naming a screen or field the catalogue does not know is an error that names
it. :func:`write_override` merges findings into such a file (``probe --write-override``).
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

OVERRIDE_NAME = "ainas-screens.local.yaml"
OVERRIDE_ENV = "AINAS_SCREENS_FILE"
INPUTS = ("text", "password", "select", "checkbox", "file", "display")


class CatalogueError(Exception):
    """The catalogue or its override file cannot be used; the message says where and why."""


@dataclass(frozen=True)
class Option:
    """One choice of a pull-down, and where it is known from."""

    value: str
    source: str  # guide | assumed | observed

    @property
    def shown_in_guide(self) -> bool:
        return self.source == "guide"


@dataclass(frozen=True)
class Field:
    """One field of a screen, as the guide shows it."""

    id: str
    label: str
    input: str  # text | password | select | checkbox | file | display
    required: bool = False
    write_once: bool = False
    write_only: bool = False
    repeat: bool = False  # typed twice (a new password)
    chars: str | None = None  # a character class of the catalogue
    format: str | None = None  # a format of the catalogue
    inferred: bool = False  # its character rule is read from an example, not stated
    open: bool = False  # a pull-down whose options are not all known (or the tenant's own)
    warn_inferred: bool = True  # the override's `warn_inferred: false`: AINAS accepts other forms
    max_length: int | None = None
    source: str = "guide"
    note: str | None = None
    options: tuple[Option, ...] = ()

    @property
    def editable(self) -> bool:
        return self.input != "display"

    @property
    def option_values(self) -> tuple[str, ...]:
        return tuple(option.value for option in self.options)


@dataclass(frozen=True)
class Flow:
    """How a screen's form is sent and what comes after it."""

    submit: str | None = None  # the button that sends the form
    select: str | None = None  # the column whose link opens an entry
    confirm: str | None = None  # the question asked before the change
    then: str | None = None  # the screen shown next
    first_login: str | None = None
    after: str | None = None


@dataclass(frozen=True)
class Screen:
    """One AINAS screen: its name, how to reach it, its fields and buttons."""

    id: str
    name: str  # as printed on the screen and in the guide
    menu: tuple[str, ...]  # what is clicked, from the menu tabs, to reach it
    fields: tuple[Field, ...]
    buttons: tuple[str, ...]
    flow: Flow
    source: str = "guide"
    description: str | None = None
    columns: tuple[str, ...] = ()

    def field(self, field_id: str) -> Field:
        for field in self.fields:
            if field.id == field_id:
                return field
        raise KeyError(f"{self.name} ({self.id}) has no field {field_id!r}")

    def has(self, field_id: str) -> bool:
        return any(field.id == field_id for field in self.fields)

    @property
    def inputs(self) -> tuple[Field, ...]:
        """The fields a person fills in, in screen order."""
        return tuple(field for field in self.fields if field.editable)


@dataclass(frozen=True)
class Format:
    """A value's form on AINAS: stated by the guide or inferred, with its pattern."""

    name: str
    label: str
    rule: str  # stated | inferred
    pattern: str | None = None
    example: str | None = None


@dataclass(frozen=True)
class Catalogue:
    """The screen catalogue: its screens, value forms and character classes (override applied)."""

    guide: str
    login_url: str
    screens: Mapping[str, Screen]
    formats: Mapping[str, Format]
    character_classes: Mapping[str, str]  # name -> label (全角, 全角カナ, …)
    menu_tabs: tuple[str, ...]
    menu_header: tuple[str, ...]
    override: Path | None = None

    def screen(self, screen_id: str) -> Screen:
        try:
            return self.screens[screen_id]
        except KeyError:
            raise KeyError(f"no screen {screen_id!r} in the AINAS screen catalogue") from None

    def by_name(self, name: str) -> Screen:
        for screen in self.screens.values():
            if screen.name == name:
                return screen
        raise KeyError(f"no screen named {name!r} in the AINAS screen catalogue")


# -- reading ---------------------------------------------------------------------------------
def _yaml_load(text: str, origin: str):
    import yaml  # only when a catalogue is first needed

    # a safe loader only (libyaml's when installed): no tag of a catalogue builds an object
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{origin}: not valid YAML: {exc}") from None
    finally:
        loader.dispose()


def raw_catalogue() -> dict:
    """The catalogue's data as read from ``screens.yaml`` (for its schema test)."""
    source = _package_file("screens.yaml")
    data = source.read_bytes()
    return _parsed(data, _compiled_path(source))


def _package_file(name: str):
    """A data file of this package: the file beside this module, as a package installed by pip
    has it; importlib.resources (a dozen modules more to import on every run) only for a package
    that is not a directory of files (a zip)."""
    beside = Path(__file__).with_name(name)
    if beside.is_file():
        return beside
    from importlib import resources

    return resources.files(__name__).joinpath(name)


def _compiled_path(source) -> Path | None:
    """Where the parsed catalogue is kept between runs: beside the package's bytecode, as
    Python keeps a module's (None: the package is not a directory of files)."""
    if not isinstance(source, Path):
        return None
    return source.parent / "__pycache__" / f"screens.yaml.{sys.implementation.cache_tag}.marshal"


def _parsed(data: bytes, compiled: Path | None) -> dict:
    """``screens.yaml`` parsed: from its compiled form when that was made from these very
    bytes (its first 32 bytes are their SHA-256), else parsed from the YAML (about 20 ms, against
    1 ms) and, as Python does with bytecode, kept when it may be (not under
    ``PYTHONDONTWRITEBYTECODE``; a directory that cannot be written is no error). The compiled
    form is plain data (``marshal`` of dicts, lists and strings), read only from the package's
    own ``__pycache__``: whoever can write there can change the package's bytecode anyway."""
    digest = hashlib.sha256(data).digest()
    if compiled is not None:
        try:
            kept = compiled.read_bytes()
            if kept[:32] == digest:
                loaded = marshal.loads(kept[32:])
                if isinstance(loaded, dict):
                    return loaded
        except (OSError, ValueError, EOFError, TypeError):
            pass  # none yet, or damaged: parsed again below
    parsed = _yaml_load(data.decode("utf-8"), "screens.yaml")
    if compiled is not None and not sys.dont_write_bytecode:
        _keep(compiled, digest + marshal.dumps(parsed))
    return parsed


def _keep(path: Path, content: bytes) -> None:
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(exist_ok=True)
        temporary.write_bytes(content)
        os.replace(temporary, path)  # whole or not at all, for a run reading it meanwhile
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink()


def schema() -> dict:
    """The catalogue's JSON Schema (its ``$defs/override`` describes the override file)."""
    import json

    return json.loads(_package_file("screens.schema.json").read_text("utf-8"))


def _field(data: dict) -> Field:
    options = tuple(Option(o["value"], o.get("source", "guide")) for o in data.get("options", ()))
    return Field(
        id=data["id"],
        label=data["label"],
        input=data["input"],
        required=bool(data.get("required", False)),
        write_once=bool(data.get("write_once", False)),
        write_only=bool(data.get("write_only", False)),
        repeat=bool(data.get("repeat", False)),
        chars=data.get("chars"),
        format=data.get("format"),
        inferred=bool(data.get("inferred", False)),
        open=bool(data.get("open", False)),
        max_length=data.get("max_length"),
        source=data.get("source", "guide"),
        note=data.get("note"),
        options=options,
    )


def _screen(data: dict) -> Screen:
    return Screen(
        id=data["id"],
        name=data["name"],
        menu=tuple(data.get("menu", ())),
        fields=tuple(_field(f) for f in data.get("fields", ())),
        buttons=tuple(data.get("buttons", ())),
        flow=Flow(**data.get("flow", {})),
        source=data.get("source", "guide"),
        description=data.get("description"),
        columns=tuple(data.get("columns", ())),
    )


@lru_cache(maxsize=1)
def _base() -> Catalogue:
    data = raw_catalogue()
    return Catalogue(
        guide=data["guide"],
        login_url=data.get("login_url", ""),
        screens={s["id"]: _screen(s) for s in data["screens"]},
        formats={
            name: Format(name, f["label"], f["rule"], f.get("pattern"), f.get("example"))
            for name, f in data["formats"].items()
        },
        character_classes={name: c["label"] for name, c in data["character_classes"].items()},
        menu_tabs=tuple(data["menu"]["tabs"]),
        menu_header=tuple(data["menu"]["header"]),
    )


def load(override: Path | str | None = None) -> Catalogue:
    """The catalogue, with the local ``override`` file applied when one is given."""
    if override is None:
        return _base()
    path = Path(override)
    try:
        stamp = path.stat().st_mtime_ns
    except OSError as exc:
        raise CatalogueError(
            f"{path}: cannot read the screen catalogue override: {exc.strerror or exc}"
        ) from None
    return _with_override(str(path), stamp)


def for_directory(directory: Path | str | None, environ: Mapping[str, str] | None = None):
    """The catalogue as seen from a manifest directory: with the override found there or named
    by ``AINAS_SCREENS_FILE`` (see :func:`find_override`)."""
    return load(find_override(directory, environ))


def find_override(
    directory: Path | str | None, environ: Mapping[str, str] | None = None
) -> Path | None:
    """The override file in force: ``$AINAS_SCREENS_FILE`` if set (it must exist), else
    ``ainas-screens.local.yaml`` in ``directory`` if there is one."""
    environ = os.environ if environ is None else environ
    named = environ.get(OVERRIDE_ENV, "")
    if named:
        path = Path(named)
        if not path.is_file():
            raise CatalogueError(
                f"{OVERRIDE_ENV} names {named}, which is not a file: create it or unset the variable"
            )
        return path
    if directory is None:
        return None
    directory = Path(directory)
    if directory.is_file():
        directory = directory.parent
    candidate = directory / OVERRIDE_NAME
    return candidate if candidate.is_file() else None


@lru_cache(maxsize=8)
def _with_override(path: str, stamp: int) -> Catalogue:
    base = _base()
    data = _yaml_load(Path(path).read_text("utf-8"), path)
    _check_override(data, path)
    screens = dict(base.screens)
    for screen_id, change in (data.get("screens") or {}).items():
        if screen_id not in screens:
            raise CatalogueError(_unknown(path, "screen", screen_id, screens))
        screen = screens[screen_id]
        if "name" in change:
            screen = replace(screen, name=change["name"])
        fields = list(screen.fields)
        ids = [f.id for f in fields]
        for field_id, field_change in (change.get("fields") or {}).items():
            if field_id not in ids:
                raise CatalogueError(
                    _unknown(path, f"field of {screen_id}", field_id, ids, f"screens.{screen_id}")
                )
            index = ids.index(field_id)
            fields[index] = _apply_field(fields[index], field_change)
        screens[screen_id] = replace(screen, fields=tuple(fields))
    return replace(base, screens=screens, override=Path(path))


def _apply_field(field: Field, change: dict) -> Field:
    if "label" in change:
        field = replace(field, label=change["label"])
    if "warn_inferred" in change:
        field = replace(field, warn_inferred=bool(change["warn_inferred"]))
    if "options" in change:
        field = replace(field, options=tuple(Option(v, "observed") for v in change["options"]))
    for value in change.get("add_options", ()):
        if value in field.option_values:
            options = tuple(
                Option(o.value, "observed") if o.value == value else o for o in field.options
            )
        else:
            options = (*field.options, Option(value, "observed"))
        field = replace(field, options=options)
    return field


def _unknown(path: str, what: str, name: str, known: Iterable[str], where: str = "screens") -> str:
    import difflib  # for a name an override got wrong only

    known = list(known)
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" — did you mean {close[0]!r}?" if close else f" (known: {', '.join(known)})"
    return f"{path}: {where}.{name}: no such {what} in the AINAS screen catalogue{hint}"


def _check_override(data, path: str) -> None:
    """The override's shape, checked with its JSON Schema (only when an override is used)."""
    import jsonschema

    override = {**schema()["$defs"]["override"], "$defs": schema()["$defs"]}
    errors = sorted(
        jsonschema.Draft202012Validator(override).iter_errors(data), key=lambda e: list(e.path)
    )
    if errors:
        first = errors[0]
        where = ".".join(str(p) for p in first.absolute_path) or "(top level)"
        raise CatalogueError(f"{path}: {where}: {first.message}")


# -- writing ---------------------------------------------------------------------------------
def write_override(
    path: Path | str,
    screen_id: str,
    field_id: str,
    *,
    label: str | None = None,
    options: Iterable[str] | None = None,
) -> None:
    """Record what a real screen shows for one field (its label, its pull-down options, as
    ``options``: the whole list) in the override file at ``path``, keeping what it holds."""
    import yaml

    path = Path(path)
    base = _base()
    screen = base.screen(screen_id)
    screen.field(field_id)  # raises KeyError naming it
    data = _yaml_load(path.read_text("utf-8"), str(path)) if path.exists() else None
    data = data or {"version": 1}
    _check_override(data, str(path))
    entry = data.setdefault("screens", {}).setdefault(screen_id, {}).setdefault("fields", {})
    change = entry.setdefault(field_id, {})
    if label is not None:
        change["label"] = label
    if options is not None:
        change["options"] = list(options)
        change.pop("add_options", None)
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, default_flow_style=False)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, "utf-8")
    os.replace(tmp, path)
    _with_override.cache_clear()


__all__ = [
    "OVERRIDE_ENV",
    "OVERRIDE_NAME",
    "Catalogue",
    "CatalogueError",
    "Field",
    "Flow",
    "Format",
    "Option",
    "Screen",
    "find_override",
    "for_directory",
    "load",
    "write_override",
]
