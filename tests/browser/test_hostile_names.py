"""Everything a user supplies is text, never markup: a plan whose village, township and site
names are HTML, script and mathtext is served; every page is visited, markers hovered and
clicked, rows clicked; no script of the data runs, the names show as they are, and the
Content-Security-Policy blocks nothing the dashboard itself needs.  The briefing prints
such names literally."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

import tests.sample_plan as sample

TOWN_MATH = r"$\frac{1}{$镇"
TOWN_IMG = '<img src=x onerror="window.__xss=1">乡'
VILLAGE_IMG = '<img src=x onerror="window.__xss=2">'
SITE_SCRIPT = "<script>window.__xss=3</script>安置点"
SITE_SVG = '<svg onload="window.__xss=4">点'

PAGES = ["/", "/transport", "/water", "/health", "/relocation", "/progress", "/briefing"]


def write_hostile_plan(out: Path, *, n_villages: int = 30) -> Path:
    """:func:`tests.sample_plan.write_sample_plan` with hostile names in every layer."""
    real = sample.write_plan
    towns = dict(zip(sample.TOWNSHIPS, [TOWN_MATH, TOWN_IMG, "青山乡", "石门镇"], strict=True))
    sites = {"龙溪安置点": SITE_SCRIPT, "石门安置点": SITE_SVG}

    def hostile(out_dir, po):
        mapping = {**towns, **sites}
        v = po.layers["villages"]
        for name in v["name"].dropna().astype(str):
            mapping[name] = VILLAGE_IMG + name
        for key, gdf in po.layers.items():
            gdf = gdf.copy()
            for col in gdf.columns:
                if col != "geometry" and (
                    gdf[col].dtype == object or pd.api.types.is_string_dtype(gdf[col])
                ):
                    gdf[col] = gdf[col].map(
                        lambda x: mapping.get(x, x) if isinstance(x, str) else x
                    )
            po.layers[key] = gdf
        return real(out_dir, po)

    sample.write_plan = hostile
    try:
        return sample.write_sample_plan(out, n_villages=n_villages)
    finally:
        sample.write_plan = real


# --------------------------------------------------------------------------- briefing


def test_briefing_prints_hostile_names_literally(tmp_path):
    from dashboard import briefing
    from dashboard.plan import load_plan

    if briefing.cjk_font() is None:
        pytest.skip(f"no CJK font (install {briefing.CJK_PACKAGE})")
    plan = load_plan(write_hostile_plan(tmp_path / "plan", n_villages=15))
    assert TOWN_MATH in set(plan.villages["township"])
    pdf = briefing.render_briefing_pdf(plan, "zh", today=date(2026, 1, 2))
    assert pdf.startswith(b"%PDF")
    assert briefing.render_map_png(plan, "zh", dpi=60).startswith(b"\x89PNG")


def test_mathtext_is_off_in_the_briefing():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from dashboard import briefing

    with plt.rc_context(briefing._rc("DejaVu Sans")):
        fig = plt.figure()
        fig.text(0.1, 0.5, TOWN_MATH)
        fig.canvas.draw()  # with mathtext on, "$\frac{1}{$" raises ValueError
        plt.close(fig)


# --------------------------------------------------------------------------- browser


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory):
    from tests.browser.conftest import serve

    plan = write_hostile_plan(tmp_path_factory.mktemp("hostile") / "plan")
    with serve(plan, tmp_path_factory.mktemp("hostile-server") / "server.log") as url:
        yield url


def _poke(page) -> None:
    """Hover and click markers and shapes on the map, and click the first rows of grids."""
    shapes = page.locator(".leaflet-interactive")
    n = shapes.count()
    for i in range(0, n, max(1, n // 12)):
        el = shapes.nth(i)
        try:
            el.hover(force=True, timeout=1500)
            el.dispatch_event("click")
        except Exception:  # noqa: BLE001 - a shape covered or scrolled away: try the next
            continue
    rows = page.locator(".ag-row .ag-cell")
    for i in range(min(rows.count(), 3)):
        try:
            rows.nth(i).click(timeout=1500)
        except Exception:  # noqa: BLE001 - a row outside the grid's viewport
            continue
    page.wait_for_timeout(300)


@pytest.mark.browser
@pytest.mark.slow
def test_hostile_names_are_text_on_every_page(browser, hostile_server):
    ctx = browser.new_context(viewport={"width": 1400, "height": 850})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    seen: dict[str, str] = {}
    try:
        for path in PAGES:
            page.goto(hostile_server + path)
            page.wait_for_load_state("networkidle")
            page.wait_for_selector(".navbar")
            if path != "/briefing":
                page.wait_for_selector(".leaflet-container")
            _poke(page)
            assert page.evaluate("window.__xss") is None, path
            # no element the data could have made
            assert page.locator("img[src='x'], svg[onload], img[onerror]").count() == 0, path
            text = page.evaluate(
                "Array.from(document.querySelectorAll('body, .leaflet-tooltip'))"
                ".map(e => e.innerText).join('\\n')"
            )
            seen[path] = text
        joined = "\n".join(seen.values())
        # the names show as they are, markup and all
        assert VILLAGE_IMG in joined
        assert TOWN_IMG in joined or TOWN_MATH in joined
        # a candidate village's tooltip on the relocation map shows its name as text
        page.goto(hostile_server + "/relocation")
        page.wait_for_load_state("networkidle")
        page.wait_for_selector(".leaflet-interactive")
        tip_texts = []
        shapes = page.locator(".leaflet-interactive")
        for i in range(shapes.count()):
            shapes.nth(i).dispatch_event("mouseover")
            tips = page.locator(".leaflet-tooltip")
            if tips.count():
                tip_texts.append(tips.last.inner_text())
            shapes.nth(i).dispatch_event("mouseout")
            if len(tip_texts) >= 8:
                break
        assert any(VILLAGE_IMG in t or TOWN_IMG in t for t in tip_texts), tip_texts
        assert page.evaluate("window.__xss") is None
    finally:
        ctx.close()
    csp = [e for e in errors if "Content Security Policy" in e or "Refused to" in e]
    assert csp == [], csp
    assert errors == [], errors


@pytest.mark.browser
def test_security_headers_reach_the_browser(browser, hostile_server):
    ctx = browser.new_context()
    page = ctx.new_page()
    try:
        resp = page.goto(hostile_server + "/")
        h = resp.headers
        assert h["x-frame-options"] == "DENY" and h["x-content-type-options"] == "nosniff"
        assert "script-src 'self'" in h["content-security-policy"]
    finally:
        ctx.close()


def test_hostile_plan_has_the_names(tmp_path):
    from layers.plan import open_plan

    plan = open_plan(write_hostile_plan(tmp_path / "plan", n_villages=12))
    v = plan.read_layer("villages")
    assert v["name"].str.startswith(VILLAGE_IMG).all()
    assert {TOWN_MATH, TOWN_IMG} & set(v["township"])
    s = plan.read_layer("sites")
    assert SITE_SCRIPT in set(s["name"]) or SITE_SVG in set(s["name"])
    assert isinstance(v, pd.DataFrame)
