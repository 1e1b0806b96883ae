"""What the emulator's web screens store is what its JSON API reads.

A person types 利用開始日 as the screen shows it (``2026/12/01``); the manifests write
``2026-12-01``. A certificate registered through 代理人証明書登録 and 代理人証明書更新, with the
date typed in the screen's form, reads back as the manifests' date: the next plan over the JSON
API shows no change of 利用開始日, and another day typed on 代理人証明書更新 is planned back to the
manifests' date. The screens are driven over HTTPS with the sandbox's client certificate, as a
browser sends their forms.
"""

from __future__ import annotations

import datetime as dt
import re

import httpx
import pytest

from ainas_provision.secrets.values import Secret
from ainas_provision.targets.https.connection import Connection
from ainas_provision.targets.https.tls import client_tls
from tests.helpers import run
from tests.runbook_support import CANARIES, make_workspace
from tests.server_support import (
    client_cert_password,
    client_env,
    copy_sandbox,
    make_template,
    running,
)

JST = dt.timezone(dt.timedelta(hours=9))
NEW_PASSWORD = "Canary-WebForm-9Lp2!"


def pending(html: str) -> str:
    return re.search(r'name="_pending" value="([^"]+)"', html).group(1)


def confirmed(client: httpx.Client, url: str, data: dict, files=None):
    """A form filled and sent, then 確定 on its confirmation."""
    answer = client.post(url, data={"_step": "input", **data}, files=files)
    assert answer.status_code == 200, answer.text
    assert 'class="errors"' not in answer.text, answer.text
    assert "確認" in answer.text
    return client.post(url, data={"_step": "confirm", "_pending": pending(answer.text)})


@pytest.fixture
def screens(tmp_path_factory, tmp_path):
    files = copy_sandbox(make_template(tmp_path_factory.mktemp("template") / "s"), tmp_path / "s")
    connection = Connection(
        "https://127.0.0.1",
        client_cert=files.client_cert,
        client_cert_password=Secret(client_cert_password(files), "test"),
        ca_file=files.ca,
    )
    with (
        running(files) as server,
        httpx.Client(
            base_url=server.url.rstrip("/"),
            verify=client_tls(connection).context,
            follow_redirects=True,
        ) as client,
    ):
        yield files, server, client


def test_a_start_date_typed_as_the_screen_shows_it_reads_back_as_the_manifests_date(
    screens, tmp_path, monkeypatch
):
    files, server, client = screens
    start = dt.datetime.now(JST).date() + dt.timedelta(days=3)
    workspace = make_workspace(tmp_path, monkeypatch)
    text = (workspace / "ainas.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "  # start_date (利用開始日) is left out", f"  start_date: {start.isoformat()}\n  #"
    )
    (workspace / "ainas.yaml").write_text(text, encoding="utf-8")

    client.post("/oss_agt/login", data={"login_id": "abcde", "password": "99999999"})
    changed = client.post(
        "/oss_agt/password",
        data={
            "current_password": "99999999",
            "password": NEW_PASSWORD,
            "password_again": NEW_PASSWORD,
        },
    )
    assert changed.url.path == "/oss_agt/menu", changed.text
    p12 = (workspace / "certs" / "gyoseishoshi.p12").read_bytes()
    uploaded = confirmed(
        client,
        "/oss_agt/certificates/new",
        {"password": CANARIES["RB_CERT_PIN"]},
        files={"file": ("gyoseishoshi.p12", p12, "application/x-pkcs12")},
    )
    assert uploaded.url.path.startswith("/oss_agt/certificates/new/"), uploaded.text
    typed = confirmed(
        client,
        uploaded.url.path,
        {
            "trade_name_kana": "ダイリニンエー",
            "representative_name_kana": "マルマル　マルマル",
            "postal_code": "123-4567",
            "address_building": "",
            "start_date": start.strftime("%Y/%m/%d"),  # as the screen shows dates
            "password": CANARIES["RB_CERT_PIN"],
        },
    )
    assert "登録しました。" in typed.text, typed.text

    env = client_env(files, password=NEW_PASSWORD, new_password=None)
    target = server.url.rstrip("/")
    result = run("plan", str(workspace), "--target", target, env=env)
    assert result.exit_code == 0, result.stderr
    assert "site.akihabara" in result.stdout  # what is left to do: the site and the users
    # the certificate, registered through the screens, matches: 利用開始日 included
    assert not re.search(r"^\s*\S+ certificate\b", result.stdout, re.M), result.stdout

    # 代理人証明書更新 with another day: the plan sees it, in the manifests' form
    later = start + dt.timedelta(days=1)
    updated = confirmed(
        client,
        "/oss_agt/certificates/1/edit",
        {
            "trade_name_kana": "ダイリニンエー",
            "representative_name_kana": "マルマル　マルマル",
            "postal_code": "123-4567",
            "start_date": later.strftime("%Y/%m/%d"),
            "password": CANARIES["RB_CERT_PIN"],
        },
    )
    assert "更新しました。" in updated.text, updated.text
    result = run("plan", str(workspace), "--target", target, env=env)
    assert result.exit_code == 0, result.stderr
    change = f'"{later.isoformat()}" -> "{start.isoformat()}"'
    assert re.search(r"^\s*~ certificate\b", result.stdout, re.M), result.stdout
    assert change in result.stdout, result.stdout
