"""The sandbox server against a hostile or careless client: tenants kept apart, sessions that
end, logins that cannot be guessed at speed or timed, requests that cannot hurt the server.
(RELIABILITY.md, *The sandbox server under attack*.)"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import time

import httpx
import pytest

from ainas_emulator.errors import AinasError
from ainas_emulator.server import MAX_BODY, create_app
from ainas_emulator.service import AinasSandbox, sessions
from ainas_emulator.store import verify_password
from tests.server_support import (
    NEW_PASSWORD,
    client_cert_password,
    copy_sandbox,
    make_template,
    running,
)

SITE = {"site_name": "本店", "site_short_name": "本店"}
BATCH = {
    "payment_user_id": "12345678",
    "batch_user_id": "ABCD1234",
    "batch_password": "Batch-Pw-1",
    "arrival_number_password": "Arrival-Pw-1",
    "payment_method_national": "ダイレクト納付(国庫金限定)",
    "payment_method_prefectural": "ダイレクト納付",
}


class InProcess:
    """The app called in process through httpx's ASGI transport, one request at a time."""

    def __init__(self, app, raise_server_exceptions: bool = True) -> None:
        self.app = app

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, client=("10.0.0.1", 50000))
            async with httpx.AsyncClient(transport=transport, base_url="https://ainas") as client:
                return await client.request(method, path, **kwargs)

        return asyncio.run(go())

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def ainas(tmp_path, clock):
    """Two tenants in one emulator, their first admins' passwords changed."""
    sandbox = AinasSandbox(tmp_path / "ainas.sqlite", clock=clock)
    sandbox.create_tenant("1", "代理人A", "代理人A", [("abcde", "一郎")])
    sandbox.create_tenant("2", "代理人B", "代理人B", [("fhjkm", "二郎")])
    for login_id in ("abcde", "fhjkm"):
        sandbox.change_password(
            sandbox.login(login_id, "99999999"), NEW_PASSWORD, current_password="99999999"
        )
    yield sandbox
    sandbox.close()


def refusal(call) -> AinasError:
    with pytest.raises(AinasError) as caught:
        call()
    return caught.value


# -- tenants ----------------------------------------------------------------------------------
def test_no_write_reaches_another_tenant_and_its_ids_look_missing(ainas):
    """One tenant's admin cannot update, register on or delete another's site, batch account or
    user; the refusal is the one a missing ID gets, so that it tells nothing of what exists."""
    mine, theirs = ainas.actor("abcde"), ainas.actor("fhjkm")
    site_id = ainas.create(mine, "site", SITE)
    ainas.create(mine, "batch_account", BATCH, parent=site_id)
    ainas.create(
        mine,
        "user",
        {"login_id": "staff1", "user_name": "担当", "role": "担当者(送信可)", "site": site_id,
         "password": "Staff-Pw-01"},
    )  # fmt: skip
    missing = "999999999" if site_id != "999999999" else "888888888"
    attempts = [
        lambda s: ainas.update(theirs, "batch_account", s, {"arrival_number_password": "Stolen-1!"}),
        lambda s: ainas.update(theirs, "kei_batch_account", s, {"phone": "03-1111-2222"}),
        lambda s: ainas.create(theirs, "kei_batch_account", BATCH, parent=s),
        lambda s: ainas.update(theirs, "site", s, {"site_short_name": "乗取"}),
        lambda s: ainas.delete(theirs, "site", s),
    ]
    for attempt in attempts:
        other = refusal(lambda attempt=attempt: attempt(site_id))
        absent = refusal(lambda attempt=attempt: attempt(missing))
        assert (other.code, other.message, other.status) == (absent.code, absent.message, absent.status)
        assert other.status == 404
    for call in (
        lambda u: ainas.update(theirs, "user", u, {"password": "Stolen-Pw-1"}),
        lambda u: ainas.delete(theirs, "user", u),
    ):
        other, absent = refusal(lambda call=call: call("staff1")), refusal(lambda call=call: call("nobody"))
        assert (other.code, other.message, other.status) == (absent.code, absent.message, 404)
    stored = ainas.store.connection().execute(
        "SELECT arrival_number_password FROM batch_accounts WHERE site_id = ?", (site_id,)
    ).fetchone()[0]
    assert verify_password("Arrival-Pw-1", stored)
    assert ainas.list_sites(mine)[0][0]["fields"]["site_short_name"] == "本店"


def test_over_http_another_tenants_site_answers_as_a_missing_one(ainas):
    client = InProcess(create_app(ainas))
    token = ainas.open_session(ainas.actor("fhjkm"))
    site_id = ainas.create(ainas.actor("abcde"), "site", SITE)
    ainas.create(ainas.actor("abcde"), "batch_account", BATCH, parent=site_id)
    headers = {"Authorization": f"Bearer {token}"}
    for method, path, body in [
        ("PATCH", "/batch-account", {"arrival_number_password": "Stolen-1!"}),
        ("GET", "", None),
        ("PATCH", "", {"site_short_name": "乗取"}),
        ("DELETE", "", None),
    ]:
        other = client.request(method, f"/api/v1/sites/{site_id}{path}", json=body, headers=headers)
        absent = client.request(method, f"/api/v1/sites/999999999{path}", json=body, headers=headers)
        assert other.status_code == absent.status_code == 404, (method, path)
        assert other.json() == absent.json()


# -- sessions -----------------------------------------------------------------------------------
def test_a_session_expires_when_idle_and_at_its_maximum_age(ainas, clock):
    token = ainas.open_session(ainas.actor("abcde"))
    clock.now += sessions.SESSION_IDLE - 1
    assert ainas.session_actor(token).login_id == "abcde"  # and the idle clock starts again
    clock.now += sessions.SESSION_IDLE + 1
    assert refusal(lambda: ainas.session_actor(token)).code == "session-expired"
    assert refusal(lambda: ainas.session_actor(token)).code == "not-logged-in"  # gone
    busy = ainas.open_session(ainas.actor("abcde"))
    start = clock.now
    while clock.now - start < sessions.SESSION_MAX - 60:
        clock.now += sessions.SESSION_IDLE / 2
        ainas.session_actor(busy)
    clock.now = start + sessions.SESSION_MAX + 1
    assert refusal(lambda: ainas.session_actor(busy)).code == "session-expired"


def test_logout_ends_the_session(ainas):
    client = InProcess(create_app(ainas))
    login = client.post("/api/v1/session", json={"login_id": "abcde", "password": NEW_PASSWORD})
    headers = {"Authorization": f"Bearer {login.json()['token']}"}
    assert client.get("/api/v1/session", headers=headers).status_code == 200
    assert client.delete("/api/v1/session", headers=headers).status_code == 204
    gone = client.get("/api/v1/session", headers=headers)
    assert gone.status_code == 401 and gone.json()["error"]["code"] == "not-logged-in"


def test_a_password_change_asks_for_the_current_one_and_ends_every_session(ainas):
    client = InProcess(create_app(ainas))
    tokens = [
        client.post(
            "/api/v1/session", json={"login_id": "abcde", "password": NEW_PASSWORD}
        ).json()["token"]
        for _ in range(2)
    ]
    stolen, own = ({"Authorization": f"Bearer {t}"} for t in tokens)
    without = client.put("/api/v1/session/password", json={"new_password": "Taken-Over-1"}, headers=stolen)
    wrong = client.put(
        "/api/v1/session/password",
        json={"current_password": "guess-Pw-1", "new_password": "Taken-Over-1"},
        headers=stolen,
    )
    assert without.status_code == wrong.status_code == 403
    assert wrong.json()["error"]["message"] == "現在のパスワードが正しくありません。"
    changed = client.put(
        "/api/v1/session/password",
        json={"current_password": NEW_PASSWORD, "new_password": "Next-Pw-22"},
        headers=own,
    )
    assert changed.status_code == 200
    for old in (stolen, own):
        assert client.get("/api/v1/session", headers=old).status_code == 401
    fresh = {"Authorization": f"Bearer {changed.json()['token']}"}
    assert client.get("/api/v1/session", headers=fresh).json()["login_id"] == "abcde"


def test_an_admins_reset_ends_the_users_sessions(ainas):
    admin = ainas.actor("abcde")
    site_id = ainas.create(admin, "site", SITE)
    ainas.create(
        admin,
        "user",
        {"login_id": "staff1", "user_name": "担当", "role": "担当者(送信可)", "site": site_id,
         "password": "Staff-Pw-01"},
    )  # fmt: skip
    token = ainas.open_session(ainas.login("staff1", "Staff-Pw-01"))
    ainas.update(admin, "user", "staff1", {"password": "Reset-Pw-01"})
    assert refusal(lambda: ainas.session_actor(token)).code == "not-logged-in"
    assert ainas.login("staff1", "Reset-Pw-01").login_id == "staff1"


# -- logins ---------------------------------------------------------------------------------------
def test_failed_logins_lock_the_id_then_the_client(ainas, clock):
    for _ in range(sessions.MAX_FAILURES_PER_ID):
        assert refusal(lambda: ainas.login("abcde", "wrong-Pw-1", client="10.0.0.1")).status == 401
    locked = refusal(lambda: ainas.login("abcde", NEW_PASSWORD, client="10.0.0.2"))
    assert (locked.status, locked.code) == (429, "login-locked")
    assert "しばらくログインできません" in locked.message
    clock.now += sessions.LOCKOUT + 1
    assert ainas.login("abcde", NEW_PASSWORD).login_id == "abcde"
    # one client guessing across many IDs
    for n in range(sessions.MAX_FAILURES_PER_CLIENT):
        refusal(lambda n=n: ainas.login(f"user{n}", "wrong-Pw-1", client="10.0.0.9"))
    locked = refusal(lambda: ainas.login("fhjkm", NEW_PASSWORD, client="10.0.0.9"))
    assert locked.status == 429
    assert ainas.login("fhjkm", NEW_PASSWORD, client="10.0.0.3").login_id == "fhjkm"


def test_an_unknown_id_costs_a_password_hash_like_a_known_one(ainas, monkeypatch):
    """The time of the answer does not tell whether an ID exists: both verify one hash."""
    calls = []

    def counting(password, stored):
        calls.append(stored.split("$")[1])
        return verify_password(password, stored)

    monkeypatch.setattr(sessions, "verify_password", counting)
    refusal(lambda: ainas.login("nobody", "wrong-Pw-1"))
    refusal(lambda: ainas.login("abcde", "wrong-Pw-1"))
    assert len(calls) == 2 and calls[0] == calls[1]  # the same cost


# -- malformed requests --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("deep nesting", b"[" * 100_000 + b"]" * 100_000),
        ("deep objects", b'{"a":' * 40 + b"1" + b"}" * 40),
        ("a 5,000-digit integer", b'{"login_id": ' + b"9" * 5000 + b', "password": "x"}'),
        ("a lone surrogate", b'{"login_id": "\\ud800", "password": "x"}'),
        ("a lone surrogate as a key", b'{"\\udfff": 1}'),
        ("not UTF-8", b'{"login_id": "\xff"}'),
    ],
)
def test_malformed_json_is_400_before_and_after_login(ainas, name, body):
    client = InProcess(create_app(ainas), raise_server_exceptions=False)
    token = ainas.open_session(ainas.actor("abcde"))
    for path, headers in (
        ("/api/v1/session", {}),
        ("/api/v1/sites", {"Authorization": f"Bearer {token}"}),
    ):
        answer = client.post(path, content=body, headers={**headers, "content-type": "application/json"})
        assert answer.status_code == 400, (name, path, answer.text)
        assert answer.json()["error"]["code"] == "invalid-request"


def _call(app, method: str, path: str, headers: dict) -> tuple[int, dict, bool]:
    """Call the ASGI app with a body it must not read: reading it fails the test."""
    sent: list[dict] = []
    read = False

    async def receive():
        nonlocal read
        read = True
        raise AssertionError("the body was read")

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "http_version": "1.1",
        "scheme": "https",
        "server": ("127.0.0.1", 8443),
        "client": ("127.0.0.1", 50000),
        "root_path": "",
    }
    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(body), read


def test_a_body_over_the_limit_is_refused_from_its_length_unread(ainas):
    app = create_app(ainas)
    token = ainas.open_session(ainas.actor("abcde"))
    status, answer, read = _call(
        app,
        "POST",
        "/api/v1/sites",
        {"authorization": f"Bearer {token}", "content-length": str(200 * 1024 * 1024)},
    )
    assert (status, answer["error"]["code"], read) == (413, "too-large", False)


def test_a_body_is_not_read_before_the_session_is_checked(ainas):
    status, answer, read = _call(
        create_app(ainas), "POST", "/api/v1/sites", {"content-length": "1000"}
    )
    assert (status, answer["error"]["code"], read) == (401, "not-logged-in", False)


def test_a_body_without_length_is_cut_at_the_limit(ainas):
    client = InProcess(create_app(ainas, max_body=1000))
    token = ainas.open_session(ainas.actor("abcde"))

    async def chunks():
        for _ in range(100):
            yield b" " * 100

    answer = client.post(
        "/api/v1/sites", content=chunks(), headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 413
    assert MAX_BODY >= 64 * 1024  # a .p12 in base64 fits


# -- the real server -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_template(tmp_path_factory.mktemp("template") / "sandbox")


@pytest.fixture
def files(template, tmp_path):
    return copy_sandbox(template, tmp_path / "sandbox")


def _tls(files) -> ssl.SSLContext:
    from ainas_provision.secrets.values import Secret
    from ainas_provision.targets.https.connection import Connection
    from ainas_provision.targets.https.tls import client_tls

    connection = Connection(
        "https://127.0.0.1",
        client_cert=files.client_cert,
        client_cert_password=Secret(client_cert_password(files), "test"),
        ca_file=files.ca,
    )
    return client_tls(connection).context


def test_slow_headers_time_out(files):
    with running(files, header_timeout=0.5) as server:
        context = _tls(files)
        with (
            socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as conn,
        ):
            conn.sendall(b"GET /api/v1/openapi.json HTTP/1.1\r\nHost: x\r\n")
            started = time.monotonic()
            closed = conn.recv(1024) == b""  # the server closes without answering
            waited = time.monotonic() - started
        assert closed and waited < 9
        # a prompt request is served as ever
        with httpx.Client(verify=context) as client:
            assert client.get(server.url + "api/v1/openapi.json").status_code == 200


def test_hash_cost_sets_the_scrypt_cost_of_the_servers_hashes(files):
    with running(files, hash_cost=4) as server, httpx.Client(verify=_tls(files)) as client:
        base = server.url + "api/v1"
        login = client.post(base + "/session", json={"login_id": "abcde", "password": "99999999"})
        changed = client.put(
            base + "/session/password",
            json={"current_password": "99999999", "new_password": NEW_PASSWORD},
            headers={"Authorization": f"Bearer {login.json()['token']}"},
        )
        assert changed.status_code == 200
    sandbox = AinasSandbox(files.database)
    try:
        stored = sandbox.store.connection().execute(
            "SELECT password FROM users WHERE login_id = 'abcde'"
        ).fetchone()[0]
    finally:
        sandbox.close()
    assert stored.startswith("scrypt$16$")  # N = 2**4
    assert verify_password(NEW_PASSWORD, stored)


def test_sandbox_serve_takes_a_hash_cost_within_bounds(tmp_path):
    from tests.helpers import run

    shown = run("sandbox", "serve", "--help")
    assert "--hash-cost" in shown.stdout
    refused = run("sandbox", "serve", str(tmp_path), "--hash-cost", "0")
    assert refused.exit_code == 1  # a usage error (1, never 2)
    assert "--hash-cost" in refused.stderr
