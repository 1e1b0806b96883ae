"""An unreliable network, on purpose: latency and seeded failures in front of the sandbox API.

``--latency-ms`` delays every request (without holding a worker thread). ``--fail-rate F`` makes a
seeded fraction F of the API requests fail, in the two ways that matter to a client:

- half answer HTTP 500 **before** the request reaches AINAS: nothing was changed;
- half are **cut after** AINAS committed the change: the response starts and the connection is
  dropped before its body, so the client cannot tell whether it happened.

A client that retries blindly creates duplicates under the second kind; the tests use both to
prove that the HTTPS backend does not.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import threading

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ERROR_BODY = json.dumps(
    {"error": {"code": "injected-fault", "message": "システムエラーが発生しました。"}},
    ensure_ascii=False,
).encode()
EXEMPT = ("/api/v1/openapi.yaml", "/api/v1/openapi.json")


class ConnectionCut(Exception):
    """Raised to make the server drop a connection mid-response (an injected fault)."""


class QuietCuts(logging.Filter):
    """Keeps the server's error log free of the faults injected on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ConnectionCut)


class Unreliable:
    """ASGI middleware adding latency and seeded failures."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        latency_ms: float = 0,
        fail_rate: float = 0.0,
        seed: int | None = None,
    ) -> None:
        if not 0.0 <= fail_rate <= 1.0:
            raise ValueError("fail_rate must be between 0 and 1")
        self.app = app
        self.latency = latency_ms / 1000
        self.fail_rate = fail_rate
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.injected = {"before": 0, "after": 0}

    def _draw(self, scope: Scope) -> str | None:
        if self.fail_rate <= 0 or scope["path"] in EXEMPT:
            return None
        with self._lock:
            if self._random.random() >= self.fail_rate:
                return None
            fault = "before" if self._random.random() < 0.5 else "after"
            self.injected[fault] += 1
            return fault

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.latency:
            await asyncio.sleep(self.latency)
        fault = self._draw(scope)
        if fault is None:
            await self.app(scope, receive, send)
        elif fault == "before":
            await _send_error(send)
        else:
            await self._cut_after(scope, receive, send)

    async def _cut_after(self, scope: Scope, receive: Receive, send: Send) -> None:
        start: dict = {}
        body = bytearray()

        async def hold(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))

        await self.app(scope, receive, hold)  # the change is made and committed
        # announce a body (even for a 204) and send none of it: the client sees a cut connection
        status = start.get("status", 200)
        await send(
            {
                "type": "http.response.start",
                "status": 200 if status in (204, 304) else status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(max(len(body), 2)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b"", "more_body": True})
        raise ConnectionCut("connection cut after the change (injected fault)")


async def _send_error(send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(ERROR_BODY)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": ERROR_BODY})
