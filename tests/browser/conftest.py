"""Fixtures for the browser tests: a plan, the app in a subprocess, Chromium pages.

The plan is ``data/demo/plan`` when it exists; otherwise it is built there with the
pipeline (as ``python app.py`` does) when the pipeline and the demo workspace exist;
otherwise (or with ``ANJU_BROWSER_PLAN=sample``) a small synthetic plan is used.
``ANJU_BROWSER_PLAN=/some/plan`` uses a plan the pipeline wrote elsewhere.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
from scripts.chromium import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

# quick scenario runs in tests: few robustness draws, short solver time limit
TEST_CONFIG = {
    "osm": False,
    "scenario_base": {"suitability": {"robustness_draws": 3, "time_limit_s": 10.0}},
}


def pytest_collection_modifyitems(config, items):
    missing = not Path(CHROMIUM).exists()
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing = True
    if missing:
        skip = pytest.mark.skip(reason=f"{CHROMIUM} or playwright is not installed")
        for item in items:
            if "browser" in item.keywords:
                item.add_marker(skip)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def plan_dir(tmp_path_factory) -> tuple[Path, str]:
    """(plan directory, "demo" or "sample")."""
    demo = ROOT / "data" / "demo" / "plan"
    choice = os.environ.get("ANJU_BROWSER_PLAN", "")
    if choice not in ("", "sample"):
        return Path(choice), "demo"  # a plan written by the pipeline elsewhere
    if choice != "sample":
        from dashboard.plan import plan_status

        if plan_status(demo, root=ROOT)[0] == "ok":
            return demo, "demo"
        try:
            from scripts.pipeline import run_pipeline
        except ImportError:
            run_pipeline = None
        if run_pipeline is not None and (ROOT / "data" / "demo" / "workspace.toml").is_file():
            run_pipeline(ROOT / "data" / "demo", demo, progress=False)
            return demo, "demo"
    from tests.sample_plan import write_sample_plan

    return write_sample_plan(tmp_path_factory.mktemp("browser") / "plan", n_villages=40), "sample"


@contextmanager
def serve(plan: Path, log_path: Path):
    """Base URL of the dashboard on ``plan``, served from a subprocess while in the block.

    The server's log goes to a file, not a pipe: nobody reads a pipe while the tests run,
    and once its buffer fills with request log lines the server blocks on writing.
    """
    port = _free_port()
    log = open(log_path, "wb")  # noqa: SIM115 - closed at the end of the block
    code = (
        "import sys, json; from dashboard.app import create_app; "
        f"app = create_app(sys.argv[1], config=json.loads(sys.argv[2])); app.run(host='127.0.0.1', port={port})"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(plan), json.dumps(TEST_CONFIG)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(url + "/", timeout=2)
                break
            except OSError:
                if proc.poll() is not None:
                    log.close()
                    raise RuntimeError(log_path.read_text(errors="replace")[-2000:]) from None
                time.sleep(0.3)
        else:
            raise RuntimeError("the dashboard did not start within 60 s")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def server(plan_dir, tmp_path_factory):
    """Base URL of the dashboard on the session's plan (:func:`plan_dir`)."""
    with serve(plan_dir[0], tmp_path_factory.mktemp("server") / "server.log") as url:
        yield url


@pytest.fixture(scope="session")
def sample_server(tmp_path_factory):
    """(base URL, plan directory) of the dashboard on the synthetic sample plan, whose
    villages are made to cover every class (inferred evidence, not assessed...)."""
    from tests.sample_plan import write_sample_plan

    plan = write_sample_plan(tmp_path_factory.mktemp("sample") / "plan", n_villages=40)
    with serve(plan, tmp_path_factory.mktemp("sample-server") / "server.log") as url:
        yield url, plan


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A fresh page (own cookies) that records console errors in ``page.errors``."""
    # bypass_csp: Playwright's wait_for_function runs its predicate through eval, which the
    # dashboard's Content-Security-Policy refuses; the policy itself is tested with it
    # enforced in test_hostile_names.py (every page, markers and rows)
    ctx = browser.new_context(
        viewport={"width": 1400, "height": 850}, accept_downloads=True, bypass_csp=True
    )
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.errors = errors
    yield pg
    ctx.close()
