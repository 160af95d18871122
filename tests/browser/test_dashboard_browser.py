"""The dashboard in Chromium: pages, village panel, filters, export, language, scenario."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from dashboard.plan import load_plan
from dashboard.viewmodels import filter_counts, status_codes, transport_villages

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parents[2] / "docs"
VILLAGE_PATHS = ",".join(
    f'path.leaflet-interactive[fill="{c}"]' for c in ("#0072B2", "#E69F00", "#9E9E9E")
)


def open_page(page, url):
    page.goto(url)
    page.wait_for_load_state("networkidle")


@pytest.mark.parametrize(
    "path", ["/", "/transport", "/water", "/health", "/relocation", "/briefing"]
)
def test_every_page_opens_without_console_errors(page, server, path):
    open_page(page, server + path)
    page.wait_for_selector(".navbar")
    assert page.locator("#page-alert").count() == 0
    if path != "/briefing":
        page.wait_for_selector(".leaflet-container")
    assert page.errors == []


def test_coverage_click_village_shows_every_indicator(page, server, plan_dir):
    plan = load_plan(plan_dir[0])
    open_page(page, server + "/")
    page.wait_for_selector(VILLAGE_PATHS)
    page.locator(VILLAGE_PATHS).first.click(force=True)
    page.wait_for_selector("#panel-title")
    title = page.inner_text("#panel-title")
    assert title in set(plan.villages["name"])
    rows = page.locator("#village-panel table.ind-table tbody tr")
    assert rows.count() == len(plan.indicators)
    text = page.inner_text("#village-panel")
    assert "政策条款" in text and "依据数据" in text
    DOCS.mkdir(exist_ok=True)
    if plan_dir[1] == "demo":
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
    page.locator("[role=option]", has_text="未达标").first.click()
    page.wait_for_function(
        "n => document.querySelector('#filter-counts').innerText.includes('显示 ' + n + ' 个村')",
        arg=want["n"],
    )
    text = page.inner_text("#filter-counts")
    assert f"达标 {want['met']}" in text and f"未知 {want['unknown']}" in text
    assert requests == []  # restyled without a server round trip
    # highlighted villages are drawn large, the others small
    big = page.evaluate(
        """() => Array.from(document.querySelectorAll('path.leaflet-interactive'))
               .filter(p => p.getAttribute('fill-opacity') === '0.95').length"""
    )
    assert big == want["n"]


def test_transport_export_csv_reads_back(page, server, plan_dir):
    plan = load_plan(plan_dir[0])
    expected = transport_villages(plan.villages)
    open_page(page, server + "/transport")
    page.wait_for_selector("#transport-grid .ag-row")
    with page.expect_download() as dl:
        page.click("#transport-export-csv")
    data = Path(dl.value.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype={"village_id": str})
    assert len(back) == len(expected)
    assert set(back["village_id"]) == set(expected["village_id"])
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
    if plan_dir[1] == "demo":
        page.screenshot(path=str(DOCS / "briefing.png"))
    with page.expect_download(timeout=60_000) as dl:
        page.click("#brief-pdf")
    assert Path(dl.value.path()).read_bytes().startswith(b"%PDF")
    assert page.errors == []


@pytest.mark.slow
def test_run_scenario_compares_with_baseline(page, server, plan_dir):
    if plan_dir[1] != "demo":
        pytest.skip("the scenario runner needs a plan written by the pipeline")
    open_page(page, server + "/relocation")
    page.wait_for_selector("#reloc-run")
    base = page.inner_text("#reloc-compare")
    page.click("#reloc-run")
    page.wait_for_function(
        """() => { const r = document.querySelector('#reloc-compare tr[data-metric="sites_opened"]');
                   return r && r.cells[2].innerText !== '—'; }""",
        timeout=120_000,
    )
    row = page.locator('#reloc-compare tr[data-metric="people_moved"] td')
    assert row.nth(2).inner_text() not in ("", "—")
    assert page.inner_text("#reloc-compare") != base
    assert page.errors == []
