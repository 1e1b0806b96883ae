"""What a refused plan and a failing server say: a write-once refusal does not first claim
that AINAS matches the manifests; a server error names the request, its status and what to
do."""

from __future__ import annotations

from pathlib import Path

import pytest

from ainas_emulator.service import AinasSandbox
from ainas_provision.targets.base import BackendError
from tests.conftest import copy_example
from tests.helpers import run
from tests.server_support import NEW_PASSWORD, running
from tests.test_https_backend import backend_for, files, template, usable_admin  # noqa: F401


@pytest.fixture
def quickstart(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "quickstart"
    copy_example("quickstart", path)
    monkeypatch.chdir(tmp_path)
    return path


def test_a_write_once_refusal_does_not_say_no_changes_first(quickstart):
    assert run("apply", "quickstart", "--auto-approve").exit_code == 0
    manifest = quickstart / "ainas.yaml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text.replace("batch_user_id: ABCD1234", "batch_user_id: ABCD9999"), "utf-8")
    for command in ("plan", "apply"):
        result = run(command, "quickstart", *(("--auto-approve",) if command == "apply" else ()))
        assert result.exit_code == 1
        assert "No changes" not in result.stdout + result.stderr
        assert "matches the manifests" not in result.stdout + result.stderr
        assert "Error: batch_account.akihabara: 一括利用者ID (batch_user_id) is 'ABCD1234'" in (
            result.stdout
        )
    markdown = run("plan", "quickstart", "--format", "markdown")
    assert "No changes" not in markdown.stdout
    assert "**The plan cannot be applied:**" in markdown.stdout


def test_a_server_error_names_the_request_and_its_status(files):  # noqa: F811
    usable_admin(files)
    sandbox = AinasSandbox(files.database)
    try:
        sandbox.add_fault("create", "site")
    finally:
        sandbox.close()
    with running(files) as server:
        backend = backend_for(files, server, {"password": NEW_PASSWORD}, backoff=0.001)
        try:
            with pytest.raises(BackendError) as caught:
                backend.create("site", {"name": "本店", "short_name": "本店"})
        finally:
            backend.close()
    message = caught.value.message
    assert message.startswith("the server failed on POST /"), message
    assert "(HTTP 500 Internal Server Error): " in message
    assert "not a refusal of the manifests: run again" in message
