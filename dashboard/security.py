"""What the dashboard's server does for safety: headers, limits, private folders, job slots.

:func:`install` adds to a Dash app's Flask server

- security headers on every response: a Content-Security-Policy as strict as Dash,
  dash-leaflet and dash-ag-grid allow (scripts from the server itself plus the hashes of
  Dash's own inline scripts; inline styles, which ag-grid and Leaflet write; images from
  the server and the configured basemaps), ``X-Frame-Options: DENY``,
  ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: same-origin``;
- a request size limit (:data:`MAX_CONTENT_LENGTH`): a larger body is refused with 413;
- a random per-browser session cookie (``anju_sid``, HttpOnly, SameSite=Strict) that
  bounds how many scenario runs one browser may start (:func:`job_slot`).

:func:`runtime_dir` is the server's private folder (mode 0700, removed at exit) for the
background-callback cache and the job slots; :func:`is_loopback` tells the launchers
whether a host is reachable from this machine only.
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import ipaddress
import os
import secrets
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from layers.errors import AnjuError

#: Largest request body the server reads (a Dash callback request is a few kB).
MAX_CONTENT_LENGTH = 2 * 1024 * 1024

#: Scenario processes one server runs at once, and one browser session.
MAX_JOBS_PER_SERVER = 2
MAX_JOBS_PER_SESSION = 1

#: The cookie naming a browser session (random; it carries no personal data).
SESSION_COOKIE = "anju_sid"

STATIC_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class JobRefusedError(AnjuError, RuntimeError):
    """A scenario run refused because too many are running (its message says how many)."""


# --------------------------------------------------------------------------- hosts


def is_loopback(host: str) -> bool:
    """True when ``host`` is reachable from this machine only (``127.0.0.1``, ``::1``,
    ``localhost``); ``0.0.0.0``, ``::`` and every other address or name are not."""
    h = host.strip().strip("[]").lower()
    if h == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


# --------------------------------------------------------------------------- private folder

_RUNTIME: dict[str, Any] = {}


def runtime_dir() -> Path:
    """This server's private folder (created on first use with mode 0700, removed when the
    process that created it exits; forked workers share it and never remove it)."""
    d = _RUNTIME.get("dir")
    if d is None or not Path(d).is_dir():
        d = tempfile.mkdtemp(prefix="anju-")  # mkdtemp: mode 0700, a fresh unguessable name
        os.chmod(d, 0o700)
        _RUNTIME["dir"] = d
        owner = os.getpid()

        def _remove(path: str = d) -> None:
            if os.getpid() == owner:
                shutil.rmtree(path, ignore_errors=True)

        atexit.register(_remove)
        _exit_on_sigterm()
    return Path(d)


def _exit_on_sigterm() -> None:
    """Make SIGTERM (``kill``, a service manager's stop) a normal exit, so the private
    folder is removed then too (the default handler ends the process without ``atexit``).
    Only from the main thread, and only where nobody installed a handler of their own."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    def _exit(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)


# --------------------------------------------------------------------------- job slots


def session_id() -> str | None:
    """The ``anju_sid`` cookie of the browser whose callback is running (None outside a
    callback, or for a browser without the cookie)."""
    try:
        from dash import callback_context
        from dash.exceptions import MissingCallbackContextException

        sid = (callback_context.cookies or {}).get(SESSION_COOKIE)
    except (ImportError, LookupError, AttributeError, MissingCallbackContextException):
        return None
    return sid if isinstance(sid, str) and sid else None


def _try_lock(path: Path) -> int | None:
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


@contextmanager
def job_slot(
    session: str | None = None,
    *,
    per_server: int = MAX_JOBS_PER_SERVER,
    per_session: int = MAX_JOBS_PER_SESSION,
    folder: Path | None = None,
) -> Iterator[None]:
    """Hold one of the server's scenario slots (and one of ``session``'s) while in the block.

    Slots are file locks in the private folder, so they count across the processes Dash
    starts for background callbacks, and a killed (cancelled) run frees its slot.

    Raises
    ------
    JobRefusedError
        When ``per_server`` runs (or ``per_session`` runs of this session) are going already.
    """
    base = (folder or runtime_dir()) / "slots"
    base.mkdir(mode=0o700, exist_ok=True)
    held: list[int] = []
    try:
        if session:
            tag = hashlib.sha256(session.encode()).hexdigest()[:20]
            fd = _first_free(base, f"session-{tag}", per_session)
            if fd is None:
                raise JobRefusedError(
                    f"a scenario started from this browser is still running (at most "
                    f"{per_session} at a time); wait for it to finish or cancel it"
                )
            held.append(fd)
        fd = _first_free(base, "server", per_server)
        if fd is None:
            raise JobRefusedError(
                f"the server is running {per_server} scenarios already (its limit); "
                "try again when one has finished"
            )
        held.append(fd)
        yield
    finally:
        for fd in held:
            os.close(fd)  # closing the descriptor releases its lock


def _first_free(base: Path, stem: str, n: int) -> int | None:
    for i in range(max(0, int(n))):
        fd = _try_lock(base / f"{stem}-{i}.lock")
        if fd is not None:
            return fd
    return None


# --------------------------------------------------------------------------- headers


def _sha256(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"


def basemap_sources(config: Any = None) -> list[str]:
    """The origins the configured basemaps load tiles from (for ``img-src``)."""
    out: list[str] = []
    if config is None:
        return out
    if getattr(config, "osm", False):
        out.append("https://tile.openstreetmap.org")
    if getattr(config, "tianditu_key", None):
        out.append("https://*.tianditu.gov.cn")
    for bm in getattr(config, "extra_basemaps", ()) or ():
        url = str((bm or {}).get("url", "")) if isinstance(bm, dict) else ""
        parts = urlsplit(url.replace("{s}", "x"))
        if parts.scheme in ("http", "https") and parts.hostname:
            host = parts.hostname
            if "{s}" in url.split("//", 1)[-1].split("/", 1)[0]:
                host = "*." + host.split(".", 1)[-1]
            port = f":{parts.port}" if parts.port else ""
            out.append(f"{parts.scheme}://{host}{port}")
    return sorted(set(out))


def content_security_policy(inline_scripts: list[str], config: Any = None) -> str:
    """The CSP header: scripts from the server and Dash's inline scripts (by hash)."""
    hashes = " ".join(sorted({_sha256(s) for s in inline_scripts}))
    imgs = " ".join(["'self'", "data:", "blob:", *basemap_sources(config)])
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' {hashes}".rstrip(),
            # ag-grid and Leaflet write <style> elements and style attributes
            "style-src 'self' 'unsafe-inline'",
            f"img-src {imgs}",
            "font-src 'self' data:",
            "connect-src 'self'",
            "worker-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def _inline_scripts(app: Any) -> list[str]:
    """Dash's inline scripts as the index page writes them (clientside callbacks, the
    renderer's start-up line)."""
    scripts = list(getattr(app, "_inline_scripts", []) or [])
    renderer = getattr(app, "renderer", None)
    if isinstance(renderer, str):
        scripts.append(renderer)
    return scripts


def install(app: Any, config: Any = None) -> None:
    """Add the headers, the size limit and the session cookie to a Dash app's server."""
    server = app.server
    server.config["MAX_CONTENT_LENGTH"] = MAX_CONTENT_LENGTH
    cache: dict[str, Any] = {}

    def policy() -> str:
        scripts = _inline_scripts(app)
        key = tuple(scripts)
        if cache.get("key") != key:
            cache["key"], cache["csp"] = key, content_security_policy(scripts, config)
        return str(cache["csp"])

    @server.after_request
    def _secure(resp):  # pragma: no cover - exercised through the test client
        from flask import request

        resp.headers["Content-Security-Policy"] = policy()
        for k, v in STATIC_HEADERS.items():
            resp.headers[k] = v
        if SESSION_COOKIE not in request.cookies and resp.mimetype == "text/html":
            resp.set_cookie(
                SESSION_COOKIE,
                secrets.token_urlsafe(18),
                httponly=True,
                samesite="Strict",
                secure=request.is_secure,
            )
        return resp


# --------------------------------------------------------------------------- serving


def host_problem(host: str, *, debug: bool = False, allow_remote: bool = False) -> str | None:
    """Why the dashboard must not listen on ``host`` (None when it may).

    The debug server runs any code its debugger is sent: loopback only, always. Any other
    non-loopback address needs ``--allow-remote``.
    """
    if is_loopback(host):
        return None
    if debug:
        return (
            f"--debug serves Werkzeug's debugger, which runs code sent to it: it listens on "
            f"loopback only (127.0.0.1, ::1, localhost), not on {host}"
        )
    if not allow_remote:
        return (
            f"{host} is reachable from other machines; the dashboard listens on loopback "
            "unless told otherwise: add --allow-remote to serve it there"
        )
    return None


REMOTE_WARNING = (
    "anju: WARNING: serving on {host}, reachable from other machines: anyone who can reach "
    "it sees the plan unless sign-in is required (`anju users add NAME --role ROLE` turns "
    "it on); serve it behind HTTPS"
)


def run_server(app: Any, *, host: str, port: int, debug: bool = False, threads: int = 8) -> None:
    """Serve ``app``: waitress (a production WSGI server), or Werkzeug's debug server with
    ``debug`` (loopback only: check :func:`host_problem` first)."""
    if debug:
        if not is_loopback(host):  # the launchers refuse it earlier; never serve it anyway
            raise ValueError(host_problem(host, debug=True) or "debug: loopback only")
        app.run(host=host, port=port, debug=True)
        return
    from waitress import serve

    serve(app.server, host=host, port=port, threads=threads, ident="anju")
