"""Time the province page: first paint of /province, a county drill-down, and the switch to
the county's village map.

Usage: python scripts/bench_province_page.py OUT [--port 8767] [--shot PNG]

Starts ``anju serve --province OUT`` (waitress) in a subprocess, waits for it to answer, then
with Debian chromium (Playwright):
- cold: the first browser visit to /province right after the server answers (the warm-up
  thread may still be reading); time from navigation start until every county polygon is
  on the map;
- warm: a second, fresh browser context, same measure;
- drill-down: click a county in the table → its township polygons drawn;
- switch: click "open the county's village map" → the coverage page's villages drawn
  (county switch), once for a county whose plan the click prefetched, and back to another.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
#: ``anju`` of this interpreter's environment
ANJU = [str(Path(sys.executable).parent / "anju")]
from scripts.chromium import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

COUNTY_PATHS = "#province-map .leaflet-overlay-pane path.leaflet-interactive"
VILLAGES = (
    ".leaflet-villages-pane path.leaflet-interactive, .leaflet-villages-pane .leaflet-marker-icon"
)


def wait_up(url: str, timeout: float = 120) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return time.perf_counter() - t0
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server at {url} did not answer in {timeout} s")


def first_paint(browser, base: str, n: int) -> tuple[float, object]:
    ctx = browser.new_context(viewport={"width": 1600, "height": 900}, bypass_csp=True)
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    t0 = time.perf_counter()
    pg.goto(base + "/province")
    pg.wait_for_function(
        f"document.querySelectorAll('{COUNTY_PATHS}').length >= {n}", polling="raf", timeout=60000
    )
    dt = time.perf_counter() - t0
    if errors:
        print("console errors:", errors)
    return dt, pg


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--port", type=int, default=8767)
    ap.add_argument("--shot", type=Path, default=None)
    a = ap.parse_args()
    from dashboard.province import load_province

    prov = load_province(a.out)
    n = len(prov.county_geojson()["features"])
    base = f"http://127.0.0.1:{a.port}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        srv = subprocess.Popen(
            [*ANJU, "serve", "--province", str(a.out), "--port", str(a.port)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            up = wait_up(base + "/_dash-layout")
            cold, pg = first_paint(browser, base, n)
            pg.context.close()
            warm, pg = first_paint(browser, base, n)
            print(f"server answered after {up:.2f} s; {n} counties")
            print(f"first paint /province: cold {cold:.2f} s, warm {warm:.2f} s")
            rows = pg.locator("#province-grid .ag-center-cols-container .ag-row")
            results = []
            for k in (1, 2):
                before = pg.locator(COUNTY_PATHS).count()
                t0 = time.perf_counter()
                rows.nth(k).click()
                pg.wait_for_function(
                    f"document.querySelectorAll('{COUNTY_PATHS}').length > {before}"
                    f" || (document.getElementById('province-open-county') && "
                    f"document.querySelectorAll('{COUNTY_PATHS}').length != {before})",
                    polling="raf",
                    timeout=30000,
                )
                pg.wait_for_selector("#province-open-county")
                drill = time.perf_counter() - t0
                if a.shot is not None and k == 1:
                    pg.wait_for_timeout(1200)  # the fly-to animation
                    pg.screenshot(path=str(a.shot))
                pg.wait_for_timeout(1500)  # the prefetch has time to run, as a reader would
                t0 = time.perf_counter()
                pg.click("#province-open-county")
                pg.wait_for_url(base + "/")
                pg.wait_for_function(
                    f"document.querySelectorAll('{VILLAGES}').length > 0",
                    polling="raf",
                    timeout=60000,
                )
                switch = time.perf_counter() - t0
                results.append((k, drill, switch))
                pg.goto(base + "/province")
                pg.wait_for_function(
                    f"document.querySelectorAll('{COUNTY_PATHS}').length >= {n}", polling="raf"
                )
            for k, drill, switch in results:
                print(
                    f"county #{k}: drill-down to its townships {drill:.2f} s; "
                    f"switch to its village map (click → villages drawn) {switch:.2f} s"
                )
            # back to an already-cached county: the LRU plan cache
            t0 = time.perf_counter()
            pg.goto(base + "/province/open/" + prov.adcodes[1])
            pg.wait_for_function(
                f"document.querySelectorAll('{VILLAGES}').length > 0", polling="raf", timeout=60000
            )
            print(f"switch back to a cached county: {time.perf_counter() - t0:.2f} s")
        finally:
            srv.terminate()
            srv.wait(timeout=20)
            browser.close()


if __name__ == "__main__":
    main()
