"""Finding things on AINAS's screens by what a person sees: the page helpers (run in the page)
that find a field by its visible label, read label cells and result lists, and fill forms.

A field is found by the label the catalogue gives it, as a person finds it: a ``<label>`` bound to
the input, or else the table row whose header cell holds exactly that text (AINAS's screens are
tables of label cells and inputs, sometimes two label/input pairs to a row). Never by position,
never by an element ID.
"""

from __future__ import annotations

import json

# Reads every label cell of a page: {label: text} for the top-level rows, and for a cell that
# holds a table of its own, {label: {inner label: text}}. Pull-downs give their chosen option's
# value and text, checkboxes whether they are ticked, text inputs their value.
READ_CELLS = """
(root) => {
  const own = (el) => el.closest('table');
  const value = (td) => {
    const inner = td.querySelector('table');
    if (inner) {
      const out = {};
      for (const th of inner.querySelectorAll('th')) {
        const cell = th.nextElementSibling;
        if (cell) out[th.textContent.trim()] = cell.textContent.trim();
      }
      return out;
    }
    const select = td.querySelector('select');
    if (select) {
      const o = select.selectedOptions[0];
      return {value: o ? o.value : '', text: o ? o.textContent.trim() : ''};
    }
    const box = td.querySelector('input[type=checkbox]');
    if (box) return {checked: box.checked};
    const text = td.querySelector('input[type=text], input:not([type])');
    if (text) return {value: text.value};
    return td.textContent.trim();
  };
  const out = {};
  for (const th of root.querySelectorAll('th')) {
    const table = own(th);
    if (table && table.parentElement && table.parentElement.closest('td')) continue;
    const td = th.nextElementSibling;
    if (!td || td.tagName !== 'TD') continue;
    out[th.textContent.trim()] = value(td);
  }
  return out;
}
"""

# The rows of the result list whose header row is exactly ``columns``: each cell's text and the
# address of its link, if any.
READ_LIST = """
([root, columns]) => {
  for (const table of root.querySelectorAll('table')) {
    const first = table.querySelector('tr');
    if (!first || first.querySelector('td')) continue;
    const heads = [...first.querySelectorAll('th')].map(th => th.textContent.trim());
    if (heads.length !== columns.length || heads.some((h, i) => h !== columns[i])) continue;
    return [...table.querySelectorAll('tr')].slice(1).map(tr =>
      [...tr.querySelectorAll('td')].map(td => {
        const a = td.querySelector('a');
        return {text: td.textContent.trim(), href: a ? a.href : null};
      }));
  }
  return null;
}
"""


def xpath_literal(text: str) -> str:
    """``text`` as an XPath string literal (labels may hold quotes)."""
    if "'" not in text:
        return f"'{text}'"
    if '"' not in text:
        return f'"{text}"'
    return "concat(" + ", \"'\", ".join(f"'{part}'" for part in text.split("'")) + ")"


def cell_locator(scope, label: str):
    """The table cell beside the header cell that holds exactly ``label``."""
    return scope.locator(
        f"xpath=.//th[normalize-space()={xpath_literal(label)}]/following-sibling::td[1]"
    )


def dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False)

# Fills a form in one call: each entry {label, input, value} is found as a person finds it — a
# <label> bound to an input, else the table cell beside the header cell holding exactly the
# label — and set as typing or choosing would (with input and change events). Returns the
# entries it could not fill: a missing label, no control of that kind, a missing option.
FILL_FORM = """
(entries) => {
  const problems = [];
  const find = (label) => {
    for (const l of document.querySelectorAll('label')) {
      if (l.textContent.trim() === label && l.control) return {control: l.control, cell: null};
    }
    for (const th of document.querySelectorAll('th')) {
      if (th.textContent.trim() !== label) continue;
      const td = th.nextElementSibling;
      if (td && td.tagName === 'TD') return {control: null, cell: td};
    }
    return null;
  };
  const fire = (el) => {
    el.dispatchEvent(new Event('input', {bubbles: true}));
    el.dispatchEvent(new Event('change', {bubbles: true}));
  };
  for (const e of entries) {
    const found = find(e.label);
    if (!found) { problems.push({label: e.label, problem: 'missing'}); continue; }
    const pick = (selector) => found.control && found.control.matches(selector)
      ? [found.control] : (found.cell ? [...found.cell.querySelectorAll(selector)] : []);
    if (e.input === 'select') {
      const select = pick('select')[0];
      if (!select) { problems.push({label: e.label, problem: 'control'}); continue; }
      const want = e.value === null || e.value === undefined ? '' : String(e.value);
      const options = [...select.options];
      const option = options.find(o => o.value === want) || options.find(o => o.textContent.trim() === want);
      if (!option) {
        problems.push({label: e.label, problem: 'option', value: want,
                       options: options.map(o => o.textContent.trim()).filter(Boolean)});
        continue;
      }
      select.value = option.value; fire(select);
    } else if (e.input === 'checkbox') {
      const box = pick('input[type=checkbox]')[0];
      if (!box) { problems.push({label: e.label, problem: 'control'}); continue; }
      box.checked = !!e.value; fire(box);
    } else {
      const selector = e.input === 'password' ? 'input[type=password]' : 'input:not([type=hidden]):not([type=checkbox]):not([type=file]), textarea';
      const inputs = e.input === 'password' ? pick(selector) : pick(selector).slice(0, 1);
      if (!inputs.length) { problems.push({label: e.label, problem: 'control'}); continue; }
      for (const input of inputs) {
        input.value = e.value === null || e.value === undefined ? '' : String(e.value); fire(input);
      }
    }
  }
  return problems;
}
"""

# The page's heading and the error messages it shows (role=alert), in one call.
PAGE_STATE = """
() => {
  const h1 = document.querySelector('h1');
  const alert = document.querySelector('[role=alert]');
  const errors = alert ? alert.innerText.split('\\n').map(s => s.trim()).filter(Boolean) : [];
  return {heading: h1 ? h1.textContent.trim() : '', errors};
}
"""
