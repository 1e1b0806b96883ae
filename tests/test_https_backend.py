"""The HTTPS backend against the sandbox server: settings, TLS setup, request cost, and changes
that a lossy network cannot duplicate."""

from __future__ import annotations

import math
import re
import socket
import stat
import threading
from pathlib import Path

import pytest

from ainas_emulator.service import AinasSandbox
from ainas_emulator.store import hash_password
from ainas_provision.domain.desired import DesiredState, Policy, Resource
from ainas_provision.errors import AinasProvisionError
from ainas_provision.secrets.values import Secret
from ainas_provision.targets.base import BackendError
from ainas_provision.targets.https import backend as https
from ainas_provision.targets.https import tls
from ainas_provision.targets.https.backend import ConnectionProblem, HttpsBackend, open_https
from ainas_provision.targets.https.connection import resolve_connection
from ainas_provision.targets.https.tls import TlsSetupError
from ainas_provision.targets.registry import Target
from tests.server_support import (
    NEW_PASSWORD,
    client_cert_password,
    client_env,
    copy_sandbox,
    count,
    make_template,
    running,
)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_template(tmp_path_factory.mktemp("template") / "sandbox")


@pytest.fixture
def files(template, tmp_path):
    return copy_sandbox(template, tmp_path / "sandbox")


def desired(connection=None, secrets=None, directory=None) -> DesiredState:
    return DesiredState(
        organization_id="1",
        organization=Resource("organization", "", {}),
        certificate=None,
        sites={},
        batch_accounts={},
        kei_batch_accounts={},
        users={},
        admins={},
        policy=Policy(),
        connection=connection or {},
        connection_secrets=secrets or {},
        connection_dir=directory,
    )


def backend_for(files, server, env_overrides=None, **kwargs) -> HttpsBackend:
    env = client_env(files, **(env_overrides or {}))
    backend = open_https(Target("https", server.url.rstrip("/")), None, env)
    for name, value in kwargs.items():
        setattr(backend, name, value)
    return backend


def usable_admin(files) -> None:
    """Change abcde's initial password directly in the emulator."""
    sandbox = AinasSandbox(files.database)
    try:
        sandbox.change_password(
            sandbox.login("abcde", "99999999"), NEW_PASSWORD, current_password="99999999"
        )
    finally:
        sandbox.close()


# -- settings -----------------------------------------------------------------------------------
def test_the_environment_wins_over_the_connection_section(tmp_path):
    section = {
        "url": "https://ainas.example/",
        "login_id": "fromfile",
        "client_cert": "certs/agent.pfx",
        "ca_file": "ca.pem",
    }
    secrets = {"password": Secret("section-pw", "{file: pw.txt}")}
    state = desired(section, secrets, tmp_path / "manifests")
    connection = resolve_connection("https://ainas.example", state, {"AINAS_LOGIN_ID": "fromenv"})
    assert connection.login_id == "fromenv"
    assert connection.source("login_id") == "AINAS_LOGIN_ID"
    assert connection.password.reveal() == "section-pw"
    assert connection.client_cert == tmp_path / "manifests" / "certs" / "agent.pfx"
    assert connection.ca_file == tmp_path / "manifests" / "ca.pem"
    assert connection.source("client_cert") == "connection.client_cert"
    env = {"AINAS_CLIENT_CERT": "other.pfx", "AINAS_CA_FILE": "other-ca.pem"}
    connection = resolve_connection("https://ainas.example", state, env)
    assert connection.client_cert == Path("other.pfx")
    assert connection.ca_file == Path("other-ca.pem")


def test_the_section_is_not_sent_to_another_url(tmp_path):
    state = desired({"url": "https://ainas.example/", "login_id": "kanri"}, {}, tmp_path)
    with pytest.raises(
        AinasProvisionError, match=re.escape("connection section is for https://ainas.example/")
    ):
        resolve_connection("https://127.0.0.1:8443", state, {})
    only_env = resolve_connection("https://127.0.0.1:8443", state, {"AINAS_LOGIN_ID": "abcde"})
    assert only_env.login_id == "abcde"


# -- TLS setup ----------------------------------------------------------------------------------
def test_no_client_certificate_is_a_clear_error(files):
    env = client_env(files, AINAS_CLIENT_CERT="")  # empty: left out
    with pytest.raises(TlsSetupError, match=r"no client certificate: .*AINAS_CLIENT_CERT"):
        open_https(Target("https", "https://127.0.0.1:1"), None, env)


def test_a_wrong_client_certificate_password_names_the_variable_not_the_value(files):
    env = client_env(files, AINAS_CLIENT_CERT_PASSWORD="Wrong-Canary-42")
    with pytest.raises(TlsSetupError) as caught:
        open_https(Target("https", "https://127.0.0.1:1"), None, env)
    message = str(caught.value)
    assert "AINAS_CLIENT_CERT_PASSWORD" in message and "password is wrong" in message
    assert "Wrong-Canary-42" not in message
    assert "\n" not in message


def test_the_key_passes_through_a_private_file_that_is_removed(files, tmp_path, monkeypatch):
    made = []
    real = tls.tempfile.mkstemp

    def spy(*args, **kwargs):
        fd, name = real(*args, dir=tmp_path, **kwargs)
        made.append((name, stat.S_IMODE(Path(name).stat().st_mode)))
        return fd, name

    monkeypatch.setattr(tls.tempfile, "mkstemp", spy)
    loaded = tls.client_tls(resolve_connection("https://127.0.0.1:1", None, client_env(files)))
    assert loaded.subject == "oss-ainas-agt-1" and loaded.issuer == "oss-ainasCA"
    assert [mode for _, mode in made] == [0o600]
    assert not Path(made[0][0]).exists()


def test_an_unreachable_server_is_a_clear_error(files):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        backend = open_https(Target("https", f"https://127.0.0.1:{port}"), None, client_env(files))
        backend.backoff = 0.001
        try:
            with pytest.raises(
                ConnectionProblem, match=re.escape("cannot reach https://127.0.0.1:")
            ):
                backend.organization_id()
        finally:
            backend.close()


# -- reads --------------------------------------------------------------------------------------
def wide(n: int) -> str:
    """A number in full-width digits: 代理人拠点名 is 全角."""
    return str(n).translate(str.maketrans("0123456789", "０１２３４５６７８９"))


def with_staff(files, count: int) -> None:
    """The tenant made usable, with a site and ``count`` staff users written straight into it."""
    usable_admin(files)
    sandbox = AinasSandbox(files.database)
    try:
        admin = sandbox.actor("abcde")
        site_id = sandbox.create(admin, "site", {"site_name": "本店", "site_short_name": "本店"})
        hashed = hash_password("Staff-Pw-01")
        with sandbox.store.transaction() as db:
            for n in range(count):
                sandbox._insert_user(
                    db, "1", f"user{n:03}", "担当", "担当者(送信可)", site_id, hashed, False, {}
                )
    finally:
        sandbox.close()


def test_reading_n_users_costs_pages_plus_a_constant(files):
    with_staff(files, 250)
    with running(files, page_size=100) as server:
        backend = backend_for(files, server, {"password": NEW_PASSWORD})
        try:
            current = backend.read()
            requests = backend.requests
        finally:
            backend.close()
    users = len(current.users)
    assert users == 253  # 250 staff and the 3 admins
    pages = math.ceil(users / 100)
    # the login, the organization, the certificates and the sites: a constant 4
    assert requests["login"] + requests["read"] <= pages + 4, requests
    assert requests["write"] == 0


def test_a_read_sends_its_lists_first_pages_at_once_then_their_other_pages_at_once(files):
    """Two round trips after the login, not one per list and page: each round's requests must
    all be in flight together to pass its barrier (one request sent after another would leave
    the barrier waiting, and the test fails)."""
    with_staff(files, 7)  # with the 3 admins, 10 users: 4 pages of 3
    rounds = {
        # the organization and the first page of the certificates, the sites and the users
        "first": (threading.Barrier(4, timeout=10), []),
        # the users' three other pages
        "other": (threading.Barrier(3, timeout=10), []),
    }
    with running(files, page_size=3) as server:
        backend = backend_for(files, server, {"password": NEW_PASSWORD})
        backend.session()  # the login, before the read
        send = backend.api.send

        def in_rounds(method, path, *, params=None, **options):
            if method == "GET":
                name = "other" if (params or {}).get("offset") else "first"
                barrier, seen = rounds[name]
                seen.append(path)
                barrier.wait()  # BrokenBarrierError unless the round's requests are together
            return send(method, path, params=params, **options)

        backend.api.send = in_rounds
        try:
            current = backend.read()
        finally:
            backend.api.send = send
            backend.close()
    assert len(current.users) == 10
    assert sorted(rounds["first"][1]) == ["/certificates", "/organization", "/sites", "/users"]
    assert rounds["other"][1] == ["/users"] * 3


def test_finish_logs_out_in_the_background_and_close_waits_for_it(files):
    """At the end of an apply the logout is sent while the run writes its state: ``finish``
    returns before the server has answered (its barrier holds the logout until the caller has
    gone on), ``close`` waits for it and sends no second logout."""
    usable_admin(files)
    went_on = threading.Event()
    with running(files) as server:
        backend = backend_for(files, server, {"password": NEW_PASSWORD})
        backend.session()
        assert count(files, "sessions") == 1
        send = backend.api.send

        def held(method, path, **options):
            if method == "DELETE":
                assert went_on.wait(10), "finish() waited for the logout"
            return send(method, path, **options)

        backend.api.send = held
        backend.finish()
        went_on.set()  # the caller goes on (writes the state) while the logout is on its way
        backend.close()
        assert backend.requests["login"] == 2  # the login and one logout
        assert count(files, "sessions") == 0


def test_a_fault_of_the_logout_sent_by_finish_is_raised_by_close(files):
    """Not the network (that only lets the session expire): anything else the background logout
    meets is raised where the run closes the target, not lost in a thread's traceback."""
    usable_admin(files)
    with running(files) as server:
        backend = backend_for(files, server, {"password": NEW_PASSWORD})
        backend.session()
        send = backend.api.send

        def broken(method, path, **options):
            if method == "DELETE":
                raise ValueError("a fault in the client")
            return send(method, path, **options)

        backend.api.send = broken
        backend.finish()
        with pytest.raises(ValueError, match="a fault in the client"):
            backend.close()


def test_a_forgotten_session_is_opened_again(files):
    usable_admin(files)
    with running(files) as server:
        backend = backend_for(files, server, {"password": NEW_PASSWORD})
        try:
            backend.read()
            sandbox = AinasSandbox(files.database)
            try:
                with sandbox.store.transaction() as db:
                    db.execute("DELETE FROM sessions")
            finally:
                sandbox.close()
            assert backend.read().organization.id == "1"
            assert backend.requests["login"] == 2
        finally:
            backend.close()


# -- writes -------------------------------------------------------------------------------------
def test_a_refusal_is_a_backend_error_with_the_ainas_message(files):
    usable_admin(files)
    with running(files) as server:
        backend = backend_for(files, server, {"password": NEW_PASSWORD})
        try:
            site_id = backend.create("site", {"name": "本店", "short_name": "本店"})
            user = {
                "login_id": "fhjkm",
                "name": "担当",
                "role": "担当者(送信可)",
                "site_id": site_id,
                "password": Secret("Staff-Pw-01", "test"),
            }
            with pytest.raises(BackendError) as caught:
                backend.create("user", user)
        finally:
            backend.close()
    assert caught.value.code == "login-id-taken"
    assert "既に使用されています" in caught.value.message
    assert caught.value.retriable is False


def test_a_lossy_network_cannot_duplicate_creates(files):
    """Half the injected faults cut the connection after the change was committed: a blind
    retry would create a second site or fail on a taken ログインID."""
    usable_admin(files)
    with running(files, fail_rate=0.3, seed=11) as server:
        backend = backend_for(files, server, {"password": NEW_PASSWORD}, backoff=0.001)
        try:
            backend.read()
            site_ids = [
                backend.create("site", {"name": f"拠点{wide(n)}", "short_name": f"拠点{wide(n)}"})
                for n in range(6)
            ]
            for n, site_id in enumerate(site_ids):
                account = {
                    "payment_user_id": f"1234567{n}",
                    "batch_user_id": f"ABCD123{n}",
                    "batch_password": Secret("Batch-Pw-1", "test"),
                    "arrival_number_password": Secret("Arrival-Pw-1", "test"),
                    "payment_method_national": "ダイレクト納付(国庫金限定)",
                    "payment_method_prefectural": "ダイレクト納付",
                }
                assert backend.create("batch_account", account, parent=site_id) == site_id
            logins = []
            for n in range(24):
                user = {
                    "login_id": f"tanto{n:02}",
                    "name": f"担当{n}",
                    "role": "担当者(送信可)",
                    "site_id": site_ids[n % 6],
                    "password": Secret("Staff-Pw-01", "test"),
                }
                logins.append(backend.create("user", user))
            for login_id in logins[:6]:
                backend.update("user", login_id, {"name": "改名"})
            for login_id in logins[6:12]:
                backend.delete("user", login_id)
            injected = dict(server.app.injected)
        finally:
            backend.close()
    assert injected["after"] >= 3 and injected["before"] >= 3, injected
    assert len(set(site_ids)) == 6
    assert count(files, "sites") == 6
    assert count(files, "batch_accounts") == 6
    assert count(files, "users", "role != '管理者'") == 18
    assert count(files, "users", "name = '改名'") == 6


def test_the_new_password_is_checked_before_it_is_sent(files):
    with running(files) as server:
        backend = backend_for(files, server)
        try:
            assert backend.session().must_change_password
            with pytest.raises(AinasProvisionError) as caught:
                backend.change_password(Secret("zqzqzq", "AINAS_NEW_PASSWORD"))
            assert backend.requests["write"] == 0
            backend.change_password(Secret(NEW_PASSWORD, "AINAS_NEW_PASSWORD"))
            assert not backend.session().must_change_password
            assert backend.read().organization.id == "1"
        finally:
            backend.close()
    message = str(caught.value)
    assert "AINAS_NEW_PASSWORD" in message and "shorter than 8" in message
    assert "zqzqzq" not in message


def test_client_cert_password_never_leaks_into_a_connection_problem(files):
    secret = client_cert_password(files)
    with running(files) as server:
        backend = backend_for(files, server, {"password": "Wrong-Pw-99!"})
        try:
            with pytest.raises(ConnectionProblem) as caught:
                backend.session()
        finally:
            backend.close()
    assert caught.value.code == "login-failed"
    for value in (secret, "Wrong-Pw-99!"):
        assert value not in str(caught.value)
    assert https.ATTEMPTS >= 2


def test_a_read_limited_to_sites_gets_those_sites_their_users_and_the_admins(files):
    usable_admin(files)
    with running(files, page_size=2) as server:
        backend = backend_for(files, server, {"password": NEW_PASSWORD})
        try:
            ids = [
                backend.create("site", {"name": f"拠点{wide(n)}", "short_name": f"拠点{wide(n)}"})
                for n in range(3)
            ]
            for n, site_id in enumerate(ids):
                user = {
                    "login_id": f"tanto{n}",
                    "name": "担当",
                    "role": "担当者(送信可)",
                    "site_id": site_id,
                    "password": Secret("Staff-Pw-01", "test"),
                }
                backend.create("user", user)
            current = backend.read(sites=ids[:2])
        finally:
            backend.close()
    assert sorted(current.sites) == sorted(ids[:2])
    assert sorted(current.users) == ["abcde", "fhjkm", "npqrs", "tanto0", "tanto1"]
    assert current.scope == sorted(ids[:2])
