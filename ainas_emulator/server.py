"""The sandbox server's HTTP face: a JSON API over the AINAS emulator.

A thin layer: it authenticates the bearer token, turns requests into calls of
:class:`~ainas_emulator.service.AinasSandbox` (which enforces every AINAS rule — the forced
password change, the user-type table, the screens' character, format and selection rules,
write-once and write-only fields — for the session's actor) and turns the answers and
:class:`AinasError` refusals into JSON. Field names are the screen catalogue's. Every list is
paginated with a maximum page size; every error is ``{"error": {"code": …, "message": …}}``. The
API is described by ``openapi.yaml`` beside this module, served at ``/api/v1/openapi.yaml`` and
``.json``.

Hostile requests get a 4xx, never a 5xx: the session is checked before a body is read; a body
larger than ``max_body`` bytes is refused from its Content-Length, or as soon as that many bytes
have arrived when it has none; a body that is not a JSON object — malformed, nested deeper than
``MAX_DEPTH``, a number too long to read, a string with a lone surrogate — is HTTP 400.

The service is synchronous (SQLite, one connection per thread): each call runs in Starlette's
thread pool, so requests are served concurrently.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from functools import partial
from importlib import resources

import yaml
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ainas_emulator.service import Actor, AinasError, AinasSandbox

API = "/api/v1"
DEFAULT_PAGE_SIZE = 100
MAX_BODY = 1024 * 1024  # a .p12 in base64 is a few kilobytes; a form, less
MAX_DEPTH = 16  # the deepest body the API takes is 2 levels
MAX_OFFSET = 1_000_000_000
BATCH_PATHS = {"batch-account": "batch_account", "kei-batch-account": "kei_batch_account"}


def openapi_text() -> str:
    """The OpenAPI 3.1 document of this API, as shipped with the package."""
    return resources.files("ainas_emulator").joinpath("openapi.yaml").read_text("utf-8")


def error_response(code: str, message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def _key(request: Request) -> str | None:
    """The ``Idempotency-Key`` of a create: the same key, the same answer (see the service)."""
    key = request.headers.get("idempotency-key")
    if key is not None and not 1 <= len(key) <= 200:
        raise _bad_request("Idempotency-Key は1〜200文字で指定してください。")
    return key


def _bad_request(message: str) -> AinasError:
    return AinasError("invalid-request", message, 400)


class Api:
    """The endpoints, over one emulator."""

    def __init__(
        self, sandbox: AinasSandbox, page_size: int = DEFAULT_PAGE_SIZE, max_body: int = MAX_BODY
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.sandbox = sandbox
        self.page_size = page_size
        self.max_body = max_body

    # -- request helpers -------------------------------------------------------------------
    @staticmethod
    def token(request: Request) -> str:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AinasError("not-logged-in", "ログインしてください。", 401)
        return token.strip()

    def authenticate(self, request: Request) -> Actor:
        return self.sandbox.session_actor(self.token(request))

    @staticmethod
    def actor(request: Request) -> Actor:
        """The actor the dispatcher authenticated before reading the body."""
        return request.state.actor

    def page(self, request: Request) -> tuple[int, int]:
        """``offset`` and ``limit`` from the query; ``limit`` defaults to, and is capped at,
        the maximum page size."""
        try:
            offset = int(request.query_params.get("offset", 0))
            limit = int(request.query_params.get("limit", self.page_size))
        except ValueError:
            raise _bad_request("offset と limit は整数で指定してください。") from None
        if not 0 <= offset <= MAX_OFFSET or limit < 1:
            raise _bad_request(f"offset は0以上{MAX_OFFSET}以下、limit は1以上で指定してください。")
        return offset, min(limit, self.page_size)

    @staticmethod
    def listed(request: Request, name: str) -> list[str] | None:
        values = request.query_params.getlist(name)
        return values or None

    @staticmethod
    def paged(items: list, total: int, offset: int, limit: int) -> JSONResponse:
        return JSONResponse({"items": items, "total": total, "offset": offset, "limit": limit})

    @staticmethod
    def session_body(actor: Actor) -> dict:
        return {
            "login_id": actor.login_id,
            "organization_id": actor.org_id,
            "role": actor.role,
            "site_id": actor.site_id,
            "must_change_password": actor.must_change_password,
        }

    # -- session -----------------------------------------------------------------------------
    def login(self, request: Request, body: dict) -> Response:
        login_id, password = body.get("login_id"), body.get("password")
        if not isinstance(login_id, str) or not isinstance(password, str):
            raise AinasError("required", "ログインIDとパスワードを入力してください。", 400)
        client = request.client.host if request.client else None
        actor = self.sandbox.login(login_id, password, client=client)
        token = self.sandbox.open_session(actor)
        return JSONResponse({"token": token, **self.session_body(actor)}, status_code=201)

    def get_session(self, request: Request, body: None) -> Response:
        return JSONResponse(self.session_body(self.actor(request)))

    def logout(self, request: Request, body: None) -> Response:
        self.sandbox.logout(self.token(request))
        return Response(status_code=204)

    def change_password(self, request: Request, body: dict) -> Response:
        """パスワード更新: every session of the user ends, this one too; the answer carries
        a new token for the caller to go on with."""
        actor = self.sandbox.change_password(
            self.actor(request),
            body.get("new_password"),
            current_password=body.get("current_password"),
        )
        token = self.sandbox.open_session(actor)
        return JSONResponse({"token": token, **self.session_body(actor)})

    # -- organization and certificates -------------------------------------------------------
    def get_organization(self, request: Request, body: None) -> Response:
        return JSONResponse(self.sandbox.read_organization(self.actor(request)))

    def patch_organization(self, request: Request, body: dict) -> Response:
        actor = self.actor(request)
        self.sandbox.update(actor, "organization", actor.org_id, body)
        return Response(status_code=204)

    def list_certificates(self, request: Request, body: None) -> Response:
        offset, limit = self.page(request)
        items = self.sandbox.list_certificates(self.actor(request))
        return self.paged(items[offset : offset + limit], len(items), offset, limit)

    def create_certificate(self, request: Request, body: dict) -> Response:
        actor = self.actor(request)
        p12 = body.get("p12")
        if not isinstance(p12, str):
            raise AinasError("required", "証明書ファイルを選択してください。", 400)
        try:
            data = base64.b64decode(p12, validate=True)
        except (binascii.Error, ValueError):
            raise _bad_request("証明書ファイル (p12) は base64 で指定してください。") from None
        fields = {k: v for k, v in body.items() if k != "p12"}
        cert_id = self.sandbox.create(
            actor, "certificate", {**fields, "file": data}, idempotency_key=_key(request)
        )
        return JSONResponse({"id": cert_id}, status_code=201)

    def patch_certificate(self, request: Request, body: dict) -> Response:
        cert_id = request.path_params["certificate_id"]
        self.sandbox.update(self.actor(request), "certificate", cert_id, body)
        return Response(status_code=204)

    # -- sites and batch accounts ------------------------------------------------------------
    def list_sites(self, request: Request, body: None) -> Response:
        offset, limit = self.page(request)
        items, total = self.sandbox.list_sites(
            self.actor(request),
            offset=offset,
            limit=limit,
            site_ids=self.listed(request, "site_id"),
            name=request.query_params.get("name"),
            code=request.query_params.get("code"),
        )
        return self.paged(items, total, offset, limit)

    def get_site(self, request: Request, body: None) -> Response:
        site_id = request.path_params["site_id"]
        items, _ = self.sandbox.list_sites(self.actor(request), site_ids=[site_id])
        if not items:
            raise AinasError("not-found", "代理人拠点が存在しません。", 404)
        return JSONResponse(items[0])

    def create_site(self, request: Request, body: dict) -> Response:
        site_id = self.sandbox.create(
            self.actor(request), "site", body, idempotency_key=_key(request)
        )
        return JSONResponse({"site_id": site_id}, status_code=201)

    def patch_site(self, request: Request, body: dict) -> Response:
        self.sandbox.update(self.actor(request), "site", request.path_params["site_id"], body)
        return Response(status_code=204)

    def delete_site(self, request: Request, body: None) -> Response:
        self.sandbox.delete(self.actor(request), "site", request.path_params["site_id"])
        return Response(status_code=204)

    def create_batch(self, kind: str, request: Request, body: dict) -> Response:
        site_id = request.path_params["site_id"]
        self.sandbox.create(
            self.actor(request), kind, body, parent=site_id, idempotency_key=_key(request)
        )
        return JSONResponse({"site_id": site_id}, status_code=201)

    def patch_batch(self, kind: str, request: Request, body: dict) -> Response:
        self.sandbox.update(self.actor(request), kind, request.path_params["site_id"], body)
        return Response(status_code=204)

    # -- users -------------------------------------------------------------------------------
    def list_users(self, request: Request, body: None) -> Response:
        offset, limit = self.page(request)
        items, total = self.sandbox.list_users(
            self.actor(request),
            offset=offset,
            limit=limit,
            site_ids=self.listed(request, "site_id"),
            login_ids=self.listed(request, "login_id"),
        )
        return self.paged(items, total, offset, limit)

    def get_user(self, request: Request, body: None) -> Response:
        login_id = request.path_params["login_id"]
        items, _ = self.sandbox.list_users(self.actor(request), login_ids=[login_id])
        if not items:
            raise AinasError("not-found", "ユーザーが存在しません。", 404)
        return JSONResponse(items[0])

    def create_user(self, request: Request, body: dict) -> Response:
        login_id = self.sandbox.create(
            self.actor(request), "user", body, idempotency_key=_key(request)
        )
        return JSONResponse({"login_id": login_id}, status_code=201)

    def patch_user(self, request: Request, body: dict) -> Response:
        self.sandbox.update(self.actor(request), "user", request.path_params["login_id"], body)
        return Response(status_code=204)

    def delete_user(self, request: Request, body: None) -> Response:
        self.sandbox.delete(self.actor(request), "user", request.path_params["login_id"])
        return Response(status_code=204)

    # -- the document ------------------------------------------------------------------------
    def openapi_yaml(self, request: Request, body: None) -> Response:
        return Response(openapi_text(), media_type="application/yaml")

    def openapi_json(self, request: Request, body: None) -> Response:
        return JSONResponse(yaml.safe_load(openapi_text()))

    # -- wiring ------------------------------------------------------------------------------
    def routes(self) -> list[Route]:
        table = [
            ("/openapi.yaml", {"GET": self.openapi_yaml}),
            ("/openapi.json", {"GET": self.openapi_json}),
            ("/session", {"POST": self.login, "GET": self.get_session, "DELETE": self.logout}),
            ("/session/password", {"PUT": self.change_password}),
            ("/organization", {"GET": self.get_organization, "PATCH": self.patch_organization}),
            ("/certificates", {"GET": self.list_certificates, "POST": self.create_certificate}),
            ("/certificates/{certificate_id}", {"PATCH": self.patch_certificate}),
            ("/sites", {"GET": self.list_sites, "POST": self.create_site}),
            (
                "/sites/{site_id}",
                {"GET": self.get_site, "PATCH": self.patch_site, "DELETE": self.delete_site},
            ),
            *(
                (
                    f"/sites/{{site_id}}/{path}",
                    {
                        "POST": partial(self.create_batch, kind),
                        "PATCH": partial(self.patch_batch, kind),
                    },
                )
                for path, kind in BATCH_PATHS.items()
            ),
            ("/users", {"GET": self.list_users, "POST": self.create_user}),
            (
                "/users/{login_id}",
                {"GET": self.get_user, "PATCH": self.patch_user, "DELETE": self.delete_user},
            ),
        ]
        public = {self.login, self.openapi_yaml, self.openapi_json}
        routes = []
        for path, methods in table:
            routes.append(Route(API + path, self._dispatch(methods, public), methods=list(methods)))
        return routes

    def _dispatch(self, methods: dict[str, Callable[[Request, dict | None], Response]], public):
        async def endpoint(request: Request) -> Response:
            handler = methods[request.method]
            try:
                if handler not in public:  # who asks, before anything is read
                    request.state.actor = await run_in_threadpool(self.authenticate, request)
                body = None
                if request.method in ("POST", "PUT", "PATCH"):
                    body = parse_body(await read_body(request, self.max_body))
                return await run_in_threadpool(handler, request, body)
            except AinasError as exc:
                return error_response(exc.code, exc.message, exc.status)

        return endpoint


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused (413) as soon as it is known to exceed ``limit`` bytes: from its
    Content-Length before anything is read, else while it arrives."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise _bad_request("Content-Length が正しくありません。")
        if int(declared) > limit:
            raise _too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> AinasError:
    return AinasError("too-large", f"リクエストの本文が大きすぎます(上限 {limit} バイト)。", 413)


def parse_body(raw: bytes) -> dict:
    """A JSON object, or HTTP 400 for anything else: malformed JSON, text that is not UTF-8,
    nesting deeper than MAX_DEPTH, a number too long to read, a lone surrogate in a string."""
    try:
        body = json.loads(raw.decode("utf-8")) if raw else {}
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _bad_request("リクエストの本文が JSON ではありません。") from None
    if not isinstance(body, dict):
        raise _bad_request("リクエストの本文は JSON オブジェクトで指定してください。")
    pending = [(body, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise _bad_request("リクエストの本文の入れ子が深すぎます。")
        if isinstance(value, dict):
            pending.extend((key, depth) for key in value)
            pending.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            pending.extend((item, depth + 1) for item in value)
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise _bad_request(
                    "リクエストの本文に文字として正しくない値(対になっていないサロゲート)が含まれています。"
                ) from None
    return body


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
    message = {404: "ページが存在しません。", 405: "許可されていない操作です。"}.get(
        exc.status_code, str(exc.detail)
    )
    return error_response(code, message, exc.status_code)


async def _server_error(request: Request, exc: Exception) -> Response:
    return error_response("internal-error", "システムエラーが発生しました。", 500)


def create_app(
    sandbox: AinasSandbox,
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    max_body: int = MAX_BODY,
    catalogue=None,
) -> Starlette:
    """The ASGI application serving ``sandbox``: the JSON API under ``/api/v1`` and AINAS's
    screens under ``/oss_agt/`` (see :mod:`ainas_emulator.web`), drawn from
    ``catalogue`` (the screen catalogue, by default the packaged one)."""
    from ainas_emulator.web import WebFace

    api = Api(sandbox, page_size, max_body)
    web = WebFace(sandbox, catalogue, max_body=max_body)
    return Starlette(
        routes=[*api.routes(), *web.routes()],
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
    )
