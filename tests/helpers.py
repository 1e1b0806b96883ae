"""Helpers shared by tests: running the CLI in-process; the bulk example's demo environment;
signing certificates of both kinds."""

from __future__ import annotations

import datetime as dt
import subprocess

from click.testing import CliRunner, Result

from ainas_provision.certs import pki
from ainas_provision.certs.types import CORPORATE, SCRIVENER
from ainas_provision.cli.main import cli
from tests.conftest import EXAMPLES


def run(*args: str, input: str | None = None, env: dict | None = None) -> Result:
    """Run ``ainas-provision ARGS`` through click's runner (stdout and stderr kept apart)."""
    runner = CliRunner()
    return runner.invoke(cli, list(args), input=input, env=env, catch_exceptions=False)


def bulk_demo_environment() -> dict[str, str]:
    """What ``examples/bulk-onboarding/demo-env.sh`` exports: a demo password per variable."""
    script = EXAMPLES / "bulk-onboarding" / "demo-env.sh"
    output = subprocess.run(["sh", str(script)], capture_output=True, text=True, check=True)
    env = {}
    for line in output.stdout.splitlines():
        name, value = line.removeprefix("export ").split("=", 1)
        env[name] = value
    return env


def error_lines(result: Result) -> list[str]:
    """The diagnostic lines of a validate run (without the summary)."""
    return [
        line for line in result.stderr.splitlines() if not line.startswith(("invalid:", "valid:"))
    ]


PASSWORD = "correct-horse-pin-4821"

SCRIVENER_FIELDS = {
    "trade_name": "代理人Ａ",
    "representative_name": "〇〇　〇〇",
    "address": "東京都千代田区三崎町２丁目１５−６",
}
CORPORATE_FIELDS = {
    "trade_name": "行政書士法人利活用",
    "representative_name": "利活用　一郎",
    "address": "東京都千代田区三崎町２丁目１５−６",
    "registered_number": "010005012345",
    "director_title": "代表社員",
    "registry_office": "東京法務局",
}
FIELDS = {SCRIVENER: SCRIVENER_FIELDS, CORPORATE: CORPORATE_FIELDS}


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def signing_cert(
    kind: str = SCRIVENER,
    *,
    ca: pki.Issued | None = None,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    **overrides,
) -> pki.Issued:
    """A signing certificate of ``kind``, valid from a month ago for a year unless told."""
    now = utc_now()
    fields = {**FIELDS[kind], **overrides}
    return pki.make_signing_certificate(
        kind,
        not_before=not_before or now - dt.timedelta(days=30),
        not_after=not_after or now + dt.timedelta(days=365),
        ca=ca,
        **fields,
    )


def p12(issued: pki.Issued, password: str = PASSWORD, **kwargs) -> bytes:
    return pki.export_pfx(issued, password, **kwargs)


class RecordingBackend:
    """A target that records the calls made to it (and the state at each), to test what the
    executor sends and in which order. ``fail`` names calls ("create site") that raise."""

    description = "recording backend"

    def __init__(self, state=None, fail: tuple[str, ...] = ()) -> None:
        self.calls: list[tuple] = []
        self.state = state
        self.fail = fail
        self.seen_state: list = []
        self._next_id = 100000001

    def _call(self, *call) -> None:
        self.calls.append(call)
        if self.state is not None:
            self.seen_state.append(self.state.copy())
        if f"{call[0]} {call[1]}" in self.fail:
            from ainas_provision.targets.base import BackendError

            raise BackendError("refused", f"{call[0]} {call[1]} refused")

    def create(self, kind, fields, *, parent=None) -> str:
        self._call("create", kind, dict(fields), parent)
        self._next_id += 1
        return str(self._next_id)

    def update(self, kind, id, fields) -> None:
        self._call("update", kind, id, dict(fields))

    def delete(self, kind, id) -> None:
        self._call("delete", kind, id)

    def change_password(self, password) -> None:
        self._call("change_password", "session", password)

    def close(self) -> None:
        pass
