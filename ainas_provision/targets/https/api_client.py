"""One HTTP request to the AINAS API, and what its failure means.

:class:`ApiClient` owns the connection pool (one ``httpx.Client``, thread-safe, sized for the
work in flight) and sends single requests. It decides nothing about retrying; it classifies:

- the server answered with an error: :class:`ApiError` (its code, AINAS's message, the status);
- no complete answer: :class:`NoAnswer`, with ``sent`` telling whether the request may have
  reached the server (a refused connection did not; a cut connection may have);
- TLS refused the server (certificate verify failed) or the server refused the client
  certificate: :class:`TlsRefused`, which no retry can cure.

It counts the requests it sends, by kind (``login``, ``read``, ``write``).
"""

from __future__ import annotations

import ssl
import threading

import httpx

from ainas_provision.i18n import _
from ainas_provision.targets.base import BackendError

API_PATH = "/api/v1"
# alerts a server sends when it refuses the client certificate
CLIENT_CERT_ALERTS = (
    "ALERT_CERTIFICATE_REQUIRED",
    "ALERT_UNKNOWN_CA",
    "ALERT_BAD_CERTIFICATE",
    "ALERT_CERTIFICATE_UNKNOWN",
    "ALERT_CERTIFICATE_EXPIRED",
    "ALERT_CERTIFICATE_REVOKED",
    "ALERT_ACCESS_DENIED",
    "ALERT_HANDSHAKE_FAILURE",
)


class ApiError(BackendError):
    """The server answered, refusing: ``status`` is the HTTP status."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(code, message, retriable=status >= 500)
        self.status = status


class NoAnswer(BackendError):
    """No complete answer. ``sent``: the request may have reached the server and been carried
    out (a connection cut after sending); otherwise it certainly was not (a refused connection)."""

    names_the_server = False  # the message says which server already (every attempt failed)

    def __init__(self, reason: str, *, sent: bool, disconnected: bool = False) -> None:
        super().__init__("no-answer", reason, retriable=True)
        self.sent = sent
        self.disconnected = disconnected  # the server closed the connection without answering


class TlsRefused(BackendError):
    """The TLS handshake failed for a reason a retry cannot cure."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(code, reason, retriable=False)


def _ssl_error(exc: BaseException) -> ssl.SSLError | None:
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, ssl.SSLError):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def classify(exc: httpx.TransportError) -> BackendError:
    """What a transport failure means for the request that met it."""
    tls = _ssl_error(exc)
    if isinstance(tls, ssl.SSLCertVerificationError):
        return TlsRefused("server-not-trusted", tls.verify_message or str(tls))
    if tls is not None and any(alert in str(tls).upper() for alert in CLIENT_CERT_ALERTS):
        return TlsRefused("client-certificate-refused", tls.reason or str(tls))
    reason = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return NoAnswer(reason, sent=False)
    disconnected = isinstance(exc, httpx.RemoteProtocolError) and "without sending" in reason
    return NoAnswer(reason, sent=True, disconnected=disconnected)


class ApiClient:
    """Sends requests to ``{url}/api/v1`` over one pool of mutual-TLS connections."""

    def __init__(
        self, url: str, context: ssl.SSLContext, *, pool_size: int, timeout: float = 60.0
    ) -> None:
        self.client = httpx.Client(
            base_url=url.rstrip("/") + API_PATH,
            verify=context,
            limits=httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size),
            timeout=httpx.Timeout(timeout, connect=10.0),
            follow_redirects=False,
        )
        self._lock = threading.Lock()
        self.counts = {"login": 0, "read": 0, "write": 0}

    def _count(self, method: str, path: str) -> None:
        kind = "login" if path == "/session" and method in ("POST", "DELETE") else None
        kind = kind or ("read" if method == "GET" else "write")
        with self._lock:
            self.counts[kind] += 1

    def send(
        self,
        method: str,
        path: str,
        *,
        body: dict | None = None,
        params: dict | None = None,
        token: str | None = None,
        headers: dict | None = None,
        timeout: float | None = None,
    ) -> dict | None:
        """One request; the decoded JSON answer (None for an empty one)."""
        self._count(method, path)
        headers = dict(headers or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            extra = {} if timeout is None else {"timeout": timeout}
            response = self.client.request(
                method, path, json=body, params=params, headers=headers, **extra
            )
        except httpx.TransportError as exc:
            raise classify(exc) from None
        if response.status_code >= 400:
            raise _api_error(response, method, path)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise NoAnswer(
                _("the server answered {method} {path} with something that is not JSON").format(
                    method=method, path=path
                ),
                sent=True,
            ) from None

    def close(self) -> None:
        self.client.close()


def _api_error(response: httpx.Response, method: str = "", path: str = "") -> ApiError:
    """The server's refusal. A server error (5xx) says which request failed and with what
    status, so that it can be told from a refusal and reported to whoever runs the server."""
    status = response.status_code
    try:
        error = response.json()["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        code = "http-error"
        message = _("HTTP {status} {reason} (not an AINAS API answer)").format(
            status=status, reason=response.reason_phrase
        )
        if status < 500:
            return ApiError(code, message, status)
    if status >= 500:
        message = _(
            "the server failed on {method} {path} (HTTP {status} {reason}): {message} — a server "
            "error, not a refusal of the manifests: run again; if it persists, the server's log "
            "has the cause"
        ).format(
            method=method,
            path=path,
            status=status,
            reason=response.reason_phrase,
            message=message,
        )
    return ApiError(code, message, status)
