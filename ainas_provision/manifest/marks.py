"""Places in manifest files, and containers that remember where each value came from.

The loader builds :class:`MarkedMap` and :class:`MarkedList` instead of ``dict``/``list``. They
behave exactly like their bases (so JSON Schema and plain code can use them), and they remember
the :class:`Mark` of every key and value, so any problem found later can name its file, line and
column.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class Mark:
    """A place in a manifest file: 1-based line and column.

    ``note`` adds context a person needs to find the cause, e.g. the data row a template line
    was rendered from.
    """

    file: str
    line: int
    col: int
    note: str | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


def _no_source(line: int, col: int) -> Mark:
    return Mark("<manifest>", line + 1, col + 1)


# A place as the parser gives it (0-based line and column), kept in one integer until somebody
# asks for its Mark: ``line * PLACE + col``. A large manifest has hundreds of thousands of
# places; a (line, col) tuple would cost 56 bytes more for each.
PLACE = 1 << 32


def place(line: int, col: int) -> int:
    return line * PLACE + col


# the ``raw`` of a container with no scalar that YAML read as something other than a string
# (nearly all): one shared, read-only empty mapping instead of an empty dict each
NO_RAW: MappingProxyType = MappingProxyType({})


def set_raw(container, key, text: str) -> None:
    """Remember the source text of the scalar at ``key`` (see :func:`raw_of`)."""
    if container.raw is NO_RAW:
        container.raw = {}
    container.raw[key] = text


class MarkedMap(dict):
    """A mapping that remembers where it, its keys and its values are.

    Key and value places are stored as they come from the parser — a :class:`Mark`, or a
    0-based line and column packed by :func:`place` that ``source`` turns into one when somebody
    asks — because a large manifest has hundreds of thousands of values and most places are
    never shown.
    """

    __slots__ = ("_mark", "exact", "key_marks", "raw", "source", "value_marks")

    def __init__(self, mark: Mark | int, source=_no_source) -> None:
        super().__init__()
        self._mark = mark  # a Mark, or the parser's place made into one when asked for
        self.source = source
        self.key_marks: dict = {}
        self.value_marks: dict = {}
        # source text of scalars that YAML turned into something other than a string (written
        # through set_raw)
        self.raw = NO_RAW
        # on a document's root: False when a value below it is beyond what the compiled schema
        # validator reads exactly (see ainas_provision.schema.exact_in_compiled)
        self.exact = True

    @property
    def mark(self) -> Mark:
        return _own_mark(self)

    @mark.setter
    def mark(self, value: Mark) -> None:
        self._mark = value


class MarkedList(list):
    """A sequence that remembers where it and each item are."""

    __slots__ = ("_mark", "item_marks", "raw", "source")

    def __init__(self, mark: Mark | int, source=_no_source) -> None:
        super().__init__()
        self._mark = mark
        self.source = source
        self.item_marks: list = []
        self.raw = NO_RAW

    @property
    def mark(self) -> Mark:
        return _own_mark(self)

    @mark.setter
    def mark(self, value: Mark) -> None:
        self._mark = value


def _own_mark(container) -> Mark:
    mark = container._mark
    if mark.__class__ is int:
        mark = container._mark = container.source(*divmod(mark, PLACE))
    return mark


def _as_mark(container, stored) -> Mark:
    if stored is None or isinstance(stored, Mark):
        return stored
    return container.source(*divmod(stored, PLACE))


def mark_of(container, key=None) -> Mark | None:
    """The mark of ``container[key]`` (or of the container itself when ``key`` is None)."""
    if key is None:
        return getattr(container, "mark", None)
    if isinstance(container, MarkedMap):
        return _as_mark(container, container.value_marks.get(key)) or container.mark
    if isinstance(container, MarkedList) and isinstance(key, int):
        if 0 <= key < len(container.item_marks):
            return _as_mark(container, container.item_marks[key])
        return container.mark
    return getattr(container, "mark", None)


def key_mark_of(container, key) -> Mark | None:
    """The mark of a mapping's key (where a person would look for a misspelt key)."""
    if isinstance(container, MarkedMap):
        return _as_mark(container, container.key_marks.get(key)) or container.mark
    return mark_of(container, key)


def raw_of(container, key) -> str | None:
    """The source text of a scalar that YAML did not read as a string (``0123``, ``yes``)."""
    raw = getattr(container, "raw", None)
    return raw.get(key) if raw else None


def locate(root, path: Iterable, *, key: bool = False) -> Mark | None:
    """The mark of the value at ``path`` below ``root``; the nearest known place if the path
    leads nowhere (a missing key is reported at the mapping that should hold it)."""
    parts = list(path)
    node = root
    best = mark_of(root)
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        try:
            child = node[part]
        except (KeyError, IndexError, TypeError):
            return best
        if last and key:
            return key_mark_of(node, part) or best
        best = mark_of(node, part) or best
        node = child
    return best
