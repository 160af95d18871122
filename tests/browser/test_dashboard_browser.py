"""The dashboard in Chromium: pages, village panel, filters, export, language, scenario."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pandas as pd
import pytest

from dashboard.plan import load_plan
from dashboard.viewmodels import (
    BLOCKER_OTHER_COLOR,
    BLOCKER_PALETTE,
    STATUS_COLORS,
    blocker_counts,
    blocker_legend_codes,
    code_labels,
    counts_text,
    filter_counts,
    relocation_candidates,
    status_codes,
    transport_villages,
)

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parents[2] / "docs"
VILLAGE_PATHS = ",".join(
    f'path.leaflet-interactive[fill="{c}"]'
    for c in {*STATUS_COLORS.values(), *BLOCKER_PALETTE, BLOCKER_OTHER_COLOR}
)


def open_page(page, url):
    page.goto(url)
    page.wait_for_load_state("networkidle")


@pytest.mark.parametrize(
    "path", ["/", "/transport", "/water", "/health", "/relocation", "/progress", "/briefing"]
)
def test_every_page_opens_without_console_errors(page, server, path):
    open_page(page, server + path)
    page.wait_for_selector(".navbar")
    assert page.locator("#page-alert").count() == 0
    if path != "/briefing":
        page.wait_for_selector(".leaflet-container")
    assert page.errors == []


def test_a_map_removed_while_it_zooms_throws_nothing(page, server):
    """Leaflet 1.9 ends a zoom on a timer that reads the map pane; a link clicked while the
    map zooms removes the map first (Leaflet issue #9575: a console error)."""
    open_page(page, server + "/")
    page.wait_for_selector(VILLAGE_PATHS)
    after_removal = page.evaluate(
        """() => {
            const d = document.createElement("div");
            d.style.width = "200px"; d.style.height = "200px";
            document.body.appendChild(d);
            const m = L.map(d).setView([30, 105], 8);
            m.remove(); d.remove();
            try { return m._getMapPanePos().toString(); } catch (e) { return String(e); }
        }"""
    )
    assert after_removal == "Point(0, 0)"
    for _ in range(3):  # the race itself: zoom, then leave at once
        page.click(".leaflet-control-zoom-in")
        page.click(".leaflet-control-zoom-in")
        page.click("#nav-water")
        page.wait_for_selector(".ag-root .ag-row")
        page.wait_for_timeout(400)
        page.go_back()
        page.wait_for_selector(VILLAGE_PATHS)
    assert page.errors == []


def test_coverage_map_loads_no_grid_library_until_a_page_needs_it(page, server):
    """The coverage map uses no data grid: it does not download dash-ag-grid's 1.3 MB bundle.
    A link to a page with tables loads it first; back and forward work; a page opened
    directly loads it with the rest."""
    scripts: list[str] = []
    page.on(
        "request",
        lambda r: scripts.append(r.url.split("?")[0]) if r.resource_type == "script" else None,
    )
    open_page(page, server + "/")
    page.wait_for_selector(VILLAGE_PATHS)
    assert not [s for s in scripts if "dash_ag_grid" in s]
    page.click("#nav-transport")
    page.wait_for_selector(".ag-root .ag-row")
    assert [s for s in scripts if "dash_ag_grid" in s]
    page.go_back()
    page.wait_for_selector(VILLAGE_PATHS)
    page.go_forward()
    page.wait_for_selector(".ag-root .ag-row")
    assert page.errors == []
    # a fresh load of a table page (no deferred bundle) and a link at once after the map
    other = page.context.new_page()
    other.on("pageerror", lambda e: page.errors.append(str(e)))
    other.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    other.goto(server + "/")
    other.click("#nav-water")
    other.wait_for_selector(".ag-root .ag-row")
    other.goto(server + "/health")
    other.wait_for_selector(".ag-root .ag-row")
    assert page.errors == []


def _click_a_village(page) -> None:
    """Click the left-most village (the legend sits bottom right and may cover others)."""
    paths = page.locator(VILLAGE_PATHS)
    boxes = [(paths.nth(i).bounding_box(), i) for i in range(paths.count())]
    _, i = min(((b["x"], i) for b, i in boxes if b), key=lambda t: t[0])
    paths.nth(i).click(force=True)


def test_coverage_click_village_shows_every_indicator(page, server, plan_dir):
    plan = load_plan(plan_dir[0])
    open_page(page, server + "/")
    page.wait_for_selector(VILLAGE_PATHS)
    _click_a_village(page)
    page.wait_for_selector("#panel-title")
    title = page.inner_text("#panel-title")
    assert title in set(plan.villages["name"])
    rows = page.locator("#village-panel table.ind-table tbody tr")
    assert rows.count() == len(plan.indicators)
    text = page.inner_text("#village-panel")
    assert "政策条款" in text and "依据数据" in text
    DOCS.mkdir(exist_ok=True)
    if plan_dir[1] == "demo" and os.environ.get("ANJU_SCREENSHOTS"):  # README images, on request
        page.wait_for_timeout(1500)  # let the hillshade tiles arrive
        page.screenshot(path=str(DOCS / "coverage.png"))
    assert page.errors == []


def test_filter_changes_counts_client_side(page, server, plan_dir):
    plan = load_plan(plan_dir[0])
    v = plan.villages
    codes = status_codes(v, plan.indicator_ids)
    township = sorted(v["township"].unique())[0]
    want = filter_counts(codes, v["township"], township=township, status="not_met")
    open_page(page, server + "/")
    page.wait_for_selector(VILLAGE_PATHS)
    requests: list[str] = []
    page.on(
        "request", lambda r: requests.append(r.url) if "_dash-update-component" in r.url else None
    )
    page.click("#filter-township")
    page.locator("[role=option]", has_text=township).first.click()
    page.click("#filter-status")
    page.locator("[role=option]", has_text=code_labels("exit", "zh")["n"]).first.click()
    page.wait_for_function(
        "n => document.querySelector('#filter-counts').innerText.includes('显示 ' + n + ' 个村')",
        arg=want["n"],
    )
    # the client-side counter writes what viewmodels.counts_text writes: every class
    assert page.inner_text("#filter-counts").strip() == counts_text(want, "zh", view="exit")
    assert requests == []  # restyled without a server round trip
    # highlighted villages are drawn large, the others small
    big = page.evaluate(
        """() => Array.from(document.querySelectorAll('path.leaflet-interactive'))
               .filter(p => p.getAttribute('fill-opacity') === '0.95').length"""
    )
    assert big == want["n"]


def _legend_counts(page) -> dict[str, int]:
    return page.evaluate(
        """() => Object.fromEntries(Array.from(document.querySelectorAll('.legend-count'))
               .map(e => [JSON.parse(e.id).code, Number(e.innerText)]))"""
    )


def test_blocker_view_counts_labels_zoom_and_a_legend_that_follows_the_map(page, server, plan_dir):
    plan = load_plan(plan_dir[0])
    v, iids = plan.villages, plan.indicator_ids
    open_page(page, server + "/")
    page.wait_for_selector(VILLAGE_PATHS)
    # the default view: villages coloured by their main blocker, the legend counts each
    assert "主要短板" in page.inner_text("#filter-indicator")
    want = blocker_counts(v, iids)["main"]
    page.wait_for_function("() => document.querySelectorAll('.legend-count').length > 0")
    got = _legend_counts(page)
    assert got == {c: want[c] for c in blocker_legend_codes(iids)}
    assert sum(got.values()) == len(v)
    # township names are on the map at the county's zoom
    tw_names = set(plan.layer("townships")["name"])
    shown = page.evaluate(
        """() => Array.from(document.querySelectorAll('.map-label.tw-label'))
               .filter(e => getComputedStyle(e).display !== 'none').map(e => e.innerText)"""
    )
    assert tw_names and set(shown) == tw_names
    # a township chosen: the counts follow it and the map flies to it
    before = page.evaluate(
        "() => document.querySelector('.leaflet-container').getBoundingClientRect().width"
    )
    assert before > 300
    township = sorted(v["township"].unique())[0]
    zoom0 = page.evaluate("() => document.querySelector('.leaflet-container').className")
    page.click("#filter-township")
    page.locator("[role=option]", has_text=township).first.click()
    tw_want = blocker_counts(v, iids, township=township)["main"]
    page.wait_for_function(
        "n => Array.from(document.querySelectorAll('.legend-count'))"
        ".reduce((a, e) => a + Number(e.innerText), 0) === n",
        arg=int((v["township"] == township).sum()),
    )
    assert _legend_counts(page) == {c: tw_want[c] for c in blocker_legend_codes(iids)}
    page.wait_for_function(
        "z0 => document.querySelector('.leaflet-container').className !== z0", arg=zoom0
    )
    # zoomed into a township, village names appear
    page.wait_for_timeout(1200)
    labels = page.evaluate(
        """() => Array.from(document.querySelectorAll('.map-label.village-label'))
               .filter(e => getComputedStyle(e).display !== 'none').length"""
    )
    zoom_cls = page.evaluate("() => document.querySelector('.leaflet-container').className")
    if "anju-z12" in zoom_cls:
        assert labels > 0
    # the legend follows the layer control: protected land is off, so is its row
    row = page.locator('.legend [data-layer="生态红线/基本农田"]')
    if row.count():
        assert not row.first.is_visible()
        page.hover(".leaflet-control-layers")
        page.locator(".leaflet-control-layers-overlays label", has_text="生态红线/基本农田").click()
        page.wait_for_function(
            """() => { const r = document.querySelector('.legend [data-layer="生态红线/基本农田"]');
                       return r && r.style.display !== 'none'; }"""
        )
    assert page.errors == []


def test_coverage_at_768_px_keeps_a_usable_map(page, server):
    page.set_viewport_size({"width": 768, "height": 1024})
    open_page(page, server + "/")
    page.wait_for_selector(VILLAGE_PATHS)
    box = page.locator(".leaflet-container").bounding_box()
    assert box["width"] >= 700 and box["height"] >= 360
    assert page.errors == []


def test_transport_export_csv_reads_back(page, server, plan_dir):
    plan = load_plan(plan_dir[0])
    expected = transport_villages(plan.villages)
    open_page(page, server + "/transport")
    page.wait_for_selector("#transport-grid .ag-row")
    with page.expect_download() as dl:
        page.click("#transport-export-csv")
    data = Path(dl.value.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    # headers in the user's language (zh by default): dashboard/export.py
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype={"村编号": str})
    assert len(back) == len(expected)
    assert set(back["村编号"]) == set(expected["village_id"])
    with page.expect_download() as dl2:
        page.click("#transport-export-geojson")
    import geopandas as gpd

    gj = gpd.read_file(dl2.value.path())
    assert len(gj) == len(expected)


def test_select_row_flies_the_map_there(page, server):
    open_page(page, server + "/water")
    page.wait_for_selector("#water-grid .ag-row")
    before = page.inner_text("#water-map .leaflet-control-scale")
    page.locator("#water-grid .ag-row .ag-cell").first.click()
    assert "km" in before
    # flyTo zoom 14: the scale bar ends in metres, not kilometres
    page.wait_for_function(
        "() => !document.querySelector('#water-map .leaflet-control-scale').innerText.includes('km')",
        timeout=15_000,
    )


def test_relocation_tables_and_map_select_each_other(page, server):
    from dashboard.components import CAND_STYLE

    open_page(page, server + "/relocation")
    page.wait_for_selector("#reloc-grid .ag-row")
    assert page.locator("#reloc-grid .ag-row-selected").count() == 0
    # a candidate village clicked on the map: its row is selected (and its tab shown)
    dot = page.locator(f'#reloc-map path.leaflet-interactive[fill="{CAND_STYLE["color"]}"]').first
    dot.dispatch_event("click")
    page.locator("#reloc-grid .ag-row-selected").first.wait_for(timeout=10_000)
    assert page.locator("#reloc-grid .ag-row-selected").count() == 1
    # a row clicked: the map flies to that village (zoom 14: the scale bar in metres)
    assert "km" in page.inner_text("#reloc-map .leaflet-control-scale")
    page.locator("#reloc-grid .ag-row:not(.ag-row-selected) .ag-cell").first.click()
    page.wait_for_function(
        "() => !document.querySelector('#reloc-map .leaflet-control-scale').innerText.includes('km')",
        timeout=15_000,
    )
    assert page.errors == []


def _progress_counts(page) -> dict[str, str]:
    return page.evaluate(
        """() => Object.fromEntries(Array.from(document.querySelectorAll('.legend-count'))
               .map(e => [JSON.parse(e.id).state, e.innerText]))"""
    )


def test_progress_year_slider_strikes_villages_off(page, server, plan_dir):
    from dashboard.progress import has_timetable, timetable_years, year_counts

    plan = load_plan(plan_dir[0])
    v = plan.villages
    open_page(page, server + "/progress")
    page.wait_for_selector("#progress-map .leaflet-container, .leaflet-container")
    if not has_timetable(v):  # the sample plan: the timetable is not assessed, never 0
        assert "时间表未评估" in page.inner_text("body") or "计划退出年份" in page.inner_text(
            "body"
        )
        assert set(_progress_counts(page).values()) == {"—"}
        return
    years = timetable_years(v)
    cy = int(plan.manifest["summary"]["timetable_current_year"])
    want = year_counts(v, cy)
    page.wait_for_function("() => document.querySelectorAll('.legend-count').length > 0")
    assert _progress_counts(page) == {k: str(n) for k, n in want.items()}
    assert str(cy) in page.inner_text("#progress-head")
    # the first year: fewer (or as many) villages struck off, the counts follow
    page.locator('#progress-year [role="slider"]').first.focus()
    page.keyboard.press("Home")
    first = year_counts(v, years[0])
    page.wait_for_function(
        "n => Array.from(document.querySelectorAll('.legend-count'))"
        ".some(e => JSON.parse(e.id).state === 'exited' && e.innerText === String(n))",
        arg=first["exited"],
    )
    assert _progress_counts(page) == {k: str(n) for k, n in first.items()}
    assert first["exited"] <= want["exited"]
    page.wait_for_function(
        "y => document.querySelector('#progress-head').innerText.includes(String(y))",
        arg=years[0],
    )
    assert page.errors == []


def test_switch_language(page, server):
    open_page(page, server + "/")
    assert page.inner_text("#nav-coverage") == "覆盖图"
    page.click("#lang-toggle")
    page.wait_for_function(
        "(document.querySelector('#nav-coverage') || {}).innerText === 'Coverage'"
    )
    page.wait_for_selector("#filter-counts")
    assert "villages shown" in page.inner_text("#filter-counts")
    page.click("#lang-toggle")
    page.wait_for_function("(document.querySelector('#nav-coverage') || {}).innerText === '覆盖图'")


def test_briefing_pdf_download_and_screenshot(page, server, plan_dir):
    page.set_viewport_size({"width": 1400, "height": 1350})
    open_page(page, server + "/briefing")
    page.wait_for_selector("#brief-headlines .card")
    page.wait_for_function(
        "() => { const i = document.querySelector('img.brief-map'); return i && i.complete && i.naturalWidth > 0; }"
    )
    if plan_dir[1] == "demo" and os.environ.get("ANJU_SCREENSHOTS"):  # README images, on request
        page.screenshot(path=str(DOCS / "briefing.png"))
    with page.expect_download(timeout=60_000) as dl:
        page.click("#brief-pdf")
    assert Path(dl.value.path()).read_bytes().startswith(b"%PDF")
    assert page.errors == []


@pytest.mark.slow
def test_run_scenario_compares_with_baseline(page, server, plan_dir):
    """Threshold 100: the fast heuristic answers at once and says so; the page says the exact
    solve runs in the background, then shows its proven result (or the gap where the solver
    stopped early) in its place; the panel says how many still move and by which decisive
    rules, shows every figure beside the baseline, switches the map and tables, and goes
    back; a second run cancelled while its exact solve runs keeps the heuristic answer and
    says so."""
    if plan_dir[1] != "demo":
        pytest.skip("the scenario runner needs a plan written by the pipeline")
    plan = load_plan(plan_dir[0])
    n_base = len(relocation_candidates(plan.layer("relocation_candidates")))
    heuristic = "显示的是快速启发式结果"
    running = "精确求解（HiGHS）正在后台进行"
    open_page(page, server + "/relocation")
    page.wait_for_selector("#reloc-run")
    assert "基准方案：搬迁" in page.inner_text("#reloc-summary")
    assert page.inner_text("#reloc-map-badge") == "地图显示：基准方案"
    assert "情景先用快速启发式给出结果" in page.inner_text(".reloc-controls")
    assert page.locator("#reloc-answer").count() == 0  # the baseline has no such line
    assert page.is_enabled("#reloc-cancel") is False
    # only the opened sites are drawn: unopened generated sites are dashed circles
    idle = 'path.leaflet-interactive[stroke-dasharray="3 2"]'
    assert page.locator(idle).count() == 0
    thumb = page.locator('[id*="min_score"][id*="reloc-param"] [role="slider"]').first
    thumb.focus()
    page.keyboard.press("End")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.param-value')]"
        ".some(e => e.id.includes('min_score') && e.innerText.trim() === '100 分')"
    )
    page.click("#reloc-run")
    # the fast heuristic answers first, labelled as such, while the exact solve runs on
    page.wait_for_selector("#reloc-status.done, #reloc-status.failed", timeout=60_000)
    assert "新情景已算完" in page.inner_text("#reloc-status")
    page.wait_for_selector("#reloc-answer.answer-heuristic", timeout=10_000)
    answer = page.inner_text("#reloc-answer")
    assert heuristic in answer and "与下界相差不超过" in answer and "%" in answer
    assert running in answer  # the exact solve is said to run in the background
    assert page.inner_text("#reloc-map-badge") == "地图显示：新情景"
    cells = page.locator('#reloc-compare tr[data-metric="min_score"] td')
    assert [cells.nth(i).inner_text() for i in range(3)] == ["搬迁评分门槛", "30 分", "100 分"]
    # while it runs, the panel says so with its seconds and the run can be cancelled
    page.wait_for_function(
        "(r) => document.querySelector('#reloc-exact-line').innerText.includes(r)"
        " || document.querySelector('#reloc-answer.answer-exact')",
        arg=running,
        timeout=10_000,
    )
    if page.locator("#reloc-answer.answer-exact").count() == 0:
        assert "秒）" in page.inner_text("#reloc-exact-line")
    # the exact result replaces the heuristic one and says how good it is
    page.wait_for_selector("#reloc-answer.answer-exact", timeout=180_000)
    answer = page.inner_text("#reloc-answer")
    assert heuristic not in answer and running not in answer
    assert "显示的是精确结果：HiGHS 已证明其最优（间隙 0）。" in answer or (
        "求解器提前停止" in answer and "间隙" in answer and "%" in answer
    ), answer
    page.wait_for_function("() => document.querySelector('#reloc-exact-line').innerText === ''")
    assert page.is_enabled("#reloc-cancel") is False
    assert page.is_enabled("#reloc-run")
    cells = page.locator('#reloc-compare tr[data-metric="min_score"] td')
    assert [cells.nth(i).inner_text() for i in range(3)] == ["搬迁评分门槛", "30 分", "100 分"]
    row = page.locator('#reloc-compare tr[data-metric="people_total"] td')
    assert row.nth(2).inner_text() not in ("", "—")
    summary = page.inner_text("#reloc-summary")
    assert summary.startswith("新情景（括号内为较基准方案的变化）：搬迁")
    assert "改动的参数：搬迁评分门槛 30 分 → 100 分" in summary
    # at 100 every village that still moves does so by a decisive rule, and the panel says so
    assert "新情景：" in summary and "不论门槛都须搬迁" in summary and "地质灾害" in summary
    assert "✓" not in page.inner_text("#reloc-result")
    assert page.inner_text("#reloc-map-badge") == "地图显示：新情景"
    assert "新情景" in page.inner_text("#reloc-cand-title")
    assert page.is_visible("#reloc-progress-box") is False
    unplaced = page.inner_text("#reloc-unplaced")
    assert "未能安置的村（新情景）" in unplaced
    assert page.locator(idle).count() == 0
    if os.environ.get("ANJU_SCREENSHOTS"):  # README images, on request
        page.wait_for_timeout(1500)  # let the hillshade tiles arrive
        page.screenshot(path=str(DOCS / "relocation.png"))
    # back to the baseline
    page.locator("#reloc-view input[value=baseline]").check()
    page.wait_for_function(
        "() => document.querySelector('#reloc-map-badge').innerText === '地图显示：基准方案'"
    )
    assert f"（{n_base}）" in page.inner_text("#reloc-cand-title")
    assert page.locator("#reloc-compare th.col-shown").inner_text() == "基准方案"
    # a second run, cancelled while its exact solve runs: the heuristic answer stays and
    # the panel says the exact solve was cancelled
    page.click("#reloc-run")
    page.wait_for_selector("#reloc-answer.answer-heuristic", timeout=60_000)
    page.wait_for_function("() => !document.querySelector('#reloc-cancel').disabled")
    assert running in page.inner_text("#reloc-answer")
    assert page.inner_text("#reloc-map-badge") == "地图显示：新情景"
    page.click("#reloc-cancel")
    page.wait_for_function(
        "() => document.querySelector('#reloc-answer').innerText.includes('精确求解已取消')",
        timeout=10_000,
    )
    answer = page.inner_text("#reloc-answer")
    assert "精确求解已取消。仍显示启发式结果。" in answer and heuristic in answer
    assert running not in answer
    assert page.locator("#reloc-answer.answer-heuristic").count() == 1
    assert page.inner_text("#reloc-exact-line") == ""
    assert page.is_enabled("#reloc-cancel") is False
    assert page.is_enabled("#reloc-run")
    assert page.is_visible("#reloc-progress-box") is False
    assert page.inner_text("#reloc-map-badge") == "地图显示：新情景"
    assert "改动的参数：搬迁评分门槛 30 分 → 100 分" in page.inner_text("#reloc-summary")
    # nothing replaces the kept heuristic answer afterwards
    page.wait_for_timeout(2500)
    assert "精确求解已取消" in page.inner_text("#reloc-answer")
    assert page.errors == []


def test_relocation_sliders_show_their_values(page, server):
    from dashboard.scenario import PARAMS, format_param

    open_page(page, server + "/relocation")
    page.wait_for_selector(".param-value")
    labels = page.locator(".param-value")
    assert labels.count() == len(PARAMS)
    texts = [labels.nth(i).inner_text().strip() for i in range(labels.count())]
    assert all(labels.nth(i).is_visible() for i in range(labels.count()))
    assert all(tx and tx != "—" for tx in texts)
    # the hazard buffer reads in metres; the steep share as a percentage
    hb = page.locator('[id*="hazard_buffer_m"][id*="reloc-param-value"]')
    assert hb.inner_text().strip().endswith("米")
    assert page.locator('[id*="steep_frac"][id*="reloc-param-value"]').inner_text().endswith("%")
    # AHP weights show "n / 9"
    ahp = [tx for tx, p in zip(texts, PARAMS, strict=True) if p.group == "ahp"]
    assert ahp and all(tx.endswith("/ 9") for tx in ahp)
    # moving a slider updates its label (client side)
    before = hb.inner_text().strip()
    thumb = page.locator('[id*="hazard_buffer_m"][id*="reloc-param"] [role="slider"]').first
    thumb.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        """(b) => { const e = [...document.querySelectorAll('.param-value')]
                      .find(x => x.id.includes('hazard_buffer_m'));
                    return e && e.innerText.trim() !== b; }""",
        arg=before,
        timeout=5000,
    )
    after = hb.inner_text().strip()
    assert float(after.split()[0]) == float(before.split()[0]) + 50
    assert format_param("hazard_buffer_m", float(after.split()[0]), "zh") == after
    assert page.errors == []


def test_relocation_legend_and_sites_table(page, server, plan_dir):
    open_page(page, server + "/relocation")
    page.wait_for_selector("#map-legend, .legend")
    legend_text = page.inner_text(".legend .legend-items")
    for word in ("搬迁对象村", "安置点", "未启用", "规划提供", "系统生成", "搬迁去向"):
        assert word in legend_text
    assert "达标" not in legend_text  # coverage items do not belong here
    ramps = page.eval_on_selector_all(
        ".legend [data-raster]", "els => els.map(e => e.dataset.raster)"
    )
    assert set(ramps) <= {"suitability", "slope_deg"}
    if plan_dir[1] == "demo":
        page.click("#reloc-sites-title")
        page.wait_for_selector("#reloc-sites-grid .ag-cell[col-id='source']")
        sources = set(
            page.eval_on_selector_all(
                "#reloc-sites-grid .ag-cell[col-id='source']", "els => els.map(e => e.innerText)"
            )
        )
        assert sources and sources <= {"规划提供", "系统生成"}
    assert page.errors == []


def test_clicked_village_is_highlighted_on_the_map(page, server):
    open_page(page, server + "/")
    page.wait_for_selector(VILLAGE_PATHS)
    ring = 'path.leaflet-interactive[stroke="#000000"][stroke-width="4"]'
    assert page.locator(ring).count() == 0
    # the village nearest the map centre (clear of the legend and controls)
    idx = page.evaluate(
        """(sel) => { const m = document.querySelector('.leaflet-container').getBoundingClientRect();
            const cx = m.left + m.width / 2, cy = m.top + m.height / 2;
            let best = 0, bd = Infinity;
            document.querySelectorAll(sel).forEach((p, i) => { const r = p.getBoundingClientRect();
              const d = Math.hypot(r.left + r.width / 2 - cx, r.top + r.height / 2 - cy);
              if (d < bd) { bd = d; best = i; } });
            return best; }""",
        VILLAGE_PATHS,
    )
    box = page.locator(VILLAGE_PATHS).nth(idx).bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.click(cx, cy)
    page.wait_for_selector("#panel-title")
    page.wait_for_selector(ring)
    assert page.locator(ring).count() == 1
    hb = page.locator(ring).bounding_box()
    assert abs(hb["x"] + hb["width"] / 2 - cx) < 2 and abs(hb["y"] + hb["height"] / 2 - cy) < 2
    assert page.errors == []


def test_basemap_tiles_overlap_to_avoid_seams(page, server):
    open_page(page, server + "/health")
    page.wait_for_selector("img.leaflet-tile")
    w = page.eval_on_selector("img.leaflet-tile", "e => getComputedStyle(e).width")
    assert float(w.removesuffix("px")) > 256


def test_grid_numbers_have_thousands_separators(page, server, plan_dir):
    plan = load_plan(plan_dir[0])
    big = transport_villages(plan.villages)
    big = big[big["population"] >= 1000]
    if big.empty:
        pytest.skip("no village of 1,000+ people lacks a hardened road in this plan")
    open_page(page, server + "/transport")
    page.wait_for_selector(".ag-cell[col-id='population']")
    cells = page.eval_on_selector_all(
        ".ag-cell[col-id='population']", "els => els.map(e => e.innerText)"
    )
    assert any("," in c for c in cells), cells[:5]
    assert page.errors == []


def test_panel_shows_inferred_road_as_inferred(page, sample_server):
    """A village whose hardened road rests on a surface inferred from the road class: its own
    colour on the map, "达标（推定）" and evidence "推定" in the panel, the note with the km."""
    url, plan_dir = sample_server
    plan = load_plan(plan_dir)
    unconfirmed = plan.villages[plan.villages["blocker_class"] == "unconfirmed"]
    open_page(page, url + "/")
    purple = f'path.leaflet-interactive[fill="{STATUS_COLORS["i"]}"]'
    page.wait_for_selector(purple)
    assert page.locator(purple).count() == len(unconfirmed)
    # on the element itself: at this zoom a neighbour's circle may overlap it
    page.locator(purple).first.dispatch_event("click")
    page.wait_for_selector("#panel-title")
    assert page.inner_text("#panel-title") in set(unconfirmed["name"])
    road = page.locator('#village-panel tr[data-indicator="road"]')
    assert "达标（推定）" in road.inner_text() and "证据: 推定" in road.inner_text()
    assert "按道路等级推定" in road.inner_text()
    assert "待确认" in page.inner_text("#village-panel .exit-line")
    bus = page.locator('#village-panel tr[data-indicator="bus"]')
    assert "待核实" in bus.inner_text()  # the unverified indicator is marked
    assert page.errors == []
