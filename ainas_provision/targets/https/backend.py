"""The HTTPS backend: an AINAS endpoint (the sandbox server's API) over mutual TLS.

It logs in with a ログインID and password, carries the session token, reads a tenant page by page
with the server's maximum page size (the first pages of every list at once, then all the other
pages at once: two round trips after the login), and performs single
changes. Failures of the network are handled so that retrying can never create a duplicate:

- reads (and the login) are retried, with a short exponential backoff, on a lost answer or a
  server error;
- a create whose answer was lost (or failed with a server error) is not simply sent again: the
  backend first looks for what it asked for by its natural key — the ログインID of a user, the
  代理人拠点名/コード and fields of a site, the site's batch account, the fingerprint of a
  certificate — and takes a match that was not there before as success;
- updates send the full values and may be repeated; a delete whose answer was lost succeeds when
  the resource is gone; a password change whose answer was lost succeeds when the session no
  longer needs one.

Secret values are revealed only into request bodies; no message repeats one.
"""

from __future__ import annotations

import base64
import contextlib
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from cryptography.hazmat.primitives import hashes

from ainas_provision.certs.errors import CertificateError
from ainas_provision.certs.reader import load_p12
from ainas_provision.domain import kinds, screens
from ainas_provision.domain.desired import DesiredState
from ainas_provision.domain.kinds import ADMIN_ROLE, KINDS, Kind
from ainas_provision.errors import AinasProvisionError
from ainas_provision.i18n import _
from ainas_provision.targets import convert
from ainas_provision.targets.base import (
    BackendError,
    ConnectionProblem,
    CurrentState,
    Session,
    require_credentials,
)
from ainas_provision.targets.https.api_client import ApiClient, ApiError, NoAnswer, TlsRefused
from ainas_provision.targets.https.connection import Connection, resolve_connection
from ainas_provision.targets.https.tls import ClientTls, client_tls
from ainas_provision.targets.recovery import Claims, identifying, natural_query, same
from ainas_provision.validation.rules.passwords import password_problem

ATTEMPTS = 4  # tries of one request in all
BACKOFF = 0.05  # seconds before the first retry; doubled each time, with jitter
BACKOFF_MAX = 1.0
POOL_SIZE = 64  # the largest --parallelism: the executor bounds the requests in flight
DEFAULT_TIMEOUT = 60.0  # seconds for an answer (AINAS_HTTP_TIMEOUT)
LOGOUT_TIMEOUT = 5.0  # seconds: a logout is a courtesy, never a reason to hang
READ_PARALLELISM = 4  # requests of a read at once, at the least
SITE_CHUNK = 50  # 拠点IDs per filtered list request


@dataclass(frozen=True)
class _Resource:
    """How the API holds one kind: its path, given its ID (a batch account is under its site,
    known by the 拠点ID), and how a new one is created (None: it is not)."""

    kind: Kind
    path: Callable[[str], str]
    create: Callable | None = None


def _route(kind: str, verb: str) -> _Resource:
    spec = KINDS.get(kind)
    resource = _RESOURCES.get(spec) if spec is not None else None
    if resource is None:
        raise BackendError("unknown-kind", f"cannot {verb} a {kind} over HTTPS")
    return resource


def _wire(fields: Mapping[str, object]) -> dict:
    """A request body: secrets revealed (to be sent), everything else as is."""
    return {
        name: value.reveal() if hasattr(value, "reveal") else value
        for name, value in fields.items()
    }


class HttpsBackend:
    def __init__(
        self,
        connection: Connection,
        tls: ClientTls,
        *,
        pool_size: int = POOL_SIZE,
        read_parallelism: int = READ_PARALLELISM,
        backoff: float = BACKOFF,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.connection = connection
        self.url = connection.url
        self.description = connection.url
        self.tls = tls
        self.api = ApiClient(connection.url, tls.context, pool_size=pool_size, timeout=timeout)
        self.read_parallelism = max(1, read_parallelism)
        self.backoff = backoff
        self._password = connection.password
        self._session: Session | None = None
        self._organization_id: str | None = None
        self._token: str | None = None
        self._logout: threading.Thread | None = None  # a logout sent by finish()
        self._logout_failure: Exception | None = None  # what it met that was not the network
        self._login_lock = threading.Lock()
        self._lock = threading.Lock()
        # what the last read saw, and what this backend created since: a lost create is
        # recognized only among resources that are neither
        self._site_claims = Claims()  # lost creations found again (targets/recovery.py)
        self._certificate_claims = Claims()

    @property
    def requests(self) -> dict[str, int]:
        """Requests sent so far, by kind: ``login``, ``read``, ``write`` (retries included)."""
        return dict(self.api.counts)

    # -- retries -------------------------------------------------------------------------
    def _gave_up(self, last: BackendError) -> BackendError:
        """The error to report once every attempt failed: a clear sentence for a lost server."""
        if isinstance(last, NoAnswer) and not last.sent:
            return ConnectionProblem(
                "unreachable",
                _(
                    "cannot reach {url} ({reason}): is the server running, and is the URL "
                    "(--target) right?"
                ).format(url=self.url, reason=last.message),
            )
        if isinstance(last, NoAnswer):
            final = NoAnswer(
                _("no answer from {url} after {count} attempts ({reason})").format(
                    url=self.url, count=ATTEMPTS, reason=last.message
                ),
                sent=True,
                disconnected=last.disconnected,
            )
            final.names_the_server = True
            return final
        return last

    def _pause(self, attempt: int) -> None:
        delay = min(BACKOFF_MAX, self.backoff * 2 ** (attempt - 1))
        time.sleep(delay * (0.5 + random.random() / 2))

    def _retrying(self, call: Callable[[], object]) -> object:
        """A request that may be repeated as is (a read, the login, a full update)."""
        for attempt in range(ATTEMPTS):
            if attempt:
                self._pause(attempt)
            try:
                return call()
            except NoAnswer as exc:
                last: BackendError = exc
            except ApiError as exc:
                if exc.status < 500:
                    raise
                last = exc
        raise self._gave_up(last)

    # -- session ---------------------------------------------------------------------------
    def _login(self) -> None:
        connection = self.connection
        require_credentials(connection.login_id, self._password is not None, self.url)
        body = {"login_id": connection.login_id, "password": self._password.reveal()}
        try:
            answer = self._retrying(lambda: self.api.send("POST", "/session", body=body))
        except ApiError as exc:
            if exc.status == 401:
                raise ConnectionProblem(
                    "login-failed",
                    _(
                        "login to {url} as {login_id} failed: AINAS says {answer} Check "
                        "{password_source} (and the login ID, from {login_id_source})"
                    ).format(
                        url=self.url,
                        login_id=connection.login_id,
                        answer=exc.message,
                        password_source=connection.source("password"),
                        login_id_source=connection.source("login_id"),
                    ),
                ) from None
            raise
        except ConnectionProblem:
            raise
        except (NoAnswer, TlsRefused) as exc:
            raise self._unusable(exc) from None
        self._token = answer["token"]
        self._organization_id = str(answer["organization_id"])
        self._session = Session(
            answer["login_id"], answer["role"], answer["site_id"], answer["must_change_password"]
        )

    def _unusable(self, exc: BackendError) -> ConnectionProblem:
        """The first contact failed: say why, and what to fix."""
        cert = _("the client certificate {file} (issued by {issuer})").format(
            file=self.tls.certificate, issuer=self.tls.issuer
        )
        if isinstance(exc, TlsRefused) and exc.code == "server-not-trusted":
            ca = self.connection.ca_file
            trusted = (
                _("the CA in {file} ({source})").format(
                    file=ca, source=self.connection.source("ca_file")
                )
                if ca
                else _("the system's trusted CAs (set AINAS_CA_FILE to the server's CA)")
            )
            return ConnectionProblem(
                "server-not-trusted",
                _(
                    "the server at {url} is not trusted: certificate verify failed ({reason}): "
                    "its certificate is not signed by {trusted}, or is not for this host; check "
                    "the URL and the CA file"
                ).format(url=self.url, reason=exc.message, trusted=trusted),
            )
        if isinstance(exc, TlsRefused):
            return ConnectionProblem(
                "client-certificate-refused",
                _(
                    "the server at {url} refused {certificate} (TLS alert: {reason}): use the "
                    "クライアント証明書 issued for this server (AINAS_CLIENT_CERT)"
                ).format(url=self.url, certificate=cert, reason=exc.message),
            )
        if isinstance(exc, NoAnswer) and exc.disconnected:
            return ConnectionProblem(
                "client-certificate-refused",
                _(
                    "the server at {url} closed every connection during the TLS handshake "
                    "without answering: it does not accept {certificate}; use the "
                    "クライアント証明書 issued for this server (AINAS_CLIENT_CERT)"
                ).format(url=self.url, certificate=cert),
            )
        if isinstance(exc, NoAnswer) and not exc.sent:
            return ConnectionProblem(
                "unreachable",
                _(
                    "cannot reach {url}: {reason}; is the server running, and is the URL "
                    "(--target) right?"
                ).format(url=self.url, reason=exc.message),
            )
        message = exc.message
        if not getattr(exc, "names_the_server", False):  # _gave_up's says it already
            message = _("no answer from {url}: {reason}").format(url=self.url, reason=message)
        return ConnectionProblem("no-answer", message)

    def _ensure_session(self) -> Session:
        if self._session is None:
            with self._login_lock:
                if self._session is None:
                    self._login()
        return self._session

    def _relogin(self, stale: str | None) -> None:
        with self._login_lock:
            if self._token == stale:
                self._login()

    def _send(
        self,
        method: str,
        path: str,
        *,
        body: dict | None = None,
        params: dict | None = None,
        headers: dict | None = None,
    ) -> dict | None:
        """One request in the session; a session the server forgot is opened again once."""
        self._ensure_session()
        token = self._token
        try:
            return self.api.send(
                method, path, body=body, params=params, token=token, headers=headers
            )
        except ApiError as exc:
            if exc.status != 401 or exc.code not in ("not-logged-in", "session-expired"):
                raise
        self._relogin(token)
        return self.api.send(
            method, path, body=body, params=params, token=self._token, headers=headers
        )

    def _get(self, path: str, params: dict | None = None) -> dict:
        return self._retrying(lambda: self._send("GET", path, params=params))

    def session(self) -> Session:
        return replace(self._ensure_session())

    def organization_id(self) -> str:
        self._ensure_session()
        return self._organization_id

    # -- reads -----------------------------------------------------------------------------
    def _lists(self, pool: ThreadPoolExecutor, queries: list[tuple[str, dict]]) -> list[list]:
        """Every item of each list: the first pages of all the lists at once, then all their
        other pages at once (a read takes two round trips, however many lists and pages)."""
        firsts = [pool.submit(self._get, path, {**params, "offset": 0}) for path, params in queries]
        rest = []
        for (path, params), first in zip(queries, firsts, strict=True):
            page = first.result()
            limit, total = page["limit"], page["total"]
            rest.append(
                [
                    pool.submit(self._get, path, {**params, "offset": offset, "limit": limit})
                    for offset in range(limit, total, limit)
                ]
            )
        lists = []
        for first, others in zip(firsts, rest, strict=True):
            items = list(first.result()["items"])
            for page in others:
                items.extend(page.result()["items"])
            lists.append(items)
        return lists

    def _all(self, path: str, params: dict | None = None) -> list[dict]:
        """Every item of one list."""
        with _pool(self.read_parallelism) as pool:
            return self._lists(pool, [(path, dict(params or {}))])[0]

    def _read_lists(self, sites: Collection[str] | None) -> tuple[dict, list, list, list]:
        """The organization, its certificates, the sites and users (all, or of ``sites``)."""
        ids = sorted(sites) if sites is not None else None
        queries: list[tuple[str, dict]] = [("/certificates", {})]
        if ids is None:
            queries += [("/sites", {}), ("/users", {})]
        elif not ids:  # no site: only the admins
            queries += [("/users", {})]
        for start in range(0, len(ids or ()), SITE_CHUNK):
            chunk = {"site_id": ids[start : start + SITE_CHUNK]}
            queries += [("/sites", chunk), ("/users", chunk)]
        with _pool(self.read_parallelism) as pool:
            organization = pool.submit(self._get, "/organization")
            lists = self._lists(pool, queries)
            organization_answer = organization.result()
        certificates, rest = lists[0], lists[1:]
        if ids is None:
            return organization_answer, certificates, rest[0], rest[1]
        if not ids:
            users = [u for u in rest[0] if u["role"] == ADMIN_ROLE]
            return organization_answer, certificates, [], users
        site_items: dict[str, dict] = {}
        users_by_id: dict[str, dict] = {}
        for index in range(0, len(rest), 2):
            site_items.update((s["site_id"], s) for s in rest[index])
            users_by_id.update((u["login_id"], u) for u in rest[index + 1])
        users = sorted(users_by_id.values(), key=lambda u: u["login_id"])
        return organization_answer, certificates, list(site_items.values()), users

    def read(self, *, sites: Collection[str] | None = None) -> CurrentState:
        session = self.session()
        organization, certificates, site_items, users = self._read_lists(sites)
        with self._lock:
            self._site_claims.know(str(s["site_id"]) for s in site_items)
            self._certificate_claims.know(str(c["id"]) for c in certificates)
        return convert.state(
            organization,
            certificates,
            site_items,
            users,
            session,
            sorted(sites) if sites is not None else None,
        )

    # -- creates ---------------------------------------------------------------------------
    def _create(self, path: str, body: dict, key: str, find: Callable[[], str | None]) -> str:
        """POST, and on a lost or failed answer, look for the result before sending again.

        Every attempt carries the same ``Idempotency-Key``: a server that honours it answers a
        repeated create with the first one's result — also when the first attempt, given up
        on, arrives after the retry. The look-up covers a server that does not."""
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        last: BackendError | None = None
        for attempt in range(ATTEMPTS):
            if attempt:
                self._pause(attempt)
            try:
                return str(self._send("POST", path, body=body, headers=headers)[key])
            except NoAnswer as exc:
                last = exc
                if not exc.sent:
                    continue
            except ApiError as exc:
                last = exc
                conflict_on_retry = attempt > 0 and exc.status == 409
                if exc.status < 500 and not conflict_on_retry:
                    raise
            found = find()
            if found is not None:
                return found
            if isinstance(last, ApiError) and last.status == 409:
                raise last
        raise self._gave_up(last)

    def _find_site(self, fields: Mapping[str, object]) -> str | None:
        candidates = [
            str(item["site_id"])
            # the body speaks the catalogue's names; the search, the manifest's natural key
            for item in self._all(
                "/sites", natural_query(kinds.SITE, screens.from_screen(kinds.SITE, fields))
            )
            if self._site_claims.is_new(str(item["site_id"])) and same(fields, item["fields"])
        ]
        return self._site_claims.claim(candidates)

    def _find_batch(self, kind: Kind, site_id: str, fields: Mapping[str, object]) -> str | None:
        try:
            site = self._get(f"/sites/{site_id}")
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise
        account = site.get(kind.name)
        keys = identifying(kind, fields)
        return site_id if account is not None and same(keys, account) else None

    def _find_user(self, fields: Mapping[str, object]) -> str | None:
        login_id = str(fields["login_id"])
        try:
            user = self._get(f"/users/{login_id}")
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise
        wanted = {k: fields.get(k) for k in ("user_name", "role", "site")}
        return login_id if same(wanted, user) else None

    def _find_certificate(self, fingerprint: str) -> str | None:
        claims = self._certificate_claims
        candidates = [
            str(item["id"])
            for item in self._all("/certificates")
            if item.get("fingerprint") == fingerprint and claims.is_new(str(item["id"]))
        ]
        return claims.claim(candidates)

    def create(self, kind: str, fields: dict[str, object], *, parent: str | None = None) -> str:
        """The API speaks the screen catalogue's field names: the fields are renamed."""
        resource = _route(kind, "create")
        if resource.create is None:
            raise BackendError("unknown-kind", f"cannot create a {kind} over HTTPS")
        body = _wire(screens.to_screen(resource.kind, fields))
        return resource.create(self, resource.kind, body, parent)

    def _create_site(self, kind: Kind, body: dict, parent: str | None) -> str:
        site_id = self._create("/sites", body, "site_id", lambda: self._find_site(body))
        self._site_claims.take(site_id)
        return site_id

    def _create_batch_account(self, kind: Kind, body: dict, parent: str | None) -> str:
        if not parent:
            raise BackendError("required", f"{kind.name}: no site given")
        path = _RESOURCES[kind].path(parent)
        return self._create(path, body, "site_id", lambda: self._find_batch(kind, parent, body))

    def _create_user(self, kind: Kind, body: dict, parent: str | None) -> str:
        return self._create("/users", body, "login_id", lambda: self._find_user(body))

    def _create_certificate(self, kind: Kind, body: dict, parent: str | None) -> str:
        p12 = bytes(body.pop("file"))
        fingerprint = _fingerprint(p12, body.get("password"))
        body["p12"] = base64.b64encode(p12).decode("ascii")
        cert_id = self._create(
            "/certificates", body, "id", lambda: self._find_certificate(fingerprint)
        )
        self._certificate_claims.take(cert_id)
        return cert_id

    # -- updates and deletes ---------------------------------------------------------------
    @staticmethod
    def _path(kind: str, id: str) -> str:
        return _route(kind, "change").path(id)

    def change_password(self, password) -> None:
        self._change_password(password)

    def update(self, kind: str, id: str, fields: dict[str, object]) -> None:
        path, body = self._path(kind, id), _wire(screens.to_screen(kind, fields))
        self._retrying(lambda: self._send("PATCH", path, body=body))

    def delete(self, kind: str, id: str) -> None:
        path = self._path(kind, id)
        last: BackendError | None = None
        for attempt in range(ATTEMPTS):
            if attempt:
                self._pause(attempt)
            try:
                self._send("DELETE", path)
                return
            except NoAnswer as exc:
                last = exc
            except ApiError as exc:
                if attempt > 0 and exc.status == 404 and last is not None:
                    return  # the lost answer was a success: it is gone
                if exc.status < 500:
                    raise
                last = exc
        raise self._gave_up(last)

    def _change_password(self, secret) -> None:
        """パスワード更新 at first login; the new password is checked before it is sent."""
        if secret is None or not hasattr(secret, "reveal"):
            raise AinasProvisionError(
                _("no new password: set AINAS_NEW_PASSWORD (or connection.new_password)")
            )
        problem = password_problem(secret.reveal())
        if problem:
            raise AinasProvisionError(
                _(
                    "the new password ({source}) {problem}; set AINAS_NEW_PASSWORD to one that "
                    "AINAS accepts"
                ).format(source=secret.source, problem=problem)
            )
        body = {"current_password": self._password.reveal(), "new_password": secret.reveal()}
        last: BackendError | None = None
        for attempt in range(ATTEMPTS):
            if attempt:
                self._pause(attempt)
            try:
                answer = self._send("PUT", "/session/password", body=body)
            except NoAnswer as exc:
                last = exc
            except ApiError as exc:
                if exc.status < 500:
                    raise
                last = exc
            else:
                # every session of the user ended with the change: go on with the new one
                with self._login_lock:
                    self._token = answer["token"]
                    self._password = secret
                    self._session = replace(self._session, must_change_password=False)
                return
            if self._logs_in_with(secret):
                return  # the lost answer was a success
        raise self._gave_up(last)

    def _logs_in_with(self, secret) -> bool:
        """Whether ``secret`` is the password now (a change whose answer was lost took place):
        if so, the session is a new one, opened with it."""
        with self._login_lock:
            previous = self._password
            self._password = secret
            try:
                self._login()
            except ConnectionProblem as exc:
                self._password = previous
                if exc.code == "login-failed":
                    return False
                raise
        return True

    def finish(self) -> None:
        """The run sends nothing more: the logout is sent now, in the background, while the
        run writes its state (a round trip less at the end); :meth:`close` waits for it."""
        if self._token is not None and self._logout is None:
            token, self._token = self._token, None
            self._logout = threading.Thread(target=self._log_out, args=(token,), name="logout")
            self._logout.start()

    def _log_out(self, token: str) -> None:
        try:
            self.api.send("DELETE", "/session", token=token, timeout=LOGOUT_TIMEOUT)
        except BackendError:  # the session expires on its own
            pass
        except Exception as exc:  # raised by close(), in the run's own thread
            self._logout_failure = exc

    def close(self) -> None:
        """Log out (the session ends at once rather than when it expires), then close."""
        if self._logout is not None:
            self._logout.join()
        elif self._token is not None:
            self._log_out(self._token)
        self._token = None
        self.api.close()
        failure, self._logout_failure = self._logout_failure, None
        if failure is not None:
            raise failure


@contextlib.contextmanager
def _pool(workers: int):
    """Threads for the requests of one read; on a failure, the requests not yet sent are
    dropped (those in flight are waited for) and the failure is raised."""
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _fingerprint(p12: bytes, password) -> str:
    try:
        loaded = load_p12(p12, password if isinstance(password, str) else "")
    except CertificateError as exc:
        raise BackendError("certificate-invalid", exc.message) from None
    return loaded.cert.certificate.fingerprint(hashes.SHA256()).hex()


def open_https(
    target,
    desired: DesiredState | None,
    env: Mapping[str, str] = os.environ,
    *,
    parallelism: int | None = None,
) -> HttpsBackend:
    """The backend for an ``https://`` target: settings from ``env`` and the manifests'
    ``connection:`` section, the client certificate loaded, nothing sent yet."""
    connection = resolve_connection(target.location, desired, env)
    tls = client_tls(connection)
    return HttpsBackend(
        connection,
        tls,
        pool_size=parallelism or POOL_SIZE,
        # a read sends as many requests at once as the apply may: --parallelism, at least 4
        read_parallelism=max(READ_PARALLELISM, parallelism or 0),
        timeout=_timeout(env),
    )


def _timeout(env: Mapping[str, str]) -> float:
    """Seconds to wait for an answer: ``AINAS_HTTP_TIMEOUT``, else 60."""
    text = env.get("AINAS_HTTP_TIMEOUT")
    if not text:
        return DEFAULT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = -1
    if value <= 0:
        raise AinasProvisionError(
            _("AINAS_HTTP_TIMEOUT is {value}: give a number of seconds").format(value=repr(text))
        )
    return value


# where each kind lives in the JSON API, and how it is created: the one table of the kinds
_RESOURCES: dict[Kind, _Resource] = {
    resource.kind: resource
    for resource in (
        _Resource(kinds.ORGANIZATION, lambda id: "/organization"),
        _Resource(
            kinds.CERTIFICATE, lambda id: f"/certificates/{id}", HttpsBackend._create_certificate
        ),
        _Resource(kinds.SITE, lambda id: f"/sites/{id}", HttpsBackend._create_site),
        _Resource(kinds.USER, lambda id: f"/users/{id}", HttpsBackend._create_user),
        _Resource(
            kinds.BATCH_ACCOUNT,
            lambda id: f"/sites/{id}/batch-account",
            HttpsBackend._create_batch_account,
        ),
        _Resource(
            kinds.KEI_BATCH_ACCOUNT,
            lambda id: f"/sites/{id}/kei-batch-account",
            HttpsBackend._create_batch_account,
        ),
    )
}
