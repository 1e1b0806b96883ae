"""Validation rules, one module per concern: each registers its rules in :data:`RULES` when it is
imported.

Importing one rule's module does not import the others. A run whose manifests' outcome comes from
the cache of validated trees runs only what depends on secret values and on the day (the
``passwords``, ``secrets`` and ``certificate`` modules) and imports only those; validating the
files needs every rule, and so does listing them: :func:`every_rule`."""

from __future__ import annotations

from ainas_provision.validation.rules.registry import RULES, Rule

__all__ = ["RULES", "Rule", "every_rule"]


def every_rule() -> dict[str, Rule]:
    """:data:`RULES`, with every rule registered."""
    from ainas_provision.validation.rules import (  # noqa: F401  (registration)
        certificate,
        formats,
        inferred,
        loading,
        passwords,
        references,
        secrets,
        structure,
        templating,
        text,
    )

    return RULES
