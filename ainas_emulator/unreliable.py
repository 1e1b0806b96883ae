"""An unreliable network, on purpose: latency and seeded failures in front of the sandbox API.

``--latency-ms`` delays every request (without holding a worker thread); ``--spike-rate R`` with
``--spike-ms M`` adds M more to a seeded fraction R of them. ``--fail-rate F`` makes a seeded
fraction F of the API requests fail, in the ways that matter to a client:

- HTTP 500 **before** the request reaches AINAS: nothing was changed;
- the connection **cut after** AINAS committed the change: the response starts and the connection
  is dropped before its body, so the client cannot tell whether it happened;
- with ``--stall-ms S`` (longer than the client's timeout), two more: a request **stalled** S
  before it reaches AINAS — the client gives up, and the request is carried out later, perhaps
  after the client's retry — and an answer **held** S after AINAS committed the change.

The failures are drawn evenly among the kinds in force. A client that retries blindly creates
duplicates under all but the first; the tests use them to prove that the HTTPS backend does not.
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
        stall_ms: float = 0,
        spike_rate: float = 0.0,
        spike_ms: float = 0,
    ) -> None:
        for name, rate in (("fail_rate", fail_rate), ("spike_rate", spike_rate)):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        self.app = app
        self.latency = latency_ms / 1000
        self.fail_rate = fail_rate
        self.stall = stall_ms / 1000
        self.spike_rate = spike_rate
        self.spike = spike_ms / 1000
        self.kinds = ("before", "after", "stall", "held") if self.stall else ("before", "after")
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.injected = dict.fromkeys((*self.kinds, "spike"), 0)

    def _draw(self, scope: Scope) -> tuple[str | None, float]:
        """The fault of this request (None: none) and its extra latency."""
        if scope["path"] in EXEMPT:
            return None, 0.0
        with self._lock:
            delay = 0.0
            if self.spike_rate and self._random.random() < self.spike_rate:
                self.injected["spike"] += 1
                delay = self.spike
            if self.fail_rate <= 0 or self._random.random() >= self.fail_rate:
                return None, delay
            fault = self.kinds[int(self._random.random() * len(self.kinds))]
            self.injected[fault] += 1
            return fault, delay

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        fault, spike = self._draw(scope)
        if self.latency or spike:
            await asyncio.sleep(self.latency + spike)
        if fault is None:
            await self.app(scope, receive, send)
        elif fault == "before":
            await _send_error(send)
        elif fault == "stall":
            await self._stalled(scope, receive, send)
        elif fault == "held":
            await self._held_after(scope, receive, send)
        else:
            await self._cut_after(scope, receive, send)

    async def _stalled(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The request arrived, then waits: the client gives up, and it is carried out anyway."""
        messages: list[Message] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        await asyncio.sleep(self.stall)

        async def replay() -> Message:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        await self.app(scope, replay, send)

    async def _held_after(self, scope: Scope, receive: Receive, send: Send) -> None:
        messages: list[Message] = []

        async def hold(message: Message) -> None:
            messages.append(message)

        await self.app(scope, receive, hold)  # the change is made and committed
        await asyncio.sleep(self.stall)  # the answer comes after the client gave up
        for message in messages:
            await send(message)

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
