"""The rule registry: every check has a stable ID, a one-line summary, and is written once.

Rules come in two kinds. *Value rules* explain why a value fails the form the schema gives it
(the schema's ``pattern``, marked ``x-ainas-rule``): the schema decides, the rule says which
character is wrong and what to type instead. *Manifest rules* look across values (references,
passwords after their secrets are resolved, certificates) and report their own findings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Explanation:
    """Why a value fails its rule; ``index`` points at the offending character, if one."""

    message: str
    index: int | None = None


@dataclass(frozen=True)
class Rule:
    """A registered rule: its ID, its summary, its stage and, for a value rule, its explanation."""

    id: str
    summary: str
    stage: str  # load | schema | manifest | secrets | certificate
    explain: Callable[[object, str], Explanation] | None = None


RULES: dict[str, Rule] = {}


def register(id: str, summary: str, stage: str, explain=None) -> Rule:
    if id in RULES:
        raise ValueError(f"rule {id} registered twice")
    RULES[id] = Rule(id, summary, stage, explain)
    return RULES[id]


def explainer(id: str, summary: str, stage: str = "schema"):
    """Decorator: register a value rule with its explanation function ``(value, label)``."""

    def wrap(func):
        register(id, summary, stage, func)
        return func

    return wrap
