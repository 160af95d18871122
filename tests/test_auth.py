"""Sign-in, roles, CSRF, the rate limit, the user store and its CLI, the audit trail."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from dashboard import auth
from layers.users import ROLES, UserStore, UserStoreError, hash_password, verify_password
from tests.sample_plan import write_sample_plan

PASSWORD = "correct horse 1"

PAGES = ("/", "/transport", "/water", "/health", "/relocation", "/progress", "/briefing")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A plan, a user store beside it with one user per role, and the app (auth on)."""
    root = tmp_path_factory.mktemp("auth")
    plan = write_sample_plan(root / "plan", n_villages=12)
    store = UserStore(root / "users.sqlite")
    for role in ROLES:
        store.add(role.replace(":", "-"), role, PASSWORD, personal=role == "leader")
    mp = pytest.MonkeyPatch()
    mp.setenv("ANJU_SECRET_KEY", "test-secret-key-0123456789abcdef")
    mp.delenv("ANJU_USERS", raising=False)
    mp.delenv("ANJU_AUTH", raising=False)
    from dashboard.app import create_app

    app = create_app(plan, config={"osm": False})
    mp.undo()
    return app, store


def _csrf(client) -> str:
    r = client.get("/login")
    m = re.search(r'name="csrf_token" value="([^"]+)"', r.get_data(as_text=True))
    assert m, "the login form carries a CSRF token"
    return m.group(1)


def login(app, name: str, password: str = PASSWORD, *, ip: str = "127.0.0.1"):
    c = app.server.test_client()
    tok = _csrf(c)
    r = c.post(
        "/login",
        data={"username": name, "password": password, "csrf_token": tok},
        environ_base={"REMOTE_ADDR": ip},
    )
    return c, r


def page_request(client, path: str):
    """The callback Dash's renderer sends to lay out a page."""
    token = client.get_cookie(auth.CSRF_COOKIE)
    body = {
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [
            {"id": "_pages_content", "property": "children"},
            {"id": "_pages_store", "property": "data"},
        ],
        "inputs": [
            {"id": "_pages_location", "property": "pathname", "value": path},
            {"id": "_pages_location", "property": "search", "value": ""},
        ],
        "changedPropIds": ["_pages_location.pathname"],
        "state": [],
    }
    headers = {auth.CSRF_HEADER: token.value} if token else {}
    return client.post("/_dash-update-component", json=body, headers=headers)


# --------------------------------------------------------------------------- store


def test_password_hashes_are_salted_scrypt_and_verify(tmp_path):
    h1, h2 = hash_password("s3cret-pass"), hash_password("s3cret-pass")
    assert h1.startswith("scrypt$") and "s3cret-pass" not in h1 and h1 != h2
    assert verify_password("s3cret-pass", h1) and not verify_password("s3cret-pasS", h1)
    assert not verify_password("x", "garbage")
    store = UserStore(tmp_path / "u.sqlite")
    store.add("wang", "planner", "longenough")
    raw = (tmp_path / "u.sqlite").read_bytes()
    assert b"longenough" not in raw and b"scrypt$" in raw
    assert store.authenticate("wang", "longenough").role == "planner"
    assert store.authenticate("wang", "wrong-one") is None
    assert store.authenticate("nobody", "longenough") is None
    with pytest.raises(UserStoreError, match="expected at least 8"):
        store.add("li", "leader", "short")
    with pytest.raises(UserStoreError, match="role 'boss'"):
        store.add("li", "boss", "longenough")
    with pytest.raises(UserStoreError, match="exists already"):
        store.add("wang", "leader", "longenough")
    assert (tmp_path / "u.sqlite").stat().st_mode & 0o077 == 0


# --------------------------------------------------------------------------- anonymous


@pytest.mark.parametrize(
    "path",
    ["/_dash-layout", "/_dash-dependencies", "/tiles/hillshade/3/0/0.png", "/briefing/map.png"],
)
def test_anonymous_refused_on_data_endpoints(site, path):
    app, _ = site
    assert app.server.test_client().get(path).status_code == 401


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_page_redirects_to_login(site, path):
    app, _ = site
    r = app.server.test_client().get(path)
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")


def test_anonymous_callback_refused(site):
    app, _ = site
    c = app.server.test_client()
    _csrf(c)  # even with a valid token, a callback needs a signed-in user
    assert page_request(c, "/").status_code == 401


def test_login_page_is_open_and_has_no_script(site):
    app, _ = site
    r = app.server.test_client().get("/login")
    assert r.status_code == 200 and "<script" not in r.get_data(as_text=True)


# --------------------------------------------------------------------------- roles

EXPECTED = {
    "leader": set(PAGES),
    "bureau:transport": {"/transport"},
    "bureau:water": {"/water"},
    "bureau:health": {"/health"},
    "planner": {"/", "/relocation"},
    "admin": set(),
}


@pytest.mark.parametrize("role", ROLES)
def test_each_role_reaches_exactly_its_pages(site, role):
    app, _ = site
    c, r = login(app, role.replace(":", "-"))
    assert r.status_code == 302
    for path in PAGES:
        got = page_request(c, path).status_code
        assert got == (200 if path in EXPECTED[role] else 403), (role, path, got)
        index = c.get(path).status_code
        if path in EXPECTED[role]:
            assert index == 200
        else:
            assert index in (302, 403)
    assert c.get("/admin/audit").status_code == (200 if role == "admin" else 403)
    # the province page and its drill-down: leaders and planners only
    may = role in ("leader", "planner")
    assert page_request(c, "/province").status_code == (200 if may else 403)
    assert (c.get("/province/open/000000").status_code == 403) == (not may)


def test_signed_in_user_gets_layout_and_tiles(site):
    app, _ = site
    c, _ = login(app, "leader")
    r = c.get("/_dash-layout")
    assert r.status_code == 200 and "leader" in r.get_data(as_text=True)
    assert c.get("/tiles/hillshade/3/0/0.png").status_code == 200


def test_scenario_run_needs_planner(site):
    from dashboard import ids

    app, _ = site
    body = {
        "output": "x",
        "outputs": [{"id": ids.RELOC_STORE, "property": "data"}],
        "inputs": [{"id": ids.RELOC_RUN, "property": "n_clicks", "value": 1}],
        "state": [],
    }
    c, _ = login(app, "leader")
    tok = c.get_cookie(auth.CSRF_COOKIE).value
    r = c.post("/_dash-update-component", json=body, headers={auth.CSRF_HEADER: tok})
    assert r.status_code == 403 and "scenarios" in r.get_data(as_text=True)


# --------------------------------------------------------------------------- CSRF


def test_csrf_less_post_refused(site):
    app, _ = site
    c, _ = login(app, "leader")
    assert page_request(c, "/").status_code == 200
    body = {"outputs": [], "inputs": [], "state": []}
    assert c.post("/_dash-update-component", json=body).status_code == 403
    bad = {auth.CSRF_HEADER: "forged"}
    assert c.post("/_dash-update-component", json=body, headers=bad).status_code == 403
    tok = c.get_cookie(auth.CSRF_COOKIE).value
    cross = {auth.CSRF_HEADER: tok, "Origin": "https://evil.example"}
    assert c.post("/_dash-update-component", json=body, headers=cross).status_code == 403


def test_login_post_without_token_refused(site):
    app, _ = site
    c = app.server.test_client()
    r = c.post("/login", data={"username": "leader", "password": PASSWORD})
    assert r.status_code == 403


def test_cookies_are_strict(site):
    app, _ = site
    c, r = login(app, "planner")
    cookies = r.headers.getlist("Set-Cookie")
    sess = [h for h in cookies if h.startswith("anju_session=")]
    assert sess and "HttpOnly" in sess[0] and "SameSite=Strict" in sess[0]


# --------------------------------------------------------------------------- sign-in


def test_wrong_password_and_rate_limit(site):
    app, store = site
    ip = "10.9.8.7"
    store.add("victim", "leader", PASSWORD)
    for _ in range(5):
        _, r = login(app, "victim", "wrong password!", ip=ip)
        assert r.status_code == 401
    _, r = login(app, "victim", PASSWORD, ip=ip)  # right password, but locked out
    assert r.status_code == 429
    _, r = login(app, "victim", PASSWORD, ip="10.1.1.1")  # by user name too
    assert r.status_code == 429
    acts = [(a.action, a.ok) for a in store.audit(user="victim")]
    assert acts.count(("login", False)) == 5 and ("login_blocked", False) in acts


def test_audit_rows_for_sign_in(site):
    app, store = site
    login(app, "planner")
    rows = store.audit(user="planner", limit=5)
    assert rows and rows[0].action == "login" and rows[0].ok and rows[0].ip == "127.0.0.1"


def test_personal_permission(site):
    app, store = site
    with app.server.test_request_context("/"):
        assert auth.may_see_personal() is False  # anonymous
    c, _ = login(app, "leader")  # leader was given --personal in the fixture
    assert store.get("leader").personal and not store.get("planner").personal
    with app.server.test_request_context("/"):
        from flask_login import login_user

        login_user(auth._LoginUser(store.get("planner")))
        assert auth.record_personal_view("households of village 3") is False
        login_user(auth._LoginUser(store.get("leader")))
        assert auth.record_personal_view("households of village 3") is True
    rows = [r for r in store.audit(limit=10) if r.action == "personal_data"]
    assert [r.ok for r in rows[:2]] == [True, False]


def test_no_store_on_loopback_stays_open(tmp_path, monkeypatch):
    monkeypatch.delenv("ANJU_USERS", raising=False)
    monkeypatch.delenv("ANJU_AUTH", raising=False)
    from dashboard.app import create_app

    plan = write_sample_plan(tmp_path / "plan", n_villages=6)
    app = create_app(plan, config={"osm": False})
    assert not auth.is_enabled(app.server)
    c = app.server.test_client()
    assert c.get("/").status_code == 200
    r = c.get("/_dash-layout")
    assert r.status_code == 200 and "本机单用户模式" in json.dumps(r.get_json(), ensure_ascii=False)


def test_auth_forced_without_store_refuses_everyone(tmp_path, monkeypatch):
    monkeypatch.delenv("ANJU_USERS", raising=False)
    monkeypatch.setenv("ANJU_AUTH", "1")
    from dashboard.app import create_app

    plan = write_sample_plan(tmp_path / "plan", n_villages=6)
    app = create_app(plan, config={"osm": False})
    assert auth.is_enabled(app.server)
    assert app.server.test_client().get("/_dash-layout").status_code == 401


# --------------------------------------------------------------------------- CLI


def test_users_cli(tmp_path: Path):
    from scripts.cli import main

    store = tmp_path / "users.sqlite"
    run = CliRunner().invoke
    r = run(
        main,
        ["users", "--store", str(store), "add", "zhang", "--role", "planner", "--password-stdin"],
        input="longpassword\n",
    )
    assert r.exit_code == 0, r.output
    r = run(
        main,
        ["users", "--store", str(store), "add", "li", "--role", "leader", "--personal"],
        input="anotherpass\nanotherpass\n",
    )
    assert r.exit_code == 0, r.output
    r = run(main, ["users", "--store", str(store), "list"])
    assert r.output.splitlines() == ["li\tleader\tpersonal", "zhang\tplanner\t-"]
    assert UserStore(store).authenticate("zhang", "longpassword") is not None
    r = run(
        main,
        ["users", "--store", str(store), "passwd", "zhang", "--password-stdin"],
        input="brand-new-pass\n",
    )
    assert r.exit_code == 0
    assert UserStore(store).authenticate("zhang", "brand-new-pass") is not None
    r = run(main, ["users", "--store", str(store), "add", "x", "--role", "boss"])
    assert r.exit_code == 2 and "role 'boss'" in r.output
    r = run(
        main,
        ["users", "--store", str(store), "add", "y", "--role", "admin", "--password-stdin"],
        input="short\n",
    )
    assert r.exit_code == 2 and "at least 8" in r.output
    r = run(main, ["users", "--store", str(store), "remove", "zhang"])
    assert r.exit_code == 0
    r = run(main, ["users", "--store", str(store), "remove", "zhang"])
    assert r.exit_code == 2 and "no such user" in r.output
    r = run(main, ["users", "--store", str(store), "audit"])
    assert r.exit_code == 0 and "user_add" in r.output and "user_remove" in r.output
    # --plan OUT means users.sqlite beside OUT: the same store here
    r = run(main, ["users", "--plan", str(tmp_path / "out"), "list"])
    assert r.exit_code == 0 and r.output == "li\tleader\tpersonal\n"


def test_serve_problem_needs_a_secret_off_loopback(monkeypatch):
    monkeypatch.delenv("ANJU_SECRET_KEY", raising=False)
    assert auth.serve_problem("127.0.0.1", auth_on=True) is None
    assert auth.serve_problem("0.0.0.0", auth_on=False) is None
    assert "ANJU_SECRET_KEY" in auth.serve_problem("0.0.0.0", auth_on=True)
    monkeypatch.setenv("ANJU_SECRET_KEY", "x" * 64)
    assert auth.serve_problem("0.0.0.0", auth_on=True) is None


def test_personal_data_is_off_in_local_mode(tmp_path, monkeypatch):
    monkeypatch.delenv("ANJU_USERS", raising=False)
    monkeypatch.delenv("ANJU_AUTH", raising=False)
    from dashboard.app import create_app
    from dashboard.pages._common import personal_data_allowed

    app = create_app(write_sample_plan(tmp_path / "plan", n_villages=6), config={"osm": False})
    with app.server.test_request_context("/"):
        assert personal_data_allowed("households") is False


def test_export_is_audited_with_its_file_name(site):
    app, store = site
    c, _ = login(app, "bureau-water")
    deps = c.get("/_dash-dependencies").get_json()
    dep = next(d for d in deps if d["output"].startswith("water") and "download" in d["output"])
    trigger = dep["inputs"][0]
    body = {
        "output": dep["output"],
        "outputs": {"id": dep["output"].split(".")[0], "property": "data"},
        "inputs": [{**i, "value": 1 if i is trigger else None} for i in dep["inputs"]],
        "state": [{**s, "value": None} for s in dep["state"]],
        "changedPropIds": [f"{trigger['id']}.{trigger['property']}"],
    }
    tok = c.get_cookie(auth.CSRF_COOKIE).value
    r = c.post("/_dash-update-component", json=body, headers={auth.CSRF_HEADER: tok})
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    row = store.audit(user="bureau-water", limit=1)[0]
    assert row.action == "export" and row.what.startswith("anju_") and row.ok
    # another bureau may not run the water export
    c2, _ = login(app, "bureau-health")
    tok2 = c2.get_cookie(auth.CSRF_COOKIE).value
    r = c2.post("/_dash-update-component", json=body, headers={auth.CSRF_HEADER: tok2})
    assert r.status_code == 403


def _props_by_id(node, out=None):
    out = {} if out is None else out
    if isinstance(node, dict):
        props = node.get("props")
        if isinstance(props, dict) and isinstance(props.get("id"), str):
            out[props["id"]] = props
        for v in node.values():
            _props_by_id(v, out)
    elif isinstance(node, list):
        for v in node:
            _props_by_id(v, out)
    return out


def test_navbar_hides_links_a_role_may_not_open(site):
    app, _ = site
    c, _ = login(app, "bureau-water")
    props = _props_by_id(c.get("/_dash-layout").get_json())
    for page in ("coverage", "transport", "health", "relocation", "progress", "briefing"):
        assert props[f"nav-{page}"].get("style") == {"display": "none"}, page
    assert not props["nav-water"].get("style")


def test_scenario_figures_read_from_a_finished_run(site):
    from flask import Response

    from dashboard import ids

    done = {
        "response": {
            ids.RELOC_STORE: {
                "data": {"figures": {"people": 120, "sites": 3, "big": list(range(50))}}
            }
        }
    }
    assert auth._scenario_figures(Response(json.dumps(done), mimetype="application/json")) == {
        "people": 120,
        "sites": 3,
    }
    running = Response(json.dumps({"progress": [1, 2]}), mimetype="application/json")
    assert auth._scenario_figures(running) is None


def test_callback_reading_another_pages_components_refused(site):
    app, _ = site
    c, _ = login(app, "bureau-water")
    body = {
        "output": "village-panel.children",
        "outputs": {"id": "village-panel", "property": "children"},
        "inputs": [{"id": "villages-geojson", "property": "clickData", "value": None}],
        "state": [],
    }
    tok = c.get_cookie(auth.CSRF_COOKIE).value
    r = c.post("/_dash-update-component", json=body, headers={auth.CSRF_HEADER: tok})
    assert r.status_code == 403


def test_next_target_stays_on_this_site():
    assert auth._safe_next("/water") == "/water"
    for bad in ("//evil.example/x", "https://evil.example", "/\\\\evil", None, ""):
        assert auth._safe_next(bad) == "/"
