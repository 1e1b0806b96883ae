"""The sandbox server against its own OpenAPI document, with schemathesis: for generated requests
to every operation, no server error (500), and every answer — errors included — in the
documented shape (status codes, content types, schemas). The ASGI application is called
directly: TLS is tested elsewhere (tests/test_sandbox_server.py)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from ainas_emulator.files import SandboxFiles
from ainas_emulator.init import init_sandbox
from ainas_emulator.server import create_app
from ainas_emulator.service import AinasSandbox

EXAMPLES = int(os.environ.get("AINAS_SCHEMATHESIS_EXAMPLES", "15"))
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]

# schemathesis reads the document when the module is collected: the sandbox is made then
_DIRECTORY = tempfile.TemporaryDirectory()
_FILES = SandboxFiles(Path(_DIRECTORY.name) / "sandbox")
init_sandbox(_FILES.directory)
_SANDBOX = AinasSandbox(_FILES.database)
_TOKEN = _SANDBOX.open_session(
    _SANDBOX.change_password(
        _SANDBOX.login("abcde", "99999999"), "Schema-Test-01", current_password="99999999"
    )
)
schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", create_app(_SANDBOX))


@pytest.fixture(scope="module", autouse=True)
def _cleanup():
    yield
    _SANDBOX.close()
    _DIRECTORY.cleanup()


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_error_and_every_answer_as_documented(case):
    case.call_and_validate(headers={"Authorization": f"Bearer {_TOKEN}"}, checks=CHECKS)
