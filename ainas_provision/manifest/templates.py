"""Templated manifests (``*.yaml.j2``): rendered in a sandbox, then parsed like any manifest file,
with every value's place traced back to the template line and the data row it came from.

Rendering
    Jinja2's :class:`~jinja2.sandbox.SandboxedEnvironment` with a strict undefined (a misspelt
    variable or column is an error, never an empty string), ``keep_trailing_newline`` and no
    autoescaping. Variables come from data files (:mod:`ainas_provision.manifest.datafiles`).
    ``{% include %}`` reads files beside the template (never above it). The sandbox refuses
    access to internals (``''.__class__``…) and, here, anything that would build a value of
    more than :data:`MAX_SEQUENCE` items or characters before building it: ``*``, ``**``, the
    string methods that pad, repeat or join (``ljust``, ``center``, ``zfill``, ``expandtabs``,
    ``replace``, ``join``), format widths and precisions (``'%0Nd' % x``, ``'%0Nd'|format``,
    ``'{:N}'.format``, ``format_map``) and the filters that grow a value (``center``,
    ``indent``, ``join``, ``replace``, ``format``); the output is capped at :data:`MAX_OUTPUT`
    characters.

How a rendered position is traced back to the template
    Jinja compiles a template into a Python generator function and records, for some lines of
    that code, the template line they come from (``Template.debug_info``;
    ``Template.get_corresponding_lineno`` maps a code line back). The template is rendered by
    iterating that generator (``root_render_func``, so that no traceback is rewritten); after
    each chunk it yields, the generator is suspended *at the yield that produced the chunk*, so
    its frame's ``f_lineno`` maps to the template line of that chunk (the table is read once per
    template: :class:`_TemplateLines`). ``gi_yieldfrom`` is
    followed into nested generators (blocks); output of ``{% include %}`` and of macros is
    attributed to the line that includes or calls them.

    Jinja records a line only for code that has a node of its own: an expression
    (``{{ b.name }}``) or a statement, not the literal text between them. So that literal text
    maps to its own line too, the code generator here marks each piece of literal text with the
    line it starts on (:class:`_LineMarkingCodeGenerator`). A literal chunk is recognised as a
    constant of the generator's code; it may span several lines, and each newline in it
    advances the template line. An expression's output, even over several lines, belongs to
    the expression's line.

    The frame's locals tell the data row: a loop over CSV rows holds the current
    :class:`~ainas_provision.manifest.datafiles.DataRow` in a local (``l_<depth>_<name>``); the
    innermost one is the row.

    The result is, for every rendered line, the columns where a chunk starts and the (template
    file, template line, row) it came from. :meth:`Rendered.make_mark` is the ``make_mark`` the
    YAML parser calls: it keeps the rendered column (it is the template's column when the text
    before the value is literal, as in ``    name: {{ b.name }}``) and puts the row in the
    mark's note: ``rendered from row 17 of branches.csv (line 18, code: SJK17)``.

Errors
    A syntax error is reported at its template line (``template-syntax``); an undefined variable,
    key, column or attribute at the line that uses it (``template-undefined``), found by walking
    the traceback to the deepest frame of compiled template code; anything else raised while
    rendering, a sandbox refusal included, likewise (``template-error``). Both name the row
    being rendered, in a note.
"""

from __future__ import annotations

import bisect
import difflib
import functools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType

from jinja2 import BaseLoader, StrictUndefined, Template, TemplateNotFound, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import (
    SecurityError,
    TemplateError,
    TemplateSyntaxError,
    UndefinedError,
)
from jinja2.loaders import split_template_path
from jinja2.runtime import missing
from jinja2.sandbox import SandboxedEnvironment, SandboxedFormatter
from jinja2.utils import object_type_repr

from ainas_provision.diagnostics import Diagnostic
from ainas_provision.files import UnsafeFile, read_regular
from ainas_provision.i18n import N_, _
from ainas_provision.manifest.datafiles import DataRow, Unavailable
from ainas_provision.manifest.loader import (
    Document,
    decode,
    display_path,
    parse_document,
)
from ainas_provision.manifest.marks import Mark
from ainas_provision.manifest.scalars import Interpolations, ScalarRefused

MAX_OUTPUT = 64 * 1024 * 1024  # characters of rendered output
MAX_SEQUENCE = 1_000_000  # items a `*` may build
MAX_EXPONENT = 10_000


# -- the environment ------------------------------------------------------------------------


class _LineMarkingCodeGenerator(CodeGenerator):
    """Jinja's code generator, recording the template line of each piece of literal text too.

    Jinja writes consecutive output (text and expressions) as one ``Output`` node and records
    a line only for the expressions. Writing each child on its own, after ``newline(child)``,
    records the line of every child; the code is otherwise the same.
    """

    def visit_Output(self, node: nodes.Output, frame: Frame) -> None:
        if frame.require_output_check and self.has_known_extends:
            super().visit_Output(node, frame)  # writes nothing: no output outside blocks
            return
        if frame.buffer is not None or len(node.nodes) < 2:
            if node.nodes:
                self.newline(node.nodes[0])
            super().visit_Output(node, frame)
            return
        for child in node.nodes:
            self.newline(child)
            super().visit_Output(nodes.Output([child], lineno=child.lineno), frame)


class UndefinedName(UndefinedError):
    """A variable no data file defines (``name`` is the variable)."""

    def __init__(self, message: str | None = None, *, name: str | None = None) -> None:
        super().__init__(message)
        self.name = name


class _Undefined(StrictUndefined):
    """Strict, with messages in the manifest's terms: a CSV row's missing column is named as
    such, with a "did you mean"."""

    __slots__ = ()

    def __init__(self, hint=None, obj=missing, name=None, exc=UndefinedError) -> None:
        if exc is UndefinedError and obj is missing and hint is None:
            exc = functools.partial(UndefinedName, name=name)
        super().__init__(hint, obj, name, exc)

    @property
    def _undefined_message(self) -> str:
        hint, obj, name = self._undefined_hint, self._undefined_obj, self._undefined_name
        if hint:
            return hint
        if obj is missing:
            return _("undefined variable '{name}'").format(name=name)
        if isinstance(obj, DataRow):
            return _("no column '{name}' in {file}").format(
                name=name, file=obj.source
            ) + _did_you_mean(name, obj, N_("; its columns are: {names}"))
        if isinstance(obj, Mapping):
            return _("no key '{name}' in this mapping").format(name=name) + _did_you_mean(
                name, obj, N_("; its keys are: {names}")
            )
        if not isinstance(name, str):
            return f"{object_type_repr(obj)} has no item {name!r}"
        return f"{object_type_repr(obj)} has no attribute '{name}'"


def _did_you_mean(name, known, listing: str) -> str:
    """A close name, or ``listing`` (marked N_, with ``{names}``) of the known ones."""
    names = [str(k) for k in known]
    close = difflib.get_close_matches(str(name), names, n=1)
    if close:
        return _(" — did you mean '{name}'?").format(name=close[0])
    if names:
        return _(listing).format(names=", ".join(names))
    return ""


class DataUnavailable(UndefinedError):
    """A variable whose data file could not be read (already reported)."""


def _context(variables: Mapping[str, object]) -> dict[str, object]:
    """The template's variables; one whose data file failed raises :class:`DataUnavailable`
    when used."""
    return {
        name: _Undefined(
            hint=_("data file {file} is unusable").format(file=value.source), exc=DataUnavailable
        )
        if isinstance(value, Unavailable)
        else value
        for name, value in variables.items()
    }


class TemplateEncodingError(TemplateError):
    """A template file that is not UTF-8; ``diagnostic`` says where."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


class TemplateRefused(TemplateError):
    """An include that is not read: a link out of the manifest directory, or not a regular
    file."""


class _TemplateFiles(BaseLoader):
    """Templates from one directory and below it (``..`` is refused), decoded as manifests are;
    after links are resolved, only from inside ``root`` (the manifest directory), and only
    regular files."""

    def __init__(self, directory: Path, root: Path | None = None) -> None:
        self.directory = directory
        self.root = root if root is not None else directory

    def get_source(self, environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        path = self.directory.joinpath(*split_template_path(template))
        try:
            data = read_regular(path, within=self.root, shown=display_path(path))
        except UnsafeFile as exc:
            raise TemplateRefused(f"'{template}' is refused: {exc.strerror}") from None
        except OSError:
            raise TemplateNotFound(template) from None
        text, problem = decode(data, display_path(path))
        if problem:
            raise TemplateEncodingError(problem)
        return text, str(path), lambda: True


class TemplateEnvironment(SandboxedEnvironment):
    """The sandbox manifests are rendered in."""

    code_generator_class = _LineMarkingCodeGenerator
    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self, directory: Path, root: Path | None = None) -> None:
        # every {{ … }} becomes a token, written as a scalar of its place when the output is
        # assembled (see ainas_provision.manifest.scalars)
        self.interpolations = Interpolations()
        super().__init__(
            finalize=self.interpolations.finalize,
            loader=_TemplateFiles(directory, root),
            undefined=_Undefined,
            keep_trailing_newline=True,
            autoescape=False,
        )
        for name, check in _FILTER_CHECKS.items():
            self.filters[name] = _checked_filter(self.filters[name], check)

    def getattr(self, obj, attribute):
        # a CSV column wins over a dict method or a row attribute of the same name
        # (`b.items`, `b.row`): in a data row, `.name` means the column
        if isinstance(obj, DataRow) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    def call_binop(self, context, operator_: str, left, right):
        if operator_ == "*":
            _check_repeat(left, right)
            _check_repeat(right, left)
        elif operator_ == "**":
            _check_power(left, right)
        elif operator_ == "%" and isinstance(left, str):
            _check_percent_format(left, right)
        return super().call_binop(context, operator_, left, right)

    def call(__self, __context, __obj, *args, **kwargs):  # Jinja's signature
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            name = getattr(__obj, "__name__", "")
            if name == "join" and args and not isinstance(args[0], str | list | tuple):
                args = (list(args[0]), *args[1:])  # measured before it is joined
            _check_str_method(owner, name, args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value):
        """``str.format``/``format_map``, with each field's width and precision checked once
        resolved (nested ``{:{w}}`` included) before the field is formatted."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        text, is_map = value.__self__, value.__name__ == "format_map"
        formatter = _BoundedFormatter(self)

        def bounded(*args, **kwargs):
            if is_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                args, kwargs = (), args[0]
            return type(text)(formatter.vformat(text, args, kwargs))

        return bounded


def _check_repeat(sequence, times) -> None:
    if isinstance(sequence, str | list | tuple) and isinstance(times, int):
        size = len(sequence) * times
        if size > MAX_SEQUENCE:
            raise SecurityError(
                _(
                    "'*' would build a value of {size} items; templates may build at most {limit}"
                ).format(size=f"{size:,}", limit=f"{MAX_SEQUENCE:,}")
            )


def _refuse_size(size: int, what: str) -> None:
    if size > MAX_SEQUENCE:
        raise SecurityError(
            _(
                "{what} would build a value of {size} characters; templates may build at most "
                "{limit}"
            ).format(what=_(what), size=f"{size:,}", limit=f"{MAX_SEQUENCE:,}")
        )


def _as_int(value, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _check_str_method(text: str, name: str, args: tuple, kwargs: dict) -> None:
    """The size of what a string method would build, refused above the limit before it is
    built."""
    if name in ("ljust", "rjust", "center", "zfill"):
        width = args[0] if args else kwargs.get("width", 0)
        _refuse_size(_as_int(width), f"'{name}'")
    elif name == "expandtabs":
        size = _as_int(args[0] if args else kwargs.get("tabsize", 8), 8)
        _refuse_size(len(text) + text.count("\t") * size, "'expandtabs'")
    elif name == "replace" and len(args) >= 2:
        old, new = args[0], args[1]
        if isinstance(old, str) and isinstance(new, str):
            times = text.count(old) if old else len(text) + 1
            count = _as_int(args[2] if len(args) > 2 else kwargs.get("count", -1), -1)
            if count >= 0:
                times = min(times, count)
            _refuse_size(len(text) + times * max(0, len(new) - len(old)), "'replace'")
    elif name == "join" and args and isinstance(args[0], list | tuple):
        _check_join(text, args[0])


def _check_join(separator: str, items) -> None:
    items = list(items)
    size = sum(len(str(item)) for item in items) + len(separator) * max(0, len(items) - 1)
    _refuse_size(size, "'join'")


# a %-conversion: %[(key)][flags][width][.precision][length]type
_PERCENT = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")


def _check_percent_format(text: str, values) -> None:
    for match in _PERCENT.finditer(text):
        for part in match.groups():
            if part == "*":
                raise SecurityError(
                    _("a '*' width or precision in a printf-style format is refused")
                )
            if part is not None:
                _refuse_size(int(part), N_("a printf-style width or precision"))


class _BoundedFormatter(SandboxedFormatter):
    """The sandbox's ``str.format``, with every field's width and precision checked."""

    def format_field(self, value, format_spec: str):
        for number in re.findall(r"\d+", format_spec):
            _refuse_size(int(number), N_("a format width or precision"))
        return super().format_field(value, format_spec)


def _check_center_filter(value, width=80, *args, **kwargs) -> None:
    _refuse_size(_as_int(width), "'center'")


def _check_indent_filter(value, width=4, *args, **kwargs) -> None:
    lines = str(value).count("\n") + 1
    step = len(width) if isinstance(width, str) else _as_int(width)
    _refuse_size(len(str(value)) + lines * step, "'indent'")


def _check_join_filter(value, d="", *args, **kwargs) -> None:
    if isinstance(value, list | tuple) and isinstance(d, str):
        _check_join(d, value)


def _check_replace_filter(value, old="", new="", count=None) -> None:
    _check_str_method(str(value), "replace", (old, new, -1 if count is None else count), {})


def _check_format_filter(value, *args, **kwargs) -> None:
    if isinstance(value, str):
        _check_percent_format(value, args or kwargs)


_FILTER_CHECKS = {
    "center": _check_center_filter,
    "indent": _check_indent_filter,
    "join": _check_join_filter,
    "replace": _check_replace_filter,
    "format": _check_format_filter,
}


def _checked_filter(function, check):
    """``function`` (a Jinja filter), refusing before it runs what ``check`` refuses; the
    filter keeps its pass_context/pass_eval_context marks."""

    @functools.wraps(function)
    def checked(*args, **kwargs):
        skip = 1 if getattr(function, "jinja_pass_arg", None) is not None else 0
        if len(args) > skip and not isinstance(args[skip], str | list | tuple | dict):
            # an iterator (`range(n) | map(…)`) is measured, so it is read into a list first
            args = (*args[:skip], list(args[skip]), *args[skip + 1 :])
        check(*args[skip:], **kwargs)
        return function(*args, **kwargs)

    return checked


def _check_power(base, exponent) -> None:
    if (
        isinstance(base, int | float)
        and isinstance(exponent, int | float)
        and abs(exponent) > MAX_EXPONENT
        and abs(base) > 1
    ):
        raise SecurityError(
            _("'**' with an exponent above {limit} is refused").format(limit=f"{MAX_EXPONENT:,}")
        )


# -- rendering, with the map back to the template ---------------------------------------------


@dataclass(frozen=True, eq=False)
class Origin:
    """Where a piece of rendered text came from."""

    file: str  # the template, as shown
    line: int  # 1-based template line
    row: DataRow | None = None

    def note(self, verb: str = "rendered from") -> str | None:
        return f"{verb} {self.row.describe()}" if self.row is not None else None


@dataclass
class Rendered:
    """A template's output, and for each output line the columns where a chunk starts with the
    :class:`Origin` of that chunk."""

    shown: str
    text: str = ""
    lines: list[list[tuple[int, Origin]]] = field(default_factory=lambda: [[]])

    def origin(self, line0: int, col0: int) -> Origin:
        """The origin of rendered position (0-based line, column)."""
        segments = self.lines[min(line0, len(self.lines) - 1)] if self.lines else []
        if not segments:
            return Origin(self.shown, 1)
        found = segments[0][1]
        for start, origin in segments:
            if start > col0:
                break
            found = origin
        return found

    def make_mark(self, line0: int, col0: int) -> Mark:
        """The ``make_mark`` for :func:`~ainas_provision.manifest.yamlfile.parse_yaml`: the
        template's file and line, the rendered column, the data row as a note."""
        origin = self.origin(line0, col0)
        return Mark(origin.file, origin.line, col0 + 1, origin.note())


class _OutputMap:
    """Builds :class:`Rendered` from chunks and their origins, writing each interpolated value
    as a scalar of its place (the rendered line before it tells the place)."""

    def __init__(self, shown: str, interpolations: Interpolations | None = None) -> None:
        self.rendered = Rendered(shown)
        self.parts: list[str] = []
        self.col = 0
        self.size = 0
        self.interpolations = interpolations
        self.line = ""  # the current rendered line so far

    def add(self, chunk: str, origin: Origin, literal: bool) -> None:
        if self.interpolations is not None:
            try:
                chunk = self.interpolations.resolve(chunk, self.line)
            except ScalarRefused as exc:
                mark = Mark(origin.file, origin.line, self.col + 1, origin.note("while rendering"))
                raise TemplateProblem(Diagnostic(mark, str(exc), "template-error")) from None
            last = chunk.rfind("\n")
            self.line = self.line + chunk if last < 0 else chunk[last + 1 :]
        self.size += len(chunk)
        if self.size > MAX_OUTPUT:
            raise SecurityError(
                _("the rendered output passes {limit} characters; that is not a manifest").format(
                    limit=f"{MAX_OUTPUT:,}"
                )
            )
        self.parts.append(chunk)
        lines = self.rendered.lines
        for index, piece in enumerate(chunk.split("\n")):
            if index:
                lines.append([])
                self.col = 0
                if literal:  # literal text: its next line is the template's next line
                    origin = Origin(origin.file, origin.line + 1, origin.row)
            if piece or not lines[-1]:
                lines[-1].append((self.col, origin))
            self.col += len(piece)

    def result(self) -> Rendered:
        self.rendered.text = "".join(self.parts)
        return self.rendered


_LOCAL_NAME = re.compile(r"l_(\d+)_")


def _row_in(frame: FrameType) -> DataRow | None:
    """The data row a frame of template code is rendering: the innermost loop's, when several."""
    found, depth = None, -1
    for name, value in frame.f_locals.items():
        if isinstance(value, DataRow):
            match = _LOCAL_NAME.match(name)
            level = int(match.group(1)) if match else 0
            if level >= depth:
                found, depth = value, level
    return found


def _row_of(frames: list[FrameType]) -> DataRow | None:
    for frame in reversed(frames):  # innermost first
        row = _row_in(frame)
        if row is not None:
            return row
    return None


def _template_of(frame: FrameType) -> Template | None:
    return frame.f_globals.get("__jinja_template__")


def _generator_frames(generator) -> list[FrameType]:
    """The frames of compiled template code the generator is suspended in, outermost first."""
    frames: list[FrameType] = []
    while generator is not None:
        frame = getattr(generator, "gi_frame", None)
        if frame is None:
            break
        if _template_of(frame) is not None:
            frames.append(frame)
        generator = getattr(generator, "gi_yieldfrom", None)
    return frames


_CONSTANT_IDS: dict[int, tuple[object, frozenset[int]]] = {}


def _constant_ids(code) -> frozenset[int]:
    """The ids of a code object's text constants. Keyed by the code object's identity: code
    objects compare equal by content, and the constants of an equal code object compiled again
    (the same template rendered twice in one process) are other objects."""
    entry = _CONSTANT_IDS.get(id(code))
    if entry is None or entry[0] is not code:
        if len(_CONSTANT_IDS) >= 256:
            _CONSTANT_IDS.clear()
        # the code object stays alive in the table, so the ids of its constants stay valid
        entry = _CONSTANT_IDS[id(code)] = (
            code,
            frozenset(id(c) for c in code.co_consts if isinstance(c, str)),
        )
    return entry[1]


def _shown(filename: str | None) -> str:
    return display_path(Path(filename)) if filename else "<template>"


class _TemplateLines:
    """Maps a line of compiled template code to (template as shown, template line), as
    ``Template.get_corresponding_lineno`` does, with the table read once per template
    (``Template.debug_info`` parses it again on every access)."""

    def __init__(self) -> None:
        self._tables: dict[int, tuple[Template, str, list[int], list[int]]] = {}

    def place(self, template: Template, code_line: int) -> tuple[str, int]:
        table = self._tables.get(id(template))
        if table is None:
            pairs = template.debug_info  # (template line, code line), in code order
            table = (
                template,  # kept, so that its id stays its own
                _shown(template.filename),
                [code for _, code in pairs],
                [line for line, _ in pairs],
            )
            self._tables[id(template)] = table
        _, shown, code_lines, template_lines = table
        index = bisect.bisect_right(code_lines, code_line) - 1
        return shown, template_lines[index] if index >= 0 else 1


def _chunks(
    template: Template, variables: Mapping[str, object]
) -> Iterator[tuple[str, Origin, bool]]:
    """Render, yielding each chunk with its origin and whether it is literal template text."""
    lines = _TemplateLines()
    generator = template.root_render_func(template.new_context(_context(variables)))
    for chunk in generator:
        if not chunk:
            continue
        frames = _generator_frames(generator)
        if not frames:  # pragma: no cover - a generator always runs template code
            yield chunk, Origin(_shown(template.filename), 1), False
            continue
        frame = frames[-1]
        shown, line = lines.place(_template_of(frame), frame.f_lineno)
        literal = id(chunk) in _constant_ids(frame.f_code)
        yield chunk, Origin(shown, line, _row_of(frames)), literal


class TemplateProblem(Exception):
    """A template that cannot be rendered; ``diagnostic`` says where and why (None: it uses a
    data file that could not be read, which is reported already)."""

    def __init__(self, diagnostic: Diagnostic | None) -> None:
        super().__init__(diagnostic.message if diagnostic else "a data file is unusable")
        self.diagnostic = diagnostic


def render_template(
    path: Path, variables: Mapping[str, object], root: Path | None = None
) -> Rendered:
    """Render the template file at ``path``; it and its includes are read only from inside
    ``root`` (default: its directory). Raises :class:`TemplateProblem`."""
    shown = display_path(path)
    environment = TemplateEnvironment(path.parent, root)
    output = _OutputMap(shown, environment.interpolations)
    try:
        template = environment.get_template(path.name)
        for chunk, origin, literal in _chunks(template, variables):
            output.add(chunk, origin, literal)
    except TemplateProblem:
        raise
    except Exception as exc:  # every failure of user code becomes a diagnostic
        raise TemplateProblem(_diagnostic(exc, shown, variables)) from None
    return output.result()


def load_template(
    path: Path, variables: Mapping[str, object], root: Path | None = None
) -> tuple[Document | None, Diagnostic | None]:
    """Render and parse a template file. A template that renders to nothing but blank text
    gives no document (and no error): it has nothing to say for these variables."""
    try:
        rendered = render_template(path, variables, root)
    except TemplateProblem as problem:
        return None, problem.diagnostic
    if not rendered.text.strip():
        return None, None
    return parse_document(rendered.text, path, rendered.shown, rendered.make_mark)


# -- errors -----------------------------------------------------------------------------------


def _error_place(tb: TracebackType | None, shown: str) -> Origin:
    """The deepest line of template code in a traceback, and the data row being rendered."""
    frames: list[tuple[FrameType, int]] = []
    while tb is not None:
        if _template_of(tb.tb_frame) is not None:
            frames.append((tb.tb_frame, tb.tb_lineno))
        tb = tb.tb_next
    if not frames:
        return Origin(shown, 1)
    frame, code_line = frames[-1]
    file, line = _TemplateLines().place(_template_of(frame), code_line)
    return Origin(file, line, _row_of([f for f, _ in frames]))


def _diagnostic(exc: Exception, shown: str, variables: Mapping[str, object]) -> Diagnostic | None:
    if isinstance(exc, DataUnavailable):
        return None
    if isinstance(exc, TemplateEncodingError):
        return exc.diagnostic
    if isinstance(exc, TemplateSyntaxError):
        file = _shown(exc.filename) if exc.filename else shown
        return Diagnostic(
            Mark(file, exc.lineno or 1, 1),
            _("template syntax error: {problem}").format(problem=exc.message),
            "template-syntax",
        )
    place = _error_place(exc.__traceback__, shown)
    mark = Mark(place.file, place.line, 1, place.note("while rendering"))
    if isinstance(exc, UndefinedName):
        return Diagnostic(mark, _undefined_variable(exc.name, variables), "template-undefined")
    if isinstance(exc, UndefinedError):
        return Diagnostic(mark, exc.message or _("undefined value"), "template-undefined")
    if isinstance(exc, SecurityError):
        return Diagnostic(
            mark,
            _("refused by the template sandbox: {reason}").format(
                reason=(exc.message or "").rstrip(".")
            ),
            "template-error",
        )
    if isinstance(exc, TemplateRefused):
        return Diagnostic(
            mark, _("included template {problem}").format(problem=exc.message), "template-error"
        )
    if isinstance(exc, TemplateNotFound):
        return Diagnostic(
            mark,
            _(
                "included template '{name}' not found: includes are read from the template's "
                "own directory and below it"
            ).format(name=exc.name),
            "template-error",
        )
    if isinstance(exc, TemplateError):
        return Diagnostic(
            mark, _("template error: {problem}").format(problem=exc.message), "template-error"
        )
    return Diagnostic(
        mark,
        _("rendering failed: {kind}: {problem}").format(kind=type(exc).__name__, problem=exc),
        "template-error",
    )


def _undefined_variable(name: str | None, variables: Mapping[str, object]) -> str:
    text = _("undefined variable '{name}'").format(name=name)
    close = difflib.get_close_matches(str(name), list(variables), n=1)
    if close:
        return text + _(" — did you mean '{name}'?").format(name=close[0])
    if variables:
        return text + _("; the variables are: {names}").format(names=", ".join(sorted(variables)))
    return text + _(
        ": no data file gives variables — name one with --vars FILE, or in a vars: setting of a "
        "plain manifest file"
    )
