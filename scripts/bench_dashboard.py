"""Benchmark the dashboard in Debian's Chromium (Playwright).

Measures, on a plan directory (default: data/demo/plan):
- first meaningful paint of the coverage map: navigation start → villages drawn (ms);
- filter restyle: click on a status option → counts and map updated (ms, client side);
- initial payload of the coverage page: bytes transferred (and decoded);
- console errors on every page.

Usage: python scripts/bench_dashboard.py [--plan DIR] [--runs 3]
Targets (issue 7): paint ≤ 2000 ms, restyle ≤ 100 ms, payload ≤ 3 MB, no console errors.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from scripts.chromium import CHROMIUM  # noqa: E402
from scripts.chromium import CHROMIUM_ARGS as ARGS  # noqa: E402

PAGES = ["/", "/transport", "/water", "/health", "/relocation", "/briefing"]
VILLAGES = ",".join(
    f'path.leaflet-interactive[fill="{c}"]' for c in ("#0072B2", "#E69F00", "#9E9E9E")
)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(plan: Path) -> tuple[subprocess.Popen, str]:
    port = _port()
    code = (
        "import sys; from dashboard.app import create_app; "
        f"create_app(sys.argv[1], config={{'osm': False}}).run(host='127.0.0.1', port={port})"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(plan)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(url + "/", timeout=2)
            return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("the dashboard did not start")


def paint_ms(browser, url: str) -> tuple[float, int, int, int]:
    """(paint ms, transferred bytes, decoded bytes, tile bytes) for one cold load."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 850})
    pg = ctx.new_page()
    pg.goto(url + "/")
    pg.wait_for_function(f"document.querySelectorAll('{VILLAGES}').length > 0", polling="raf")
    t = pg.evaluate("performance.now()")
    pg.wait_for_load_state("networkidle")
    sizes = pg.evaluate(
        """() => {
          const e = performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'));
          let tr = 0, dec = 0, tiles = 0;
          for (const r of e) { tr += r.transferSize || 0; dec += r.decodedBodySize || 0;
                               if (r.name.includes('/tiles/')) tiles += r.transferSize || 0; }
          return [tr, dec, tiles];
        }"""
    )
    ctx.close()
    return t, *sizes


def restyle_ms(browser, url: str, runs: int) -> list[float]:
    """Milliseconds from a click on a status option to the updated counts and map."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 850})
    pg = ctx.new_page()
    pg.goto(url + "/")
    pg.wait_for_selector(VILLAGES)
    pg.wait_for_load_state("networkidle")
    out = []
    for i in range(runs):
        label = ["未达标", "达标", "未知", "全部状态"][i % 4]
        pg.click("#filter-status")
        opt = pg.locator("[role=option]", has_text=label).first
        opt.wait_for()
        pg.evaluate(
            """() => {
              window.__t0 = null; window.__t1 = null;
              const mark = () => { window.__t1 = performance.now(); };
              const obs = new MutationObserver(() => { requestAnimationFrame(mark); });
              obs.observe(document.querySelector('#filter-counts'), {childList: true, subtree: true, characterData: true});
              obs.observe(document.querySelector('.leaflet-overlay-pane'), {childList: true, subtree: true, attributes: true});
              window.__obs = obs;
              document.addEventListener('mousedown', () => { window.__t0 = performance.now(); }, {capture: true, once: true});
            }"""
        )
        before = pg.inner_text("#filter-counts")
        opt.click()
        pg.wait_for_function(
            "b => document.querySelector('#filter-counts').innerText !== b", arg=before
        )
        pg.wait_for_timeout(300)  # let the last mutation land
        t0, t1 = pg.evaluate("[window.__t0, window.__t1]")
        pg.evaluate("window.__obs.disconnect()")
        out.append(t1 - t0)
    ctx.close()
    return out


def console_errors(browser, url: str) -> dict[str, list[str]]:
    out = {}
    ctx = browser.new_context(viewport={"width": 1400, "height": 850})
    for path in PAGES:
        pg = ctx.new_page()
        errs: list[str] = []
        pg.on("console", lambda m, errs=errs: errs.append(m.text) if m.type == "error" else None)
        pg.on("pageerror", lambda e, errs=errs: errs.append(str(e)))
        pg.goto(url + path)
        pg.wait_for_load_state("networkidle")
        pg.wait_for_timeout(500)
        out[path] = errs
        pg.close()
    ctx.close()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plan", type=Path, default=ROOT / "data" / "demo" / "plan")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)
    if not (args.plan / "plan.gpkg").is_file():
        raise SystemExit(
            f"no plan at {args.plan}; build it: anju run data/demo --out data/demo/plan"
        )
    from playwright.sync_api import sync_playwright

    proc, url = serve(args.plan)
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            paint_ms(b, url)  # warm the server's caches (tiles, payloads) once
            loads = [paint_ms(b, url) for _ in range(args.runs)]
            restyles = restyle_ms(b, url, max(4, args.runs))
            errors = console_errors(b, url)
            b.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    paints = [x[0] for x in loads]
    res = {
        "plan": str(args.plan),
        "first_paint_ms_median": round(statistics.median(paints), 1),
        "first_paint_ms_runs": [round(x, 1) for x in paints],
        "restyle_ms_median": round(statistics.median(restyles), 1),
        "restyle_ms_runs": [round(x, 1) for x in restyles],
        "payload_transferred_mb": round(loads[-1][1] / 1e6, 3),
        "payload_decoded_mb": round(loads[-1][2] / 1e6, 3),
        "payload_tiles_mb": round(loads[-1][3] / 1e6, 3),
        "console_errors": {k: v for k, v in errors.items() if v},
    }
    ok = (
        res["first_paint_ms_median"] <= 2000
        and res["restyle_ms_median"] <= 100
        and res["payload_transferred_mb"] <= 3
        and not res["console_errors"]
    )
    res["targets_met"] = ok
    print(json.dumps(res, ensure_ascii=False, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
