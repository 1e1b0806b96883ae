"""Validation rules. Importing this package registers every rule in :data:`RULES`."""

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
from ainas_provision.validation.rules.registry import RULES, Rule

__all__ = ["RULES", "Rule"]
