"""The dashboard as a Starlette application (served by uvicorn in receiver.web.serve).

Security rules, all enforced here:
* every page but /login needs a live staff session (cookie: random token, HttpOnly, Secure,
  SameSite=Strict; only its hash is stored; it expires);
* every POST carries the session's CSRF token (login: a double-submit token), else 403;
* only this clinic's devices are served: a record of any other device is refused (404) and
  the refusal audited;
* URLs carry only random message ids, never a session code or any patient content (the
  session search is a POST form), and the app logs no request content;
* every view of a session and every acknowledgement is written to the audit log, which
  only an admin can read.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable
from datetime import datetime

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from device.wire.alert import is_session_code
from receiver import staff
from receiver.alerts import acknowledge, get_alert, list_alerts
from receiver.report.content import Report, check_bundle, load_legend
from receiver.report.render import render_html
from receiver.report.sessions import local_iso, session_rows
from receiver.web.queries import devices as device_rows
from receiver.web.queries import health as health_figures

log = logging.getLogger(__name__)

COOKIE = "emoface_session"
LOGIN_COOKIE = "emoface_login"
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

_env = Environment(
    loader=PackageLoader("receiver.web", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["local"] = local_iso


class Dashboard:
    """Holds the store connection (one, behind a lock) and the clinic's device list."""

    def __init__(
        self,
        store,
        clinic_devices: Callable[[], dict[str, str]],
        clinic_name: str,
        secure: bool = True,
    ):
        self.store = store
        self.clinic_devices = clinic_devices  # device id -> "active" | "revoked"
        self.clinic_name = clinic_name
        self.secure = secure
        self.lock = threading.Lock()

    # -- plumbing -------------------------------------------------------------------------
    def page(
        self, name: str, user: staff.WebSession | None, status: int = 200, **ctx
    ) -> HTMLResponse:
        html = _env.get_template(name).render(user=user, clinic=self.clinic_name, **ctx)
        return HTMLResponse(html, status_code=status, headers=HEADERS)

    def user(self, request: Request) -> staff.WebSession | None:
        with self.lock:
            return staff.session_for(self.store, request.cookies.get(COOKIE))

    def audit(self, user: str, action: str, target: str | None) -> None:
        staff.audit(self.store, user, action, target)
        self.store.commit()

    async def checked_form(self, request: Request, user: staff.WebSession):
        form = await request.form()
        token = form.get("csrf") or ""
        if not hmac.compare_digest(str(token), user.csrf):
            return None, self.page(
                "error.html",
                user,
                403,
                message="Form expired or forged (CSRF check failed). Reload the page and try again.",
            )
        return form, None

    async def posted(self, request: Request):
        """A form posted by a logged-in user with a valid CSRF token: (user, form, None), or
        (None, None, the response that refuses it: the login page or a 403)."""
        user = self.user(request)
        if user is None:
            return None, None, self.login_redirect()
        form, refused = await self.checked_form(request, user)
        return (None, None, refused) if refused else (user, form, None)

    def login_redirect(self) -> Response:
        return RedirectResponse("/login", status_code=303, headers=HEADERS)

    # -- login ----------------------------------------------------------------------------
    async def login_form(self, request: Request) -> Response:
        token = secrets.token_urlsafe(24)
        resp = self.page("login.html", None, csrf=token, error=None)
        resp.set_cookie(
            LOGIN_COOKIE, token, httponly=True, secure=self.secure, samesite="strict", path="/login"
        )
        return resp

    async def login(self, request: Request) -> Response:
        form = await request.form()
        cookie = request.cookies.get(LOGIN_COOKIE) or ""
        if not cookie or not hmac.compare_digest(str(form.get("csrf") or ""), cookie):
            return self.page(
                "error.html",
                None,
                403,
                message="Login form expired or forged (CSRF check failed). Reload the page.",
            )
        try:
            with self.lock:
                token, session = staff.login(
                    self.store, str(form.get("username", "")), str(form.get("password", ""))
                )
        except staff.LoginRefused as exc:
            fresh = secrets.token_urlsafe(24)
            resp = self.page("login.html", None, 401, csrf=fresh, error=str(exc))
            resp.set_cookie(
                LOGIN_COOKIE,
                fresh,
                httponly=True,
                secure=self.secure,
                samesite="strict",
                path="/login",
            )
            return resp
        resp = RedirectResponse("/", status_code=303, headers=HEADERS)
        resp.set_cookie(
            COOKIE,
            token,
            max_age=int(session.expires - time.time()),
            httponly=True,
            secure=self.secure,
            samesite="strict",
        )
        resp.delete_cookie(LOGIN_COOKIE, path="/login")
        return resp

    async def logout(self, request: Request) -> Response:
        user, _, refused = await self.posted(request)
        if refused:
            return refused
        with self.lock:
            staff.logout(self.store, request.cookies.get(COOKIE))
            self.audit(user.username, "logout", None)
        resp = self.login_redirect()
        resp.delete_cookie(COOKIE)
        return resp

    # -- pages ----------------------------------------------------------------------------
    async def alerts(self, request: Request) -> Response:
        user = self.user(request)
        if user is None:
            return self.login_redirect()
        mine = self.clinic_devices()
        with self.lock:
            rows = [a for a in list_alerts(self.store, limit=200) if a.device_id in mine]
            self.store.commit()
        open_, done = [a for a in rows if a.open], [a for a in rows if not a.open]
        return self.page(
            "alerts.html", user, open_alerts=open_, done_alerts=done[:50], nav="alerts"
        )

    async def ack(self, request: Request) -> Response:
        user, form, refused = await self.posted(request)
        if refused:
            return refused
        mid = request.path_params["message_id"]
        with self.lock:
            alert = get_alert(self.store, mid)
            if alert is None or alert.device_id not in self.clinic_devices():
                self.audit(user.username, "refused", f"alert {mid}")
                return self.page("error.html", user, 404, message="No such alert in this clinic.")
            note = str(form.get("note", "")).strip()
            if not note:
                return self.page(
                    "error.html",
                    user,
                    400,
                    message="Write a short note (what was done) to acknowledge an alert.",
                )
            if acknowledge(self.store, mid, user.username, note):
                self.audit(user.username, "ack_alert", f"alert {mid}")
        return RedirectResponse("/", status_code=303, headers=HEADERS)

    async def sessions(self, request: Request) -> Response:
        user = self.user(request)
        if user is None:
            return self.login_redirect()
        filters = {"code": "", "device": "", "date": "", "urgent": False}
        if request.method == "POST":
            form, refused = await self.checked_form(request, user)
            if refused:
                return refused
            filters = {
                "code": str(form.get("code", "")).strip().upper(),
                "device": str(form.get("device", "")).strip(),
                "date": str(form.get("date", "")).strip(),
                "urgent": form.get("urgent") == "on",
            }
        since = until = None
        if filters["date"]:
            try:
                day = datetime.strptime(filters["date"], "%Y-%m-%d").astimezone()
            except ValueError:
                return self.page("error.html", user, 400, message="Date: use YYYY-MM-DD.")
            since, until = day.timestamp(), day.timestamp() + 86400
        if filters["code"] and not is_session_code(filters["code"]):
            rows = []
        else:
            mine = self.clinic_devices()
            with self.lock:
                rows = session_rows(
                    self.store, filters["device"] or None, filters["code"] or None,
                    urgent_only=filters["urgent"], since=since, until=until,
                    devices=set(mine), limit=200,
                )  # fmt: skip
        return self.page(
            "sessions.html",
            user,
            rows=rows,
            f=filters,
            devices=sorted(self.clinic_devices()),
            nav="sessions",
        )

    async def session_report(self, request: Request) -> Response:
        user = self.user(request)
        if user is None:
            return self.login_redirect()
        mid = request.path_params["message_id"]
        with self.lock:
            try:
                record = self.store.get(mid)
            except Exception:  # noqa: BLE001 - unknown id: same answer as another clinic's
                record = None
            if record is None or record["device_id"] not in self.clinic_devices():
                self.audit(user.username, "refused", f"session {mid}")
                return self.page("error.html", user, 404, message="No such session in this clinic.")
            code = (record["summary"].get("session") or {}).get("code")
            alerts = (
                [
                    a
                    for a in list_alerts(self.store, code=code)
                    if a.device_id == record["device_id"]
                ]
                if code
                else []
            )
            self.audit(user.username, "view_session", f"session {mid}")
        manifest, note = check_bundle(record["summary"], None)
        html = render_html(Report(record, alerts, load_legend(), manifest, note))
        back = '<nav class="no-print"><a href="/sessions">&larr; Sessions</a> &middot; <a href="/">Alerts</a></nav>'
        return HTMLResponse(html.replace("<body>", "<body>\n" + back, 1), headers=HEADERS)

    async def devices(self, request: Request) -> Response:
        user = self.user(request)
        if user is None:
            return self.login_redirect()
        with self.lock:
            rows = device_rows(self.store, self.clinic_devices())
        return self.page("devices.html", user, rows=rows, nav="devices")

    async def health(self, request: Request) -> Response:
        user = self.user(request)
        if user is None:
            return self.login_redirect()
        with self.lock:
            h = health_figures(self.store)
        return self.page("health.html", user, h=h, nav="health")

    async def audit_log(self, request: Request) -> Response:
        user = self.user(request)
        if user is None:
            return self.login_redirect()
        if user.role != "admin":
            return self.page(
                "error.html", user, 403, message="The audit log is for admin accounts."
            )
        with self.lock:
            self.audit(user.username, "view_audit", None)
            rows = staff.read_audit(self.store)
        return self.page("audit.html", user, rows=rows, nav="audit")


def create_app(
    store,
    clinic_devices: Callable[[], dict[str, str]],
    clinic_name: str = "clinic",
    secure: bool = True,
) -> Starlette:
    d = Dashboard(store, clinic_devices, clinic_name, secure)
    routes = [
        Route("/login", d.login_form, methods=["GET"]),
        Route("/login", d.login, methods=["POST"]),
        Route("/logout", d.logout, methods=["POST"]),
        Route("/", d.alerts, methods=["GET"]),
        Route("/alerts/{message_id:str}/ack", d.ack, methods=["POST"]),
        Route("/sessions", d.sessions, methods=["GET", "POST"]),
        Route("/sessions/{message_id:str}", d.session_report, methods=["GET"]),
        Route("/devices", d.devices, methods=["GET"]),
        Route("/health", d.health, methods=["GET"]),
        Route("/audit", d.audit_log, methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.dashboard = d
    return app
