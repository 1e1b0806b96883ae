// The runbook page. It loads the steps (no secret is among them), shows the current one, and
// reports "done" / "failed" to the local tool. A secret is fetched only when its Show or Copy
// button is pressed — one request per press — and is kept in no variable, storage or history:
// Show puts it in the page for a short while, Copy hands it to the clipboard.
"use strict";

(function () {
  const T = JSON.parse(document.getElementById("strings").textContent);
  const base = location.pathname.replace(/[^/]*$/, "");
  const main = document.getElementById("steps");
  const banner = document.getElementById("banner");
  const SHOW_SECONDS = 30;
  let view = null;

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, (m, k) => (k in values ? String(values[k]) : m));
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  async function api(path, body) {
    const response = await fetch(base + "api/" + path, body === undefined ? { cache: "no-store" } : {
      method: "POST",
      cache: "no-store",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({ error: response.statusText }));
    if (!response.ok) throw new Error(data.error || response.statusText);
    return data;
  }

  async function toClipboard(value) {
    try {
      await navigator.clipboard.writeText(value);
    } catch (e) {
      const area = el("textarea", { "aria-hidden": "true", style: "position:fixed;left:-9999px" });
      area.value = value;
      document.body.append(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
  }

  function flash(button, label) {
    const before = button.textContent;
    button.textContent = label;
    setTimeout(() => { button.textContent = before; }, 1500);
  }

  // -- one field ------------------------------------------------------------------------
  function valueCell(step, field) {
    const cell = el("td", {});
    if (field.secret) {
      const shown = el("span", { class: "secret-value", "data-secret": field.secret });
      const show = el("button", {
        type: "button", class: "show", "aria-label": T.show + " " + field.label,
        onclick: async () => {
          if (shown.textContent) { shown.textContent = ""; show.textContent = T.show; return; }
          try {
            shown.textContent = (await api("secret", { step: step.address, field: field.secret })).value;
            show.textContent = T.hide;
            setTimeout(() => { shown.textContent = ""; show.textContent = T.show; }, SHOW_SECONDS * 1000);
          } catch (e) { error(step, e.message); }
        },
      }, T.show);
      const copy = el("button", {
        type: "button", class: "copy", "aria-label": T.copy + " " + field.label,
        onclick: async () => {
          try {
            await toClipboard((await api("secret", { step: step.address, field: field.secret })).value);
            flash(copy, T.copied);
          } catch (e) { error(step, e.message); }
        },
      }, T.copy);
      cell.append(el("span", { class: "source" }, format(T.secret_from, { source: field.source })), " ",
        el("br"), shown, " ", show, copy);
    } else if (field.input === "checkbox") {
      cell.append(el("span", { class: "value", "data-value": field.value || "false" },
        field.value === "true" ? T.checked : T.unchecked));
    } else if (field.value === null) {
      cell.append(el("span", { class: "empty", "data-value": "" }, T.leave_empty));
    } else {
      const copy = el("button", {
        type: "button", class: "copy", "aria-label": T.copy + " " + field.label,
        onclick: async () => { await toClipboard(field.value); flash(copy, T.copied); },
      }, T.copy);
      cell.append(el("span", { class: "value", "data-value": field.value }, field.value), " ",
        field.input === "file" ? null : copy);
    }
    for (const warning of field.warnings) cell.append(el("span", { class: "fieldwarn" }, "⚠ " + warning));
    return cell;
  }

  function screenBlock(step, screen) {
    const menu = el("p", { class: "menu" }, T.menu + ": ");
    screen.menu.forEach((item, i) => {
      if (i) menu.append(" → ");
      menu.append(el("b", { class: "menu-item" }, item));
    });
    const rows = screen.fields.map((field) => el("tr", { "data-field": field.id, "data-label": field.label,
      "data-input": field.input, "data-repeat": field.repeat ? "true" : null },
      el("th", { scope: "row" }, field.label), valueCell(step, field)));
    return el("div", { class: "screen", "data-screen": screen.id, "data-name": screen.name,
      "data-button": screen.button || null },
      el("h3", {}, T.screen + ": ", screen.name),
      menu,
      screen.warnings.map((w) => el("p", { class: "warn" }, "⚠ " + w)),
      el("table", {}, el("tbody", {}, rows)),
      screen.partial ? el("p", { class: "press" }, T.unchanged) : null,
      screen.button ? el("p", { class: "press" }, format(T.press, { button: screen.button })) : null);
  }

  // -- reporting ------------------------------------------------------------------------
  function error(step, message) {
    const node = main.querySelector(`[data-address="${CSS.escape(step.address)}"] .error`);
    if (node) node.textContent = format(T.error, { message });
  }

  function reportBlock(step) {
    const inputs = step.asks.map((ask) => el("label", {},
      format(T.ask, { label: ask.label, screen: ask.screen }), el("br"),
      el("input", { name: ask.name, "data-ask": ask.name, inputmode: "numeric", autocomplete: "off",
        pattern: ask.pattern.replace(/^\^|\$$/g, ""), title: ask.hint, required: true,
        "aria-label": ask.label })));
    const message = el("textarea", { name: "message", "aria-label": T.fail_prompt });
    const failBox = el("div", { class: "failbox", hidden: true },
      el("label", {}, T.fail_prompt, el("br"), message),
      el("button", { type: "button", class: "danger", onclick: () => fail(step, message.value) }, T.fail_submit));
    const done = el("button", { type: "button", class: "primary done", onclick: () => confirm(step) }, T.done);
    const failed = el("button", { type: "button", class: "danger failed", onclick: () => {
      failBox.hidden = !failBox.hidden;
      if (!failBox.hidden) message.focus();
    } }, T.failed);
    const block = el("div", { class: "report" }, inputs, done, failed, failBox, el("p", { class: "error", role: "alert" }));
    block.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && event.target.tagName === "INPUT") { event.preventDefault(); confirm(step); }
    });
    return block;
  }

  async function confirm(step) {
    const answers = {};
    for (const input of main.querySelectorAll(`[data-address="${CSS.escape(step.address)}"] [data-ask]`)) {
      answers[input.name] = input.value.trim();
    }
    try {
      render(await api("done", { step: step.address, answers }));
    } catch (e) { error(step, e.message); }
  }

  async function fail(step, message) {
    try {
      render(await api("failed", { step: step.address, message }));
    } catch (e) { error(step, e.message); }
  }

  // -- the whole page -------------------------------------------------------------------
  function render(data) {
    view = data;
    document.getElementById("subtitle").textContent = format(T.subtitle,
      { organization_id: data.organization_id, plan: data.plan, serial: data.serial });
    main.replaceChildren();
    let seenCurrent = false;
    for (const step of data.steps) {
      const status = data.status[step.address];
      const current = step.address === data.current;
      const kind = status ? status.status : current ? "current" : seenCurrent ? "future" : "future";
      if (current) seenCurrent = true;
      let stateText = current ? T.current : "";
      if (status && status.status === "done") stateText = format(T.status_done, status);
      if (status && status.status === "failed") stateText = format(T.status_failed, status);
      const section = el("section", { class: "step " + kind, "data-address": step.address, tabindex: "-1",
        "aria-current": current ? "step" : null },
        el("h2", {}, el("span", { class: "number" }, format(T.step, { number: step.number }) + " " +
          format(T.of, { total: data.steps.length })), el("span", { class: "title" }, step.title),
          el("span", { class: "state" }, stateText)),
        current ? step.screens.map((screen) => screenBlock(step, screen)) : null,
        current ? reportBlock(step) : null);
      main.append(section);
    }
    if (data.steps.length === 0) main.append(el("p", {}, T.nothing));
    banner.hidden = !data.ended;
    banner.className = data.ended === "failed" ? "failed" : "";
    banner.textContent = data.ended === "failed" ? T.ended_failed : data.ended ? T.all_done : "";
    const focus = main.querySelector(".step.current");
    if (focus) {
      focus.scrollIntoView({ block: "start" });
      (focus.querySelector("button.copy, button.show, input") || focus).focus();
    }
  }

  function move(delta) {
    const steps = [...main.querySelectorAll(".step")];
    const at = steps.indexOf(document.activeElement.closest(".step"));
    const next = steps[Math.max(0, Math.min(steps.length - 1, (at < 0 ? 0 : at) + delta))];
    if (next) { next.focus(); next.scrollIntoView({ block: "nearest" }); }
  }

  document.addEventListener("keydown", (event) => {
    if (event.target.matches("input, textarea") || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "j") move(1);
    else if (event.key === "k") move(-1);
    else if (event.key === "c") {
      const buttons = [...main.querySelectorAll(".step.current button.copy")];
      const at = buttons.indexOf(document.activeElement);
      const next = buttons[(at + 1) % Math.max(1, buttons.length)];
      if (next) { next.focus(); next.click(); }
    } else return;
    event.preventDefault();
  });

  api("steps").then(render).catch((e) => { main.textContent = format(T.error, { message: e.message }); });
})();
