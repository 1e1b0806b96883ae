"""Showing a plan: text in Terraform's idiom, JSON for programs, markdown for a pull request.

Secrets show as ``(sensitive)``; nothing here ever has a secret value to show. The text and
markdown forms end (text) or start (markdown, where a long plan is cut at the end) with the
plan's digest: the one ``apply --expect-digest`` checks the applied file against.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from itertools import islice

import click
import click.utils
from click.globals import resolve_color_default

from ainas_provision.i18n import N_, _
from ainas_provision.plan.changes import SENSITIVE, Change, FieldChange
from ainas_provision.plan.plan import Plan

COLORS = {"+": "green", "~": "yellow", "-": "red", "-/+": "magenta", "<=": "cyan"}
ACTION_WORDS = {
    "create": N_("create"),
    "renew": N_("renew"),
    "update": N_("update in place"),
    "adopt": N_("adopt"),
    "replace": N_("replace (delete, then create)"),
    "delete": N_("delete"),
}


def action_word(action: str) -> str:
    return _(ACTION_WORDS[action])


MARKDOWN_LIMIT = 60_000


# json.dumps(value, ensure_ascii=False) without making an encoder per call (a large plan has
# a hundred thousand values); text, the usual value, is quoted by the encoder's C function
_ENCODER = json.JSONEncoder(ensure_ascii=False)
_quote = json.encoder.encode_basestring


def value_text(value) -> str:
    if value == SENSITIVE:
        return SENSITIVE
    if value is None:
        return "null"
    if type(value) is str:
        return _quote(value)
    return _ENCODER.encode(value)


def _field_line(change: Change, field: FieldChange) -> tuple[str, str]:
    name = f"{field.label} ({field.name})" if field.label != field.name else field.name
    if change.action in ("create", "renew", "replace") or (
        field.old is None and change.action != "delete"
    ):
        if field.old is not None and change.action == "renew":
            return "~", f"{name} = {value_text(field.old)} -> {value_text(field.new)}"
        return "+", f"{name} = {value_text(field.new)}"
    return "~", f"{name} = {value_text(field.old)} -> {value_text(field.new)}"


def heading(change: Change) -> str:
    title = f" ({change.title})" if change.title else ""
    live = f" [{change.live_id}]" if change.live_id and change.spec.id_label else ""
    return f"{change.address}{title}{live}"


def summary_line(plan: Plan) -> str:
    counts = plan.counts()
    text = _(
        "Plan: {add} to add, {change} to change, {replace} to replace, {destroy} to destroy"
    ).format(**counts)
    if counts["adopt"]:
        text += _(", {adopt} to adopt").format(**counts)
    return text + _(".")


def target_line(plan: Plan) -> str:
    target = plan.target
    where = plan.target_description or target.get("location")
    scope = _(", sites {sites}").format(sites=", ".join(plan.scope)) if plan.scope else ""
    return (
        _("代理人組織ID {organization_id} at {where}").format(
            organization_id=target.get("organization_id"), where=where
        )
        + scope
    )


def text_lines(plan: Plan) -> list[tuple[str, str | None]]:
    """The text form as (line, color) pairs; the caller decides whether to colour."""
    return list(iter_text_lines(plan))


def iter_text_lines(plan: Plan) -> Iterator[tuple[str, str | None]]:
    """:func:`text_lines` one at a time (a plan of 20,000 users has 170,000 lines: printed as
    they are made, they are never all in memory)."""
    if plan.changes:
        yield (
            _("ainas-provision will perform these actions on {target}:").format(
                target=target_line(plan)
            ),
            None,
        )
        yield ("", None)
        for change in plan.changes:
            color = COLORS[change.symbol]
            yield (f"  {change.symbol} {heading(change)}: {action_word(change.action)}", color)
            if change.note:
                yield (f"      # {change.note}", None)
            for field in change.fields:
                symbol, text = _field_line(change, field)
                yield (f"      {symbol} {text}", COLORS[symbol])
            yield ("", None)
    lines: list[tuple[str, str | None]] = []  # the short rest
    if not plan.changes and not plan.errors:  # a plan with errors matches nothing: they say why
        lines.append(
            (
                _("No changes: {target} matches the manifests.").format(target=target_line(plan)),
                "green",
            )
        )
        lines.append(("", None))
    if plan.notes:
        lines.append((_("Notes:"), None))
        for note in plan.notes:
            mark = "!" if note.level == "warning" else "-"
            lines.append(
                (
                    f"  {mark} {note.address}: {note.message}",
                    "yellow" if note.level == "warning" else None,
                )
            )
        lines.append(("", None))
    if plan.incomplete:
        lines.append(
            (_("This plan stops at its first step: {step}.").format(step=plan.incomplete), "yellow")
        )
    for error in plan.errors:
        lines.append((_("Error: {error}").format(error=error), "red"))
    if plan.changes:
        lines.append((summary_line(plan), None))
    lines.append((digest_line(plan), None))
    yield from lines


def digest_line(plan: Plan) -> str:
    return f"Plan digest: {plan.digest()}"


def render_text(plan: Plan) -> str:
    """Plain text (no colour)."""
    return "\n".join(line for line, _ in text_lines(plan))


# lines printed per write: a plan of 20,000 users has 170,000 lines, and click's echo costs
# more per call (terminal checks, colour stripping) than the line itself
ECHO_BATCH = 500


def echo_text(plan: Plan, *, err: bool = False) -> None:
    """Print the plan, in colour on a terminal: what ``click.secho`` would print line by line,
    written a batch of lines at a time."""
    lines = iter_text_lines(plan)
    # styles that echo would strip again (output not to a terminal, --no-color) are not added
    # at all: the same text, without two passes over 170,000 lines
    stream = sys.stderr if err else sys.stdout
    plain = click.utils.should_strip_ansi(stream, resolve_color_default())
    while batch := list(islice(lines, ECHO_BATCH)):
        if plain:
            click.echo("\n".join(line for line, _color in batch), err=err)
        else:
            click.echo("\n".join(click.style(line, fg=color) for line, color in batch), err=err)


def emit(plan: Plan, output_format: str) -> None:
    """Print the plan in ``text`` (coloured on a terminal), ``json`` or ``markdown``."""
    if output_format == "json":
        # streamed, a change at a time, written about 64 KB at a time (click's echo per change
        # would cost more than the change)
        pending: list[str] = []
        size = 0
        for chunk in plan.json_chunks():
            pending.append(chunk)
            size += len(chunk)
            if size >= 65536:
                click.echo("".join(pending), nl=False)
                pending, size = [], 0
        click.echo("".join(pending))
    elif output_format == "markdown":
        click.echo(render_markdown(plan))
    else:
        echo_text(plan)


def render_json(plan: Plan) -> str:
    return "".join(plan.json_chunks())


def _markdown_details(change: Change) -> str:
    rows = [f"{change.symbol} {heading(change)}: {action_word(change.action)}"]
    if change.note:
        rows.append(f"#   {change.note}")
    for field in change.fields:
        symbol, text = _field_line(change, field)
        rows.append(f"{'+' if symbol == '+' else '!'}   {text}")
    return "\n".join(rows)


def render_markdown(plan: Plan, limit: int = MARKDOWN_LIMIT) -> str:
    """For a pull-request comment: a summary table and the details, cut down to stay under
    ``limit`` characters on a large plan (the rest is named, not dropped silently)."""
    head = [f"### ainas-provision plan — {target_line(plan)}", "", f"`{digest_line(plan)}`", ""]
    if plan.errors:
        head += (
            ["**" + _("The plan cannot be applied:") + "**", ""]
            + [f"- ❌ {e}" for e in plan.errors]
            + [""]
        )
    if not plan.changes and not plan.errors:
        head += [_("No changes: AINAS matches the manifests."), ""]
    else:
        head += [f"**{summary_line(plan)}**", ""]
    notes = []
    if plan.notes:
        notes = (
            ["**" + _("Notes") + "**", ""]
            + [
                f"- {'⚠️' if n.level == 'warning' else 'ℹ️'} `{n.address}`: {n.message}"
                for n in plan.notes
            ]
            + [""]
        )
    table = ["| | " + _("resource") + " | " + _("action") + " |", "|---|---|---|"]
    rows = [
        f"| `{c.symbol}` | `{c.address}` {c.title} | {action_word(c.action)} |"
        for c in plan.changes
    ]
    details = [_markdown_details(c) for c in plan.changes]
    footer_budget = 400

    def assemble(n_rows: int, n_details: int, note_lines: list[str]) -> str:
        parts = list(head)
        if plan.changes:
            parts += table + rows[:n_rows]
            if n_rows < len(rows):
                parts.append(f"| | … {len(rows) - n_rows} more changes | |")
            parts.append("")
            if n_details:
                parts += ["<details><summary>Details</summary>", "", "```diff"]
                parts += details[:n_details]
                parts += ["```", ""]
                if n_details < len(details):
                    parts.append(
                        f"*Details of {len(details) - n_details} more changes are not shown here "
                        "(comment size limit); see the full plan with `ainas-provision show`.*"
                    )
                parts += ["</details>", ""]
        parts += note_lines
        return "\n".join(parts)

    text = assemble(len(rows), len(details), notes)
    if len(text) <= limit:
        return text
    # keep the table, drop details from the end, then rows, then notes
    n_details = len(details)
    while n_details and len(assemble(len(rows), n_details, notes)) > limit - footer_budget:
        n_details = max(0, n_details - max(1, n_details // 10))
    n_rows = len(rows)
    while n_rows and len(assemble(n_rows, n_details, notes)) > limit - footer_budget:
        n_rows = max(0, n_rows - max(1, n_rows // 10))
    note_lines = notes
    if len(assemble(n_rows, n_details, note_lines)) > limit - footer_budget:
        note_lines = [f"*{len(plan.notes)} notes are not shown (comment size limit).*", ""]
    return assemble(n_rows, n_details, note_lines)
