"""Running the sandbox server: uvicorn over HTTPS, requiring a client certificate.

The TLS handshake itself refuses a client without a certificate signed by the sandbox's CA
(``ssl.CERT_REQUIRED`` with the CA as the only trust anchor): such a client never reaches the
API. :class:`SandboxServer` binds its socket when made (so that ``port=0`` yields a real port at
once), then runs either in the foreground (``sandbox serve``) or in a background thread (tests,
benchmarks), and always closes its socket and database.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from ainas_emulator.errors import SandboxError
from ainas_emulator.files import SandboxFiles
from ainas_emulator.server import DEFAULT_PAGE_SIZE, create_app
from ainas_emulator.service import AinasSandbox
from ainas_emulator.store import DEFAULT_HASH_COST
from ainas_emulator.timeouts import HEADER_TIMEOUT, protocol_with
from ainas_emulator.unreliable import QuietCuts, Unreliable
from ainas_provision import portable

DEFAULT_PORT = 8443


@dataclass(frozen=True)
class ServeOptions:
    """How the sandbox server runs: where it listens and the faults and latency it adds."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    latency_ms: float = 0
    fail_rate: float = 0.0
    seed: int | None = None
    page_size: int = DEFAULT_PAGE_SIZE
    access_log: bool = False
    stall_ms: float = 0
    spike_rate: float = 0.0
    spike_ms: float = 0
    hash_cost: int = DEFAULT_HASH_COST
    header_timeout: float = HEADER_TIMEOUT
    screens_file: Path | None = None  # a screen-catalogue override for the web screens


def _bind(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise SandboxError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}"
        ) from None
    try:
        portable.exclusive_address(sock)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise SandboxError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}"
            + (" (another server is using the port: pick another with --port)" if port else "")
        ) from None
    return sock


def _catalogue(options: ServeOptions):
    """The screen catalogue the web screens are drawn from: the packaged one, or — to rehearse
    a real AINAS that prints a label otherwise — with an override file applied."""
    if options.screens_file is None:
        return None
    import ainas_catalogue

    try:
        return ainas_catalogue.load(options.screens_file)
    except ainas_catalogue.CatalogueError as exc:
        raise SandboxError(str(exc)) from None


class SandboxServer:
    """The sandbox server of a sandbox directory, bound and ready to run."""

    def __init__(self, directory: Path, options: ServeOptions | None = None) -> None:
        options = options or ServeOptions()
        files = SandboxFiles(Path(directory))
        missing = files.missing_for_serving()
        if missing:
            raise SandboxError(
                f"{directory} is not a sandbox ({missing[0].name} is missing): create one with "
                f"`ainas-provision sandbox init {directory}`"
            )
        self.options = options
        self.sandbox = AinasSandbox(files.database, hash_cost=options.hash_cost)
        self.app = Unreliable(
            create_app(self.sandbox, page_size=options.page_size, catalogue=_catalogue(options)),
            latency_ms=options.latency_ms,
            fail_rate=options.fail_rate,
            seed=options.seed,
            stall_ms=options.stall_ms,
            spike_rate=options.spike_rate,
            spike_ms=options.spike_ms,
        )
        self._quiet = QuietCuts()
        logging.getLogger("uvicorn.error").addFilter(self._quiet)
        self._closed = False
        try:
            self.socket = _bind(options.host, options.port)
        except BaseException:
            self._release()
            raise
        config = uvicorn.Config(
            self.app,
            ssl_certfile=str(files.server_cert),
            ssl_keyfile=str(files.server_key),
            ssl_ca_certs=str(files.ca),
            ssl_cert_reqs=ssl.CERT_REQUIRED,
            log_config=None,
            log_level="info" if options.access_log else "warning",
            access_log=options.access_log,
            lifespan="off",
            http=protocol_with(options.header_timeout),
            timeout_graceful_shutdown=5,
        )
        try:
            config.load()  # the TLS context: a broken certificate file is reported here
        except (OSError, ssl.SSLError) as exc:
            self.close()
            raise SandboxError(
                f"cannot use the server certificate of {directory}: {exc}; make the sandbox "
                f"again with `ainas-provision sandbox init --force {directory}`"
            ) from None
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.socket.getsockname()[1]

    @property
    def url(self) -> str:
        host = self.options.host
        host = f"[{host}]" if ":" in host else host
        return f"https://{host}:{self.port}/"

    # -- in the foreground -------------------------------------------------------------------
    def run(self, announce: Callable[[str], None] = print) -> None:
        """Serve until interrupted; ``announce`` gets the URL once the server listens."""
        try:
            asyncio.run(self._serve(announce))
        finally:
            self.close()

    async def _serve(self, announce: Callable[[str], None]) -> None:
        task = asyncio.create_task(self.server.serve(sockets=[self.socket]))
        while not self.server.started and not task.done():
            await asyncio.sleep(0.01)
        if self.server.started:
            announce(f"listening on {self.url}")
        await task

    # -- in a background thread --------------------------------------------------------------
    def start(self) -> SandboxServer:
        """Serve from a background thread; returns once the server listens."""
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )
        self._thread.start()
        while not self.server.started:
            if not self._thread.is_alive():
                self.close()
                raise SandboxError("the sandbox server did not start")
            self._thread.join(0.01)
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.server.should_exit = True
            self._thread.join()
            self._thread = None
        self.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- cleanup -----------------------------------------------------------------------------
    def _release(self) -> None:
        logging.getLogger("uvicorn.error").removeFilter(self._quiet)
        self.sandbox.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.socket.close()  # uvicorn may have closed it already: closing twice is fine
            self._release()
