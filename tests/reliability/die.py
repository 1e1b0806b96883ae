"""Run ``ainas-provision`` and die the moment AINAS has created one resource.

``python -m tests.reliability.die KIND[:ID] -- ARGS…`` runs ``ainas-provision ARGS…`` with the
embedded sandbox backend's ``create`` wrapped: once the sandbox has created a resource of KIND
(and, for a user, the ログインID ID), the process ends at once with ``os._exit`` — as SIGKILL
would, before anything else is recorded: the narrowest crash window of an apply.
"""

from __future__ import annotations

import os
import sys

from ainas_provision.targets.embedded import SandboxBackend


def main() -> None:
    kind, _, wanted = sys.argv[1].partition(":")
    args = sys.argv[sys.argv.index("--") + 1 :]
    create = SandboxBackend.create

    def dying_create(self, what: str, fields: dict, *, parent: str | None = None) -> str:
        created = create(self, what, fields, parent=parent)
        if what == kind and (not wanted or fields.get("login_id") == wanted):
            os._exit(137)
        return created

    SandboxBackend.create = dying_create
    sys.argv = ["ainas-provision", *args]
    from ainas_provision.cli.main import main as cli

    cli()


if __name__ == "__main__":
    main()
