"""Sign-in, roles, CSRF and the audit trail for the dashboard (flask-login).

Auth is on when the user store exists (``users.sqlite`` beside the plan directory, or
``ANJU_USERS``) or when ``ANJU_AUTH=1``; otherwise the dashboard stays open as the local
single-user tool and says so in a bar above the page ("本机单用户模式").

With auth on, :func:`install` adds to the Flask server

- ``/login`` (a plain HTML form, no script) and ``/logout``; ``/admin/audit`` for admins;
- a guard before every request: anonymous requests for pages get a redirect to ``/login``,
  anything else (Dash layout and callbacks, tiles, ``/briefing/map.png``) a 401; a role
  reaches only its pages (:data:`ROLE_PAGES`) and their callbacks (403 otherwise);
- CSRF protection on every state-changing request: the session holds a random token, a
  ``_csrf_token`` cookie (SameSite=Strict, readable by the page) repeats it, and Dash's
  renderer already sends that cookie back as the ``X-CSRFToken`` header on its POSTs to
  ``/_dash-update-component``; the login form carries it as a hidden field.  A POST whose
  token does not match the session's, or whose ``Origin`` is another site, gets a 403;
- a sign-in rate limit: after 5 failures for a user name or from an address within
  15 minutes, sign-in is refused (429) until the window has passed;
- audit rows for sign-ins (success and failure), scenario runs, exports and
  personal-data views (:func:`record`).

Cookies are signed with ``ANJU_SECRET_KEY``; without it a random per-process key is made
with a warning (sessions then end when the server restarts).
"""

from __future__ import annotations

import hmac
import html as _html
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, g, redirect, request, session
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user

from layers.users import MAX_FAILURES, User, UserStore, default_path

ALL_PAGES = (
    "/",
    "/transport",
    "/water",
    "/health",
    "/relocation",
    "/progress",
    "/briefing",
    "/province",  # only when a province is served (anju serve --province)
)

#: The dashboard pages each role reaches.
ROLE_PAGES: dict[str, tuple[str, ...]] = {
    "leader": ALL_PAGES,
    "bureau:transport": ("/transport",),
    "bureau:water": ("/water",),
    "bureau:health": ("/health",),
    "planner": ("/", "/relocation", "/province"),
    "admin": ("/admin/audit",),
}

#: Roles that may start a scenario run.
SCENARIO_ROLES = ("planner",)

#: Component-id prefixes owned by one page (a callback writing them needs that page).
ID_PAGE = {
    "transport-": "/transport",
    "water-": "/water",
    "health-": "/health",
    "reloc-": "/relocation",
    "brief-": "/briefing",
    "progress-": "/progress",
    "province-": "/province",
    "coverage-": "/",
    "villages-": "/",
    "filter-": "/",
}

CSRF_COOKIE = "_csrf_token"  # the name Dash's renderer reads
CSRF_HEADER = "X-CSRFToken"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
OPEN_PREFIXES = ("/assets/", "/_dash-component-suites/", "/_favicon.ico", "/favicon.ico")

_TEXT = {
    "zh": {
        "local": "本机单用户模式（未启用登录）",
        "signed_in": "已登录",
        "logout": "退出",
        "title": "安居 · 登录",
        "user": "用户名",
        "password": "密码",
        "submit": "登录",
        "bad": "用户名或密码错误",
        "limited": "失败次数过多，请 15 分钟后再试",
    },
    "en": {
        "local": "local single-user mode (no sign-in)",
        "signed_in": "signed in",
        "logout": "sign out",
        "title": "anju · sign in",
        "user": "user name",
        "password": "password",
        "submit": "sign in",
        "bad": "wrong user name or password",
        "limited": "too many failures: try again in 15 minutes",
    },
}


class _LoginUser(UserMixin):
    def __init__(self, user: User) -> None:
        self.user = user
        self.id = user.name


def _lang() -> str:
    try:
        from dashboard.state import lang

        return lang()
    except (ImportError, RuntimeError, LookupError):
        return "zh"


def _tx(key: str) -> str:
    return _TEXT.get(_lang(), _TEXT["zh"])[key]


# --------------------------------------------------------------------------- state


def is_enabled(server: Flask | None = None) -> bool:
    """True when the running app requires sign-in."""
    from flask import current_app

    app = server or current_app
    return bool(app.config.get("ANJU_AUTH"))


def _store(server: Flask | None = None) -> UserStore | None:
    from flask import current_app

    app = server or current_app
    path = app.config.get("ANJU_USERS_PATH")
    return UserStore(path) if path else None


def current() -> User | None:
    """The signed-in user (None when anonymous or auth is off)."""
    try:
        if current_user and current_user.is_authenticated:
            return current_user.user
    except (RuntimeError, AttributeError):
        return None
    return None


def may_see_personal() -> bool:
    """True only for a signed-in user with the personal-data permission.

    The local single-user mode keeps today's default: household names, ID numbers and
    phones never reach the browser or an export.
    """
    try:
        u = current()
    except RuntimeError:
        return False
    return bool(u is not None and u.personal)


def record(
    action: str, what: str | None = None, *, numbers: dict[str, Any] | None = None, ok: bool = True
) -> None:
    """Append an audit row for the current request's user (a no-op when auth is off)."""
    try:
        if not is_enabled():
            return
        store = _store()
    except RuntimeError:
        return
    if store is None:
        return
    u = current()
    store.record(
        action,
        user=u.name if u else None,
        ip=request.remote_addr,
        what=what,
        numbers=numbers,
        ok=ok,
    )


def record_personal_view(what: str) -> bool:
    """Check and record a personal-data view or export; True when it is allowed."""
    allowed = may_see_personal()
    record("personal_data", what, ok=allowed)
    return allowed


# --------------------------------------------------------------------------- install


def wants_auth(plan_dir: Path | str | None, *, force: bool | None = None) -> tuple[bool, Path]:
    """Whether sign-in is required, and the user store's path."""
    path = default_path(plan_dir)
    if force is None:
        force = os.environ.get("ANJU_AUTH", "").strip().lower() in ("1", "true", "yes", "on")
    return bool(force or path.is_file()), path


def serve_problem(host: str, *, auth_on: bool) -> str | None:
    """Why a server must not start (None when it may): sign-in on an address other
    machines reach needs a fixed ``ANJU_SECRET_KEY`` (a random one is for loopback use)."""
    from dashboard.security import is_loopback

    if auth_on and not is_loopback(host) and not os.environ.get("ANJU_SECRET_KEY"):
        return (
            f"sign-in on {host} needs ANJU_SECRET_KEY (a long random string, e.g. from "
            "`python -c 'import secrets; print(secrets.token_hex(32))'`) in the environment"
        )
    return None


def install(app: Any, plan_dir: Path | str | None, *, required: bool | None = None) -> bool:
    """Install sign-in on a Dash app when the user store exists (or ``required``).

    Returns True when auth is on.  Off, it only adds the "local single-user mode" bar.
    """
    server: Flask = app.server
    on, path = wants_auth(plan_dir, force=required)
    server.config["ANJU_AUTH"] = on
    server.config["ANJU_USERS_PATH"] = str(path)
    _wrap_layout(app, on)
    if not on:
        return False

    key = os.environ.get("ANJU_SECRET_KEY", "")
    if not key:
        print(
            "anju: WARNING: ANJU_SECRET_KEY is not set: using a random key for this process "
            "(sign-ins end when the server restarts); set it for a shared server",
            file=sys.stderr,
        )
        key = secrets.token_hex(32)
    server.secret_key = key
    server.config.update(
        SESSION_COOKIE_NAME="anju_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        REMEMBER_COOKIE_SAMESITE="Strict",
        REMEMBER_COOKIE_HTTPONLY=True,
        # behind HTTPS (a reverse proxy) set ANJU_SECURE_COOKIES=1: cookies then never go over http
        SESSION_COOKIE_SECURE=os.environ.get("ANJU_SECURE_COOKIES", "") == "1",
    )
    manager = LoginManager()
    manager.init_app(server)
    manager.session_protection = "basic"

    @manager.user_loader
    def _load(name: str):
        u = UserStore(path).get(name)
        return _LoginUser(u) if u else None

    server.before_request(_guard)
    server.after_request(_after)
    server.add_url_rule("/login", "anju_login", _login, methods=["GET", "POST"])
    server.add_url_rule("/logout", "anju_logout", _logout, methods=["GET", "POST"])
    server.add_url_rule("/admin/audit", "anju_audit", _audit_page)
    return True


def _hide_links(layout: Any, pages: tuple[str, ...]) -> None:
    """Hide the navbar links to pages the role may not open (the links stay in the
    layout, hidden, because the navbar's callbacks write to them)."""
    stack = [layout]
    while stack:
        comp = stack.pop()
        if isinstance(comp, list | tuple):
            stack.extend(comp)
            continue
        cid = getattr(comp, "id", None)
        href = getattr(comp, "href", None)
        if isinstance(cid, str) and cid.startswith("nav-") and href in ALL_PAGES:
            if href not in pages:
                comp.style = {"display": "none"}
        children = getattr(comp, "children", None)
        if children is not None and not isinstance(children, str | int | float):
            stack.append(children)


def _wrap_layout(app: Any, on: bool) -> None:
    from dash import html

    inner = app.layout

    def layout(*args: Any, **kwargs: Any) -> Any:
        body = inner(*args, **kwargs) if callable(inner) else inner
        if not on:
            bar = html.Div(_tx("local"), id="auth-bar", className="auth-bar local")
        else:
            u = current()
            if callable(inner):  # a fresh layout per request: safe to change
                _hide_links(body, allowed_pages(u))
            who = f"{_tx('signed_in')}: {u.name} ({u.role})" if u else ""
            bar = html.Div(
                [html.Span(who), " · ", html.A(_tx("logout"), href="/logout")],
                id="auth-bar",
                className="auth-bar",
            )
        return html.Div([bar, body])

    app.layout = layout


# --------------------------------------------------------------------------- guard


def _csrf_token() -> str:
    tok = session.get("csrf")
    if not tok:
        tok = secrets.token_urlsafe(32)
        session["csrf"] = tok
    return str(tok)


def _csrf_ok() -> bool:
    want = session.get("csrf")
    got = request.headers.get(CSRF_HEADER) or request.form.get("csrf_token") or ""
    if not want or not got:
        return False
    return hmac.compare_digest(str(want), str(got))


def _origin_ok() -> bool:
    origin = request.headers.get("Origin")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.host


def allowed_pages(user: User | None) -> tuple[str, ...]:
    return ROLE_PAGES.get(user.role, ()) if user else ()


def _refuse(status: int, text: str) -> Response:
    return Response(text, status=status, mimetype="text/plain; charset=utf-8")


def _guard() -> Response | None:
    path = request.path
    if path.startswith(OPEN_PREFIXES):
        return None
    if request.method not in SAFE_METHODS and not (_origin_ok() and _csrf_ok()):
        return _refuse(403, "CSRF token missing or wrong, or a request from another site")
    if path in ("/login", "/logout"):
        return None
    user = current()
    if user is None:
        if request.method == "GET" and path in ALL_PAGES:
            return redirect(f"/login?next={path}")
        return _refuse(401, "sign in first")
    pages = allowed_pages(user)
    if path in ALL_PAGES:
        if path not in pages:
            first = next((p for p in pages), None)
            if path == "/" and first:
                return redirect(first)
            return _refuse(403, f"role {user.role} may not open {path}")
        return None
    if path.startswith("/admin/"):
        return None if path in pages else _refuse(403, "admins only")
    if path.startswith("/province/"):  # /province/open/<county>: the drill-down
        return (
            None
            if "/province" in pages
            else _refuse(403, f"role {user.role} may not open /province")
        )
    if path.startswith("/tiles/") or path.startswith("/briefing/"):
        need = "/briefing" if path.startswith("/briefing/") else None
        if need and need not in pages:
            return _refuse(403, f"role {user.role} may not open {need}")
        if not any(p in ALL_PAGES for p in pages):
            return _refuse(403, f"role {user.role} has no map pages")
        return None
    if path == "/_dash-update-component":
        return _check_callback(user, pages)
    return None


def _flat_ids(obj: Any) -> list[str]:
    """Every component id (as text) in a callback request's outputs/inputs."""
    out: list[str] = []
    if isinstance(obj, list):
        for o in obj:
            out.extend(_flat_ids(o))
    elif isinstance(obj, dict) and "id" in obj:
        cid = obj["id"]
        if isinstance(cid, dict):
            out.append(str(cid.get("type", "")))
        else:
            out.append(str(cid))
    return out


def _check_callback(user: User, pages: tuple[str, ...]) -> Response | None:
    body = request.get_json(silent=True) or {}
    outputs = _flat_ids(body.get("outputs"))
    inputs = body.get("inputs") or []
    g.anju_callback = (outputs, _flat_ids(inputs))
    if "_pages_content" in outputs:
        for inp in inputs if isinstance(inputs, list) else []:
            if (
                isinstance(inp, dict)
                and inp.get("id") == "_pages_location"
                and (inp.get("property") == "pathname")
            ):
                target = str(inp.get("value") or "/")
                if target in ALL_PAGES and target not in pages:
                    return _refuse(403, f"role {user.role} may not open {target}")
        return None
    # a callback belongs to the page whose components it writes or reads
    for cid in [*outputs, *g.anju_callback[1], *_flat_ids(body.get("state"))]:
        for prefix, page in ID_PAGE.items():
            if cid.startswith(prefix) and page not in pages:
                return _refuse(403, f"role {user.role} may not use {cid}")
    if _is_scenario_start(outputs, g.anju_callback[1]) and user.role not in SCENARIO_ROLES:
        return _refuse(403, f"role {user.role} may not run scenarios")
    return None


def _is_scenario_start(outputs: list[str], inputs: list[str]) -> bool:
    from dashboard import ids

    return ids.RELOC_STORE in outputs and ids.RELOC_RUN in inputs


def _after(resp: Response) -> Response:
    if request.path.startswith(OPEN_PREFIXES):
        return resp
    tok = _csrf_token()
    if request.cookies.get(CSRF_COOKIE) != tok:
        resp.set_cookie(
            CSRF_COOKIE, tok, httponly=False, samesite="Strict", secure=request.is_secure
        )
    cb = g.get("anju_callback")
    if cb and resp.status_code == 200:
        _audit_callback(cb[0], cb[1], resp)
    return resp


def _audit_callback(outputs: list[str], inputs: list[str], resp: Response) -> None:
    """Record exports and scenario starts (polls of a running scenario carry a cacheKey)."""
    if any(o.endswith("-download") for o in outputs):
        name = None
        try:
            data = resp.get_json(silent=True) or {}
            for comp in (data.get("response") or {}).values():
                dl = comp.get("data") if isinstance(comp, dict) else None
                if isinstance(dl, dict) and dl.get("filename"):
                    name = str(dl["filename"])
        except (ValueError, AttributeError, RuntimeError):
            name = None
        if name:
            record("export", name)
    elif _is_scenario_start(outputs, inputs) and "cacheKey" in request.args:
        figures = _scenario_figures(resp)
        if figures is not None:
            record("scenario_result", "relocation scenario finished", numbers=figures)
    elif _is_scenario_start(outputs, inputs):
        body = request.get_json(silent=True) or {}
        params = {}
        for st in body.get("state") or []:
            if isinstance(st, list):
                for s in st:
                    if (
                        isinstance(s, dict)
                        and isinstance(s.get("id"), dict)
                        and s.get("property") == "value"
                    ):
                        params[str(s["id"].get("name"))] = s.get("value")
        record("scenario", "relocation scenario run", numbers=params or None)


def _scenario_figures(resp: Response) -> dict[str, Any] | None:
    """The headline figures of a finished scenario run (None while it is still running)."""
    from dashboard import ids

    if resp.direct_passthrough or ids.RELOC_STORE.encode() not in resp.get_data():
        return None
    data = resp.get_json(silent=True) or {}
    view = ((data.get("response") or {}).get(ids.RELOC_STORE) or {}).get("data")
    if not isinstance(view, dict):
        return None
    figures = view.get("figures") or {}
    if not isinstance(figures, dict):
        return {}
    out = {
        str(k): v
        for k, v in figures.items()
        if isinstance(v, int | float | str) and not isinstance(v, bool) and len(str(v)) <= 40
    }
    return dict(list(out.items())[:20])


# --------------------------------------------------------------------------- views

_PAGE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<title>{title}</title><link rel="stylesheet" href="/assets/anju.css"></head>
<body class="login"><main style="max-width:22rem;margin:4rem auto;font-family:sans-serif">
<h1>{title}</h1>{msg}
<form method="post" action="/login">
<input type="hidden" name="csrf_token" value="{csrf}">
<input type="hidden" name="next" value="{next}">
<p><label>{user}<br><input name="username" autocomplete="username" required></label></p>
<p><label>{password}<br><input name="password" type="password"
 autocomplete="current-password" required></label></p>
<p><button type="submit">{submit}</button></p></form></main></body></html>"""


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _login_form(msg: str = "", status: int = 200) -> Response:
    e = _html.escape
    body = _PAGE.format(
        lang="zh" if _lang() == "zh" else "en",
        title=e(_tx("title")),
        msg=f'<p class="error" role="alert">{e(msg)}</p>' if msg else "",
        csrf=e(_csrf_token()),
        next=e(_safe_next(request.values.get("next"))),
        user=e(_tx("user")),
        password=e(_tx("password")),
        submit=e(_tx("submit")),
    )
    return Response(body, status=status, mimetype="text/html")


def _login() -> Response:
    if request.method == "GET":
        return _login_form()
    store = _store()
    assert store is not None
    name = (request.form.get("username") or "").strip()[:64]
    password = request.form.get("password") or ""
    ip = request.remote_addr
    if store.recent_failures(user=name, ip=ip) >= MAX_FAILURES:
        store.record("login_blocked", user=name, ip=ip, ok=False)
        return _login_form(_tx("limited"), status=429)
    user = store.authenticate(name, password)
    if user is None:
        store.record("login", user=name, ip=ip, ok=False)
        time.sleep(0.05)
        return _login_form(_tx("bad"), status=401)
    target = _safe_next(request.form.get("next"))
    session.clear()  # a fresh session (and CSRF token) after sign-in
    login_user(_LoginUser(user))
    _csrf_token()
    store.record("login", user=user.name, ip=ip, ok=True)
    pages = allowed_pages(user)
    if target not in pages and pages:
        target = pages[0]
    return redirect(target)


def _logout() -> Response:
    u = current()
    if u is not None:
        record("logout")
    logout_user()
    session.clear()
    return redirect("/login")


def _audit_page() -> Response:
    store = _store()
    rows = store.audit(limit=500) if store else []
    e = _html.escape
    trs = "".join(
        "<tr>"
        + "".join(
            f"<td>{e(str(v))}</td>"
            for v in (
                time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.ts)),
                r.user or "",
                r.ip or "",
                r.action,
                r.what or "",
                r.numbers or "",
                "ok" if r.ok else "refused",
            )
        )
        + "</tr>"
        for r in rows
    )
    body = (
        '<!doctype html><html><head><meta charset="utf-8"><title>anju · audit</title></head>'
        '<body><h1>audit</h1><p><a href="/logout">sign out</a></p><table border="1">'
        "<tr><th>when</th><th>user</th><th>ip</th><th>action</th><th>what</th>"
        f"<th>numbers</th><th>result</th></tr>{trs}</table></body></html>"
    )
    return Response(body, mimetype="text/html")
