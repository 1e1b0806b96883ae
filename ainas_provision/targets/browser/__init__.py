"""The browser target: AINAS itself, through its web screens, with the agent's client certificate.

``--target browser+https://HOST/PATH`` (the login URL, e.g. ``https://www.oss-ainas.jp/oss_agt/``).
AINAS offers agents no API: this backend does what a person does, screen by screen, in the
system's Chromium (or Edge) driven by Playwright (see :mod:`.launch` for the browser, the client
certificate and the CA).

- **Finding things.** Screens are reached by clicking the menu tabs and the links the catalogue
  names (its ``menu`` path of each screen); fields are found by their label as printed
  (:mod:`.screens`): never by position or element ID. What a path led to is remembered, so that
  the next visit goes straight there.
- **Reading.** The search screens are paged through (``次>``); each site's 照会 screen is opened
  for its fields and batch accounts; each user's ユーザー更新 screen is opened, never submitted,
  for what only it shows (代理人拠点 as a 拠点ID, the デフォルト申請先 pull-downs).
- **Writing.** A form is filled, 確定 pressed, the confirmation passed with 確定, and the result
  screen read: the 拠点ID of a new site from its 照会 screen. An error AINAS prints on the screen
  becomes a failure naming the screen and the field its message names. With ``supervised``, the
  tool fills the form and waits for the operator to press 確定 (twice) in the visible browser.
- **Certificates** are identified by what their 照会 shows (屋号, 氏名, 住所, 有効期限): AINAS shows
  no fingerprint, so a registration showing exactly the manifests' certificate's contents is
  taken to be that file (inferred), the others are not.
- **Evidence.** On a failed step a screenshot is saved under ``.ainas/`` beside the state (the
  password inputs render masked, as browsers draw them), and named in the error. A Playwright
  trace (it records typed values, passwords included) only with ``trace``.
- **Parallelism.** Each worker is a thread with its own browser and context (Playwright's sync
  API belongs to the thread that started it); calls from the executor's threads are handed to a
  free worker. A context is closed and reopened every ``RECYCLE_AFTER`` forms: a long-lived one
  grows by megabytes per form.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import queue
import re
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

import ainas_catalogue
from ainas_provision.domain import kinds
from ainas_provision.domain import screens as domain_screens
from ainas_provision.domain.desired import DesiredState
from ainas_provision.domain.kinds import ADMIN_ROLE, KINDS, SITE_MANAGER, STAFF_ROLES, Kind
from ainas_provision.errors import AinasProvisionError
from ainas_provision.i18n import _
from ainas_provision.targets.base import (
    BackendError,
    ConnectionProblem,
    CurrentState,
    LiveResource,
    Session,
    require_credentials,
)
from ainas_provision.targets.browser import screens
from ainas_provision.targets.browser.launch import (
    ca_environment,
    client_certificate_bytes,
    launch_options,
    playwright_api,
)
from ainas_provision.targets.https.connection import Connection, resolve_connection

ROLES = (ADMIN_ROLE, SITE_MANAGER, *STAFF_ROLES)
RECYCLE_AFTER = 50  # forms per browser context before it is closed and reopened
TIMEOUT_MS = 30_000
REFUSED = (
    "ERR_BAD_SSL_CLIENT_AUTH_CERT",
    "ERR_SOCKET_NOT_CONNECTED",
    "ERR_EMPTY_RESPONSE",
    "ERR_SSL",
    "ERR_CERT",
)


@dataclass
class BrowserOptions:
    """How the browser target runs: supervised or not, traced or not, where evidence goes."""

    supervised: bool = False  # a visible browser; the operator presses 確定
    trace: bool = False  # record a Playwright trace (it holds typed secrets)
    evidence_dir: Path | None = None  # where failure screenshots go (.ainas/ beside the state)
    headless: bool | None = None  # default: not supervised
    operator: Callable | None = None  # supervised: called with the page while waiting
    extra: dict = field(default_factory=dict)


class ScreenError(BackendError):
    """AINAS printed an error on a screen."""


def parse_target(url: str) -> str:
    """The login URL of ``browser+https://…``, with a trailing slash."""
    url = url.removeprefix("browser+")
    return url if url.endswith("/") else url + "/"


class _Worker:
    """One thread with its own Playwright, browser and page; runs jobs handed to it."""

    def __init__(self, backend: BrowserBackend, number: int) -> None:
        self.backend = backend
        self.number = number
        self.jobs: queue.Queue = queue.Queue()
        self.page = None
        self.forms = 0
        self.logged_in = False
        self.ready = threading.Event()
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name=f"browser-{number}", daemon=True)
        self.thread.start()
        self.ready.wait()
        if self.failure is not None:
            raise self.failure

    def _run(self) -> None:
        backend = self.backend
        self.playwright = None
        try:
            api = playwright_api()
            self.playwright = api.sync_playwright().start()
            self.browser = self.playwright.chromium.launch(**backend.launch)
            self._open_context()
        except BaseException as exc:  # reported to the caller of the constructor
            self.failure = _launch_failure(exc)
            if self.playwright is not None:
                with contextlib.suppress(Exception):
                    self.playwright.stop()
            self.ready.set()
            return
        self.ready.set()
        while True:
            job = self.jobs.get()
            if job is None:
                break
            function, result = job
            try:
                result.put((True, function(self)))
            except BaseException as exc:
                result.put((False, exc))
        self._shutdown()

    def _open_context(self) -> None:
        backend = self.backend
        self.context = self.browser.new_context(
            client_certificates=backend.client_certificates,
            locale="ja-JP",
            ignore_https_errors=False,
        )
        self.context.set_default_timeout(TIMEOUT_MS)
        if backend.options.trace:
            self.context.tracing.start(screenshots=True, snapshots=True)
        self.page = self.context.new_page()
        self.logged_in = False
        self.forms = 0

    def _close_context(self) -> None:
        if self.backend.options.trace and self.backend.options.evidence_dir is not None:
            path = self.backend.evidence_path(f"trace-{self.number}", "zip")
            self.context.tracing.stop(path=str(path))
        self.context.close()

    def recycle_if_due(self) -> None:
        self.forms += 1
        if self.forms >= RECYCLE_AFTER:
            self._close_context()
            self._open_context()

    def _shutdown(self) -> None:
        try:
            with contextlib.suppress(Exception):  # a killed browser has nothing left to close
                self._close_context()
                self.browser.close()
        finally:
            self.playwright.stop()

    def call(self, function):
        result: queue.Queue = queue.Queue()
        self.jobs.put((function, result))
        ok, value = result.get()
        if not ok:
            raise value
        return value

    def stop(self) -> None:
        self.jobs.put(None)
        self.thread.join(timeout=30)


def _launch_failure(exc: BaseException) -> BaseException:
    if isinstance(exc, AinasProvisionError):
        return exc
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return AinasProvisionError(
        _(
            "cannot start the browser for the browser target: {reason} — check AINAS_BROWSER, "
            "or install Chromium (apt-get install chromium-headless-shell)"
        ).format(reason=text)
    )


class BrowserBackend:
    def __init__(
        self,
        connection: Connection,
        desired: DesiredState | None,
        *,
        login_url: str,
        options: BrowserOptions | None = None,
        parallelism: int = 1,
        catalogue: ainas_catalogue.Catalogue | None = None,
        env: Mapping[str, str] = os.environ,
    ) -> None:
        self.options = options or BrowserOptions()
        self.connection = connection
        self.desired = desired
        self.login_url = login_url
        self.description = "browser+" + login_url
        parts = urlsplit(login_url)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.catalogue = catalogue or ainas_catalogue.load()
        headless = (
            self.options.headless
            if self.options.headless is not None
            else not self.options.supervised
        )
        self.launch = launch_options(env, headless=headless)
        self.client_certificates = self._client_certificates()
        ca_environment(connection.ca_file)
        self._session: Session | None = None
        self._organization_id: str | None = None
        self._unconfirmed = False
        self._password: str | None = None
        self._learned: dict[tuple, str] = {}
        self._templates: dict[str, tuple] = {}
        self._lock = threading.Lock()
        self._idle: queue.Queue = queue.Queue()
        self._workers: list[_Worker] = []
        self._parallelism = max(1, parallelism)
        self._closed = False
        worker = _Worker(self, 0)
        self._workers.append(worker)
        self._idle.put(worker)

    # -- setup -----------------------------------------------------------------------------
    def _client_certificates(self) -> list[dict]:
        path = self.connection.client_cert
        if path is None:
            raise ConnectionProblem(
                "no-client-cert",
                _(
                    "no client certificate for {url}: set AINAS_CLIENT_CERT to the agent's .pfx "
                    "(クライアント証明書) and AINAS_CLIENT_CERT_PASSWORD to its password"
                ).format(url=self.login_url),
            )
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise ConnectionProblem(
                "no-client-cert",
                _("cannot read the client certificate {file} ({source}): {reason}").format(
                    file=path, source=self.connection.source("client_cert"), reason=exc.strerror or exc
                ),
            ) from None
        password = self.connection.client_cert_password
        secret = password.reveal() if password is not None else ""
        pfx = client_certificate_bytes(data, secret, f"{path}")
        return [{"origin": self.origin, "pfx": pfx, "passphrase": secret}]

    def _worker_call(self, function):
        if self._closed:
            raise AinasProvisionError(_("the browser target is closed"))
        try:
            worker = self._idle.get_nowait()
        except queue.Empty:
            with self._lock:
                grow = len(self._workers) < self._parallelism
                if grow:
                    worker = _Worker(self, len(self._workers))
                    self._workers.append(worker)
            if not grow:
                worker = self._idle.get()
        try:
            return worker.call(function)
        except AinasProvisionError:
            raise
        except Exception as exc:  # the browser failed (or was killed) in the middle of a step
            worker = self._replace(worker)
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise BackendError(
                "browser-failed",
                _(
                    "the browser failed in the middle of a step ({reason}); what AINAS did is not "
                    "known: the next plan finds it by its natural key"
                ).format(reason=first),
            ) from None
        finally:
            self._idle.put(worker)

    def _replace(self, worker: _Worker) -> _Worker:
        """A worker whose browser died: stopped, and a fresh one in its place."""
        with contextlib.suppress(Exception):
            worker.stop()
        fresh = _Worker(self, worker.number)
        with self._lock:
            self._workers[self._workers.index(worker)] = fresh
        return fresh

    def evidence_path(self, stem: str, suffix: str) -> Path:
        directory = self.options.evidence_dir or Path(".ainas")
        directory.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        return directory / f"{stamp}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', stem)}.{suffix}"

    # -- page helpers (in a worker's thread) -------------------------------------------------
    def _goto(self, worker: _Worker, url: str):
        page = worker.page
        try:
            response = page.goto(url, wait_until="domcontentloaded")
        except Exception as exc:
            raise self._navigation_failure(exc) from None
        if response is not None and response.status == 503 and "oss_agt" not in page.content():
            raise ConnectionProblem(
                "server-not-trusted",
                _(
                    "the server at {url} is not trusted (the browser's TLS proxy answered 503): "
                    "its certificate is not signed by {trusted}"
                ).format(
                    url=self.origin,
                    trusted=_("the CA in {file} ({source})").format(
                        file=self.connection.ca_file, source=self.connection.source("ca_file")
                    )
                    if self.connection.ca_file
                    else _("a CA the system trusts (set AINAS_CA_FILE to the server's CA)"),
                ),
            )
        return response

    def _navigation_failure(self, exc: Exception) -> BackendError:
        text = str(exc)
        if any(code in text for code in REFUSED):
            return ConnectionProblem(
                "client-cert-refused",
                _(
                    "{url} refused the TLS handshake: the client certificate {file} ({source}) is "
                    "not accepted — is it the agent's クライアント証明書 for this server?"
                ).format(
                    url=self.origin,
                    file=self.connection.client_cert,
                    source=self.connection.source("client_cert"),
                ),
            )
        if "ERR_CONNECTION_REFUSED" in text or "ERR_NAME_NOT_RESOLVED" in text:
            return ConnectionProblem(
                "unreachable",
                _(
                    "cannot reach {url}: is the server running, and is the URL (--target) right?"
                ).format(url=self.login_url),
            )
        return BackendError(
            "browser",
            _("the browser failed at {url}: {reason}").format(url=self.login_url, reason=text.splitlines()[0]),
            retriable=True,
        )

    def _state(self, worker: _Worker) -> dict:
        try:
            return worker.page.evaluate(screens.PAGE_STATE)
        except Exception as exc:
            raise self._navigation_failure(exc) from None

    def _heading(self, worker: _Worker) -> str:
        return self._state(worker)["heading"]

    def _errors(self, worker: _Worker) -> list[str]:
        return self._state(worker)["errors"]

    def _login(self, worker: _Worker) -> None:
        if worker.logged_in:
            return
        connection = self.connection
        require_credentials(connection.login_id, connection.password is not None, self.login_url)
        screen = self.catalogue.screen("login")
        self._goto(worker, self.login_url)
        page = worker.page
        if self._heading(worker) != screen.name:
            raise ConnectionProblem(
                "not-ainas",
                _(
                    "{url} does not show the {screen} screen (it shows {heading}): is the URL "
                    "the login URL of AINAS?"
                ).format(url=self.login_url, screen=screen.name, heading=repr(self._heading(worker))),
            )
        password = self._password or connection.password.reveal()
        self._fill_all(worker, screen, {"login_id": connection.login_id, "password": password})
        page.get_by_role("button", name=screen.flow.submit or "ログイン", exact=True).click()
        page.wait_for_load_state("domcontentloaded")
        errors = self._errors(worker)
        if errors:
            raise ConnectionProblem(
                "login-failed",
                _(
                    "login to {url} as {login_id} failed: AINAS says {answer} Check "
                    "{password_source} (and the login ID, from {login_id_source})"
                ).format(
                    url=self.login_url,
                    login_id=connection.login_id,
                    answer=" ".join(errors),
                    password_source=connection.source("password"),
                    login_id_source=connection.source("login_id"),
                ),
            )
        worker.logged_in = True
        must_change = self._heading(worker) == self.catalogue.screen("password_update").name
        if self._session is None:
            role = next((r for r in ROLES if page.locator("header").get_by_text(r, exact=True).count()), None)
            self._session = Session(connection.login_id, role or ADMIN_ROLE, None, must_change)
            if not must_change and role == SITE_MANAGER:
                self._session.site_id = self._own_site(worker)

    def _own_site(self, worker: _Worker) -> str | None:
        rows = self._search(worker, "site_search", {})
        return rows[0][0]["text"] if rows else None

    def _control(self, worker: _Worker, screen, field_id: str):
        """The cell (or labelled input) of a catalogue field on the current page."""
        label = screen.field(field_id).label
        page = worker.page
        labelled = page.get_by_label(label, exact=True)
        if labelled.count():
            return labelled.first
        cell = screens.cell_locator(page, label)
        if not cell.count():
            raise self._fail(
                worker,
                "label-missing",
                _(
                    "{screen}: no field labelled {label} on the screen; run `ainas-provision "
                    "probe` to compare the screens with the catalogue"
                ).format(screen=screen.name, label=repr(label)),
            )
        return cell.first

    def _fail(self, worker: _Worker, code: str, message: str) -> BackendError:
        """A failure of a step, with a screenshot of the page as evidence."""
        shot = None
        try:
            path = self.evidence_path(code, "png")
            worker.page.screenshot(path=str(path), full_page=True)
            shot = path
        except Exception:  # the page may be gone (a killed browser): no evidence then
            shot = None
        suffix = _(" (screenshot: {file})").format(file=shot) if shot else ""
        return ScreenError(code, message + suffix)

    # -- navigation ------------------------------------------------------------------------
    def _open(self, worker: _Worker, screen_id: str, *, entry: str | None = None) -> None:
        """Show the screen ``screen_id``: by the address its menu path led to before, or by
        clicking that path (tabs and links by their text; ``entry`` for the item of a list)."""
        screen = self.catalogue.screen(screen_id)
        key = (screen_id, entry)
        self._login(worker)
        known = self._learned.get(key) or self._from_template(screen_id, entry)
        if known:
            self._goto(worker, known)
            if self._heading(worker) == screen.name:
                return
        page = worker.page
        if self._heading(worker) == self.catalogue.screen("password_update").name:
            raise BackendError(
                "password-change-required",
                _("AINAS asks for a new password before anything else (パスワード更新)"),
            )
        path = list(screen.menu)
        if not path:
            return
        self._click(worker, path[0], tab=True)
        for item in path[1:]:
            if item in ("代理人拠点ID", "ログインID", "代理人組織ID", "代理人証明書"):
                self._click(worker, entry or "", entry_of=item)
            else:
                self._click(worker, item)
        if self._heading(worker) != screen.name:
            raise self._fail(
                worker,
                "screen-missing",
                _(
                    "following {path} did not reach {screen} (the page shows {heading}); run "
                    "`ainas-provision probe`"
                ).format(
                    path=" → ".join(screen.menu), screen=screen.name, heading=repr(self._heading(worker))
                ),
            )
        self._learned[key] = page.url
        self._learn_template(screen_id, entry, page.url)

    def _learn_template(self, screen_id: str, entry: str | None, url: str) -> None:
        """Remember where an entry's screen is, when its address holds the entry as one path
        segment: the next entry's screen is then one page away instead of a search."""
        if not entry:
            return
        parts = urlsplit(url)
        segments = parts.path.split("/")
        if segments.count(entry) == 1 and not parts.query:
            index = segments.index(entry)
            self._templates[screen_id] = (f"{parts.scheme}://{parts.netloc}", segments, index)

    def _from_template(self, screen_id: str, entry: str | None) -> str | None:
        template = self._templates.get(screen_id)
        if template is None or not entry or "/" in entry:
            return None
        origin, segments, index = template
        path = [*segments[:index], quote(entry, safe=""), *segments[index + 1 :]]
        return origin + "/".join(path)

    def _click(self, worker: _Worker, text: str, *, tab: bool = False, entry_of: str | None = None) -> None:
        page = worker.page
        if entry_of == "代理人拠点ID":
            self._search(worker, "site_search", {"site_id": text}, open_entry=text)
            return
        if entry_of == "ログインID":
            self._search(worker, "user_search", {"login_id": text}, open_entry=text)
            return
        if entry_of == "代理人組織ID":
            rows = self._list(worker, self.catalogue.screen("organization_search").columns)
            target = text or (rows[0][0]["text"] if rows else "")
            page.get_by_role("link", name=target, exact=True).first.click()
            page.wait_for_load_state("domcontentloaded")
            return
        if entry_of == "代理人証明書":
            page.get_by_role("link", name=text, exact=True).first.click()
            page.wait_for_load_state("domcontentloaded")
            return
        link = page.get_by_role("link", name=text, exact=True)
        if not link.count():
            link = page.get_by_role("button", name=text, exact=True)
        if not link.count():
            raise self._fail(
                worker,
                "link-missing",
                _("{page}: no link or button {text}; run `ainas-provision probe`").format(
                    page=self._heading(worker) or _("the page"), text=repr(text)
                ),
            )
        link.first.click()
        page.wait_for_load_state("domcontentloaded")

    def _list(self, worker: _Worker, columns) -> list[list[dict]]:
        rows = worker.page.evaluate(
            screens.READ_LIST, [worker.page.locator("body").element_handle(), list(columns)]
        )
        return rows or []

    def _search(
        self,
        worker: _Worker,
        screen_id: str,
        filters: dict,
        *,
        open_entry: str | None = None,
    ) -> list[list[dict]]:
        """Every row of a search screen's results (paging through), or — with ``open_entry`` —
        open the entry whose first column is that text."""
        screen = self.catalogue.screen(screen_id)
        self._open(worker, screen_id)
        page = worker.page
        if filters:
            for field_id, value in filters.items():
                self._fill(worker, screen, field_id, value)
            page.get_by_role("button", name="検索", exact=True).click()
            page.wait_for_load_state("domcontentloaded")
        rows: list[list[dict]] = []
        while True:
            found = self._list(worker, screen.columns)
            if open_entry is not None:
                for row in found:
                    if row and row[0]["text"] == open_entry:
                        page.get_by_role("link", name=open_entry, exact=True).first.click()
                        page.wait_for_load_state("domcontentloaded")
                        return [row]
            rows.extend(found)
            following = page.get_by_role("link", name="次>", exact=True)
            if not following.count():
                break
            following.first.click()
            page.wait_for_load_state("domcontentloaded")
        if open_entry is not None:
            raise BackendError(
                "not-found", _("{screen}: no entry {entry}").format(screen=screen.name, entry=open_entry)
            )
        return rows

    # -- filling ---------------------------------------------------------------------------
    def _fill(self, worker: _Worker, screen, field_id: str, value) -> None:
        spec = screen.field(field_id)
        control = self._control(worker, screen, field_id)
        tag = control.evaluate("e => e.tagName")
        if spec.input == "select":
            select = control if tag == "SELECT" else control.locator("select").first
            wanted = "" if value is None else str(value)
            options = select.evaluate("s => [...s.options].map(o => [o.value, o.textContent.trim()])")
            if any(v == wanted for v, _ in options):
                select.select_option(value=wanted)
            elif any(t == wanted for _, t in options):
                select.select_option(label=wanted)
            else:
                raise self._fail(
                    worker,
                    "option-missing",
                    _missing_option(
                        screen.name, spec.label, wanted, [t for _value, t in options if t]
                    ),
                )
        elif spec.input == "checkbox":
            box = control if tag == "INPUT" else control.locator("input[type=checkbox]").first
            box.set_checked(bool(value))
        elif spec.input == "password":
            inputs = control.locator("input[type=password]") if tag != "INPUT" else control
            for index in range(inputs.count()):
                inputs.nth(index).fill("" if value is None else str(value))
        elif spec.input == "file":
            box = control if tag == "INPUT" else control.locator("input[type=file]").first
            box.set_input_files({"name": "certificate.p12", "mimeType": "application/x-pkcs12", "buffer": bytes(value)})
        else:
            box = control if tag == "INPUT" else control.locator("input").first
            box.fill("" if value is None else str(value))

    def _submit(self, worker: _Worker, screen) -> None:
        """Press 確定, pass the confirmation, and check the result for AINAS's errors; in
        supervised mode, wait for the operator to do the pressing."""
        page = worker.page
        submit = screen.flow.submit or "確定"
        if self.options.supervised:
            self._wait_for_operator(worker, screen)
        else:
            page.get_by_role("button", name=submit, exact=True).click()
            page.wait_for_load_state("domcontentloaded")
            state = self._state(worker)
            if not state["errors"] and state["heading"].endswith("確認"):
                page.get_by_role("button", name="確定", exact=True).click()
                page.wait_for_load_state("domcontentloaded")
        self._raise_screen_errors(worker, screen)
        worker.recycle_if_due()

    def _wait_for_operator(self, worker: _Worker, screen) -> None:
        page = worker.page
        start = page.url
        names = (screen.name, screen.name + "確認")
        while True:
            if self.options.operator is not None:
                self.options.operator(page)
            page.wait_for_timeout(200)
            heading = self._heading(worker)
            if self._errors(worker) or (heading not in names and page.url != start):
                return

    def _raise_screen_errors(self, worker: _Worker, screen) -> None:
        errors = self._errors(worker)
        if not errors:
            return
        labels = sorted({f.label for f in screen.fields}, key=len, reverse=True)
        named = []
        for message in errors:
            label = next((label for label in labels if label in message), None)
            named.append(
                _("{message} (field {label})").format(message=message, label=label)
                if label
                else message
            )
        raise self._fail(
            worker,
            f"{screen.id}-refused",
            _("AINAS refused {screen}: {errors}").format(screen=screen.name, errors="; ".join(named)),
        )

    # -- the Backend protocol ----------------------------------------------------------------
    def session(self) -> Session:
        if self._session is None:
            self._worker_call(self._login)
        return self._session

    def organization_id(self) -> str:
        if self._organization_id is None:
            self.session()
            if self._session.must_change_password and self.desired is not None:
                # no screen but パスワード更新 can be seen yet: the organization is confirmed
                # right after the password change (see _update)
                self._unconfirmed = True
                self._organization_id = self.desired.organization_id
                return self._organization_id

            self._organization_id = self._worker_call(self._read_organization_id)
        return self._organization_id

    def _read_organization_id(self, worker: _Worker) -> str:
        screen = self.catalogue.screen("organization_search")
        self._open(worker, "organization_search")
        rows = self._list(worker, screen.columns)
        if not rows:
            raise self._fail(
                worker,
                "no-organization",
                _("{screen} lists no organization").format(screen=screen.name),
            )
        return rows[0][0]["text"]

    def read(self, *, sites: Collection[str] | None = None) -> CurrentState:
        session = self.session()
        self.organization_id()
        return self._worker_call(lambda worker: self._read(worker, session, sites))

    def _read(self, worker: _Worker, session: Session, sites) -> CurrentState:
        org_id = self._organization_id
        self._open(worker, "organization_view", entry=org_id)
        view = self.catalogue.screen("organization_view")
        cells = worker.page.evaluate(screens.READ_CELLS, worker.page.locator("body").element_handle())
        organization = LiveResource(
            "organization",
            org_id,
            {
                "name": cells.get(view.field("name").label),
                "short_name": cells.get(view.field("short_name").label),
                "status": cells.get(view.field("status").label),
                "permissions": {f.label: cells.get(f.label) for f in view.fields[4:]},
            },
        )
        current = CurrentState(organization, session=session, scope=sorted(sites) if sites else None)
        entries = self._list(worker, view.columns)
        for row in entries:
            current.certificates.append(self._read_certificate(worker, row[0]["text"]))
        for row in self._search(worker, "site_search", {}):
            site_id = row[0]["text"]
            if sites is not None and site_id not in sites:
                continue
            self._seen_link("site_view", site_id, row[0]["href"])
            self._read_site(worker, site_id, current)
        for row in self._search(worker, "user_search", {}):
            login_id, name, role = row[0]["text"], row[1]["text"], row[3]["text"]
            self._seen_link("user_view", login_id, row[0]["href"])
            self._read_user(worker, login_id, name, role, current, sites)
        return current

    def _seen_link(self, screen_id: str, entry: str, href: str | None) -> None:
        """An entry's link on a list: where its screen is (a link the page itself offers)."""
        if href and (screen_id, entry) not in self._learned:
            self._learned[(screen_id, entry)] = href
            self._learn_template(screen_id, entry, href)

    def _read_certificate(self, worker: _Worker, registered_at: str) -> LiveResource:
        org_id = self._organization_id
        self._open(worker, "organization_view", entry=org_id)
        worker.page.get_by_role("link", name=registered_at, exact=True).first.click()
        worker.page.wait_for_load_state("domcontentloaded")
        view = self.catalogue.screen("certificate_view")
        cells = worker.page.evaluate(screens.READ_CELLS, worker.page.locator("body").element_handle())
        fields = {f.id: _text(cells.get(f.label)) for f in view.fields}
        fields["registered_at"] = registered_at
        form = self.catalogue.screen("certificate_update")
        missing = [f for f in form.inputs if f.input == "text" and not view.has(f.id)]
        offered = worker.page.get_by_role("link", name=form.menu[-1], exact=True).count()
        if missing and offered:  # typed fields only the update form shows (利用開始日): opened, not sent
            self._click(worker, form.menu[-1])
            cells = worker.page.evaluate(screens.READ_CELLS, worker.page.locator("body").element_handle())
            for spec in missing:
                fields[spec.id] = _text(cells.get(spec.label))
        fields = domain_screens.from_screen(kinds.CERTIFICATE, fields)
        info = self.desired.certificate.info if self.desired and self.desired.certificate else None
        if info is not None and all(
            fields.get(name) == getattr(info, name) for name in ("trade_name", "representative_name", "address")
        ) and fields.get("expiry_date") == info.expiry_date.isoformat():
            fields["fingerprint"] = info.fingerprint_sha256  # inferred: AINAS shows none
        return LiveResource("certificate", registered_at, fields)

    def _read_site(self, worker: _Worker, site_id: str, current: CurrentState) -> None:
        self._open(worker, "site_view", entry=site_id)
        view = self.catalogue.screen("site_view")
        cells = worker.page.evaluate(screens.READ_CELLS, worker.page.locator("body").element_handle())
        shown_fields = {f.id: _text(cells.get(f.label)) for f in view.fields if f.id != "site_id"}
        fields = {
            name: value
            for name, value in domain_screens.from_screen(kinds.SITE, shown_fields).items()
            if name in domain_screens.mapping(kinds.SITE).fields
        }
        fields["kei.client_receipt_selectable"] = fields.get("kei.client_receipt_selectable") == "設定可"
        shown = fields.get("kei.certificate_manager_name")
        match = re.fullmatch(r"(.*?) ?\((\d+)\)", shown or "")
        if match:  # shown as 利活用 一郎 (123456789)
            fields["kei.certificate_manager_name"] = match.group(1) or None
            fields["kei.certificate_manager_number"] = match.group(2)
        else:
            fields["kei.certificate_manager_number"] = None
        current.sites[site_id] = LiveResource(kinds.SITE.name, site_id, fields)
        for kind in kinds.BATCH_ACCOUNTS:  # shown on the site's screen, one table each
            table = cells.get(view.field(kind.name).label)
            if not isinstance(table, dict) or not table:
                continue
            form = self.catalogue.screen(kind.screens.create)
            account = {
                f.id: _text(table.get(f.label)) for f in form.fields if f.input != "password"
            }
            getattr(current, kind.group)[site_id] = LiveResource(kind.name, site_id, account)

    def _read_user(
        self, worker, login_id: str, name: str, role: str, current: CurrentState, sites
    ) -> None:
        fields: dict[str, object] = {"name": name or None, "role": role, "site_id": None}
        for field_name in ("default_destination", "kei_default_destination", "default_menu"):
            fields[field_name] = None
        if role == ADMIN_ROLE:  # the list shows all an admin has
            current.users[login_id] = LiveResource("user", login_id, fields)
            return
        self._open(worker, "user_update", entry=login_id)
        form = self.catalogue.screen("user_update")
        cells = worker.page.evaluate(screens.READ_CELLS, worker.page.locator("body").element_handle())

        def value(field_id: str):
            cell = cells.get(form.field(field_id).label)
            if isinstance(cell, dict):
                return cell.get("value") or None
            return _text(cell)

        shown = {"user_name": value("user_name"), "site": value("site")}
        if role != SITE_MANAGER:
            shown["default_menu"] = value("default_menu")
            for prefecture, office in domain_screens.mapping(kinds.USER).pairs.values():
                shown[prefecture], shown[office] = value(prefecture), value(office)
        fields.update(domain_screens.from_screen(kinds.USER, shown))
        if sites is not None and fields["site_id"] not in sites:
            return
        current.users[login_id] = LiveResource("user", login_id, fields)

    # -- writes ----------------------------------------------------------------------------
    def create(self, kind: str, fields: dict, *, parent: str | None = None) -> str:
        return self._worker_call(lambda worker: self._create(worker, kind, fields, parent))

    def update(self, kind: str, id: str, fields: dict) -> None:
        self._worker_call(lambda worker: self._update(worker, kind, id, fields))

    def delete(self, kind: str, id: str) -> None:
        self._worker_call(lambda worker: self._delete(worker, kind, id))

    def change_password(self, password) -> None:
        """パスワード更新, the screen AINAS shows at the first login before any other."""
        self._worker_call(lambda worker: self._change_password(worker, password))

    def _fill_all(self, worker: _Worker, screen, values: dict) -> None:
        """Fill a form: every field but file inputs in one call (see screens.FILL_FORM)."""
        entries = []
        for field_id, value in values.items():
            spec = screen.field(field_id)
            if spec.input == "file":
                self._fill(worker, screen, field_id, value)
                continue
            entries.append({"label": spec.label, "input": spec.input, "value": _reveal(value)})
        problems = worker.page.evaluate(screens.FILL_FORM, entries)
        if not problems:
            return
        problem = problems[0]
        label = problem["label"]
        if problem["problem"] == "option":
            message = _missing_option(screen.name, label, problem["value"], problem["options"])
            raise self._fail(worker, "option-missing", message)
        raise self._fail(
            worker,
            "label-missing",
            _(
                "{screen}: no field labelled {label} on the screen; run `ainas-provision "
                "probe` to compare the screens with the catalogue"
            ).format(screen=screen.name, label=repr(label)),
        )

    # Each kind's way through its screens, in the tables below (_CREATE, _UPDATE): the screens
    # come from the kind (kind.screens) and the catalogue, never from the kind's name.
    def _create(self, worker: _Worker, kind_name: str, fields: dict, parent: str | None) -> str:
        kind = KINDS.get(kind_name)
        create = _CREATE.get(kind) if kind is not None else None
        if create is None:
            raise BackendError(
                "unsupported", _("the browser target cannot create a {kind}").format(kind=kind_name)
            )
        return create(self, worker, kind, fields, parent)

    def _update(self, worker: _Worker, kind_name: str, id: str, fields: dict) -> None:
        kind = KINDS.get(kind_name)
        update = _UPDATE.get(kind) if kind is not None else None
        if update is None:
            raise BackendError(
                "unsupported", _("the browser target cannot update a {kind}").format(kind=kind_name)
            )
        update(self, worker, kind, id, fields)

    def _delete(self, worker: _Worker, kind_name: str, id: str) -> None:
        kind = KINDS.get(kind_name)
        screen_id = kind.screens.delete if kind is not None else None
        if screen_id is None:
            raise BackendError(
                "unsupported", _("the browser target cannot delete a {kind}").format(kind=kind_name)
            )
        screen = self.catalogue.screen(screen_id)
        self._open(worker, screen_id, entry=id)
        self._submit(worker, screen)

    def _create_site(self, worker: _Worker, kind: Kind, fields: dict, parent) -> str:
        screen = self.catalogue.screen(kind.screens.create)
        self._open(worker, screen.id)
        self._fill_all(worker, screen, _screen_values(kind, fields, screen))
        self._submit(worker, screen)
        view = self.catalogue.screen("site_view")
        site_id = self._read_cell(worker, view, "site_id")
        if not site_id:
            raise self._fail(
                worker,
                "no-site-id",
                _("{screen}: the result shows no {field}").format(
                    screen=screen.name, field=view.field("site_id").label
                ),
            )
        self._learned[("site_view", site_id)] = worker.page.url
        return site_id

    def _create_batch_account(self, worker: _Worker, kind: Kind, fields: dict, parent) -> str:
        screen = self.catalogue.screen(kind.screens.create)
        self._open(worker, screen.id, entry=parent)
        self._fill_all(worker, screen, _editable(screen, fields))
        self._submit(worker, screen)
        return str(parent)  # a site's batch account is known by its site

    def _create_user(self, worker: _Worker, kind: Kind, fields: dict, parent) -> str:
        screen = self.catalogue.screen(kind.create_screen_for(fields))  # 拠点管理者: its own
        self._open(worker, screen.id)
        self._fill_all(worker, screen, _screen_values(kind, fields, screen))
        self._submit(worker, screen)
        return str(fields.get("login_id"))

    def _create_certificate(self, worker: _Worker, kind: Kind, fields: dict, parent) -> str:
        register = self.catalogue.screen(kind.screens.create)
        self._open(worker, register.id, entry=None)
        self._fill(worker, register, "file", fields["p12"])
        self._fill(worker, register, "password", _reveal(fields.get("password")))
        self._submit(worker, register)
        details = self.catalogue.screen(kind.screens.update)
        if self._heading(worker) != details.name:
            raise self._fail(
                worker,
                "screen-missing",
                _("{screen}: 確定 did not lead to {next}").format(screen=register.name, next=details.name),
            )
        self._fill_all(worker, details, _screen_values(kind, fields, details))
        self._submit(worker, details)
        view = self.catalogue.screen("certificate_view")
        return self._read_cell(worker, view, "registered_at") or ""

    def _change_password(self, worker: _Worker, password) -> None:
        """パスワード更新: the screen AINAS forces at the first login."""
        screen = self.catalogue.screen(kinds.SESSION.screens.update)
        self._login(worker)
        if self._heading(worker) != screen.name:
            self._goto(worker, self.login_url)
        if self._heading(worker) != screen.name:
            raise BackendError(
                "no-password-change", _("AINAS does not show {screen}").format(screen=screen.name)
            )
        values = {"password": password}
        current = screen.field("current_password").label if screen.has("current_password") else None
        if current and (
            worker.page.get_by_label(current, exact=True).count()
            or screens.cell_locator(worker.page, current).count()
        ):  # asked for by some screens (the emulator's), not by the guide's
            values["current_password"] = self._password or self.connection.password.reveal()
        self._fill_all(worker, screen, values)
        self._submit(worker, screen)
        self._password = _reveal(password)  # for the other workers' logins
        self._session.must_change_password = False
        if self._session.role == SITE_MANAGER:
            self._session.site_id = self._own_site(worker)
        for other in self._workers:  # their sessions were forced to this screen too
            if other is not worker:
                other.logged_in = False
        if self._unconfirmed:
            expected, self._organization_id = self._organization_id, None
            self._unconfirmed = False
            found = self._read_organization_id(worker)
            if found != expected:
                raise ConnectionProblem(
                    "other-organization",
                    _(
                        "{url} is the tenant of 代理人組織ID {found}, but the manifests describe "
                        "代理人組織ID {expected}: the password was changed, nothing else"
                    ).format(url=self.login_url, found=found, expected=expected),
                )
            self._organization_id = found

    def _update_organization(self, worker: _Worker, kind: Kind, id: str, fields: dict) -> None:
        screen = self.catalogue.screen(kind.screens.update)
        self._open(worker, screen.id, entry=id)
        self._fill_all(worker, screen, {k: v for k, v in fields.items() if screen.has(k)})
        self._submit(worker, screen)

    def _update_on_screen(self, worker: _Worker, kind: Kind, id: str, fields: dict) -> None:
        """A site or a user: its update screen, reached by its ID."""
        screen = self.catalogue.screen(kind.screens.update)
        self._open(worker, screen.id, entry=id)
        self._fill_all(worker, screen, _screen_values(kind, fields, screen))
        self._submit(worker, screen)

    def _update_batch_account(self, worker: _Worker, kind: Kind, id: str, fields: dict) -> None:
        screen = self.catalogue.screen(kind.screens.update)
        self._open(worker, screen.id, entry=id)
        self._fill_all(worker, screen, _editable(screen, fields))
        self._submit(worker, screen)

    def _update_certificate(self, worker: _Worker, kind: Kind, id: str, fields: dict) -> None:
        screen = self.catalogue.screen(kind.screens.update)
        self._open(worker, "organization_view", entry=self._organization_id)
        self._click(worker, id, entry_of=kind.label)
        self._click(worker, screen.menu[-1])
        self._fill_all(worker, screen, _screen_values(kind, fields, screen))
        self._submit(worker, screen)

    def _read_cell(self, worker: _Worker, screen, field_id: str) -> str | None:
        cell = screens.cell_locator(worker.page, screen.field(field_id).label)
        return cell.first.inner_text().strip() if cell.count() else None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for worker in self._workers:
            worker.stop()


def _missing_option(screen: str, label: str, wanted: str, offered: list[str]) -> str:
    """The refusal of a value a pull-down does not offer."""
    return _(
        "{screen}: the pull-down {label} has no option {value} (it offers {options}); if the real "
        "screen offers it, run `ainas-provision probe --write-override FILE`"
    ).format(
        screen=screen, label=label, value=repr(wanted), options=", ".join(offered) or _("nothing")
    )


def _reveal(value):
    reveal = getattr(value, "reveal", None)
    return reveal() if reveal else value


def _text(value) -> str | None:
    if isinstance(value, dict):
        value = value.get("text", value.get("value"))
    return value or None


def _editable(screen, fields: dict) -> dict:
    """The fields ``screen`` takes, as they are (a batch account's names are the screen's)."""
    return {f.id: fields.get(f.id) for f in screen.fields if f.editable and f.id in fields}


def _screen_values(kind: Kind, fields: dict, screen) -> dict:
    """A change's fields as ``screen``'s inputs (catalogue field IDs, screen value forms); what
    the screen only shows (the ログインID of ユーザー更新) or never takes (the file's type) is
    left out, a field it lacks is an error."""
    out = {}
    for field_id, value in domain_screens.to_screen(kind, fields).items():
        if not screen.has(field_id):
            if value is None or field_id in ("type", "fingerprint", "p12", "file", "role"):
                continue  # nothing to type, or what the screen itself implies
            raise BackendError(
                "unsupported", _("{screen} has no field {field}").format(screen=screen.name, field=field_id)
            )
        if screen.field(field_id).editable:
            out[field_id] = value
    return out


# each kind's way through the screens (see BrowserBackend._create and _update)
_CREATE: dict[Kind, Callable] = {
    kinds.SITE: BrowserBackend._create_site,
    kinds.BATCH_ACCOUNT: BrowserBackend._create_batch_account,
    kinds.KEI_BATCH_ACCOUNT: BrowserBackend._create_batch_account,
    kinds.USER: BrowserBackend._create_user,
    kinds.CERTIFICATE: BrowserBackend._create_certificate,
}
_UPDATE: dict[Kind, Callable] = {
    kinds.ORGANIZATION: BrowserBackend._update_organization,
    kinds.SITE: BrowserBackend._update_on_screen,
    kinds.USER: BrowserBackend._update_on_screen,
    kinds.BATCH_ACCOUNT: BrowserBackend._update_batch_account,
    kinds.KEI_BATCH_ACCOUNT: BrowserBackend._update_batch_account,
    kinds.CERTIFICATE: BrowserBackend._update_certificate,
}


def open_browser(
    url: str,
    desired: DesiredState,
    env: Mapping[str, str],
    *,
    parallelism: int | None = None,
    options: BrowserOptions | None = None,
) -> BrowserBackend:
    """The backend of ``browser+https://…``."""
    login_url = parse_target(url)
    connection = resolve_connection(login_url.rstrip("/"), desired, env)
    catalogue = ainas_catalogue.for_directory(desired.connection_dir if desired else None, env)
    return BrowserBackend(
        connection,
        desired,
        login_url=login_url,
        options=options,
        parallelism=parallelism or 1,
        catalogue=catalogue,
        env=env,
    )
