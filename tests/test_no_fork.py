"""No process is forked: validation runs in the command's own process on every platform.

``os.fork`` does not exist on Windows, and a forked child of a multi-threaded process (the
HTTPS client's pool) is unsafe on macOS. A compiled schema validator made the second process
pointless: one process validates 20,000 users faster than the parent and a forked child did.
"""

from __future__ import annotations

import os
import re

from ainas_provision.validation.engine import validate
from tests.conftest import REPO

SITE = "version: 1\nsites:\n  s{i}: {{name: 営業所{n}, short_name: 営業所{n}}}\n"


def fullwidth(i: int) -> str:
    return "".join(chr(0xFF10 + int(d)) for d in str(i))


def test_no_module_forks():
    pattern = re.compile(r"\bos\.fork\b|\bfork\(|set_start_method\(|get_context\(['\"]fork")
    found = [
        f"{path.relative_to(REPO)}:{number}"
        for path in sorted((REPO / "ainas_provision").rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert not found, found


def test_a_large_directory_validates_with_fork_unavailable(tmp_path, monkeypatch):
    """As on Windows: ``os.fork`` is absent; a directory large enough that a second process
    once checked part of it validates the same, an error in its largest file included."""
    monkeypatch.delattr(os, "fork", raising=False)
    directory = tmp_path / "many"
    directory.mkdir()
    for i in range(120):
        (directory / f"site{i:03d}.yaml").write_text(
            SITE.format(i=i, n=fullwidth(i)), encoding="utf-8"
        )
    (directory / "org.yaml").write_text(
        'version: 1\norganization: {id: "1", name: 代理人A, short_name: A, nmae: x}\n'
        + "# padding\n" * 5000,
        encoding="utf-8",
    )
    result = validate(directory, env={})
    assert [(d.rule, d.path) for d in result.errors] == [("unknown-key", "organization.nmae")]
    assert len(result.documents) == 121
