"""The rules of templated manifests (``*.yaml.j2``) and their data files (reported by the loader)."""

from __future__ import annotations

from ainas_provision.validation.rules.registry import register

register("template-syntax", "templates (`*.yaml.j2`) are valid Jinja2", "load")
register(
    "template-undefined",
    "templates use only defined variables, keys and CSV columns",
    "load",
)
register(
    "template-error",
    "templates render: no sandbox refusal, failing filter or missing include",
    "load",
)
register(
    "vars-file",
    "data files for templates (`--vars`, `vars:`) are readable CSV, YAML or JSON with usable names",
    "load",
)
