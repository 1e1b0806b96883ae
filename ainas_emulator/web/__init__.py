"""The emulator's web face: AINAS's screens as HTML, over the same service as the JSON API.

Every screen is drawn from the screen catalogue (``ainas_catalogue``): its name, its fields in
screen order with the labels as printed, its pull-down options and its buttons. The layout is the
start guide's: a table whose header cells hold the labels and whose cells hold the inputs (the
代理人拠点 screens in two columns, 登録車 left and 軽 right), search screens with a result list and
paging, 照会 screens, and a confirmation step between a filled form and 確定. Refusals of the
service appear on the screen in Japanese, above the form, which is shown again with what was
typed (passwords excepted).

It is a second face of :class:`~ainas_emulator.service.AinasSandbox`, not a second
implementation: the login, the forced password change, the user-type table, write-once fields
and every other rule are the service's, for the session's actor. The session is a cookie holding
the service's session token; the TLS handshake (client certificate of the sandbox CA) is the
server's, as for the API. The HTML carries nothing meant for a program: no test IDs, no invented
element IDs — a driver finds fields by their visible labels, as it would on the real site.

A form between its confirmation and 確定 is held on the server (a random token in a hidden
input), as such systems do, so that what is confirmed is what is sent.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

import ainas_catalogue
from ainas_emulator.service import Actor, AinasError, AinasSandbox
from ainas_emulator.service.base import ADMIN_ROLE, SITE_MANAGER, STAFF_ROLES

BASE = "/oss_agt/"
COOKIE = "AINASSESSION"
DEFAULT_PAGE_SIZE = 20
PENDING_LIMIT = 2000  # forms awaiting 確定 kept at once; the oldest are forgotten first
# [project decision] the offices of the デフォルト申請先 pull-downs: the guide shows none but
# 東京; the emulator offers the main offices of each region
OFFICES = (
    "札幌", "函館", "旭川", "室蘭", "釧路", "帯広", "北見", "青森", "八戸", "岩手", "宮城",
    "秋田", "山形", "庄内", "福島", "いわき", "水戸", "土浦", "つくば", "宇都宮", "とちぎ",
    "群馬", "高崎", "埼玉", "大宮", "川越", "所沢", "熊谷", "春日部", "千葉", "習志野",
    "袖ヶ浦", "野田", "成田", "品川", "足立", "練馬", "多摩", "八王子", "横浜", "川崎",
    "相模", "湘南", "神奈川", "新潟", "長岡", "富山", "石川", "福井", "山梨", "長野",
    "松本", "岐阜", "静岡", "浜松", "沼津", "名古屋", "豊橋", "三河", "尾張小牧", "三重",
    "滋賀", "京都", "大阪", "なにわ", "和泉", "堺", "神戸", "姫路", "奈良", "和歌山",
    "鳥取", "島根", "岡山", "広島", "福山", "山口", "徳島", "香川", "愛媛", "高知", "福岡",
    "北九州", "久留米", "筑豊", "佐賀", "長崎", "熊本", "大分", "宮崎", "鹿児島", "沖縄",
    "東京",
)

CERTIFICATE_TYPES = ("行政書士電子証明書", "商業登記電子証明書")
BATCH_SCREENS = {"batch_account": "batch-account", "kei_batch_account": "kei-batch-account"}


def _japanese(text: object) -> bool:
    return isinstance(text, str) and re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", text) is not None


_env = Environment(
    loader=PackageLoader("ainas_emulator.web", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.tests["japanese"] = _japanese


class Redirect(Exception):
    def __init__(self, url: str) -> None:
        self.url = url


@dataclass
class Pending:
    """A filled form awaiting 確定."""

    screen: str
    login_id: str
    values: dict


class WebFace:
    """The HTML screens over one emulator."""

    def __init__(
        self,
        sandbox: AinasSandbox,
        catalogue: ainas_catalogue.Catalogue | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        *,
        max_body: int = 1024 * 1024,
    ) -> None:
        self.sandbox = sandbox
        self.catalogue = catalogue or ainas_catalogue.load()
        self.page_size = page_size
        self.max_body = max_body
        self._pending: OrderedDict[str, Pending] = OrderedDict()
        self._lock = threading.Lock()

    # -- rendering ---------------------------------------------------------------------------
    def page(self, template: str, actor: Actor | None, status: int = 200, **context) -> Response:
        tabs = {
            "代理人ユーザー管理": "users",
            "代理人組織管理": "organizations",
            "代理人拠点管理": "sites",
        }
        shown = context.pop("shown_screen", None)
        if shown is not None:  # the screen's other buttons, drawn but inactive in the emulator
            texts = {link["text"] for link in context.get("links", [])}
            context["inactive"] = [
                b for b in shown.buttons if b not in texts and b.removesuffix("登録") not in texts
            ]
        html = _env.get_template(template).render(
            base=BASE,
            actor=actor,
            menu_tabs=self.catalogue.menu_tabs,
            menu_header=self.catalogue.menu_header,
            tab_links=tabs,
            **context,
        )
        return HTMLResponse(html, status_code=status)

    def screen(self, screen_id: str) -> ainas_catalogue.Screen:
        return self.catalogue.screen(screen_id)

    # -- session -----------------------------------------------------------------------------
    def actor(self, request: Request, *, allow_password_change: bool = False) -> Actor:
        token = request.cookies.get(COOKIE)
        if not token:
            raise Redirect(BASE)
        try:
            actor = self.sandbox.session_actor(token)
        except AinasError:
            raise Redirect(BASE) from None
        if actor.must_change_password and not allow_password_change:
            raise Redirect(BASE + "password")
        return actor

    def login_page(self, request: Request) -> Response:
        token = request.cookies.get(COOKIE)
        if token:  # logged in already: the login URL shows the menu (or the password change)
            try:
                actor = self.sandbox.session_actor(token)
            except AinasError:
                actor = None
            if actor is not None:
                raise Redirect(BASE + ("password" if actor.must_change_password else "menu"))
        screen = self.screen("login")
        return self.page("login.html", None, title=screen.name)

    async def login(self, request: Request) -> Response:
        form = await request.form()
        login_id = str(form.get("login_id") or "")
        password = str(form.get("password") or "")
        screen = self.screen("login")
        if not login_id or not password:
            return self.page(
                "login.html",
                None,
                title=screen.name,
                login_id=login_id,
                errors=["ログインIDとパスワードを入力してください。"],
            )
        try:
            actor = await run_in_threadpool(self.sandbox.login, login_id, password)
            token = await run_in_threadpool(self.sandbox.open_session, actor)
        except AinasError as exc:
            return self.page(
                "login.html", None, title=screen.name, login_id=login_id, errors=[exc.message]
            )
        target = BASE + ("password" if actor.must_change_password else "menu")
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, secure=True, samesite="strict")
        return response

    def logout(self, request: Request) -> Response:
        response = RedirectResponse(BASE, status_code=303)
        response.delete_cookie(COOKIE)
        return response

    def menu(self, request: Request) -> Response:
        actor = self.actor(request)
        screen = self.screen("menu")
        choices = {
            f.id: [(o.value, o.value) for o in f.options]
            for f in screen.fields
            if f.input == "select"
        }
        # [project decision] the emulator has no notices (お知らせ): the search finds nothing
        return self.page(
            "search.html",
            actor,
            title=screen.name,
            action=BASE + "menu",
            fields=[f for f in screen.fields if f.editable],
            values={},
            options=choices,
            columns=(),
            items=[],
            links=[],
            total=0,
            first=0,
            last=0,
            pages=[],
        )

    async def password(self, request: Request) -> Response:
        actor = self.actor(request, allow_password_change=True)
        screen = self.screen("password_update")
        row = (
            self.sandbox.store.connection()
            .execute("SELECT name FROM users WHERE login_id = ?", (actor.login_id,))
            .fetchone()
        )
        shown = {"login_id": actor.login_id, "user_name": row["name"] if row else ""}
        fields = list(screen.fields)
        errors: list[str] = []
        if request.method == "POST":
            form = await request.form()
            current = str(form.get("current_password") or "")
            new, again = str(form.get("password") or ""), str(form.get("password_again") or "")
            if not new:
                errors.append("パスワードを入力してください。")
            elif new != again:
                errors.append("パスワードと確認用のパスワードが一致しません。")
            else:
                try:
                    changed = await run_in_threadpool(
                        self.sandbox.change_password, actor, new, current_password=current
                    )
                    # the change ends every session of the user: this one goes on in a new one
                    token = await run_in_threadpool(self.sandbox.open_session, changed)
                except AinasError as exc:
                    errors.append(exc.message)
                else:
                    response = RedirectResponse(BASE + "menu", status_code=303)
                    response.set_cookie(COOKIE, token, httponly=True, secure=True, samesite="strict")
                    return response
        return self.page(
            "form.html",
            actor,
            title=screen.name,
            rows=[[f] for f in fields],
            values=shown,
            options={},
            step="input",
            action=BASE + "password",
            buttons=screen.buttons,
            errors=errors,
        )

    # -- generic form flow -------------------------------------------------------------------
    def _hold(self, screen_id: str, actor: Actor, values: dict) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._pending[token] = Pending(screen_id, actor.login_id, values)
            while len(self._pending) > PENDING_LIMIT:
                self._pending.popitem(last=False)
        return token

    def _take(self, token: str, screen_id: str, actor: Actor) -> Pending | None:
        with self._lock:
            pending = self._pending.get(token)
            if pending is None or pending.screen != screen_id or pending.login_id != actor.login_id:
                return None
            return self._pending.pop(token)

    async def _read_form(self, request: Request, fields) -> tuple[dict, dict, list[str]]:
        form = await request.form()
        values: dict = {}
        errors: list[str] = []
        for field in fields:
            if not field.editable:
                continue
            if field.input == "checkbox" and field.options:
                values[field.id] = [str(v) for v in form.getlist(field.id)]
            elif field.input == "checkbox":
                values[field.id] = form.get(field.id) is not None
            elif field.input == "file":
                upload = form.get(field.id)
                if isinstance(upload, UploadFile) and upload.filename:
                    values[field.id] = await upload.read()
                    values[field.id + "__name"] = upload.filename
                if isinstance(upload, UploadFile):
                    await upload.close()
                else:
                    values[field.id] = None
            else:
                value = form.get(field.id)
                value = None if value is None or value == "" else str(value)
                if field.repeat and value is not None:
                    again = form.get(field.id + "_again")
                    if again != value:
                        errors.append(f"{field.label}と確認用の{field.label}が一致しません。")
                values[field.id] = value
        return values, dict(form), errors

    async def form_flow(
        self,
        request: Request,
        screen_id: str,
        *,
        action: str,
        back: str,
        current: Callable[[Actor], dict],
        submit: Callable[[Actor, dict], str],
        options: Callable[[Actor], dict] | None = None,
        columns: int = 1,
        confirm_text: str = "以下の内容で登録します。よろしければ「確定」を押してください。",
        fields_filter: Callable[[list], list] | None = None,
    ) -> Response:
        actor = self.actor(request)
        screen = self.screen(screen_id)
        fields = list(screen.fields)
        if fields_filter:
            fields = fields_filter(fields)
        choices = await run_in_threadpool(options, actor) if options else {}
        multipart = any(f.input == "file" for f in fields)

        def render(step: str, values: dict, errors=(), pending: str | None = None) -> Response:
            shown = dict(values)
            if step == "input":
                for field in fields:
                    if field.input in ("password", "file"):
                        shown.pop(field.id, None)
            for field in fields:  # a pull-down's chosen option is confirmed by its text
                for value, text in choices.get(field.id, ()):
                    if shown.get(field.id) == value and value != text:
                        shown[field.id + "__text"] = text
            if step == "confirm":
                for field in fields:
                    if field.input == "file" and values.get(field.id + "__name"):
                        shown[field.id] = values[field.id + "__name"]
            buttons = screen.buttons if step == "input" else ("確定", "戻る")
            return self.page(
                "form.html",
                actor,
                title=screen.name + ("確認" if step == "confirm" else ""),
                description=screen.description if _japanese(screen.description) else None,
                rows=_layout(fields, columns),
                values=shown,
                options=choices,
                step=step,
                action=action,
                buttons=buttons,
                errors=list(errors),
                pending=pending,
                multipart=multipart and step == "input",
                confirm_text=screen.flow.confirm or confirm_text,
            )

        if request.method == "GET":
            try:
                values = await run_in_threadpool(current, actor)
            except AinasError as exc:
                return self.page("view.html", actor, status=exc.status, title=screen.name, errors=[exc.message], rows=[], links=[{"href": back, "text": "戻る"}])
            return render("input", values)

        form = await request.form()
        step = form.get("_step")
        if step == "confirm":
            pending = self._take(str(form.get("_pending") or ""), screen_id, actor)
            if pending is None:
                return render("input", await run_in_threadpool(current, actor), ["画面の有効期限が切れました。もう一度入力してください。"])
            if form.get("_back"):
                return render("input", pending.values)
            try:
                target = await run_in_threadpool(submit, actor, pending.values)
            except AinasError as exc:
                return render("input", pending.values, [exc.message])
            return RedirectResponse(target, status_code=303)
        if form.get("_back"):
            return RedirectResponse(back, status_code=303)
        values, _, errors = await self._read_form(request, fields)
        if errors:
            return render("input", values, errors)
        base = await run_in_threadpool(current, actor)
        merged = {**base, **values}
        return render("confirm", merged, pending=self._hold(screen_id, actor, merged))

    # -- organization and certificates ---------------------------------------------------------
    def organizations(self, request: Request) -> Response:
        actor = self.actor(request)
        screen = self.screen("organization_search")
        org = self._call(self.sandbox.read_organization, actor)
        items = [
            [
                {"text": org["id"], "href": f"{BASE}organizations/{org['id']}"},
                {"text": org["name"]},
                {"text": org["short_name"]},
                {"text": org["status"]},
            ]
        ]
        return self.page(
            "search.html",
            actor,
            title=screen.name,
            action=BASE + "organizations",
            fields=[f for f in screen.fields if f.editable],
            values={"organization_id": request.query_params.get("organization_id")},
            options={},
            columns=screen.columns,
            items=items,
            total=1,
            first=1,
            last=1,
            pages=[(1, None)],
            links=[],
        )

    def organization(self, request: Request) -> Response:
        actor = self.actor(request)
        screen = self.screen("organization_view")
        org = self._call(self.sandbox.read_organization, actor)
        values = {
            "organization_id": org["id"],
            "name": org["name"],
            "short_name": org["short_name"],
            "status": org["status"],
        }
        for field in screen.fields[4:]:
            values[field.id] = org["permissions"].get(field.label, "")
        certificates = self._call(self.sandbox.list_certificates, actor)
        listing = {
            "columns": screen.columns,
            "entries": [
                [
                    {"text": c["registered_at"], "href": f"{BASE}certificates/{c['id']}"},
                    {"text": c.get("trade_name") or ""},
                    {"text": c.get("representative_name") or ""},
                    {"text": c.get("expiry_date") or ""},
                ]
                for c in certificates
            ],
        }
        links = [{"href": BASE + "organizations", "text": "一覧に戻る"}]
        if actor.is_admin:
            links += [
                {"href": f"{BASE}organizations/{org['id']}/edit", "text": "代理人組織更新"},
                {"href": BASE + "certificates/new", "text": "代理人証明書登録"},
            ]
        return self.page(
            "view.html",
            actor,
            title=screen.name,
            shown_screen=screen,
            rows=_cells(screen.fields, values),
            list=listing,
            links=links,
            info=_done(request),
        )

    async def organization_update(self, request: Request) -> Response:
        org_id = request.path_params["org_id"]

        def current(actor: Actor) -> dict:
            org = self.sandbox.read_organization(actor)
            return {"organization_id": org["id"], "name": org["name"], "short_name": org["short_name"]}

        def submit(actor: Actor, values: dict) -> str:
            self.sandbox.update(actor, "organization", org_id, {"short_name": values.get("short_name")})
            return f"{BASE}organizations/{org_id}?done=updated"

        return await self.form_flow(
            request,
            "organization_update",
            action=f"{BASE}organizations/{org_id}/edit",
            back=f"{BASE}organizations/{org_id}",
            current=current,
            submit=submit,
            confirm_text="以下の内容で更新します。よろしければ「確定」を押してください。",
        )

    async def certificate_register(self, request: Request) -> Response:
        """代理人証明書登録: the file and its password; then 代理人証明書更新 asks for the typed
        fields, and 確定 there registers the certificate (the service takes both at once)."""

        def current(actor: Actor) -> dict:
            return {}

        def submit(actor: Actor, values: dict) -> str:
            if not values.get("file") or not values.get("password"):
                raise AinasError("required", "証明書ファイルと証明書パスワードを指定してください。")
            data = values["file"]
            info, _ = self.sandbox._read_file(data, values["password"])
            token = self._hold("certificate_update:new", actor, {"file": data, "password": values["password"], "info": info})
            return f"{BASE}certificates/new/{token}"

        return await self.form_flow(
            request,
            "certificate_register",
            action=BASE + "certificates/new",
            back=BASE + "organizations",
            current=current,
            submit=submit,
            confirm_text="以下の証明書を登録します。よろしければ「確定」を押してください。",
        )

    async def certificate_details(self, request: Request) -> Response:
        token = request.path_params["token"]
        actor = self.actor(request)
        with self._lock:
            held = self._pending.get(token)
        if held is None or held.login_id != actor.login_id:
            raise Redirect(BASE + "certificates/new")
        info = held.values["info"]

        def current(actor: Actor) -> dict:
            return {
                "registered_at": "",
                "trade_name": info["trade_name"],
                "representative_name": info["representative_name"],
                "address": info["address"],
                "expiry_date": info["expiry_date"],
            }

        def submit(actor: Actor, values: dict) -> str:
            fields = _inputs(self.screen("certificate_update"), values)
            fields["file"] = held.values["file"]
            cert_id = self.sandbox.create(actor, "certificate", fields)
            with self._lock:
                self._pending.pop(token, None)
            return f"{BASE}certificates/{cert_id}?done=created"

        return await self.form_flow(
            request,
            "certificate_update",
            action=f"{BASE}certificates/new/{token}",
            back=BASE + "organizations",
            current=current,
            submit=submit,
        )

    def _certificate(self, actor: Actor, cert_id: str) -> dict:
        for cert in self.sandbox.list_certificates(actor):
            if cert["id"] == cert_id:
                return cert
        raise AinasError("not-found", f"代理人証明書が存在しません: {cert_id}", 404)

    def certificate(self, request: Request) -> Response:
        actor = self.actor(request)
        cert_id = request.path_params["cert_id"]
        screen = self.screen("certificate_view")
        cert = self._call(self._certificate, actor, cert_id)
        values = {f.id: cert.get(f.id) for f in screen.fields}
        links = [{"href": BASE + "organizations", "text": "一覧に戻る"}]
        if actor.is_admin:
            links.append({"href": f"{BASE}certificates/{cert_id}/edit", "text": "代理人証明書更新"})
        return self.page(
            "view.html",
            actor,
            title=screen.name,
            shown_screen=screen,
            rows=_cells(screen.fields, values),
            links=links,
            info=_done(request),
        )

    async def certificate_update(self, request: Request) -> Response:
        cert_id = request.path_params["cert_id"]

        def current(actor: Actor) -> dict:
            cert = self._certificate(actor, cert_id)
            return {f.id: cert.get(f.id) for f in self.screen("certificate_update").fields if f.id != "password"}

        def submit(actor: Actor, values: dict) -> str:
            self.sandbox.update(actor, "certificate", cert_id, _inputs(self.screen("certificate_update"), values))
            return f"{BASE}certificates/{cert_id}?done=updated"

        return await self.form_flow(
            request,
            "certificate_update",
            action=f"{BASE}certificates/{cert_id}/edit",
            back=f"{BASE}certificates/{cert_id}",
            current=current,
            submit=submit,
            confirm_text="以下の内容で更新します。よろしければ「確定」を押してください。",
        )

    # -- sites -------------------------------------------------------------------------------
    def sites(self, request: Request) -> Response:
        actor = self.actor(request)
        screen = self.screen("site_search")
        query = request.query_params
        filters = {f.id: query.get(f.id) or None for f in screen.fields}
        page = _page_number(query.get("page"))
        items, total = self._call(self._search_sites, actor, filters, page)
        rows = [
            [
                {"text": item["site_id"], "href": f"{BASE}sites/{item['site_id']}"},
                {"text": item["fields"].get("site_name") or ""},
                {"text": item["fields"].get("site_code") or ""},
                {"text": item["fields"].get("commission_number") or ""},
            ]
            for item in items
        ]
        links = [{"href": BASE + "sites/new", "text": "代理人拠点登録"}] if actor.is_admin else []
        return self.page(
            "search.html",
            actor,
            title=screen.name,
            action=BASE + "sites",
            fields=[f for f in screen.fields if f.editable],
            values=filters,
            options={},
            columns=screen.columns,
            items=rows,
            links=links,
            **self._paging(BASE + "sites", filters, page, total),
        )

    def _search_sites(self, actor: Actor, filters: dict, page: int) -> tuple[list, int]:
        site_ids = [filters["site_id"]] if filters.get("site_id") else None
        items, _ = self.sandbox.list_sites(
            actor, site_ids=site_ids, name=filters.get("site_name"), code=filters.get("site_code")
        )
        if filters.get("commission_number"):
            items = [
                i for i in items if i["fields"].get("commission_number") == filters["commission_number"]
            ]
        start = (page - 1) * self.page_size
        return items[start : start + self.page_size], len(items)

    def _paging(self, action: str, filters: dict, page: int, total: int) -> dict:
        pages = max(1, -(-total // self.page_size))

        def href(number: int) -> str:
            query = {k: v for k, v in filters.items() if v}
            query["page"] = number
            return f"{action}?{urlencode(query, doseq=True)}"

        first = (page - 1) * self.page_size + 1 if total else 0
        return {
            "total": total,
            "first": first,
            "last": min(total, page * self.page_size),
            "pages": [(n, None if n == page else href(n)) for n in range(1, pages + 1)],
            "previous": href(page - 1) if page > 1 else None,
            "next": href(page + 1) if page < pages else None,
        }

    def _site(self, actor: Actor, site_id: str) -> dict:
        items, _ = self.sandbox.list_sites(actor, site_ids=[site_id])
        if not items:
            raise AinasError("not-found", f"代理人拠点が存在しません: {site_id}", 404)
        return items[0]

    def site(self, request: Request) -> Response:
        actor = self.actor(request)
        site_id = request.path_params["site_id"]
        screen = self.screen("site_view")
        item = self._call(self._site, actor, site_id)
        values = dict(item["fields"])
        values["site_id"] = site_id
        number = item["fields"].get("kei_certificate_manager_number")
        if number:  # shown as in the guide: 利活用 一郎 (123456789)
            values["kei_certificate_manager_name"] = (
                f"{values['kei_certificate_manager_name'] or ''} ({number})"
            )
        values["kei_client_receipt_selectable"] = (
            "設定可" if item["fields"].get("kei_client_receipt_selectable") else "設定否"
        )
        tables = {}
        for kind, path in BATCH_SCREENS.items():
            account = item.get(kind)
            rows = []
            if account is not None:
                register = self.screen(f"{kind}_register")
                for field in register.fields:
                    if field.input == "password":
                        continue
                    rows.append((field.label, account.get(field.id) or ""))
            form = self.screen(f"{kind}_register" if account is None else f"{kind}_update")
            links = [{"href": f"{BASE}sites/{site_id}/{path}", "text": form.menu[-1]}]
            tables[kind] = {"rows": rows, "links": links}
        values.setdefault("api_account", "未登録")
        values.setdefault("members", "")
        cells = _cells(screen.fields, values, tables=tables, columns=2)
        links = [{"href": BASE + "sites", "text": "一覧に戻る"}]
        links.append({"href": f"{BASE}sites/{site_id}/edit", "text": "代理人拠点更新"})
        if actor.is_admin:
            links.append({"href": f"{BASE}sites/{site_id}/delete", "text": "代理人拠点削除"})
        return self.page(
            "view.html",
            actor,
            title=screen.name,
            rows=cells,
            links=links,
            info=_done(request),
            shown_screen=screen,
        )

    def _site_options(self, actor: Actor) -> dict:
        return {
            f.id: [(o.value, o.value) for o in f.options]
            for f in self.screen("site_register").fields
            if f.input == "select"
        }

    async def site_register(self, request: Request) -> Response:
        def submit(actor: Actor, values: dict) -> str:
            site_id = self.sandbox.create(actor, "site", _inputs(self.screen("site_register"), values))
            return f"{BASE}sites/{site_id}?done=created"

        return await self.form_flow(
            request,
            "site_register",
            action=BASE + "sites/new",
            back=BASE + "sites",
            current=lambda actor: {},
            submit=submit,
            options=self._site_options,
            columns=2,
        )

    async def site_update(self, request: Request) -> Response:
        site_id = request.path_params["site_id"]

        def current(actor: Actor) -> dict:
            return dict(self._site(actor, site_id)["fields"])

        def submit(actor: Actor, values: dict) -> str:
            self.sandbox.update(actor, "site", site_id, _inputs(self.screen("site_update"), values))
            return f"{BASE}sites/{site_id}?done=updated"

        return await self.form_flow(
            request,
            "site_update",
            action=f"{BASE}sites/{site_id}/edit",
            back=f"{BASE}sites/{site_id}",
            current=current,
            submit=submit,
            options=self._site_options,
            columns=2,
            confirm_text="以下の内容で更新します。よろしければ「確定」を押してください。",
        )

    async def site_delete(self, request: Request) -> Response:
        site_id = request.path_params["site_id"]

        def current(actor: Actor) -> dict:
            return {"site_id": site_id, "site_name": self._site(actor, site_id)["fields"].get("site_name")}

        def submit(actor: Actor, values: dict) -> str:
            self.sandbox.delete(actor, "site", site_id)
            return f"{BASE}sites?done=deleted"

        return await self.form_flow(
            request,
            "site_delete",
            action=f"{BASE}sites/{site_id}/delete",
            back=f"{BASE}sites/{site_id}",
            current=current,
            submit=submit,
        )

    async def batch_account(self, request: Request, kind: str) -> Response:
        site_id = request.path_params["site_id"]
        actor = self.actor(request)
        account = self._call(self._site, actor, site_id).get(kind)
        screen_id = f"{kind}_register" if account is None else f"{kind}_update"
        path = BATCH_SCREENS[kind]

        def current(actor: Actor) -> dict:
            live = self._site(actor, site_id).get(kind)
            return dict(live or {})

        def submit(actor: Actor, values: dict) -> str:
            screen = self.screen(screen_id)
            fields = {
                f.id: values.get(f.id) for f in screen.fields if f.editable and f.id in values
            }
            if account is None:
                self.sandbox.create(actor, kind, fields, parent=site_id)
                return f"{BASE}sites/{site_id}?done=created"
            if not fields.get("arrival_number_password"):
                fields.pop("arrival_number_password", None)  # empty keeps it
            self.sandbox.update(actor, kind, site_id, fields)
            return f"{BASE}sites/{site_id}?done=updated"

        def options(actor: Actor) -> dict:
            return {
                f.id: [(o.value, o.value) for o in f.options]
                for f in self.screen(screen_id).fields
                if f.input == "select"
            }

        return await self.form_flow(
            request,
            screen_id,
            action=f"{BASE}sites/{site_id}/{path}",
            back=f"{BASE}sites/{site_id}",
            current=current,
            submit=submit,
            options=options,
        )

    # -- users -------------------------------------------------------------------------------
    def _site_choices(self, actor: Actor) -> list[tuple[str, str]]:
        items, _ = self.sandbox.list_sites(actor)
        return [(i["site_id"], i["fields"].get("site_name") or i["site_id"]) for i in items]

    def users(self, request: Request) -> Response:
        actor = self.actor(request)
        screen = self.screen("user_search")
        query = request.query_params
        filters = {
            "login_id": query.get("login_id") or None,
            "user_name": query.get("user_name") or None,
            "site": query.get("site") or None,
            "role": query.getlist("role"),
        }
        page = _page_number(query.get("page"))
        sites = dict(self._call(self._site_choices, actor))
        items, total = self._call(self._search_users, actor, filters, page)
        rows = [
            [
                {"text": u["login_id"], "href": f"{BASE}users/{u['login_id']}"},
                {"text": u["user_name"]},
                {"text": sites.get(u["site"] or "", "")},
                {"text": u["role"]},
                {"text": u.get("last_login") or ""},
            ]
            for u in items
        ]
        links = []
        if actor.is_admin or actor.is_site_manager:
            links.append({"href": BASE + "users/new-staff", "text": "代理人担当者ユーザー登録"})
        if actor.is_admin:
            links.append({"href": BASE + "users/new-site-manager", "text": "代理人拠点管理者ユーザー登録"})
        return self.page(
            "search.html",
            actor,
            title=screen.name,
            action=BASE + "users",
            fields=[f for f in screen.fields if f.editable],
            values=filters,
            options={"site": list(sites.items())},
            columns=screen.columns,
            items=rows,
            links=links,
            **self._paging(BASE + "users", filters, page, total),
        )

    def _search_users(self, actor: Actor, filters: dict, page: int) -> tuple[list, int]:
        login_ids = [filters["login_id"]] if filters.get("login_id") else None
        site_ids = [filters["site"]] if filters.get("site") else None
        items, _ = self.sandbox.list_users(actor, login_ids=login_ids, site_ids=site_ids)
        if site_ids:
            items = [u for u in items if u["site"] in site_ids]
        if filters.get("user_name"):
            items = [u for u in items if filters["user_name"] in u["user_name"]]
        if filters.get("role"):
            items = [u for u in items if u["role"] in filters["role"]]
        start = (page - 1) * self.page_size
        return items[start : start + self.page_size], len(items)

    def _user(self, actor: Actor, login_id: str) -> dict:
        items, _ = self.sandbox.list_users(actor, login_ids=[login_id])
        if not items:
            raise AinasError("not-found", f"ユーザーが存在しません: {login_id}", 404)
        return items[0]

    def user(self, request: Request) -> Response:
        actor = self.actor(request)
        login_id = request.path_params["login_id"]
        screen = self.screen("user_view")
        user = self._call(self._user, actor, login_id)
        sites = dict(self._call(self._site_choices, actor))
        values = {
            "login_id": user["login_id"],
            "user_name": user["user_name"],
            "site": sites.get(user["site"] or "", ""),
            "role": user["role"],
            "last_login": user.get("last_login") or "",
        }
        links = [{"href": BASE + "users", "text": "一覧に戻る"}]
        if user["role"] != ADMIN_ROLE:
            links.append({"href": f"{BASE}users/{login_id}/edit", "text": "ユーザー更新"})
            links.append({"href": f"{BASE}users/{login_id}/delete", "text": "ユーザー削除"})
        return self.page(
            "view.html",
            actor,
            title=screen.name,
            shown_screen=screen,
            rows=_cells(screen.fields, values),
            links=links,
            info=_done(request),
        )

    def _user_options(self, actor: Actor, screen_id: str) -> dict:
        screen = self.screen(screen_id)
        out = {}
        for field in screen.fields:
            if field.input != "select":
                continue
            if field.id == "site":
                out[field.id] = self._site_choices(actor)
            elif field.id.endswith("_office"):
                names = dict.fromkeys([*(o.value for o in field.options), *OFFICES])
                out[field.id] = [(n, n) for n in names]
            else:
                out[field.id] = [(o.value, o.value) for o in field.options]
        return out

    async def user_register(self, request: Request, role: str) -> Response:
        screen_id = "site_manager_register" if role == SITE_MANAGER else "staff_register"
        path = "new-site-manager" if role == SITE_MANAGER else "new-staff"

        def submit(actor: Actor, values: dict) -> str:
            fields = _inputs(self.screen(screen_id), values)
            if role == SITE_MANAGER:
                fields["role"] = SITE_MANAGER
            login_id = self.sandbox.create(actor, "user", fields)
            return f"{BASE}users/{login_id}?done=created"

        return await self.form_flow(
            request,
            screen_id,
            action=BASE + "users/" + path,
            back=BASE + "users",
            current=lambda actor: {},
            submit=submit,
            options=lambda actor: self._user_options(actor, screen_id),
        )

    async def user_update(self, request: Request) -> Response:
        login_id = request.path_params["login_id"]

        def current(actor: Actor) -> dict:
            return dict(self._user(actor, login_id))

        def submit(actor: Actor, values: dict) -> str:
            fields = _inputs(self.screen("user_update"), values)
            if not fields.get("password"):
                fields.pop("password", None)  # empty keeps it
            if fields.get("role") == SITE_MANAGER:  # a site manager has no staff defaults
                fields = {k: v for k, v in fields.items() if k in ("user_name", "site", "role", "password")}
            self.sandbox.update(actor, "user", login_id, fields)
            return f"{BASE}users/{login_id}?done=updated"

        return await self.form_flow(
            request,
            "user_update",
            action=f"{BASE}users/{login_id}/edit",
            back=f"{BASE}users/{login_id}",
            current=current,
            submit=submit,
            options=lambda actor: self._user_options(actor, "user_update"),
            confirm_text="以下の内容で更新します。よろしければ「確定」を押してください。",
        )

    async def user_delete(self, request: Request) -> Response:
        login_id = request.path_params["login_id"]

        def current(actor: Actor) -> dict:
            return {"login_id": login_id, "user_name": self._user(actor, login_id)["user_name"]}

        def submit(actor: Actor, values: dict) -> str:
            self.sandbox.delete(actor, "user", login_id)
            return f"{BASE}users?done=deleted"

        return await self.form_flow(
            request,
            "user_delete",
            action=f"{BASE}users/{login_id}/delete",
            back=f"{BASE}users/{login_id}",
            current=current,
            submit=submit,
        )

    # -- plumbing ----------------------------------------------------------------------------
    @staticmethod
    def _call(function, *args):
        return function(*args)

    def routes(self) -> list[Route]:
        table = [
            ("", self.login_page, ["GET"]),
            ("login", self.login, ["POST"]),
            ("logout", self.logout, ["GET"]),
            ("password", self.password, ["GET", "POST"]),
            ("menu", self.menu, ["GET"]),
            ("organizations", self.organizations, ["GET"]),
            ("organizations/{org_id}", self.organization, ["GET"]),
            ("organizations/{org_id}/edit", self.organization_update, ["GET", "POST"]),
            ("certificates/new", self.certificate_register, ["GET", "POST"]),
            ("certificates/new/{token}", self.certificate_details, ["GET", "POST"]),
            ("certificates/{cert_id}", self.certificate, ["GET"]),
            ("certificates/{cert_id}/edit", self.certificate_update, ["GET", "POST"]),
            ("sites", self.sites, ["GET"]),
            ("sites/new", self.site_register, ["GET", "POST"]),
            ("sites/{site_id}", self.site, ["GET"]),
            ("sites/{site_id}/edit", self.site_update, ["GET", "POST"]),
            ("sites/{site_id}/delete", self.site_delete, ["GET", "POST"]),
            *(
                (f"sites/{{site_id}}/{path}", _bound(self.batch_account, kind), ["GET", "POST"])
                for kind, path in BATCH_SCREENS.items()
            ),
            ("users", self.users, ["GET"]),
            ("users/new-staff", _bound(self.user_register, STAFF_ROLES[0]), ["GET", "POST"]),
            ("users/new-site-manager", _bound(self.user_register, SITE_MANAGER), ["GET", "POST"]),
            ("users/{login_id}", self.user, ["GET"]),
            ("users/{login_id}/edit", self.user_update, ["GET", "POST"]),
            ("users/{login_id}/delete", self.user_delete, ["GET", "POST"]),
        ]
        return [
            Route(BASE + path, self._endpoint(handler), methods=m) for path, handler, m in table
        ]

    async def _read_limited(self, request: Request) -> Response | None:
        """A form post larger than ``max_body`` is refused from its Content-Length (a browser
        always sends one); the form is parsed once, with its parts bounded too, and kept for
        the handler."""
        length = request.headers.get("content-length", "")
        if not length.isdigit() or int(length) > self.max_body:
            return HTMLResponse("送信されたデータが大きすぎます。", status_code=413)
        try:
            await request.form(max_files=4, max_fields=200, max_part_size=self.max_body)
        except Exception:  # a malformed form: the service never sees it
            return HTMLResponse("送信されたデータの形式が正しくありません。", status_code=400)
        return None

    def _endpoint(self, handler):
        async def endpoint(request: Request) -> Response:
            if request.method == "POST":
                refused = await self._read_limited(request)
                if refused is not None:
                    return refused
            try:
                if asyncio.iscoroutinefunction(handler):
                    return await handler(request)
                result = await run_in_threadpool(handler, request)
                if hasattr(result, "__await__"):
                    result = await result
                return result
            except Redirect as redirect:
                return RedirectResponse(redirect.url, status_code=303)
            except AinasError as exc:
                try:
                    actor = self.actor(request, allow_password_change=True)
                except Redirect:
                    actor = None
                return self.page(
                    "view.html",
                    actor,
                    status=exc.status,
                    title="エラー",
                    errors=[exc.message],
                    rows=[],
                    links=[{"href": BASE + "menu", "text": "メニューに戻る"}],
                )

        return endpoint


def _bound(method, argument):
    def call(request: Request):
        return method(request, argument)

    return call


def _page_number(text: str | None) -> int:
    try:
        return max(1, int(text or 1))
    except ValueError:
        return 1


def _done(request: Request) -> str | None:
    return {
        "created": "登録しました。",
        "updated": "更新しました。",
        "deleted": "削除しました。",
    }.get(request.query_params.get("done", ""))


def _inputs(screen, values: dict) -> dict:
    """What a filled form sends: its inputs, by the catalogue's field IDs (the emulator's own
    names)."""
    return {f.id: values.get(f.id) for f in screen.inputs if f.input != "file"}


def _layout(fields: list, columns: int) -> list[list]:
    """Rows of the form table: one field per row, or — on the 代理人拠点 screens — the 登録車
    fields left and the 軽 fields right, as the guide's screenshot shows them."""
    if columns == 1:
        return [[f] for f in fields]
    left = [f for f in fields if not f.id.startswith("kei_")]
    right = [f for f in fields if f.id.startswith("kei_")]
    rows = []
    for index in range(max(len(left), len(right))):
        rows.append(
            [
                left[index] if index < len(left) else None,
                right[index] if index < len(right) else None,
            ]
        )
    return rows


def _cells(fields, values: dict, *, tables=None, columns: int = 1) -> list[list]:
    tables = tables or {}
    cells = []
    for field in fields:
        value = values.get(field.id)
        cell = {"label": field.label, "text": "" if value is None else value}
        if field.id in tables:
            cell["table"] = tables[field.id]
        cells.append(cell)
    if columns == 1:
        return [[c] for c in cells]
    ids = [f.id for f in fields]
    left = [
        c for i, c in zip(ids, cells, strict=True) if not i.startswith("kei_") and "table" not in c
    ]
    right = [
        c for i, c in zip(ids, cells, strict=True) if i.startswith("kei_") and "table" not in c
    ]
    tail = [c for c in cells if "table" in c]
    rows = []
    for index in range(max(len(left), len(right))):
        rows.append(
            [
                left[index] if index < len(left) else None,
                right[index] if index < len(right) else None,
            ]
        )
    rows.extend([c] for c in tail)
    return rows
