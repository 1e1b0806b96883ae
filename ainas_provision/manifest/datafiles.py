"""Data files for templates: where variables come from, and reading them.

A variable comes from a data file named on the command line (``--vars FILE`` or
``--vars NAME=FILE``) or in a plain manifest's ``vars:`` setting (``name: path``, relative to that
manifest). A CSV file is a list of :class:`DataRow` (dicts keyed by the header, remembering the
file and row they came from); a YAML or JSON file is its content. An unnamed YAML or JSON file
must hold a mapping, whose top-level keys become variables; an unnamed CSV file becomes one
variable named after its stem (``branches.csv`` -> ``branches``).

Every problem is a ``vars-file`` diagnostic with its place: in the data file when its content is
wrong, at the ``vars:`` entry when the file cannot be read.
"""

from __future__ import annotations

import csv
import io
import json
import keyword
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ainas_provision.diagnostics import Diagnostic
from ainas_provision.files import read_regular
from ainas_provision.i18n import N_, _
from ainas_provision.manifest.loader import Document, decode, display_path
from ainas_provision.manifest.marks import Mark, MarkedMap, key_mark_of, mark_of

RULE = "vars-file"
CSV_SUFFIXES = (".csv",)
YAML_SUFFIXES = (".yaml", ".yml")
JSON_SUFFIXES = (".json",)
# names a template cannot use as variables: Jinja's literals and its loop and macro variables
RESERVED = frozenset({"true", "false", "none", "True", "False", "None", "loop", "self"})
RESERVED |= frozenset({"caller", "varargs", "kwargs"})


class DataRow(dict):
    """One data row of a CSV file: its values by column, and where it came from.

    ``source`` is the CSV file as shown in messages, ``row`` the 1-based data row (the header
    not counted), ``line`` the file line the row starts on.
    """

    __slots__ = ("line", "row", "source")

    def __init__(self, values: Iterable[tuple[str, str]], *, source: str, row: int, line: int):
        super().__init__(values)
        self.source = source
        self.row = row
        self.line = line

    def describe(self) -> str:
        """``row 17 of branches.csv (line 18, code: SJK17)``: the data row, the file line (a
        spreadsheet's row number) and the row's first value, to find it by."""
        details = [f"line {self.line}"]
        first = next(iter(self.items()), None)
        if first and first[1]:
            details.append(f"{first[0]}: {first[1]}")
        return f"row {self.row} of {self.source} ({', '.join(details)})"

    def __repr__(self) -> str:
        return f"DataRow({self.describe()}, {dict.__repr__(self)})"


@dataclass(frozen=True)
class VarsSource:
    """A data file to read: ``name`` is the variable it becomes (None: from the file itself).

    ``mark`` and ``path_label`` say where it was named, for messages: the ``vars:`` entry (and
    ``vars.<name>``), or None for the command line. ``within`` is the directory a file named
    by a manifest must stay inside (links resolved); a file named on the command line is the
    operator's choice (None).
    """

    path: Path
    name: str | None = None
    mark: Mark | None = None
    path_label: str = ""
    within: Path | None = None

    @property
    def shown(self) -> str:
        return display_path(self.path)


class DataFileError(Exception):
    """A data file that cannot be used; ``mark`` is the place of the problem."""

    def __init__(self, message: str, mark: Mark) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark


def is_variable_name(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name) and name not in RESERVED


def parse_vars_option(text: str) -> VarsSource:
    """``--vars FILE`` or ``--vars NAME=FILE``. A file whose own name holds ``=`` is taken whole
    when it exists."""
    name, sep, rest = text.partition("=")
    if sep and name and rest and not Path(text).exists():
        return VarsSource(Path(rest), name=name)
    return VarsSource(Path(text))


def vars_setting(
    doc: Document, root: Path | None = None
) -> tuple[list[VarsSource], list[Diagnostic]]:
    """The data files a plain manifest's ``vars:`` names. A malformed setting is left to the
    schema check; names a template cannot use are reported here."""
    setting = doc.root.get("vars")
    if not isinstance(setting, MarkedMap):
        return [], []
    sources: list[VarsSource] = []
    problems: list[Diagnostic] = []
    for name, file in setting.items():
        if not isinstance(name, str) or not isinstance(file, str) or not file:
            continue
        if not is_variable_name(name):
            problems.append(
                Diagnostic(
                    key_mark_of(setting, name),
                    _(
                        "'{name}' cannot be a template variable: use letters, digits and _, not "
                        "starting with a digit (and not a Jinja word such as loop or none)"
                    ).format(name=name),
                    RULE,
                    f"vars.{name}",
                )
            )
            continue
        sources.append(
            VarsSource(
                doc.directory / file, name, mark_of(setting, name), f"vars.{name}", within=root
            )
        )
    return sources, problems


@dataclass(frozen=True)
class Unavailable:
    """The value of a variable whose data file could not be read (and was reported): a template
    that uses it is not rendered, rather than reported again as using an undefined variable."""

    name: str
    source: str


def load_variables(sources: Sequence[VarsSource]) -> tuple[dict[str, object], list[Diagnostic]]:
    """Read every data file into template variables; a later source wins over an earlier one."""
    variables: dict[str, object] = {}
    problems: list[Diagnostic] = []
    for source in sources:
        try:
            variables.update(read_source(source))
        except DataFileError as exc:
            problems.append(Diagnostic(exc.mark, exc.message, RULE, source.path_label))
            name = source.name or _csv_variable_name(source)
            if name:
                variables[name] = Unavailable(name, source.shown)
    return variables, problems


def _csv_variable_name(source: VarsSource) -> str | None:
    suffix = source.path.suffix
    if suffix.lower() in CSV_SUFFIXES:
        return source.path.name[: -len(suffix)]
    return None


def read_source(source: VarsSource) -> dict[str, object]:
    """The variables one data file gives. Raises :class:`DataFileError`."""
    shown = source.shown
    where = source.mark or Mark(shown, 1, 1)
    suffix = source.path.suffix.lower()
    if suffix not in CSV_SUFFIXES + YAML_SUFFIXES + JSON_SUFFIXES:
        raise DataFileError(
            _(
                "data file {file}: unknown kind of file '{kind}'; a data file is .csv, .yaml, "
                ".yml or .json"
            ).format(file=shown, kind=suffix or source.path.name),
            where,
        )
    try:
        data = read_regular(source.path, within=source.within, shown=shown)
    except FileNotFoundError:
        raise DataFileError(
            _("data file {file} does not exist").format(file=shown), where
        ) from None
    except IsADirectoryError:
        raise DataFileError(
            _("data file {file} is a directory, not a file").format(file=shown), where
        ) from None
    except OSError as exc:
        raise DataFileError(
            _("data file {file} cannot be read: {reason}").format(file=shown, reason=exc.strerror),
            where,
        ) from None
    text, problem = decode(data, shown, what=N_("data files"), rule=RULE)
    if problem:
        raise DataFileError(problem.message, problem.mark)
    if suffix in CSV_SUFFIXES:
        rows = read_csv(text, shown)
        name = source.name or _csv_variable_name(source)
        if not is_variable_name(name):
            raise DataFileError(
                _(
                    "the file name of {file} does not make a template variable name ('{name}'): "
                    "name the variable, e.g. --vars {suggested}={file}"
                ).format(file=shown, name=name, suggested=_suggest_name(name)),
                where,
            )
        return {name: rows}
    value = read_yaml(text, shown) if suffix in YAML_SUFFIXES else read_json(text, shown)
    if source.name:
        return {source.name: value}
    if not isinstance(value, dict):
        raise DataFileError(
            _(
                "data file {file} must hold a mapping of variable names to values (or name the "
                "variable: --vars NAME={file})"
            ).format(file=shown),
            Mark(shown, 1, 1),
        )
    for key in value:
        if not isinstance(key, str) or not is_variable_name(key):
            raise DataFileError(
                _(
                    "'{key}' in {file} cannot be a template variable: use letters, digits and _, "
                    "not starting with a digit"
                ).format(key=key, file=shown),
                key_mark_of(value, key) if isinstance(value, MarkedMap) else Mark(shown, 1, 1),
            )
    return dict(value)


def _suggest_name(name: str) -> str:
    cleaned = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name) or "data"
    return cleaned if is_variable_name(cleaned) else f"_{cleaned}"


def read_csv(text: str, shown: str) -> list[DataRow]:
    """A CSV text (with a header row) as rows. Blank lines are skipped; a row with more or fewer
    values than the header is an error at its line."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header: list[str] | None = None
        rows: list[DataRow] = []
        line = 1
        for record in reader:
            start, line = line, reader.line_num + 1
            if not any(value.strip() for value in record):
                continue  # blank lines, and the empty rows spreadsheets leave at the end
            if header is None:
                header = [name.strip() for name in record]
                _check_header(header, shown, start)
                continue
            if len(record) != len(header):
                raise DataFileError(
                    _(
                        "row {row} of {file} has {count} values; the header has {columns} "
                        "columns ({names})"
                    ).format(
                        row=len(rows) + 1,
                        file=shown,
                        count=len(record),
                        columns=len(header),
                        names=", ".join(header),
                    ),
                    Mark(shown, start, 1),
                )
            rows.append(
                DataRow(
                    zip(header, record, strict=True), source=shown, row=len(rows) + 1, line=start
                )
            )
    except csv.Error as exc:
        raise DataFileError(
            _("{file} is not valid CSV: {reason}").format(file=shown, reason=exc),
            Mark(shown, reader.line_num, 1),
        ) from None
    if header is None:
        raise DataFileError(
            _("{file} is empty: a CSV data file starts with a header row").format(file=shown),
            Mark(shown, 1, 1),
        )
    return rows


def _check_header(header: list[str], shown: str, line: int) -> None:
    seen: set[str] = set()
    for index, name in enumerate(header):
        if not name:
            raise DataFileError(
                _("column {index} of the header of {file} has no name").format(
                    index=index + 1, file=shown
                ),
                Mark(shown, line, 1),
            )
        if name in seen:
            raise DataFileError(
                _("column '{name}' appears twice in the header of {file}").format(
                    name=name, file=shown
                ),
                Mark(shown, line, 1),
            )
        seen.add(name)


def read_yaml(text: str, shown: str) -> object:
    from ainas_provision.manifest.yamlfile import YamlProblem, parse_yaml  # PyYAML, when used

    def make_mark(line: int, col: int) -> Mark:
        return Mark(shown, line + 1, col + 1)

    try:
        return parse_yaml(text, make_mark)
    except YamlProblem as problem:
        raise DataFileError(
            _("data file {file}: {problem}").format(file=shown, problem=problem.message),
            problem.mark,
        ) from None


def read_json(text: str, shown: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataFileError(
            _("data file {file} is not valid JSON: {reason}").format(file=shown, reason=exc.msg),
            Mark(shown, exc.lineno, exc.colno),
        ) from None
    except RecursionError:
        raise DataFileError(
            _("data file {file} is nested too deeply").format(file=shown), Mark(shown, 1, 1)
        ) from None
    except ValueError:  # a number of more than 4,300 digits (Python's limit for int())
        raise DataFileError(
            _(
                "data file {file} holds a number of more than 4,300 digits; write it as a string"
            ).format(file=shown),
            Mark(shown, 1, 1),
        ) from None


def data_file_paths(sources: Iterable[VarsSource]) -> set[Path]:
    """The files named as data, resolved: they are never loaded as manifests."""
    return {_resolved(source.path) for source in sources}


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path.absolute()


def is_data_file(path: Path, data_files: set[Path]) -> bool:
    return _resolved(path) in data_files
