"""Sign-in in a real browser: the login form, Dash's callbacks carrying the CSRF header from
the ``_csrf_token`` cookie, a role's page working with the others' links hidden."""

from __future__ import annotations

import threading

import pytest

from layers.users import UserStore
from tests.sample_plan import write_sample_plan

pytestmark = pytest.mark.browser

PASSWORD = "password123"


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    from werkzeug.serving import make_server

    root = tmp_path_factory.mktemp("authbrowser")
    plan = write_sample_plan(root / "plan", n_villages=12)
    store = UserStore(root / "users.sqlite")
    store.add("water", "bureau:water", PASSWORD)
    mp = pytest.MonkeyPatch()
    mp.setenv("ANJU_SECRET_KEY", "b" * 64)
    mp.delenv("ANJU_USERS", raising=False)
    from dashboard.app import create_app

    app = create_app(plan, config={"osm": False})
    mp.undo()
    srv = make_server("127.0.0.1", 0, app.server, threaded=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_port}", store
    srv.shutdown()


def test_sign_in_and_use_a_bureau_page(browser, auth_server):
    url, store = auth_server
    ctx = browser.new_context(viewport={"width": 1400, "height": 850})
    pg = ctx.new_page()
    bad: list[tuple[int, str]] = []
    sent: list[dict[str, str]] = []
    pg.on("response", lambda r: bad.append((r.status, r.url)) if r.status >= 400 else None)
    pg.on(
        "request",
        lambda r: sent.append(r.all_headers()) if "/_dash-update-component" in r.url else None,
    )
    pg.goto(f"{url}/water")
    assert "/login" in pg.url
    pg.fill("input[name=username]", "water")
    pg.fill("input[name=password]", "not the password")
    pg.click("button[type=submit]")
    assert pg.locator("p.error").count() == 1
    bad.clear()  # the 401 of the wrong password is expected

    pg.fill("input[name=username]", "water")
    pg.fill("input[name=password]", PASSWORD)
    pg.click("button[type=submit]")
    pg.wait_for_selector("#water-map", timeout=30_000)
    assert pg.url.endswith("/water")
    assert "water (bureau:water)" in pg.inner_text("#auth-bar")
    assert pg.locator("#nav-water").is_visible()
    assert not pg.locator("#nav-transport").is_visible()
    assert sent and all(h.get("x-csrftoken") for h in sent), sent[:1]
    assert bad == []
    acts = [(r.action, r.ok) for r in store.audit(user="water")]
    assert ("login", False) in acts and ("login", True) in acts
    ctx.close()
