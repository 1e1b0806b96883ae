"""Print the README's table of validation rules from the rule registry.

python tools/rules_table.py
"""

from __future__ import annotations

from ainas_provision.validation.rules import RULES

STAGES = ["load", "schema", "inferred", "manifest", "secrets", "certificate"]


def table() -> str:
    lines = ["| rule | checks | stage |", "|---|---|---|"]
    for stage in STAGES:
        lines.extend(
            f"| `{r.id}` | {r.summary} | {stage} |" for r in RULES.values() if r.stage == stage
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
