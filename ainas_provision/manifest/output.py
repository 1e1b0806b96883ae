"""The merged manifests as one document, for people and tools to read (``render``).

Sections come in a fixed order, every secret is masked
(:mod:`ainas_provision.secrets.masking`), and ``vars`` is left out: it has done its work once the
templates are rendered.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import yaml

from ainas_provision.secrets.masking import ShownSecret, mask_secrets

SECTION_ORDER = (
    "version",
    "organization",
    "certificate",
    "sites",
    "users",
    "admins",
    "policy",
    "connection",
)
FORMAT_VERSION = 1


def rendered_manifest(merged: Mapping) -> dict:
    """The merged manifest as plain data: sections in order, secrets masked."""
    masked = mask_secrets(merged)
    return {section: masked[section] for section in SECTION_ORDER if section in masked}


class _Dumper(yaml.SafeDumper):
    """Safe YAML; a masked secret on one line, as it is written: ``{env: NAME}``."""


def _shown_secret(dumper: yaml.SafeDumper, data: ShownSecret) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", dict(data), flow_style=True)


_Dumper.add_representer(ShownSecret, _shown_secret)


def to_yaml(document: Mapping) -> str:
    return yaml.dump(
        dict(document),
        Dumper=_Dumper,
        allow_unicode=True,
        sort_keys=False,
        width=1000,
        default_flow_style=False,
    )


def to_json(document: Mapping) -> str:
    """The JSON form: ``{"format_version": 1, "manifest": {…}}``."""
    return json.dumps(
        {"format_version": FORMAT_VERSION, "manifest": document}, ensure_ascii=False, indent=2
    )
