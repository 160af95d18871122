"""Benchmark the dashboard in Debian's Chromium (Playwright).

Measures, on a plan directory (default: data/demo/plan):
- first meaningful paint of the coverage map: navigation start → villages drawn (ms);
- filter restyle: click on a status option → counts and map updated (ms, client side);
- initial payload of the coverage page: bytes transferred (and decoded);
- console errors on every page;
- scripts each page downloads (``scripts_by_page``: which pages load plotly);
- uncached tile times over HTTP (``tiles``: hillshade, slope, travel minutes; median and
  90th percentile of distinct tiles at zooms 9-13, target ≤ 50 ms).

Usage: python scripts/bench_dashboard.py [--plan DIR] [--runs 3] [--out FILE]
       python scripts/bench_dashboard.py --cold [--plan DIR] [--runs 3] [--out FILE]
Targets (issue 7): paint ≤ 2000 ms, restyle ≤ 100 ms, payload ≤ 3 MB, no console errors.

``--cold`` times a fresh ``anju serve PLAN`` process (the user's wait on a cold start)
instead, ``--runs`` times, each a new process:
- ``cold_html_s``: process start → first page HTML (``GET /`` answered 200);
- ``cold_ready_s``: ... → the HTML, ``/_dash-layout`` and ``/_dash-dependencies`` answered;
- ``cold_paint_s``: process start → the coverage map's villages drawn in Chromium (the
  browser is launched before the server; includes the page's first callbacks and tiles);
- ``warm_html_ms`` / ``warm_layout_ms``: the same requests again on the warm server.
Output is one JSON object on stdout (and in ``--out FILE`` when given); the exit status
is 0 when the targets are met (cold: median ``cold_paint_s`` ≤ 3 s), 1 otherwise.
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


def _anju() -> list[str]:
    exe = Path(sys.executable).with_name("anju")
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "scripts.cli"]


def _wait_port(port: int, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    end = time.perf_counter() + timeout
    while time.perf_counter() < end:
        if proc.poll() is not None:
            raise SystemExit(f"anju serve exited with status {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    proc.kill()
    raise SystemExit("anju serve did not listen in time")


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as r:
        return r.read()


def cold_start(plan: Path, *, browser=None) -> dict[str, float]:
    """Seconds from starting ``anju serve PLAN`` to the first page (one fresh process).

    Without ``browser``: HTML, then ``/_dash-layout`` and ``/_dash-dependencies``
    (keys ``cold_html_s``, ``cold_ready_s``, ``warm_html_ms``, ``warm_layout_ms``).
    With a Playwright ``browser``: navigation until the villages are drawn
    (``cold_paint_s``).
    """
    port = _port()
    url = f"http://127.0.0.1:{port}"
    ctx = pg = None
    if browser is not None:
        ctx = browser.new_context(viewport={"width": 1400, "height": 850}, bypass_csp=True)
        pg = ctx.new_page()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [*_anju(), "serve", str(plan), "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    out: dict[str, float] = {}
    try:
        _wait_port(port, proc)
        if pg is not None:
            pg.goto(url + "/")
            pg.wait_for_function(
                f"document.querySelectorAll('{VILLAGES}').length > 0", polling="raf"
            )
            out["cold_paint_s"] = time.perf_counter() - t0
            ctx.close()
        else:
            _get(url + "/")
            out["cold_html_s"] = time.perf_counter() - t0
            _get(url + "/_dash-layout")
            _get(url + "/_dash-dependencies")
            out["cold_ready_s"] = time.perf_counter() - t0
            t1 = time.perf_counter()
            _get(url + "/")
            out["warm_html_ms"] = (time.perf_counter() - t1) * 1000
            t1 = time.perf_counter()
            _get(url + "/_dash-layout")
            out["warm_layout_ms"] = (time.perf_counter() - t1) * 1000
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return out


def cold_main(plan: Path, runs: int) -> dict:
    """``--cold``: medians over ``runs`` fresh processes of each :func:`cold_start` figure."""
    from playwright.sync_api import sync_playwright

    plain = [cold_start(plan) for _ in range(runs)]
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        painted = [cold_start(plan, browser=b) for _ in range(runs)]
        b.close()
    res: dict = {"plan": str(plan), "mode": "cold"}
    for key in ("cold_html_s", "cold_ready_s", "warm_html_ms", "warm_layout_ms"):
        vals = [r[key] for r in plain]
        res[key] = round(statistics.median(vals), 3)
        res[key + "_runs"] = [round(v, 3) for v in vals]
    vals = [r["cold_paint_s"] for r in painted]
    res["cold_paint_s"] = round(statistics.median(vals), 3)
    res["cold_paint_s_runs"] = [round(v, 3) for v in vals]
    res["targets_met"] = res["cold_paint_s"] <= 3.0
    return res


def scripts_by_page(browser, url: str) -> dict[str, list[str]]:
    """The JavaScript files each page downloads on a fresh load (file names only)."""
    out = {}
    for path in PAGES:
        ctx = browser.new_context(viewport={"width": 1400, "height": 850}, bypass_csp=True)
        pg = ctx.new_page()
        names: list[str] = []
        pg.on(
            "request",
            lambda r, names=names: (
                names.append(r.url.split("?")[0].rsplit("/", 1)[-1])
                if r.resource_type == "script"
                else None
            ),
        )
        pg.goto(url + path)
        pg.wait_for_load_state("networkidle")
        out[path] = sorted(set(names))
        ctx.close()
    return out


def paint_ms(browser, url: str) -> tuple[float, int, int, int]:
    """(paint ms, transferred bytes, decoded bytes, tile bytes) for one cold load."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 850}, bypass_csp=True)
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
    ctx = browser.new_context(viewport={"width": 1400, "height": 850}, bypass_csp=True)
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
    ctx = browser.new_context(viewport={"width": 1400, "height": 850}, bypass_csp=True)
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


def tile_ms(url: str, plan: Path, layers: tuple[str, ...], per_zoom: int = 6) -> dict:
    """Milliseconds per uncached tile over HTTP: ``per_zoom`` distinct tiles at zooms 9-13
    inside the county for each layer (each asked once, so the server renders every one)."""
    import urllib.request

    import morecantile
    import rasterio
    from rasterio.warp import transform_bounds

    with rasterio.open(plan / "rasters" / "dem.tif") as s:
        w, so, e, n = transform_bounds(s.crs, "EPSG:4326", *s.bounds)
    tms = morecantile.tms.get("WebMercatorQuad")
    out = {}
    for layer in layers:
        ms = []
        for z in (9, 10, 11, 12, 13):
            for t in list(tms.tiles(w, so, e, n, [z]))[:per_zoom]:
                t0 = time.perf_counter()
                with urllib.request.urlopen(f"{url}/tiles/{layer}/{t.z}/{t.x}/{t.y}.png") as r:
                    r.read()
                ms.append((time.perf_counter() - t0) * 1000)
        out[layer] = {
            "median_ms": round(statistics.median(ms), 1),
            "p90_ms": round(sorted(ms)[int(0.9 * (len(ms) - 1))], 1),
            "runs": len(ms),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plan", type=Path, default=ROOT / "data" / "demo" / "plan")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cold", action="store_true", help="time fresh `anju serve` processes")
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = ap.parse_args(argv)
    if not (args.plan / "plan.gpkg").is_file():
        raise SystemExit(
            f"no plan at {args.plan}; build it: anju run data/demo --out data/demo/plan"
        )
    if args.cold:
        res = cold_main(args.plan, args.runs)
        return _emit(res, args.out)
    from playwright.sync_api import sync_playwright

    proc, url = serve(args.plan)
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            paint_ms(b, url)  # warm the server's caches (tiles, payloads) once
            loads = [paint_ms(b, url) for _ in range(args.runs)]
            restyles = restyle_ms(b, url, max(4, args.runs))
            errors = console_errors(b, url)
            scripts = scripts_by_page(b, url)
            b.close()
        # after the pages above: the server has prepared the overlays' COGs by now
        tiles = tile_ms(url, args.plan, ("hillshade", "slope_deg", "travel_min_school"))
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
        "scripts_by_page": scripts,
        "tiles": tiles,
    }
    ok = (
        res["first_paint_ms_median"] <= 2000
        and res["restyle_ms_median"] <= 100
        and res["payload_transferred_mb"] <= 3
        and not res["console_errors"]
        and all(v["median_ms"] <= 50 for v in tiles.values())
    )
    res["targets_met"] = ok
    return _emit(res, args.out)


def _emit(res: dict, out: Path | None) -> int:
    text = json.dumps(res, ensure_ascii=False, indent=1)
    print(text)
    if out is not None:
        out.write_text(text + "\n", encoding="utf-8")
    return 0 if res["targets_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
