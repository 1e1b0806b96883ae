"""Values interpolated into a ``*.yaml.j2`` template stay YAML scalars.

A template is YAML text with ``{{ … }}`` holes; a value put in a hole as is could close the
scalar it stands in and write structure of its own: a CSV cell holding a newline and two more
indented lines adds a key — a 拠点管理者 in another branch — and a cell holding ``a, b`` adds an
item to a flow list. So every value is emitted as a scalar of the place it lands in:

How
    The environment's ``finalize`` (called on the value of every ``{{ … }}``) does not return
    the value but a token, ``\\x00<nonce>:<n>\\x00`` (the nonce is random for each rendering,
    so that no data can forge one), and keeps the value. When the rendered text is assembled
    (:class:`Interpolations`), each token is replaced by its value written for its place, which
    is known then: the text of the line before it.

    - inside a double-quoted scalar (``"{{ v }}"``): the value escaped for it (``\\"``,
      ``\\\\``, ``\\n``, ``\\uXXXX``); always exact;
    - inside a single-quoted scalar: ``'`` doubled; a line break or a control character cannot
      be written there and is refused;
    - where a scalar starts (after ``key:``, ``- ``, ``[``, ``,``, at the start of a line): the
      value as is when it cannot be read as anything but plain text (:func:`plain_safe`), else
      as a double-quoted scalar in which every YAML indicator is escaped as well, so that even
      misplaced it is inert; inside ``[ … ]`` or ``{ … }`` an empty value is written ``""``
      (as is, the item would vanish);
    - in the middle of a plain scalar (``BRANCH_{{ code }}_PASSWORD``): the value as is when it
      cannot end the scalar (no line break, ``: ``, `` #``, no flow indicator); anything else is
      refused, naming the template line and the data row: quote the scalar instead;
    - in a comment: line breaks escaped.

Asking for structure
    A value marked safe (Jinja's ``Markup``: ``{{ v | safe }}``, ``{{ v | tojson }}``) is
    emitted as is: the template says the value is YAML (JSON is YAML). Output of the template's
    own text (a macro, a ``{% set %}`` block) is the template's structure: a value holding this
    rendering's tokens is emitted as is, its tokens resolved in place.
"""

from __future__ import annotations

import re
import secrets

from markupsafe import Markup

LINE_BREAKS = "\n\r\x85\u2028\u2029"
FLOW = ",[]{}"
# a plain scalar cannot start with these (YAML 1.1/1.2 indicators)
START_INDICATORS = "-?:,[]{}#&*!|>'\"%@`"
# escaped in a quoted value besides what must be, so that a misplaced one is inert
INERT = {",": "\\x2c", "[": "\\x5b", "]": "\\x5d", "{": "\\x7b", "}": "\\x7d", "#": "\\x23"}
INERT[":"] = "\\x3a"


class ScalarRefused(Exception):
    """A value that cannot be written where the template puts it without changing the
    document's structure."""


def _printable(ch: str) -> bool:
    code = ord(ch)
    if ch == "\t":
        return True
    if code < 0x20 or 0x7F <= code <= 0x9F:
        return False
    return not (0xD800 <= code <= 0xDFFF or code in (0xFFFE, 0xFFFF, 0xFEFF, 0x2028, 0x2029))


def _ends_plain(text: str) -> bool:
    """Whether ``text`` could end a plain scalar or start a comment or a new line."""
    return (
        any(ch in LINE_BREAKS or not _printable(ch) for ch in text)
        or ": " in text
        or ":\t" in text
        or text.endswith(":")
        or " #" in text
        or "\t#" in text
        or any(ch in FLOW for ch in text)
    )


def plain_safe(text: str) -> bool:
    """Whether ``text`` written where a scalar starts is read back as one plain scalar."""
    if text == "":
        return True
    if _ends_plain(text) or text[0] in START_INDICATORS or text[0].isspace():
        return False
    return not text.startswith(("---", "...", "<<"))


def double_quoted_body(text: str, *, inert: bool = False) -> str:
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif not _printable(ch) or ch in LINE_BREAKS:
            code = ord(ch)
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        elif inert and ch in INERT:
            out.append(INERT[ch])
        else:
            out.append(ch)
    return "".join(out)


def double_quoted(text: str) -> str:
    return '"' + double_quoted_body(text, inert=True) + '"'


# -- where a token lands ------------------------------------------------------------------------

START, MID, DOUBLE, SINGLE, COMMENT = "start", "mid", "double", "single", "comment"
FLOW_START = "flow-start"  # where a scalar starts inside [ … ] or { … } on this line


def context_of(line: str) -> str:
    """Where text appended to ``line`` (the rendered line so far) lands."""
    state, start, escape, previous, closed_single, depth = None, True, False, "", False, 0
    for ch in line:
        if closed_single:
            closed_single = False
            if ch == "'":  # '' inside a single-quoted scalar: still inside
                state, previous = SINGLE, ch
                continue
        if state == DOUBLE:
            if escape:
                escape = False
            elif ch == "\\":
                escape = True
            elif ch == '"':
                state, start = None, False
        elif state == SINGLE:
            if ch == "'":
                state, start, closed_single = None, False, True
        elif state == COMMENT:
            pass
        elif ch == "#" and (previous == "" or previous.isspace()):
            state = COMMENT
        elif ch == '"' and start:
            state = DOUBLE
        elif ch == "'" and start:
            state = SINGLE
        elif ch.isspace():
            # after `key:`, `- `, `? ` a scalar starts; `a - b` taken so is harmless: a value
            # written there as a start is at worst quoted, and quoted it is inert
            if previous in (":", "-", "?"):
                start = True
        elif ch in ",[{":
            start = True
            depth += ch != ","
        elif ch in "]}":
            start, depth = False, max(0, depth - 1)
        else:
            start = False
        previous = ch
    if closed_single:
        return SINGLE  # a value right after a closing ' would turn it into ''
    if state in (DOUBLE, SINGLE, COMMENT):
        return state
    if previous in (":", "-", "?"):  # `key:{{ v }}` is no mapping: the colon is text
        return MID
    if start:
        return FLOW_START if depth else START
    return MID


class Interpolations:
    """The values of one rendering's ``{{ … }}``, behind tokens that no data can forge."""

    def __init__(self) -> None:
        self.nonce = secrets.token_hex(8)
        self.values: list[str] = []
        self.pattern = re.compile("\x00" + self.nonce + r":(\d+)\x00")

    def finalize(self, value: object) -> str:
        if isinstance(value, Markup):
            return str(value)  # the template asked for structure
        text = value if isinstance(value, str) else str(value)
        if self.pattern.search(text):
            return text  # the template's own output (a macro, a block): its structure
        self.values.append(text)
        return f"\x00{self.nonce}:{len(self.values) - 1}\x00"

    def resolve(self, chunk: str, line: str) -> str:
        """``chunk`` with its tokens replaced, ``line`` being the rendered line before it."""
        if "\x00" not in chunk:
            return chunk
        out: list[str] = []
        position = 0
        for match in self.pattern.finditer(chunk):
            before = chunk[position : match.start()]
            out.append(before)
            line = line + before if "\n" not in before else before.rsplit("\n", 1)[1]
            written = self.written(self.values[int(match.group(1))], context_of(line))
            out.append(written)
            line += written
            position = match.end()
        out.append(chunk[position:])
        return "".join(out)

    @staticmethod
    def written(value: str, context: str) -> str:
        if context == DOUBLE:
            return double_quoted_body(value)
        if context == SINGLE:
            if any(ch in LINE_BREAKS or not _printable(ch) for ch in value):
                raise ScalarRefused(
                    "a value with a line break or a control character cannot go in a "
                    'single-quoted scalar: use double quotes ("{{ … }}")'
                )
            return value.replace("'", "''")
        if context == COMMENT:
            return double_quoted_body(value)
        if context == START:
            return value if plain_safe(value) else double_quoted(value)
        if context == FLOW_START:  # an empty item would vanish from the list: written ""
            return value if value and plain_safe(value) else double_quoted(value)
        if not _ends_plain(value):
            return value
        raise ScalarRefused(
            f"the value {_preview(value)} would end the plain scalar it is put in (it holds a "
            "line break, ': ', ' #' or one of , [ ] { }) and change the document: quote the "
            'whole scalar ("…{{ … }}…"), or ask for structure with | tojson'
        )


def _preview(value: str) -> str:
    shown = double_quoted(value[:40]) if value else '""'
    return shown + ("…" if len(value) > 40 else "")
