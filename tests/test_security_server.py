"""The dashboard's server: security headers, size limit, tile 404s, serve refusals,
scenario validation before any process starts and the bound on concurrent scenarios."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from dashboard import security
from dashboard.scenario import build_overrides, run_scenario_view, validate_overrides
from dashboard.security import JobRefusedError, host_problem, is_loopback, job_slot
from dashboard.tiles import render_tile, tile_exists
from tests.sample_plan import write_sample_plan


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from dashboard.app import create_app

    plan = write_sample_plan(tmp_path_factory.mktemp("sec") / "plan", n_villages=12)
    app = create_app(plan, config={"osm": True})
    return app.server.test_client()


# ----------------------------------------------------------------------------- headers


def test_security_headers_on_every_response(client):
    for url in ("/", "/relocation", "/_dash-layout", "/tiles/hillshade/10/0/0.png", "/nope"):
        r = client.get(url)
        assert r.headers["X-Frame-Options"] == "DENY", url
        assert r.headers["X-Content-Type-Options"] == "nosniff", url
        assert r.headers["Referrer-Policy"] == "same-origin", url
        csp = r.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "object-src 'none'" in csp
        script = next(d for d in csp.split("; ") if d.startswith("script-src"))
        assert "'unsafe-inline'" not in script and "'unsafe-eval'" not in script
        # the configured basemap may load its tiles
        assert "https://tile.openstreetmap.org" in csp


def test_csp_allows_dash_inline_scripts_by_hash(client):
    import re

    # (the Internet Explorer warning sits in a conditional comment: never run)
    html = re.sub(r"<!--.*?-->", "", client.get("/").get_data(as_text=True), flags=re.S)
    csp = client.get("/").headers["Content-Security-Policy"]
    inline = re.findall(
        r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>(.*?)</script>", html, re.S
    )
    assert inline, "Dash writes its renderer start-up inline"
    for body in inline:
        assert security._sha256(body) in csp


def test_session_cookie_is_random_httponly_and_strict(client):
    c1 = client.application.test_client()
    r = c1.get("/")
    cookie = r.headers.get("Set-Cookie", "")
    assert cookie.startswith(security.SESSION_COOKIE + "=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    r2 = client.application.test_client().get("/")
    assert r2.headers["Set-Cookie"].split(";")[0] != cookie.split(";")[0]


def test_request_size_limit(client):
    big = b"x" * (security.MAX_CONTENT_LENGTH + 1)
    r = client.post("/_dash-update-component", data=big, content_type="application/json")
    assert r.status_code == 413
    assert client.application.config["MAX_CONTENT_LENGTH"] == 2 * 1024 * 1024


# ----------------------------------------------------------------------------- tiles


@pytest.mark.parametrize(
    "url",
    [
        "/tiles/hillshade/25/0/0.png",  # beyond zoom 24
        "/tiles/hillshade/99999/0/0.png",
        "/tiles/hillshade/3/8/0.png",  # x out of range at z 3
        "/tiles/hillshade/3/0/8.png",
        "/tiles/hillshade/3/-1/0.png",  # negative
        "/tiles/hillshade/3/0/-1.png",
        "/tiles/hillshade/-3/0/0.png",
        "/tiles/hillshade/3/0/999999999999999999999999.png",
        "/tiles/nope/3/0/0.png",  # unknown layer
        "/tiles/..%2f..%2fetc/3/0/0.png",
    ],
)
def test_impossible_tiles_are_404(client, url):
    assert client.get(url).status_code == 404


def test_a_real_tile_is_served(client):
    r = client.get("/tiles/hillshade/0/0/0.png")
    assert r.status_code == 200 and r.mimetype == "image/png"


def test_tile_range_checks():
    assert tile_exists(0, 0, 0) and tile_exists(24, 2**24 - 1, 0)
    assert not tile_exists(25, 0, 0) and not tile_exists(2, 4, 0) and not tile_exists(2, 0, -1)
    with pytest.raises(ValueError, match="expected zoom 0..24"):
        render_tile("/nonexistent", "hillshade", 30, 0, 0)


# ----------------------------------------------------------------------------- serving


def test_loopback_hosts():
    for h in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST"):
        assert is_loopback(h), h
    for h in ("0.0.0.0", "::", "192.168.1.5", "example.org", "10.0.0.1", ""):
        assert not is_loopback(h), h


def test_host_problem():
    assert host_problem("127.0.0.1") is None
    assert host_problem("127.0.0.1", debug=True) is None
    assert "--allow-remote" in host_problem("0.0.0.0")
    assert host_problem("0.0.0.0", allow_remote=True) is None
    assert "loopback only" in host_problem("0.0.0.0", debug=True, allow_remote=True)


def _serve(args, monkeypatch, *, auth_on=True):
    from types import SimpleNamespace

    from scripts import cli

    calls = []
    monkeypatch.setattr(security, "run_server", lambda app, **kw: calls.append(kw))
    fake = SimpleNamespace(server=SimpleNamespace(config={"ANJU_AUTH": auth_on}))
    monkeypatch.setattr("dashboard.app.create_app", lambda plan, config=None: fake)
    res = CliRunner().invoke(cli.main, ["serve", *args])
    return res, calls


def test_serve_refuses_debug_on_a_remote_host(monkeypatch, tmp_path):
    res, calls = _serve(
        [str(tmp_path), "--host", "0.0.0.0", "--debug", "--allow-remote"], monkeypatch
    )
    assert res.exit_code == 2 and not calls
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "--debug" in lines[0] and "loopback only" in lines[0]


def test_serve_refuses_a_remote_host_without_allow_remote(monkeypatch, tmp_path):
    res, calls = _serve([str(tmp_path), "--host", "192.168.1.5"], monkeypatch)
    assert res.exit_code == 2 and not calls
    assert "--allow-remote" in res.stderr and "Traceback" not in res.output


def test_serve_remote_needs_sign_in_and_a_fixed_secret(monkeypatch, tmp_path):
    monkeypatch.delenv("ANJU_SECRET_KEY", raising=False)
    args = [str(tmp_path), "--host", "0.0.0.0", "--allow-remote"]
    res, calls = _serve(args, monkeypatch, auth_on=False)  # no user store: open to all
    assert res.exit_code == 2 and not calls and "needs sign-in" in res.stderr
    res, calls = _serve(args, monkeypatch, auth_on=True)  # sign-in, but a random key
    assert res.exit_code == 2 and not calls and "ANJU_SECRET_KEY" in res.stderr


def test_serve_remote_with_allow_remote_warns(monkeypatch, tmp_path):
    monkeypatch.setenv("ANJU_SECRET_KEY", "x" * 64)
    res, calls = _serve([str(tmp_path), "--host", "0.0.0.0", "--allow-remote"], monkeypatch)
    assert res.exit_code == 0, res.output
    assert calls == [{"host": "0.0.0.0", "port": 8050, "debug": False}]
    assert "WARNING" in res.stderr and "sign-in" in res.stderr


def test_serve_loopback_uses_waitress_unless_debug(monkeypatch, tmp_path):
    res, calls = _serve([str(tmp_path)], monkeypatch)
    assert res.exit_code == 0 and calls[0]["debug"] is False and "WARNING" not in res.stderr
    res, calls = _serve([str(tmp_path), "--debug", "--port", "8123"], monkeypatch)
    assert res.exit_code == 0 and calls == [{"host": "127.0.0.1", "port": 8123, "debug": True}]


def test_run_server_uses_waitress(monkeypatch):
    import waitress

    seen = {}
    monkeypatch.setattr(waitress, "serve", lambda app, **kw: seen.update(app=app, **kw))

    class App:
        server = object()

        def run(self, **kw):  # the dev server must not be used
            raise AssertionError("Werkzeug's dev server")

    security.run_server(App(), host="127.0.0.1", port=8765)
    assert seen["app"] is App.server and seen["port"] == 8765
    with pytest.raises(ValueError, match="loopback only"):
        security.run_server(App(), host="0.0.0.0", port=1, debug=True)


def test_app_py_refuses_like_serve(monkeypatch, capsys):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import app as launcher

    with pytest.raises(SystemExit) as e:
        launcher.main(["--host", "0.0.0.0", "--no-build"])
    assert e.value.code == 2 and "--allow-remote" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        launcher.main(["--host", "10.1.2.3", "--debug", "--allow-remote", "--no-build"])
    assert e.value.code == 2 and "loopback only" in capsys.readouterr().err


# ----------------------------------------------------------------------------- private folder


def test_runtime_dir_is_private():
    d = security.runtime_dir()
    assert d.is_dir() and stat.S_IMODE(os.stat(d).st_mode) == 0o700
    assert d == security.runtime_dir()
    assert d.name.startswith("anju-") and d.name != "anju-dash-cache"


def test_background_cache_is_in_the_private_folder():
    from dashboard.app import _background_manager

    mgr = _background_manager(None)
    assert Path(mgr.handle.directory).parent == security.runtime_dir()


# ----------------------------------------------------------------------------- scenarios


@pytest.mark.parametrize(
    "value, found",
    [
        (1e308, r"found 1e\+308"),
        (-5, "found -5.0"),
        ("NaN", "found nan"),
        (float("inf"), "found inf"),
        ("/etc/passwd", "found '/etc/passwd'"),
        ([1, 2], r"found \[1, 2\]"),
        ({"a": 1}, r"found \{'a': 1\}"),
        (None, "found None"),
        (True, "found True"),
    ],
)
def test_bad_control_values_are_clear_messages(value, found):
    with pytest.raises(ValueError, match=r"scenario control min_score: expected .*" + found):
        build_overrides(["min_score"], [value])


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"relocation": {"min_score": 1e308}}, "min_score"),
        ({"relocation": {"min_score": "NaN"}}, "min_score"),
        ({"suitability": {"time_limit_s": float("nan")}}, "time_limit_s"),
        ({"suitability": {"time_limit_s": "/tmp/x"}}, "time_limit_s"),
        ({"suitability": {"solver": "../../bin/sh"}}, "solver"),
        ({"suitability": {"ahp": [[1, -1], [1, 1]]}}, "ahp"),
        ({"evil": {}}, "unknown override section"),
        ([1, 2], "expected a table"),
    ],
)
def test_bad_overrides_refused_before_any_process(tmp_path, overrides, match):
    marker = tmp_path / "spawned"
    command = [sys.executable, "-c", f"open({str(marker)!r}, 'w').write('1')"]
    with pytest.raises(ValueError, match=match):
        run_scenario_view(tmp_path, overrides=overrides, settings={}, command=command)
    assert not marker.exists()


def test_good_overrides_pass_validation():
    validate_overrides(build_overrides(["min_score", "open_sites", "ahp_slope_deg"], [40, 2, 5]))
    validate_overrides(
        {"suitability": {"solver": "heuristic", "robustness_draws": 3, "time_limit_s": 10.0}}
    )


def test_job_slots_bound_per_session_and_per_server(tmp_path):
    with job_slot("alice", folder=tmp_path):
        with pytest.raises(JobRefusedError, match="from this browser is still running"):
            with job_slot("alice", folder=tmp_path):
                pass
        with job_slot("bob", folder=tmp_path):
            with pytest.raises(JobRefusedError, match="running 2 scenarios already"):
                with job_slot("carol", folder=tmp_path):
                    pass
            with pytest.raises(JobRefusedError, match="running 2 scenarios already"):
                with job_slot(None, folder=tmp_path):
                    pass
    # all freed
    with job_slot("alice", folder=tmp_path), job_slot("carol", folder=tmp_path):
        pass


def test_job_slot_counts_across_processes(tmp_path):
    import subprocess
    import time

    code = (
        "import sys, time; from pathlib import Path; from dashboard.security import job_slot\n"
        f"with job_slot(None, folder=Path({str(tmp_path)!r})):\n"
        "    print('in', flush=True); time.sleep(30)\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    try:
        for p in procs:
            assert p.stdout.readline().strip() == "in"
        with pytest.raises(JobRefusedError):
            with job_slot(None, folder=tmp_path):
                pass
        procs[0].kill()  # a cancelled run (killed) frees its slot
        procs[0].wait()
        deadline = time.time() + 5
        while True:
            try:
                with job_slot(None, folder=tmp_path):
                    break
            except JobRefusedError:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
    finally:
        for p in procs:
            p.kill()
            p.wait()


def test_refused_job_starts_no_process(tmp_path, monkeypatch):
    monkeypatch.setattr(security, "runtime_dir", lambda: tmp_path)
    marker = tmp_path / "spawned"
    command = [sys.executable, "-c", f"open({str(marker)!r}, 'w').write('1')"]
    with job_slot("x", folder=tmp_path), job_slot("y", folder=tmp_path):
        with pytest.raises(JobRefusedError, match="running 2 scenarios already"):
            run_scenario_view(tmp_path, overrides={}, settings={}, command=command)
    assert not marker.exists()
    # and the refusal is an AnjuError the relocation page shows as a message
    from layers.errors import AnjuError

    assert issubclass(JobRefusedError, AnjuError)


def test_session_id_reads_the_callback_cookie():
    from dash._callback_context import context_value
    from dash._utils import AttributeDict

    assert security.session_id() is None  # outside a callback
    token = context_value.set(AttributeDict(cookies={security.SESSION_COOKIE: "abc"}))
    try:
        assert security.session_id() == "abc"
    finally:
        context_value.reset(token)


def test_runtime_dir_is_removed_at_exit_and_on_sigterm():
    import signal
    import subprocess

    code = (
        "import time; from dashboard.security import runtime_dir\n"
        "print(runtime_dir(), flush=True); time.sleep(30)\n"
    )
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    d = Path(p.stdout.readline().strip())
    assert d.is_dir()
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=10)
    assert not d.exists()
