"""Reading one YAML document into marked containers.

A ``SafeLoader`` subclass (libyaml's C loader when it is installed, for speed) composes the
node graph; :func:`parse_yaml` then builds :class:`MarkedMap`/:class:`MarkedList` from it
without recursion, remembering the mark of every key and value. Only safe YAML tags are
constructed: a tag that asks for a Python object is an error, never an object.

Two YAML 1.1 surprises are switched off because manifests are full of them: ``16:00`` stays
the text ``"16:00"`` (YAML 1.1 reads it as the sexagesimal number 960), and ``2026-12-01`` stays
text instead of becoming a date.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from sys import intern

import yaml
from yaml.constructor import SafeConstructor

from ainas_provision.i18n import _
from ainas_provision.manifest.marks import PLACE, Mark, MarkedList, MarkedMap, set_raw

_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# A manifest is shallow; anything deeper than this is not a manifest (and deep nesting is how
# hostile input exhausts a parser's stack).
MAX_DEPTH = 64
# Aliases may share structure; a document whose expanded size passes this is refused
# (the "billion laughs" alias bomb).
MAX_EXPANDED_NODES = 2_000_000
_MERGE = "tag:yaml.org,2002:merge"
# Merge keys (``<<: *defaults``) copy key/value pairs into every mapping that merges them:
# unlike an alias, each copy is built. The pairs a document's merges may copy, in all: 20,000
# users merging 25 defaults each. Past it the document is refused before copying (a few
# kilobytes of merges would otherwise build gigabytes, or take hours).
MAX_MERGED_PAIRS = 500_000


_STR = "tag:yaml.org,2002:str"


class MergeTooLarge(yaml.YAMLError):
    """The merge keys of a document would copy more than MAX_MERGED_PAIRS pairs."""

    def __init__(self, node: yaml.MappingNode) -> None:
        super().__init__(f"merge keys copy more than {MAX_MERGED_PAIRS:,} values")
        self.node = node


class ManifestLoader(_Base):
    """The safe loader for manifests."""

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        """Resolve merge keys, within the document's budget of copied pairs."""
        sizes = self.__dict__.setdefault("_merged_sizes", {})
        cost = 0
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                sources = (
                    value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                )
                cost += sum(_merged_size(source, sizes, set()) for source in sources)
        spent = self.__dict__.get("_merged_pairs", 0) + cost
        if spent > MAX_MERGED_PAIRS:
            raise MergeTooLarge(node)
        self._merged_pairs = spent
        super().flatten_mapping(node)

    def resolve(self, kind, value, implicit):
        """The tag of a node without one. libyaml's composer asks this for every node; most
        scalars of a manifest are keys and text that no implicit rule can match (they start
        with a letter no rule starts with, or are quoted), and the others repeat (``true``,
        ``"16:00"``): answered from a table instead of the resolver's regular expressions."""
        if kind is yaml.ScalarNode:
            if not implicit[0]:
                return _STR
            if value and value[0] not in _IMPLICIT_FIRST and not _WILDCARD:
                return _STR
            tag = _RESOLVED.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(_RESOLVED) < _RESOLVED_MAX:
                    _RESOLVED[value] = tag
            return tag
        return super().resolve(kind, value, implicit)

    def descend_resolver(self, current_node, current_index):
        pass  # no path resolvers: nothing to track on the way down

    def ascend_resolver(self):
        pass


# the first characters an implicit tag (bool, int, float, null, merge…) can start with
_IMPLICIT_FIRST = frozenset(k for k in ManifestLoader.yaml_implicit_resolvers if k)
_WILDCARD = None in ManifestLoader.yaml_implicit_resolvers or bool(
    ManifestLoader.yaml_path_resolvers
)
# plain scalars already resolved (keys and short values repeat across a large manifest)
_RESOLVED: dict[str, str] = {}
_RESOLVED_MAX = 100_000


def _merged_size(node: yaml.Node, sizes: dict[int, int], active: set[int]) -> int:
    """At most how many pairs ``node`` holds once its merge keys are resolved (duplicates
    counted: the bound, not the result), without resolving anything."""
    if not isinstance(node, yaml.MappingNode):
        return 0
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in active:  # a mapping merged into itself adds nothing
        return 0
    active.add(key)
    size = 0
    for key_node, value_node in node.value:
        if key_node.tag != _MERGE:
            size += 1
            continue
        sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
        for source in sources:
            size += _merged_size(source, sizes, active)
    active.discard(key)
    sizes[key] = size
    return size


def _keep_text(loader: SafeConstructor, node: yaml.ScalarNode) -> str:
    return node.value


def _int_or_text(loader: SafeConstructor, node: yaml.ScalarNode):
    if ":" in node.value:  # YAML 1.1 sexagesimal: 16:00 is a time here, not 960
        return node.value
    value = SafeConstructor.construct_yaml_int(loader, node)
    # 0x…, 0o… and 0b… numbers read past the 4,300 decimal digits Python converts, and then no
    # message can show them: converting raises ValueError here, as for a decimal one
    str(value)
    return value


def _float_or_text(loader: SafeConstructor, node: yaml.ScalarNode):
    if ":" in node.value:
        return node.value
    return SafeConstructor.construct_yaml_float(loader, node)


def _checked(construct: Callable):
    """A scalar constructor that reports a value its tag cannot hold (``!!int abc``,
    ``!!bool ''``, a number of more than 4,300 digits) as a marked YAML error, not as a Python
    exception."""

    def checked(loader: SafeConstructor, node: yaml.ScalarNode):
        try:
            return construct(loader, node)
        except (ValueError, IndexError, KeyError):
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            shown = node.value if len(node.value) <= 40 else node.value[:40] + "…"
            raise yaml.constructor.ConstructorError(
                None,
                None,
                _(
                    "'{value}' cannot be read as {tag} (write it in quotes to keep it as text)"
                ).format(value=shown, tag=tag),
                node.start_mark,
            ) from None

    return checked


ManifestLoader.add_constructor("tag:yaml.org,2002:timestamp", _keep_text)
ManifestLoader.add_constructor("tag:yaml.org,2002:int", _checked(_int_or_text))
ManifestLoader.add_constructor("tag:yaml.org,2002:float", _checked(_float_or_text))
ManifestLoader.add_constructor(
    "tag:yaml.org,2002:bool", _checked(SafeConstructor.construct_yaml_bool)
)
# the plain values a scalar may be; any other tag on a scalar goes through the checks of
# construct_object (a collection tag on a scalar, a Python tag: refused with a YAML error)
_SCALAR_TAGS = {
    f"tag:yaml.org,2002:{name}" for name in ("int", "float", "bool", "null", "binary", "timestamp")
}


class YamlProblem(Exception):
    """A document that cannot be read; ``rule`` names the kind, ``mark`` the place."""

    def __init__(self, rule: str, message: str, mark: Mark) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.mark = mark


MarkFactory = Callable[[int, int], Mark]


def _scalar_mark(node: yaml.Node, make: MarkFactory) -> Mark:
    return make(node.start_mark.line, node.start_mark.column)


def parse_yaml(text: str, make_mark: MarkFactory):
    """Parse ``text`` (one YAML document) into marked containers.

    ``make_mark(line0, col0)`` turns a 0-based position into a :class:`Mark` (a template's
    loader maps rendered positions back to the template there). Returns None for a document
    with no content. Raises :class:`YamlProblem`.
    """
    loader = ManifestLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            raise _syntax_problem(exc, make_mark, text) from None
        except yaml.YAMLError as exc:  # pragma: no cover - libyaml reports unmarked errors rarely
            raise YamlProblem(
                "yaml-syntax",
                _("YAML syntax error: {problem}").format(problem=exc),
                make_mark(0, 0),
            ) from None
        if node is None:
            return None
        return _build(loader, node, make_mark)
    except RecursionError:  # the pure-Python parser on deep nesting (libyaml stops at 1,000)
        raise YamlProblem(
            "too-complex",
            _("the document is nested too deeply; a manifest needs at most {count} levels").format(
                count=MAX_DEPTH
            ),
            make_mark(0, 0),
        ) from None
    finally:
        loader.dispose()


def _tab_at(text: str | None, mark) -> bool:
    """Whether the error points at a tab (libyaml's message does not name the character)."""
    if text is None or mark is None:
        return False
    lines = text.splitlines()
    if mark.line >= len(lines):
        return False
    line = lines[mark.line]
    return "\t" in line[: mark.column + 1]


def _syntax_problem(
    exc: yaml.MarkedYAMLError, make_mark: MarkFactory, text_source: str | None = None
) -> YamlProblem:
    mark = exc.problem_mark or exc.context_mark
    place = make_mark(mark.line, mark.column) if mark else make_mark(0, 0)
    parts = [p for p in (exc.context, exc.problem) if p]
    # PyYAML's own words (context, problem) stay as it writes them; the frame is translated
    text = "; ".join(parts) if parts else _("not valid YAML")
    if isinstance(exc, yaml.constructor.ConstructorError):
        rule = "yaml-tag"
        text = _(
            "{problem}: manifests use plain YAML values only (no tags such as !!python/object)"
        ).format(problem=text)
    else:
        rule = "yaml-syntax"
        text = _("YAML syntax error: {problem}").format(problem=text)
    if exc.context_mark and exc.problem_mark and exc.context_mark.line != exc.problem_mark.line:
        text += _(" (the construct starts at line {line})").format(line=exc.context_mark.line + 1)
    if rule == "yaml-syntax" and _tab_at(text_source, mark):
        # editors hide it: YAML forbids tabs for indentation (and after a key, before a value)
        text += _(
            ": this line has a tab character (U+0009); YAML indents with spaces only — "
            "replace the tab with spaces (set the editor to insert spaces)"
        )
    return YamlProblem(rule, text, place)


_STANDARD_COLLECTION_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [value for _, value in node.value]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_graph(root: yaml.Node, make_mark: MarkFactory) -> None:
    """Refuse what is not a manifest before building anything: unsafe collection tags,
    nesting deeper than MAX_DEPTH, alias bombs. Iterative and memoized; the graph is known
    to be acyclic (see :func:`_postorder`)."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in size:
            continue
        if not isinstance(node, yaml.ScalarNode) and node.tag not in _STANDARD_COLLECTION_TAGS:
            raise YamlProblem(
                "yaml-tag",
                _(
                    "unsupported tag '{tag}': manifests use plain YAML mappings and lists only"
                ).format(tag=node.tag),
                _scalar_mark(node, make_mark),
            )
        children = _children(node)
        if children_done:
            size[key] = 1 + sum(size[id(c)] for c in children)
            depth[key] = 1 + max((depth[id(c)] for c in children), default=0)
            if depth[key] > MAX_DEPTH:
                raise YamlProblem(
                    "too-complex",
                    _(
                        "the document is nested more than {count} levels deep; a manifest "
                        "needs only a few"
                    ).format(count=MAX_DEPTH),
                    _scalar_mark(node, make_mark),
                )
            if size[key] > MAX_EXPANDED_NODES:
                raise YamlProblem(
                    "too-complex",
                    _(
                        "the document's aliases expand to more than {count} values; write the "
                        "values out or use fewer aliases"
                    ).format(count=f"{MAX_EXPANDED_NODES:,}"),
                    _scalar_mark(node, make_mark),
                )
            continue
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in size)


def _postorder(root: yaml.Node, make_mark: MarkFactory) -> list[yaml.Node]:
    """Every node once, children before parents; a recursive alias is refused."""
    done: set[int] = set()
    active: set[int] = set()
    out: list[yaml.Node] = []
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        key = id(node)
        if expanded:
            active.discard(key)
            done.add(key)
            out.append(node)
            continue
        if key in done:
            continue
        active.add(key)
        stack.append((node, True))
        kids = list(node.value) if isinstance(node, yaml.SequenceNode) else []
        if isinstance(node, yaml.MappingNode):
            kids = [n for pair in node.value for n in pair]
        for child in kids:
            if id(child) in active:
                raise YamlProblem(
                    "too-complex",
                    _(
                        "an alias refers to a mapping or list that contains it; a manifest "
                        "cannot be recursive"
                    ),
                    _scalar_mark(child, make_mark),
                )
            if id(child) not in done:
                stack.append((child, False))
    return out


MAX_MAPPING_KEYS = 200_000


def _build(loader: ManifestLoader, root: yaml.Node, make_mark: MarkFactory):
    """Build marked containers from the node graph in one iterative pass (no recursion limit).

    Places are kept as the parser's ``(line, col)`` pairs and made into marks only when asked
    for. A document with aliases gets the extra checks of :func:`_postorder` and
    :func:`_check_graph` (recursion, alias bombs); one without pays nothing for them.
    """
    built: dict[int, object] = {}
    constructors = loader.yaml_constructors
    aliased = False
    exact = True  # every scalar is one the compiled schema validator reads exactly

    def make(node: yaml.Node, depth: int):
        nonlocal aliased, exact
        if isinstance(node, yaml.ScalarNode):
            if node.tag == _STR:
                return node.value, False
            if node.tag not in _SCALAR_TAGS:
                value = _scalar(loader, node, make_mark)
            else:
                try:
                    value = constructors[node.tag](loader, node)
                except yaml.MarkedYAMLError as exc:
                    raise _syntax_problem(exc, make_mark) from None
            if exact and not _exact_scalar(value):
                exact = False
            return value, False
        known = built.get(id(node))
        if known is not None:
            aliased = True
            return known, False
        if depth > MAX_DEPTH:
            raise YamlProblem(
                "too-complex",
                _(
                    "the document is nested more than {count} levels deep; a manifest "
                    "needs only a few"
                ).format(count=MAX_DEPTH),
                _scalar_mark(node, make_mark),
            )
        if node.tag not in _STANDARD_COLLECTION_TAGS:
            raise YamlProblem(
                "yaml-tag",
                _(
                    "unsupported tag '{tag}': manifests use plain YAML mappings and lists only"
                ).format(tag=node.tag),
                _scalar_mark(node, make_mark),
            )
        mark = node.start_mark.line * PLACE + node.start_mark.column  # a Mark when asked for
        obj = (
            MarkedMap(mark, make_mark)
            if isinstance(node, yaml.MappingNode)
            else MarkedList(mark, make_mark)
        )
        built[id(node)] = obj
        return obj, True

    top, fresh = make(root, 0)
    stack = [(root, top, 0)] if fresh else []
    scalar_node = yaml.ScalarNode
    while stack:
        node, obj, depth = stack.pop()
        if isinstance(node, yaml.MappingNode):
            _prepare_mapping(loader, node, make_mark)
            key_marks, value_marks = obj.key_marks, obj.value_marks
            for key_node, value_node in node.value:
                if key_node.__class__ is not scalar_node:
                    raise YamlProblem(
                        "yaml-syntax",
                        _("a mapping key must be a plain value, not a list or mapping"),
                        _scalar_mark(key_node, make_mark),
                    )
                # text (most keys and values) is taken as it is, without a call; a key is
                # interned: the same few keys repeat for every user, held once
                key = (
                    intern(key_node.value) if key_node.tag == _STR else make(key_node, depth)[0]
                )
                start = key_node.start_mark
                key_marks[key] = start.line * PLACE + start.column
                start = value_node.start_mark
                if value_node.__class__ is scalar_node:
                    if value_node.tag == _STR:
                        obj[key] = value_node.value
                    else:
                        value = obj[key] = make(value_node, depth + 1)[0]
                        if not isinstance(value, str):
                            set_raw(obj, key, value_node.value)
                    # a quoted value's place is its first character inside the quotes
                    value_marks[key] = (
                        start.line * PLACE + start.column + 1
                        if value_node.style in _QUOTES
                        else start.line * PLACE + start.column
                    )
                    continue
                value, fresh = make(value_node, depth + 1)
                obj[key] = value
                value_marks[key] = start.line * PLACE + start.column
                if fresh:
                    stack.append((value_node, value, depth + 1))
        else:
            item_marks = obj.item_marks
            for index, item_node in enumerate(node.value):
                if item_node.__class__ is scalar_node and item_node.tag == _STR:
                    obj.append(item_node.value)
                    start = item_node.start_mark
                    item_marks.append(
                        start.line * PLACE + start.column + 1
                        if item_node.style in _QUOTES
                        else start.line * PLACE + start.column
                    )
                    continue
                value, fresh = make(item_node, depth + 1)
                obj.append(value)
                item_marks.append(_value_pos(item_node))
                if fresh:
                    stack.append((item_node, value, depth + 1))
                elif isinstance(item_node, yaml.ScalarNode) and not isinstance(value, str):
                    set_raw(obj, index, item_node.value)
    if aliased:
        _postorder(root, make_mark)
        _check_graph(root, make_mark)
    if not exact and isinstance(top, MarkedMap):
        top.exact = False
    return top


def _exact_scalar(value) -> bool:
    """A scalar the compiled schema validator reads exactly (text, a 64-bit integer, a finite
    float, a boolean, null)."""
    kind = type(value)
    if value is None or kind is bool or kind is str:  # a time or date kept as text
        return True
    if kind is int:
        return -(2**63) <= value <= 2**64 - 1
    if kind is float:
        return math.isfinite(value)
    return False


_QUOTES = ("'", '"')


def _prepare_mapping(loader: ManifestLoader, node: yaml.MappingNode, make_mark) -> None:
    """Refuse duplicate keys, then resolve YAML merge keys (``<<: *defaults``)."""
    pairs = node.value
    try:
        keys = {k.value for k, _v in pairs}
    except TypeError:  # a key that is not a scalar (its value is a list): refused later
        keys = None
    if keys is None or len(keys) != len(pairs):  # a duplicate, or such a key
        _check_duplicates(node, make_mark)
    if _MERGE in {k.tag for k, _v in pairs}:  # (set comprehensions: one per mapping, in C)
        try:
            loader.flatten_mapping(node)
        except yaml.MarkedYAMLError as exc:
            raise _syntax_problem(exc, make_mark) from None
        except MergeTooLarge as exc:
            raise YamlProblem(
                "too-complex",
                _(
                    "the document's merge keys (<<) copy more than {count} values; write the "
                    "values out or merge less"
                ).format(count=f"{MAX_MERGED_PAIRS:,}"),
                _scalar_mark(exc.node, make_mark),
            ) from None
        if len(node.value) > MAX_MAPPING_KEYS:
            raise YamlProblem(
                "too-complex",
                _(
                    "a mapping has more than {count} keys after merging; that is not a manifest"
                ).format(count=f"{MAX_MAPPING_KEYS:,}"),
                _scalar_mark(node, make_mark),
            )


def _value_pos(node: yaml.Node) -> int:
    """Where a value starts (a :func:`~ainas_provision.manifest.marks.place`); for a quoted
    scalar, the first character inside the quotes, so that a column plus a character index
    points at that character."""
    start = node.start_mark
    if getattr(node, "style", None) in ("'", '"'):
        return start.line * PLACE + start.column + 1
    return start.line * PLACE + start.column


def _scalar(loader: ManifestLoader, node: yaml.Node, make_mark: MarkFactory):
    try:
        return loader.construct_object(node, deep=True)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_problem(exc, make_mark) from None


def _check_duplicates(node: yaml.MappingNode, make_mark: MarkFactory) -> None:
    seen: dict = {}
    for key_node, _value in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = key_node.value
        if key in seen:
            # through make_mark, so that a template names its own line and data row
            first = _scalar_mark(seen[key], make_mark)
            where = _("line {line}").format(line=first.line) + (
                f", {first.note}" if first.note else ""
            )
            raise YamlProblem(
                "duplicate-key",
                _(
                    "key '{key}' appears twice in this mapping (first at {where}); YAML would "
                    "silently keep only the last one — remove or rename one of them"
                ).format(key=key, where=where),
                _scalar_mark(key_node, make_mark),
            )
        seen[key] = key_node
