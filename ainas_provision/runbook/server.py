"""The runbook's local page: served on 127.0.0.1 only, on a free port, behind a token.

The server is uvicorn with a small Starlette application (both already used by the sandbox
server). It listens on a socket bound to ``127.0.0.1`` port 0 — the system picks a free port;
nothing listens on another address. Every path starts with a random token
(``secrets.token_urlsafe(32)``): without it, every request is answered 404, so another local
user or a web page cannot guess its way in. Requests whose ``Host`` is not the server's own
address are refused (a DNS-rebinding page cannot reach it), and the page's own requests are JSON
``POST``\\s from its own origin (a cross-site form cannot send them).

**Secrets** never reach the page's HTML, its scripts, the step list it loads or anything it
stores: a step's secret field carries only its source (``{env: NAME}``, a file name). The value
is fetched from this process by ``POST …/api/secret`` when the person presses the field's
show or copy control — one request per press — and every answer says ``Cache-Control:
no-store``. The page keeps it in no variable, storage or history (see ``page/runbook.js``).

The page is plain HTML, CSS and JavaScript files beside this module (no inline script: a strict
Content-Security-Policy allows only the server's own files); its texts come from
:mod:`ainas_provision.runbook.strings`.
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
from collections.abc import Callable
from importlib import resources

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ainas_provision import portable
from ainas_provision.errors import AinasProvisionError
from ainas_provision.i18n import _
from ainas_provision.runbook import strings as text
from ainas_provision.runbook.session import RunbookSession

HOST = "127.0.0.1"
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
}
FILES = {"runbook.js": "text/javascript", "runbook.css": "text/css"}


def _page_file(name: str) -> str:
    return resources.files("ainas_provision.runbook").joinpath("page", name).read_text("utf-8")


def _escape(value: str) -> str:
    return (
        value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


class RunbookApp:
    """The Starlette application of one session. ``on_end`` is called once the runbook has
    ended (every step done, or one failed), after the answer that ended it."""

    def __init__(
        self,
        session: RunbookSession,
        token: str | None = None,
        on_end: Callable[[], None] = lambda: None,
    ) -> None:
        self.session = session
        self.token = token or secrets.token_urlsafe(32)
        self.on_end = on_end
        self.port: int | None = None
        self.app = Starlette(
            routes=[
                Route("/{token}/", self.page),
                Route("/{token}/{name:str}", self.static),
                Route("/{token}/api/steps", self.steps),
                Route("/{token}/api/secret", self.secret, methods=["POST"]),
                Route("/{token}/api/done", self.done, methods=["POST"]),
                Route("/{token}/api/failed", self.failed, methods=["POST"]),
            ]
        )

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            request = Request(scope)
            refusal = self._refusal(request)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _refusal(self, request: Request) -> Response | None:
        parts = request.url.path.split("/")
        if len(parts) < 3 or not secrets.compare_digest(parts[1], self.token):
            return _plain(404, _("not found: open the address the runbook printed"))
        host = request.headers.get("host", "")
        if self.port is not None and host not in (f"{HOST}:{self.port}", f"localhost:{self.port}"):
            return _plain(403, _("this page answers on its own address only"))
        if request.method == "POST":
            origin = request.headers.get("origin")
            if origin is not None and origin not in (
                f"http://{HOST}:{self.port}",
                f"http://localhost:{self.port}",
            ):
                return _plain(403, _("cross-origin requests are refused"))
            if not request.headers.get("content-type", "").startswith("application/json"):
                return _plain(415, _("JSON only"))
        return None

    # -- the page --------------------------------------------------------------------------
    def page(self, request: Request) -> Response:
        t = text.strings(self.session.lang)
        html = _page_file("index.html")
        for name in ("lang", "title", "intro", "keys"):
            html = html.replace("{{" + name + "}}", _escape(t[name]))
        # the page's texts, as data (not a script: the CSP allows none inline)
        data = json.dumps(t, ensure_ascii=False).replace("<", "\\u003c")
        html = html.replace("{{strings}}", data)
        return Response(html, media_type="text/html; charset=utf-8", headers=HEADERS)

    def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in FILES:
            return _plain(404, _("not found: open the address the runbook printed"))
        return Response(_page_file(name), media_type=FILES[name], headers=HEADERS)

    # -- the API ---------------------------------------------------------------------------
    def steps(self, request: Request) -> Response:
        return JSONResponse(self.session.view(), headers=HEADERS)

    async def _body(self, request: Request) -> dict:
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise AinasProvisionError(_("the request is not a JSON object"))
        return body

    async def secret(self, request: Request) -> Response:
        try:
            body = await self._body(request)
            value = self.session.secret(str(body.get("step")), str(body.get("field")))
        except AinasProvisionError as exc:
            return _error(exc)
        return JSONResponse({"value": value}, headers=HEADERS)

    async def done(self, request: Request) -> Response:
        try:
            body = await self._body(request)
            answers = body.get("answers") or {}
            if not isinstance(answers, dict):
                raise AinasProvisionError(_("answers must be an object"))
            await _in_thread(self.session.confirm, str(body.get("step")), answers)
        except AinasProvisionError as exc:
            return _error(exc)
        return self._after()

    async def failed(self, request: Request) -> Response:
        try:
            body = await self._body(request)
            await _in_thread(
                self.session.fail, str(body.get("step")), str(body.get("message") or "")
            )
        except AinasProvisionError as exc:
            return _error(exc)
        return self._after()

    def _after(self) -> Response:
        view = self.session.view()
        if view["ended"] is not None:
            self.on_end()
        return JSONResponse(view, headers=HEADERS)


async def _in_thread(function, *args) -> None:
    from starlette.concurrency import run_in_threadpool

    await run_in_threadpool(function, *args)


def _plain(status: int, message: str) -> Response:
    return Response(message, status_code=status, media_type="text/plain", headers=HEADERS)


def _error(exc: AinasProvisionError) -> Response:
    return JSONResponse({"error": str(exc)}, status_code=409, headers=HEADERS)


class RunbookServer:
    """uvicorn serving a :class:`RunbookApp` on 127.0.0.1 and a free port."""

    def __init__(self, session: RunbookSession, *, linger: float = 1.0) -> None:
        import uvicorn

        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        portable.exclusive_address(self.socket)
        self.socket.bind((HOST, 0))
        self.socket.listen(64)  # connections wait in the backlog until uvicorn serves them
        self.app = RunbookApp(session, on_end=self._ended)
        self.app.port = self.socket.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,  # the URL carries the token: keep it out of logs
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        self.server = uvicorn.Server(config)
        self.linger = linger
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.app.port}/{self.app.token}/"

    def _ended(self) -> None:
        # let the page fetch its last view, then stop
        timer = threading.Timer(self.linger, self.stop)
        timer.daemon = True
        timer.start()

    def serve(self) -> None:
        """Serve until the runbook ends or the process is interrupted (Ctrl+C)."""
        self.server.run(sockets=[self.socket])

    def start(self) -> None:
        """Serve in a background thread (for tests and embedding)."""
        self._thread = threading.Thread(target=self.serve, daemon=True)
        self._thread.start()
        while not self.server.started and self._thread.is_alive():
            threading.Event().wait(0.01)

    def stop(self) -> None:
        self.server.should_exit = True

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
