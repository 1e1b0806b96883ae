"""The runbook as a static, printable checklist: markdown or a self-contained HTML page.

The same steps as the local page (:mod:`.steps`), for a review or for an office whose AINAS PC
does not have the tool: each screen with its menu path, each field's label and value, the
guide's warnings, a blank for what AINAS assigns and a box to tick. Secrets appear by reference
only (``{env: NAME}``, the file's name): no value is in the checklist.
"""

from __future__ import annotations

import html

from ainas_provision.runbook import strings as text
from ainas_provision.runbook.steps import Step, StepField


def _value(field: StepField, t: dict[str, str]) -> str:
    if field.secret:
        return t["secret_from"].format(source=field.source)
    if field.input == "checkbox":
        return t["checked"] if field.value == "true" else t["unchecked"]
    if field.value is None:
        return t["leave_empty"]
    return field.value


def markdown(steps: list[Step], header: dict, lang: str) -> str:
    t = text.strings(lang)
    out = [f"# {t['checklist_title']}", ""]
    out.append(t["checklist_intro"].format(plan=header["plan"], serial=header["serial"]))
    out.append("")
    if not steps:
        out += [t["nothing"], ""]
    for step in steps:
        number = t["step"].format(number=step.number)
        out += [f"## - [ ] {number}: {step.title}", ""]
        for screen in step.screens:
            out.append(
                f"**{t['screen']}: {screen.name}** — {t['menu']}: " + " → ".join(screen.menu)
            )
            out.append("")
            for warning in screen.warnings:
                out.append(f"> ⚠ {warning}")
            if screen.warnings:
                out.append("")
            out += [f"| {t['field']} | {t['value']} |", "|---|---|"]
            for field in screen.fields:
                value = _value(field, t).replace("|", "\\|")
                value = f"`{value}`" if field.value is not None and not field.secret else value
                notes = "".join(f"<br>⚠ {w}" for w in field.warnings)
                out.append(f"| {field.label} | {value}{notes} |")
            out.append("")
            if screen.partial:
                out += [t["unchanged"], ""]
            if screen.button:
                out += [t["press"].format(button=screen.button), ""]
        for ask in step.asks:
            out += ["- " + t["checklist_ask"].format(label=ask.label, screen=ask.screen), ""]
        out += ["- " + t["checklist_done"], ""]
    return "\n".join(out)


def page(steps: list[Step], header: dict, lang: str) -> str:
    t = text.strings(lang)
    e = html.escape
    parts = [
        "<!doctype html>",
        f'<html lang="{e(t["lang"])}"><head><meta charset="utf-8">',
        f"<title>{e(t['checklist_title'])}</title>",
        "<style>body{font:14px/1.5 'IPAGothic','Noto Sans CJK JP',sans-serif;max-width:780px;"
        "margin:16px auto;color:#1d2330}section{border:1px solid #ccd;border-radius:6px;"
        "padding:6px 12px;margin:10px 0;break-inside:avoid}h2{font-size:16px}"
        "table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #dde;"
        "padding:3px 6px;text-align:left;vertical-align:top}th{width:38%;font-weight:normal;"
        "color:#556}.v{font-weight:bold;font-size:15px}.warn{color:#8a4b00;font-size:13px}"
        ".menu{color:#556}.blank{display:inline-block;min-width:14em;border-bottom:1px solid #000}"
        "</style></head><body>",
        f"<h1>{e(t['checklist_title'])}</h1>",
        f"<p>{e(t['checklist_intro'].format(plan=header['plan'], serial=header['serial']))}</p>",
    ]
    if not steps:
        parts.append(f"<p>{e(t['nothing'])}</p>")
    for step in steps:
        number = t["step"].format(number=step.number)
        parts.append(f"<section><h2>☐ {e(number)}: {e(step.title)}</h2>")
        for screen in step.screens:
            parts.append(f"<h3>{e(t['screen'])}: {e(screen.name)}</h3>")
            parts.append(
                f'<p class="menu">{e(t["menu"])}: '
                + " → ".join(f"<b>{e(item)}</b>" for item in screen.menu)
                + "</p>"
            )
            parts += [f'<p class="warn">⚠ {e(w)}</p>' for w in screen.warnings]
            parts.append("<table>")
            for field in screen.fields:
                value = e(_value(field, t))
                if field.value is not None and not field.secret:
                    value = f'<span class="v">{value}</span>'
                notes = "".join(f'<br><span class="warn">⚠ {e(w)}</span>' for w in field.warnings)
                parts.append(f"<tr><th>{e(field.label)}</th><td>{value}{notes}</td></tr>")
            parts.append("</table>")
            if screen.partial:
                parts.append(f"<p>{e(t['unchanged'])}</p>")
            if screen.button:
                parts.append(f"<p>{e(t['press'].format(button=screen.button))}</p>")
        for ask in step.asks:
            label = t["checklist_ask"].format(label=ask.label, screen=ask.screen)
            parts.append(f"<p>{e(label.replace('____________', ''))}<span class=blank></span></p>")
        parts.append(
            f"<p>{e(t['checklist_done'].replace('____________', ''))}<span class=blank></span></p>"
        )
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
