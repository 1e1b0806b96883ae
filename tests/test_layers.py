"""The layering is checked, not remembered: the import-linter contracts of pyproject.toml hold
(the CLI on top, then the workflow, apply, plan and targets, state and validation, the domain,
the leaves; the diff imports no target; the catalogue and the emulator stay apart)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def test_the_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--no-cache"], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout
