"""Helpers for the runbook tests: a quickstart whose every secret is a canary, and a runbook
session and its page served in the test's own process."""

from __future__ import annotations

import datetime as dt
import shutil
from contextlib import contextmanager
from pathlib import Path

from ainas_provision.certs import pki
from ainas_provision.certs.types import SCRIVENER
from ainas_provision.runbook.server import RunbookServer
from ainas_provision.runbook.session import RunbookSession, open_session
from ainas_provision.workflow.run import Options
from tests.conftest import copy_example

JST = dt.timezone(dt.timedelta(hours=9))
CANARIES = {
    "RB_CERT_PIN": "Canary-RbCertPin-4Wq7!",
    "RB_BATCH": "Canary-RbBatch-8Hd2!",
    "RB_ARRIVAL": "Canary-RbArrival-3Kp9!",
    "RB_KEI_BATCH": "Canary-RbKeiBatch-6Zm1!",
    "RB_KEI_ARRIVAL": "Canary-RbKeiArrival-2Rx5!",
    "RB_DAIRI001": "Canary-RbDairi001-7Ty4!",
    "RB_DAIRI002": "Canary-RbDairi002-5Lq8!",
}
REFERENCES = {
    "{file: secrets/cert-pin.txt}": "{env: RB_CERT_PIN}",
    "{file: secrets/akihabara-batch-password.txt}": "{env: RB_BATCH}",
    "{file: secrets/akihabara-arrival-password.txt}": "{env: RB_ARRIVAL}",
    "{file: secrets/akihabara-kei-batch-password.txt}": "{env: RB_KEI_BATCH}",
    "{file: secrets/akihabara-kei-arrival-password.txt}": "{env: RB_KEI_ARRIVAL}",
    "{file: secrets/dairi001-password.txt}": "{env: RB_DAIRI001}",
}
SITE_ID = "100702242"
QUICKSTART_STEPS = [
    "certificate",
    "site.akihabara",
    "batch_account.akihabara",
    "kei_batch_account.akihabara",
    "user.dairi001",
    "user.dairi002",
]


def make_workspace(root: Path, monkeypatch) -> Path:
    """The quickstart in ``root/quickstart``: a certificate whose PIN is a canary, every other
    secret a canary from the environment (dairi002's from a file, to show a file's name)."""
    path = root / "quickstart"
    copy_example("quickstart", path)
    shutil.rmtree(path / "secrets")
    (path / "secrets").mkdir()
    issued = pki.make_signing_certificate(
        SCRIVENER,
        trade_name="代理人A",
        representative_name="〇〇　〇〇",
        address="東京都千代田区三崎町2丁目15-6",
        not_before=dt.datetime(2026, 11, 1, tzinfo=JST),
        not_after=dt.datetime(2029, 10, 31, tzinfo=JST),
    )
    (path / "certs" / "gyoseishoshi.p12").write_bytes(
        pki.export_pfx(issued, CANARIES["RB_CERT_PIN"])
    )
    (path / "secrets" / "dairi002-password.txt").write_text(CANARIES["RB_DAIRI002"] + "\n")
    text = (path / "ainas.yaml").read_text(encoding="utf-8")
    for old, new in REFERENCES.items():
        assert old in text
        text = text.replace(old, new)
    (path / "ainas.yaml").write_text(text, encoding="utf-8")
    for name, value in CANARIES.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("LANG", raising=False)
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    return path


def assert_no_canary(data: bytes | str, where: str) -> None:
    raw = data.encode() if isinstance(data, str) else data
    for value in CANARIES.values():
        assert value.encode() not in raw, f"{value} leaked into {where}"


def assert_files_clean(root: Path, skip: tuple[str, ...] = ("secrets",)) -> None:
    """No canary in any file under ``root`` but the secret files the manifests name."""
    for path in root.rglob("*"):
        if path.is_file() and not any(part in skip for part in path.relative_to(root).parts):
            assert_no_canary(path.read_bytes(), str(path.relative_to(root)))


def session(
    path: Path,
    *,
    plan_file: Path | None = None,
    lang: str = "en",
    allow_deletes: int | None = None,
    state: str | None = None,
) -> RunbookSession:
    import os

    return open_session(
        Options(path=path, state_path=state, env=dict(os.environ)),
        plan_file,
        lang,
        lambda message: None,
        allow_deletes=allow_deletes,
    )


@contextmanager
def served(path: Path, *, plan_file: Path | None = None, lang: str = "en"):
    """A runbook of ``path`` served on 127.0.0.1 in this process; yields (server, session)."""
    opened = session(path, plan_file=plan_file, lang=lang)
    server = RunbookServer(opened, linger=0.2)
    server.start()
    try:
        yield server, opened
    finally:
        server.stop()
        server.join(10)
        opened.close()
