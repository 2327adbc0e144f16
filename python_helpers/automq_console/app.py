"""The console's web application: server-rendered pages behind a login.

``create_app(settings, data_source, clock)`` builds a FastAPI application.
Routes:

* ``GET /healthz`` -- ``ok``, unauthenticated, touches no cluster data (for
  systemd and Prometheus blackbox checks);
* ``GET /static/console.css`` -- the style sheet (no other asset exists);
* ``GET /login``, ``POST /login``, ``POST /logout``;
* ``GET /`` (overview), ``/topics``, ``/groups``, ``/storage``, ``/charts``
  (``?range=15m|1h|6h|24h``; Prometheus's range queries drawn as SVG, see
  :mod:`.charts`) -- session required.

Anything else, and every page without a valid session, redirects to the login.
Templates receive only the page models of :mod:`.data` and a few explicit
values (never the settings object), so nothing that is not on purpose on a page
can reach it.  Sessions, CSRF tokens and the lock-out live in this one process
(see :mod:`.security`).  Every response carries Strict-Transport-Security and
the other security headers; the cookies are HttpOnly, SameSite=Strict and,
with ``cookie_secure``, Secure with the ``__Host-`` prefix.
"""

import ipaddress
import logging
import re
import time
from collections.abc import Callable
from datetime import datetime
from importlib import resources
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .charts import RangeQuerier, build_charts_page
from .config import ConfigError, Settings, read_session_secret
from .data import ConsoleData
from .passwords import PasswordHashError, read_hash_file, verify_password
from .security import LoginCsrf, LoginThrottle, Session, SessionStore, tokens_match
from .tls import HSTS_VALUE

LOG = logging.getLogger(__name__)

MAX_FORM_BYTES = 4096
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
NAVIGATION = (
    ("overview", "/", "Overview"),
    ("topics", "/topics", "Topics"),
    ("groups", "/groups", "Consumer groups"),
    ("storage", "/storage", "Object storage"),
    ("charts", "/charts", "Charts"),
)


class _LoginRequired(Exception):
    """Raised by the session dependency; answered with a redirect to the login page."""


class _BadForm(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _format_time(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _format_number(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def _template_environment() -> Environment:
    env = Environment(
        loader=PackageLoader("automq_console", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["time"] = _format_time
    env.filters["number"] = _format_number
    return env


def _stylesheet() -> bytes:
    return resources.files("automq_console").joinpath("static/console.css").read_bytes()


_HOST_NAME_RE = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)


def prometheus_link(host: str | None, port: int | None) -> str | None:
    """Prometheus's address on the host the browser reached the console at, over HTTPS;
    None without a port or with a host that is neither a DNS name nor an IP address."""
    if port is None or not host:
        return None
    host = host.lower()
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return f"https://{host}:{port}/" if _HOST_NAME_RE.match(host) else None
    shown = f"[{address.compressed}]" if address.version == 6 else address.compressed
    return f"https://{shown}:{port}/"


def _apply_security_headers(headers: MutableHeaders, path: str) -> None:
    headers["Strict-Transport-Security"] = HSTS_VALUE
    headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    headers["X-Frame-Options"] = "DENY"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if path.startswith("/static/"):
        headers["Cache-Control"] = "public, max-age=3600"
    else:
        headers["Cache-Control"] = "no-store"


class SecurityHeadersMiddleware:
    """Adds the security headers (and ``no-store``) to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                _apply_security_headers(MutableHeaders(scope=message), path)
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _read_form(request: Request) -> dict[str, str]:
    """A small url-encoded form; anything else is refused (no multipart, no JSON)."""
    content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise _BadForm(413, "The form is too large.")
    if not body:
        return {}  # an empty POST: no fields, so no CSRF token either
    if content_type != "application/x-www-form-urlencoded":
        raise _BadForm(415, "Forms must be sent as application/x-www-form-urlencoded.")
    try:
        pairs = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=10
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise _BadForm(400, "The form could not be read.") from exc
    form: dict[str, str] = {}
    for key, value in pairs:
        if key in form:
            raise _BadForm(400, f"The form field {key!r} was sent twice.")
        form[key] = value
    return form


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def create_app(
    settings: Settings,
    data_source: ConsoleData,
    clock: Callable[[], float] = time.time,
    metrics_source: RangeQuerier | None = None,
) -> FastAPI:
    """The console application; raises ConfigError if its secret files are unusable.
    ``metrics_source`` answers the charts' range queries (None: charts not set up)."""
    secret = read_session_secret(settings.session_secret_file)
    try:
        read_hash_file(settings.admin_password_hash_file)
    except PasswordHashError as exc:
        raise ConfigError(str(exc)) from exc

    sessions = SessionStore(
        secret, clock, settings.session_idle_seconds, settings.session_lifetime_seconds
    )
    login_csrf = LoginCsrf(secret, clock)
    throttle = LoginThrottle(clock)
    templates = _template_environment()
    stylesheet = _stylesheet()
    # "__Host-" cookies are only accepted over HTTPS, from this exact host, for path /.
    prefix = "__Host-" if settings.cookie_secure else ""
    session_cookie = f"{prefix}automq_console_session"
    login_cookie = f"{prefix}automq_console_login"

    app = FastAPI(
        title="AutoMQ console",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.add_middleware(SecurityHeadersMiddleware)
    app.state.sessions = sessions
    app.state.throttle = throttle

    def set_cookie(response: Response, name: str, value: str, max_age: int | None = None) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/",
            secure=settings.cookie_secure,
            httponly=True,
            samesite="strict",
        )

    def clear_cookie(response: Response, name: str) -> None:
        response.delete_cookie(
            name, path="/", secure=settings.cookie_secure, httponly=True, samesite="strict"
        )

    def render(
        name: str,
        status_code: int = 200,
        session: Session | None = None,
        request: Request | None = None,
        **context: Any,
    ) -> HTMLResponse:
        metrics = None
        if session is not None and request is not None:
            metrics = prometheus_link(request.url.hostname, settings.prometheus_port)
        html = templates.get_template(name).render(
            cluster_name=settings.cluster_name,
            navigation=NAVIGATION,
            user=session.user if session else None,
            csrf_token=session.csrf_token if session else None,
            prometheus_url=metrics,
            **context,
        )
        return HTMLResponse(html, status_code=status_code)

    def current_session(request: Request) -> Session | None:
        return sessions.get(request.cookies.get(session_cookie))

    async def require_session(request: Request) -> Session:
        session = current_session(request)
        if session is None:
            raise _LoginRequired()
        return session

    def login_form(
        status_code: int = 200,
        message: str | None = None,
        nonce: str | None = None,
        username: str = "",
    ) -> HTMLResponse:
        fresh = nonce is None
        nonce = nonce or login_csrf.new_nonce()
        response = render(
            "login.html",
            status_code=status_code,
            page="login",
            message=message,
            login_token=login_csrf.token_for(nonce),
            username=username,
        )
        if fresh:
            set_cookie(response, login_cookie, nonce, max_age=int(login_csrf.max_age_seconds))
        return response

    def check_credentials(username: str, password: str) -> bool | None:
        """True/False, or None when the hash file cannot be read (a console fault)."""
        try:
            stored = read_hash_file(settings.admin_password_hash_file)
        except PasswordHashError:
            LOG.exception("cannot check passwords")
            return None
        # Always run scrypt, so a wrong user name takes as long as a wrong password.
        password_ok = verify_password(password, stored)
        user_ok = tokens_match(settings.admin_user, username)
        return password_ok and user_ok

    @app.exception_handler(_LoginRequired)
    async def _to_login(request: Request, exc: _LoginRequired) -> Response:
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(_BadForm)
    async def _bad_form(request: Request, exc: _BadForm) -> Response:
        return render(
            "error.html",
            status_code=exc.status,
            session=current_session(request),
            page="error",
            title="Request refused",
            message=exc.message,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        session = current_session(request)
        if session is None:
            return RedirectResponse("/login", status_code=303)
        titles = {404: "Page not found", 405: "Method not allowed"}
        return render(
            "error.html",
            status_code=exc.status_code,
            session=session,
            page="error",
            title=titles.get(exc.status_code, "Request refused"),
            message="There is no such page in this console.",
        )

    @app.exception_handler(Exception)
    async def _internal_error(request: Request, exc: Exception) -> Response:
        LOG.exception("error while serving %s %s", request.method, request.url.path)
        response = render(
            "error.html",
            status_code=500,
            page="error",
            title="Internal error",
            message="The console failed to build this page; its log has the details.",
        )
        _apply_security_headers(response.headers, request.url.path)
        return response

    # ----------------------------------------------------------------- routes

    @app.get("/healthz", response_class=PlainTextResponse)
    async def healthz() -> PlainTextResponse:
        return PlainTextResponse("ok")

    @app.get("/static/console.css")
    async def css() -> Response:
        return Response(stylesheet, media_type="text/css; charset=utf-8")

    @app.get("/login")
    async def login_page(request: Request) -> Response:
        if current_session(request) is not None:
            return RedirectResponse("/", status_code=303)
        # Keep a nonce that is still valid: while the form is open, a browser asks for
        # more (its favicon, redirected here); a new nonce would void the form's token.
        nonce = request.cookies.get(login_cookie)
        if nonce is not None and not login_csrf.check(nonce, login_csrf.token_for(nonce)):
            nonce = None
        return login_form(nonce=nonce)

    @app.post("/login")
    async def login(request: Request) -> Response:
        form = await _read_form(request)
        nonce = request.cookies.get(login_cookie)
        username = form.get("username", "")[:100]
        if not login_csrf.check(nonce, form.get("csrf_token")):
            LOG.warning(
                "login refused: missing or wrong CSRF token from %s", _client_address(request)
            )
            return login_form(
                403,
                "The login form had expired or did not come from this console. "
                "Please sign in again.",
                username=username,
            )
        address = _client_address(request)
        locked = throttle.locked_for(address, username)
        if locked:
            return _locked_out(locked, nonce, username)
        verdict = await run_in_threadpool(check_credentials, username, form.get("password", ""))
        if verdict is None:
            return login_form(
                503,
                "The console cannot check passwords right now (its password hash file is "
                "unreadable); the console's log has the details.",
                nonce=nonce,
                username=username,
            )
        if not verdict:
            throttle.record_failure(address, username)
            LOG.warning("failed login for user %r from %s", username, address)
            locked = throttle.locked_for(address, username)
            if locked:
                LOG.warning("logins locked for user %r and address %s", username, address)
                return _locked_out(locked, nonce, username)
            return login_form(401, "Wrong user name or password.", nonce=nonce, username=username)

        throttle.record_success(address, username)
        old = current_session(request)
        if old is not None:
            sessions.delete(old)
        cookie, _session = sessions.create(settings.admin_user)
        LOG.info("user %r logged in from %s", settings.admin_user, address)
        response = RedirectResponse("/", status_code=303)
        set_cookie(response, session_cookie, cookie)
        clear_cookie(response, login_cookie)
        return response

    def _locked_out(seconds: float, nonce: str | None, username: str) -> Response:
        minutes = max(1, int(seconds + 59) // 60)
        response = login_form(
            429,
            f"Too many failed logins. Logins from your address or for this user are "
            f"locked for {minutes} more minute{'s' if minutes > 1 else ''}.",
            nonce=nonce,
            username=username,
        )
        response.headers["Retry-After"] = str(int(seconds + 0.999))
        return response

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        session = current_session(request)
        response = RedirectResponse("/login", status_code=303)
        if session is None:
            clear_cookie(response, session_cookie)
            return response
        form = await _read_form(request)
        if not tokens_match(session.csrf_token, form.get("csrf_token")):
            return render(
                "error.html",
                status_code=403,
                session=session,
                page="error",
                title="Request refused",
                message="The form did not carry this session's CSRF token. Nothing was done.",
            )
        sessions.delete(session)
        clear_cookie(response, session_cookie)
        LOG.info("user %r logged out", session.user)
        return response

    @app.get("/")
    def overview(
        request: Request, session: Annotated[Session, Depends(require_session)]
    ) -> Response:
        view = data_source.overview()
        return render("overview.html", session=session, request=request, page="overview", view=view)

    @app.get("/topics")
    def topics(request: Request, session: Annotated[Session, Depends(require_session)]) -> Response:
        view = data_source.topics()
        return render("topics.html", session=session, request=request, page="topics", view=view)

    @app.get("/groups")
    def groups(request: Request, session: Annotated[Session, Depends(require_session)]) -> Response:
        view = data_source.groups()
        return render("groups.html", session=session, request=request, page="groups", view=view)

    @app.get("/storage")
    def storage(
        request: Request, session: Annotated[Session, Depends(require_session)]
    ) -> Response:
        view = data_source.storage()
        return render("storage.html", session=session, request=request, page="storage", view=view)

    @app.get("/charts")
    def charts(
        request: Request,
        session: Annotated[Session, Depends(require_session)],
        time_range: Annotated[str | None, Query(alias="range")] = None,
    ) -> Response:
        view = None
        if metrics_source is not None and settings.prometheus is not None:
            view = build_charts_page(
                metrics_source, time_range, settings.prometheus.scrape_seconds, clock
            )
        return render("charts.html", session=session, request=request, page="charts", view=view)

    return app
