"""The province page in Chromium: counties drawn, a county's townships on a click, and
"open the county's village map" switching the served plan in place."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.browser.conftest import ROOT, TEST_CONFIG, _free_port
from tests.test_province_dashboard import ADCODES, NAMES, build_counties

pytestmark = pytest.mark.browser

COUNTY_PATHS = "#province-map .leaflet-overlay-pane path.leaflet-interactive"
VILLAGES = ".leaflet-villages-pane path.leaflet-interactive"


@pytest.fixture(scope="module")
def province_server(tmp_path_factory):
    out = build_counties(tmp_path_factory.mktemp("province-browser") / "out")
    port = _free_port()
    log_path = tmp_path_factory.mktemp("province-log") / "server.log"
    code = (
        "import sys, json; from dashboard.app import create_app; "
        "app = create_app(sys.argv[1], config=json.loads(sys.argv[2]), province=sys.argv[3]); "
        f"app.run(host='127.0.0.1', port={port})"
    )
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", code, str(out / ADCODES[0]), json.dumps(TEST_CONFIG), str(out)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + 60
            while time.time() < deadline:
                try:
                    urllib.request.urlopen(url + "/_dash-layout", timeout=2)
                    break
                except OSError:
                    if proc.poll() is not None:
                        text = Path(log_path).read_text(errors="replace")[-2000:]
                        raise RuntimeError(text) from None
                    time.sleep(0.3)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def test_province_drill_down_and_county_switch(province_server, page):
    page.goto(province_server + "/province")
    page.wait_for_function(f"document.querySelectorAll('{COUNTY_PATHS}').length >= 3")
    assert page.locator(COUNTY_PATHS).count() == 3  # the counties only
    assert page.locator("#nav-province").is_visible()
    page.locator("#province-grid .ag-center-cols-container .ag-row").nth(2).click()
    page.wait_for_selector("#province-open-county")
    page.wait_for_function(f"document.querySelectorAll('{COUNTY_PATHS}').length == 5")
    assert NAMES[2] in page.inner_text("#province-panel")
    page.locator("#province-open-county").click()
    page.wait_for_url(province_server + "/")
    page.wait_for_function(f"document.querySelectorAll('{VILLAGES}').length > 0")
    assert page.inner_text("#nav-county") == NAMES[2]
    page.goto(province_server + "/")  # a reload keeps the county (cookie)
    page.wait_for_function(f"document.querySelectorAll('{VILLAGES}').length > 0")
    assert page.inner_text("#nav-county") == NAMES[2]
    assert page.errors == []
