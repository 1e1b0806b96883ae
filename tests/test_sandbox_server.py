"""The sandbox server's HTTP face: mutual TLS, the API and its OpenAPI document, the rules the
emulator enforces per session, and the faults it injects on request."""

from __future__ import annotations

import json
import ssl

import httpx
import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from starlette.routing import Route

from ainas_emulator.server import API, create_app, openapi_text
from ainas_emulator.service import AinasSandbox
from ainas_provision.secrets.values import Secret
from ainas_provision.targets.https.connection import Connection
from ainas_provision.targets.https.tls import client_tls
from tests.server_support import (
    NEW_PASSWORD,
    client_cert_password,
    copy_sandbox,
    count,
    foreign_client_cert,
    make_template,
    running,
)

DOCUMENT = yaml.safe_load(openapi_text())
METHODS = ("get", "put", "post", "patch", "delete")
FULLWIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_template(tmp_path_factory.mktemp("template") / "sandbox")


@pytest.fixture
def files(template, tmp_path):
    return copy_sandbox(template, tmp_path / "sandbox")


def http_client(files, server, *, cert=None, password=None) -> httpx.Client:
    connection = Connection(
        server.url.rstrip("/"),
        client_cert=cert or files.client_cert,
        client_cert_password=Secret(password or client_cert_password(files), "test"),
        ca_file=files.ca,
    )
    return httpx.Client(base_url=server.url + "api/v1", verify=client_tls(connection).context)


def login(client: httpx.Client, login_id: str = "abcde", password: str = "99999999") -> dict:
    answer = client.post("/session", json={"login_id": login_id, "password": password})
    assert answer.status_code == 201, answer.text
    return answer.json()


def bearer(session: dict) -> dict:
    return {"Authorization": f"Bearer {session['token']}"}


def change(client: httpx.Client, session: dict, new: str, current: str = "99999999"):
    return client.put(
        "/session/password",
        json={"current_password": current, "new_password": new},
        headers=bearer(session),
    )


def admin_session(client: httpx.Client) -> dict:
    """The first admin, its initial password changed: the session the change gave."""
    changed = change(client, login(client), NEW_PASSWORD)
    assert changed.status_code == 200, changed.text
    return changed.json()


# -- mutual TLS ---------------------------------------------------------------------------------
def test_the_handshake_requires_a_client_certificate_of_the_sandbox_ca(files, tmp_path):
    with running(files) as server:
        without_certificate = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        without_certificate.load_verify_locations(files.ca)
        with (
            httpx.Client(verify=without_certificate) as client,
            pytest.raises(httpx.TransportError),
        ):
            client.post(server.url + "api/v1/session", json={})
        foreign = foreign_client_cert(tmp_path, "foreign-pass-1")
        with (
            http_client(files, server, cert=foreign, password="foreign-pass-1") as client,
            pytest.raises(httpx.TransportError),
        ):
            client.post("/session", json={})
        with http_client(files, server) as client:
            assert client.post("/session", json={}).status_code == 400


# -- the OpenAPI document -------------------------------------------------------------------------
def routed_operations() -> set[tuple[str, str]]:
    routes = create_app(_NoSandbox()).routes  # type: ignore[arg-type]
    out = set()
    for route in routes:
        assert isinstance(route, Route)
        if not route.path.startswith(API):  # AINAS's screens (/oss_agt/), not the JSON API
            continue
        for method in route.methods - {"HEAD"}:
            out.add((route.path.removeprefix(API), method.lower()))
    return out


class _NoSandbox:
    """Enough of a sandbox to build the routes."""


def documented_operations() -> set[tuple[str, str]]:
    return {
        (path, method)
        for path, item in DOCUMENT["paths"].items()
        for method in item
        if method in METHODS
    }


def test_the_openapi_document_is_valid_and_describes_every_route():
    assert DOCUMENT["openapi"].startswith("3.1.")
    assert DOCUMENT["info"]["title"] and DOCUMENT["info"]["version"]
    assert routed_operations() == documented_operations()
    ids = [op["operationId"] for _, item in DOCUMENT["paths"].items() for op in _ops(item)]
    assert len(ids) == len(set(ids))
    for path, item in DOCUMENT["paths"].items():
        for operation in _ops(item):
            assert operation["responses"], path
            for status, response in operation["responses"].items():
                response = _deref(response)
                assert response["description"], (path, status)
        declared = {p["name"] for p in item.get("parameters", []) if p.get("in") == "path"}
        assert declared | _path_refs(item) >= set(_placeholders(path)), path
    for ref in _refs(DOCUMENT):
        assert _deref({"$ref": ref}) is not None, ref
    for schema in DOCUMENT["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def _ops(item):
    return [op for method, op in item.items() if method in METHODS]


def _placeholders(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def _path_refs(item) -> set[str]:
    return {
        _deref(p)["name"]
        for p in item.get("parameters", [])
        if "$ref" in p and _deref(p)["in"] == "path"
    }


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _deref(node):
    ref = node.get("$ref") if isinstance(node, dict) else None
    if ref is None:
        return node
    assert ref.startswith("#/")
    target = DOCUMENT
    for part in ref[2:].split("/"):
        target = target[part]
    return target


REGISTRY = Registry().with_resource(
    "urn:ainas-openapi", Resource.from_contents(DOCUMENT, default_specification=DRAFT202012)
)


def conforms(data, schema_name: str) -> None:
    validator = Draft202012Validator(
        {"$ref": f"urn:ainas-openapi#/components/schemas/{schema_name}"}, registry=REGISTRY
    )
    errors = [e.message for e in validator.iter_errors(data)]
    assert not errors, (schema_name, errors)


def test_answers_follow_the_document(files):
    with running(files) as server, http_client(files, server) as client:
        served = client.get("/openapi.json").json()
        assert served == DOCUMENT
        assert yaml.safe_load(client.get("/openapi.yaml").text) == DOCUMENT
        session = login(client)
        conforms(session, "NewSession")
        conforms(client.get("/organization", headers=bearer(session)).json(), "Error")
        session = admin_session(client)
        headers = bearer(session)
        conforms(client.get("/session", headers=headers).json(), "Session")
        conforms(client.get("/organization", headers=headers).json(), "Organization")
        site = client.post(
            "/sites", json={"site_name": "本店", "site_short_name": "本店"}, headers=headers
        ).json()
        conforms(site, "SiteId")
        account = {
            "payment_user_id": "12345678",
            "batch_user_id": "ABCD1234",
            "batch_password": "Batch-Pw-1",
            "arrival_number_password": "Arrival-Pw-1",
            "payment_method_national": "ダイレクト納付(国庫金限定)",
            "payment_method_prefectural": "ダイレクト納付",
        }
        created = client.post(
            f"/sites/{site['site_id']}/batch-account", json=account, headers=headers
        )
        assert created.status_code == 201
        sites = client.get("/sites", headers=headers).json()
        conforms(sites, "Page")
        for item in sites["items"]:
            conforms(item, "Site")
            assert "batch_password" not in json.dumps(item)
            assert "Batch-Pw-1" not in json.dumps(item)
        users = client.get("/users", headers=headers).json()
        for item in users["items"]:
            conforms(item, "User")
        conforms(client.get("/certificates", headers=headers).json(), "Page")
        conforms(client.get(f"/sites/{site['site_id']}", headers=headers).json(), "Site")
        conforms(client.get("/users/abcde", headers=headers).json(), "User")


# -- sessions and rules ---------------------------------------------------------------------------
def test_the_initial_password_allows_nothing_but_its_change(files):
    with running(files) as server, http_client(files, server) as client:
        session = login(client)
        assert session["must_change_password"] is True
        assert session["organization_id"] == "1"
        refused = client.get("/users", headers=bearer(session))
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "password-change-required"
        weak = change(client, session, "weak")
        assert weak.status_code == 400
        assert weak.json()["error"]["code"] == "password-rule"
        assert "8文字以上" in weak.json()["error"]["message"]
        changed = change(client, session, NEW_PASSWORD)
        assert changed.json()["must_change_password"] is False
        assert client.get("/users", headers=bearer(changed.json())).status_code == 200


def test_errors_are_json_with_a_code_and_the_ainas_message(files):
    with running(files) as server, http_client(files, server) as client:
        cases = [
            (client.get("/nowhere"), 404, "not-found"),
            (client.patch("/session"), 405, "method-not-allowed"),
            (client.get("/users"), 401, "not-logged-in"),
            (client.get("/users", headers={"Authorization": "Bearer nope"}), 401, "not-logged-in"),
            (
                client.post("/session", content=b"{not json", headers={"content-type": "x"}),
                400,
                "invalid-request",
            ),
            (client.post("/session", json=[1, 2]), 400, "invalid-request"),
            (client.post("/session", json={"login_id": "abcde", "password": "x"}), 401, None),
        ]
        for response, status, code in cases:
            assert response.status_code == status, response.text
            error = response.json()["error"]
            assert error["message"]
            if code:
                assert error["code"] == code
            conforms(response.json(), "Error")
        headers = bearer(admin_session(client))
        bad = client.get("/users", params={"offset": "x"}, headers=headers)
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid-request"


def test_every_list_is_paginated_with_a_maximum_page_size(files):
    with running(files, page_size=2) as server, http_client(files, server) as client:
        headers = bearer(admin_session(client))
        first = client.get("/users", params={"limit": 50}, headers=headers).json()
        assert (first["limit"], first["total"], len(first["items"])) == (2, 3, 2)
        second = client.get("/users", params={"offset": 2}, headers=headers).json()
        assert [u["login_id"] for u in first["items"] + second["items"]] == [
            "abcde",
            "fhjkm",
            "npqrs",
        ]
        only = client.get("/users", params={"login_id": "npqrs"}, headers=headers).json()
        assert [u["login_id"] for u in only["items"]] == ["npqrs"]


def test_a_site_manager_session_is_bound_by_the_user_type_table(files):
    with running(files) as server, http_client(files, server) as client:
        admin = bearer(admin_session(client))
        own = client.post(
            "/sites", json={"site_name": "本店", "site_short_name": "本店"}, headers=admin
        )
        other = client.post(
            "/sites", json={"site_name": "支店", "site_short_name": "支店"}, headers=admin
        )
        own_id, other_id = own.json()["site_id"], other.json()["site_id"]
        manager = {
            "login_id": "kanri01",
            "user_name": "拠点管理者",
            "role": "拠点管理者",
            "site": own_id,
            "password": "Kanri-Pw-01",
        }
        assert client.post("/users", json=manager, headers=admin).status_code == 201
        session = bearer(login(client, "kanri01", "Kanri-Pw-01"))

        def staff(login_id: str, site_id: str) -> dict:
            return {
                "login_id": login_id,
                "user_name": "担当",
                "role": "担当者(送信可)",
                "site": site_id,
                "password": "Staff-Pw-01",
            }

        assert (
            client.post("/users", json=staff("tanto01", own_id), headers=session).status_code == 201
        )
        refused = client.post("/users", json=staff("tanto02", other_id), headers=session)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "forbidden"
        assert "権限がありません" in refused.json()["error"]["message"]
        assert (
            client.post(
                "/sites", json={"site_name": "新", "site_short_name": "新"}, headers=session
            ).status_code
            == 403
        )
        manager2 = {**manager, "login_id": "kanri02"}
        assert client.post("/users", json=manager2, headers=session).status_code == 403
        seen = client.get("/users", headers=session).json()["items"]
        assert {u["site"] for u in seen} == {own_id}
        sites = client.get("/sites", headers=session).json()["items"]
        assert [s["site_id"] for s in sites] == [own_id]


# -- injected faults ------------------------------------------------------------------------------
def test_injected_faults_fail_before_or_cut_after_the_change(files):
    sandbox = AinasSandbox(files.database)
    try:
        admin = sandbox.change_password(
            sandbox.login("abcde", "99999999"), NEW_PASSWORD, current_password="99999999"
        )
        token = sandbox.open_session(admin)
    finally:
        sandbox.close()
    outcomes = {}
    with running(files, fail_rate=1.0, seed=3) as server, http_client(files, server) as client:
        for n in range(16):
            name = "拠点" + str(n).translate(FULLWIDTH_DIGITS)  # 代理人拠点名 is 全角
            try:
                answer = client.post(
                    "/sites",
                    json={"site_name": name, "site_short_name": name},
                    headers={"Authorization": f"Bearer {token}"},
                )
            except httpx.TransportError:
                outcomes[name] = "cut"
            else:
                assert answer.status_code == 500
                assert answer.json()["error"]["code"] == "injected-fault"
                outcomes[name] = "500"
        injected = dict(server.app.injected)
    assert set(outcomes.values()) == {"cut", "500"}
    assert injected == {
        "before": list(outcomes.values()).count("500"),
        "after": list(outcomes.values()).count("cut"),
        "spike": 0,
    }
    sandbox = AinasSandbox(files.database)
    try:
        items, _ = sandbox.list_sites(sandbox.actor("abcde"))
    finally:
        sandbox.close()
    created = {item["fields"]["site_name"] for item in items}
    assert created == {name for name, outcome in outcomes.items() if outcome == "cut"}


def test_a_create_repeated_with_its_idempotency_key_creates_once(files):
    with running(files) as server, http_client(files, server) as client:
        headers = {**bearer(admin_session(client)), "Idempotency-Key": "k-1"}
        body = {"site_name": "冪等事務所", "site_short_name": "冪等"}
        first = client.post("/sites", json=body, headers=headers)
        again = client.post("/sites", json=body, headers=headers)
        other = client.post("/sites", json=body, headers={**headers, "Idempotency-Key": "k-2"})
    assert first.status_code == again.status_code == other.status_code == 201
    assert first.json() == again.json() != other.json()
    assert count(files, "sites") == 2
