"""The bureau pages in Chromium: a row click highlights (and flies to) its village or road
gap on the map; a map click selects (and scrolls to) its row; health opens with the
travel-time overlay and its ramp."""

from __future__ import annotations

import pytest

from dashboard import ids
from dashboard.viewmodels import STATUS_COLORS

pytestmark = pytest.mark.browser

RING = 'path.leaflet-interactive[stroke="#000000"][stroke-width="4"]'  # selected village
GAP_SELECTED = 'path.leaflet-interactive[stroke="#000000"][stroke-width="9"]'
GAP = 'path.leaflet-interactive[stroke="#D55E00"]'
VILLAGES = ",".join(
    f'path.leaflet-interactive[fill="{STATUS_COLORS[c]}"]' for c in ("n", "u", "i", "m")
)

# a point on a map path (near the map's middle) where that path is what a click hits
POINT_ON = """([sel, prefer]) => {
  const m = document.querySelector('.leaflet-container').getBoundingClientRect();
  const cx = m.left + m.width / 2, cy = m.top + m.height / 2;
  const hits = [];
  for (const p of document.querySelectorAll(sel)) {
    if (prefer && !p.matches(prefer)) continue;
    const L = p.getTotalLength(), ctm = p.getScreenCTM();
    for (const f of [0.5, 0.35, 0.65, 0.2, 0.8]) {
      const q = p.getPointAtLength(L * f);
      const x = q.x * ctm.a + q.y * ctm.c + ctm.e, y = q.x * ctm.b + q.y * ctm.d + ctm.f;
      if (x < m.left + 70 || x > m.right - 250 || y < m.top + 70 || y > m.bottom - 70) continue;
      if (document.elementFromPoint(x, y) === p) { hits.push([Math.hypot(x - cx, y - cy), x, y]); break; }
    }
  }
  hits.sort((a, b) => a[0] - b[0]);
  return hits.length ? [hits[0][1], hits[0][2]] : null;
}"""


def open_page(page, url, grid):
    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.wait_for_selector(f"#{grid} .ag-row")
    page.wait_for_selector(".leaflet-container path.leaflet-interactive")


def selected_row(page, grid):
    """(row id, is the row inside the grid's visible body) of the grid's selected row."""
    return page.evaluate(
        """(grid) => { const r = document.querySelector('#' + grid + ' .ag-row-selected');
          if (!r) return null;
          const body = document.querySelector('#' + grid + ' .ag-body-viewport').getBoundingClientRect();
          const b = r.getBoundingClientRect();
          return [r.getAttribute('row-id'), b.top >= body.top - 1 && b.bottom <= body.bottom + 1]; }""",
        grid,
    )


def hover_label(page, x, y):
    """The tooltip (village name, or the gap's label) shown over a map point."""
    page.mouse.move(x, y)
    page.wait_for_selector(".leaflet-tooltip")
    return page.inner_text(".leaflet-tooltip").strip()


def click_village_on_map(page, grid, *, prefer=None):
    """Click a village near the map's middle; return its name and the selected row."""
    xy = page.evaluate(POINT_ON, [VILLAGES, prefer])
    assert xy is not None, "no clickable village in view"
    name = hover_label(page, *xy)
    page.mouse.click(*xy)
    page.wait_for_selector(RING)
    return xy, name


def _row_name(page, grid, row_id):
    return page.inner_text(f"#{grid} .ag-row[row-id='{row_id}'] .ag-cell[col-id='name']").strip()


@pytest.mark.parametrize(
    "path,grid",
    [("/water", "water-grid"), ("/health", "health-grid"), ("/transport", "transport-grid")],
)
def test_village_row_click_highlights_it_and_map_click_selects_the_row(page, server, path, grid):
    # the village is in the table: not met on the page's indicator (all villages on water)
    prefer = f'[fill="{STATUS_COLORS["n"]}"]'
    open_page(page, server + path, grid)
    scale = page.inner_text(".leaflet-control-scale")
    # row → map: the village gets the black ring and the map flies to it
    page.locator(f"#{grid} .ag-row .ag-cell[col-id='name']").nth(1).click()
    page.wait_for_selector(RING)
    assert page.locator(RING).count() == 1
    page.wait_for_function(
        "s => document.querySelector('.leaflet-control-scale').innerText !== s",
        arg=scale,
        timeout=15_000,
    )
    page.wait_for_timeout(1200)  # the flight ends
    # map → row: a village clicked on the map (the page opened afresh) selects its row
    # and scrolls the table to it
    open_page(page, server + path, grid)
    xy, name = click_village_on_map(page, grid, prefer=prefer)
    page.wait_for_function(
        "g => !!document.querySelector('#' + g + ' .ag-row-selected')", arg=grid, timeout=10_000
    )
    row_id, visible = selected_row(page, grid)
    assert visible, "the selected row is scrolled into view"
    assert _row_name(page, grid, row_id) == name
    ring = page.locator(RING).bounding_box()  # the clicked village is the one ringed
    assert ring["x"] - 2 <= xy[0] <= ring["x"] + ring["width"] + 2
    assert ring["y"] - 2 <= xy[1] <= ring["y"] + ring["height"] + 2
    assert page.errors == []


def test_gap_row_click_highlights_the_gap_and_map_click_selects_its_row(page, server):
    grid = ids.bureau_ids("transport-gaps")["grid"]
    open_page(page, server + "/transport", grid)
    page.wait_for_selector(GAP, state="attached")  # a short gap may be a dot at this zoom
    assert page.locator(GAP_SELECTED).count() == 0
    # map → row: a gap clicked on the map selects its row (its id starts the gap's label)
    xy = page.evaluate(POINT_ON, [GAP, None])
    assert xy is not None, "no clickable gap in view"
    label = hover_label(page, *xy)
    page.mouse.click(*xy)
    page.wait_for_selector(GAP_SELECTED, state="attached")  # a vertical line has no width
    page.wait_for_function(
        "g => !!document.querySelector('#' + g + ' .ag-row-selected')", arg=grid, timeout=10_000
    )
    row_id, visible = selected_row(page, grid)
    assert label.split(" · ")[0] == row_id
    assert visible
    assert page.locator(GAP_SELECTED).count() == 1
    # row → map: another row highlights its gap (and only it) and the map flies there
    scale = page.inner_text(".leaflet-control-scale")
    other = page.locator(f"#{grid} .ag-row:not(.ag-row-selected)").first
    other_id = other.get_attribute("row-id")
    other.locator(".ag-cell").first.click()
    page.wait_for_function(
        "([g, id]) => !!document.querySelector('#' + g + \" .ag-row-selected[row-id='\" + id + \"']\")",
        arg=[grid, other_id],
    )
    page.wait_for_function(
        "s => document.querySelector('.leaflet-control-scale').innerText !== s",
        arg=scale,
        timeout=15_000,
    )
    assert page.locator(GAP_SELECTED).count() == 1
    sel = page.locator(GAP_SELECTED).bounding_box()
    box = page.locator(".leaflet-container").bounding_box()
    mid_x, mid_y = sel["x"] + sel["width"] / 2, sel["y"] + sel["height"] / 2
    assert (
        box["x"] < mid_x < box["x"] + box["width"] and box["y"] < mid_y < box["y"] + box["height"]
    )
    assert page.errors == []


def test_health_opens_with_travel_time_overlay_and_ramp(page, server):
    open_page(page, server + "/health", "health-grid")
    page.wait_for_selector("img.leaflet-tile[src*='/tiles/travel_min_health_centre/']")
    ramp = page.locator(".legend [data-raster='travel_min_health_centre']")
    assert ramp.is_visible()
    assert "分钟" in ramp.inner_text()
    assert page.errors == []


def test_exports_download_in_the_user_language(page, server, plan_dir):
    """The gap table's CSV (Chinese headers), XLSX (both sheets) and GeoJSON, then the
    village table's CSV in English: what the grid shows, no personal columns."""
    import io
    from pathlib import Path

    import geopandas as gpd
    import pandas as pd

    from dashboard.plan import load_plan

    plan = load_plan(plan_dir[0])
    n_gaps = len(plan.layer("road_gaps"))
    gid = ids.bureau_ids("transport-gaps")
    open_page(page, server + "/transport", gid["grid"])
    with page.expect_download() as dl:
        page.click(f"#{gid['csv']}")
    data = Path(dl.value.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig")
    assert back.columns[0] == "路段编号"  # the road name follows when the roads have names
    assert len(back) == n_gaps and "长度（公里）" in back.columns
    with page.expect_download() as dl:
        page.click(f"#{gid['xlsx']}")
    sheets = pd.read_excel(dl.value.path(), sheet_name=None)
    assert list(sheets) == ["中文", "en"]
    assert "Gap id" in sheets["en"].columns and len(sheets["en"]) == n_gaps
    with page.expect_download() as dl:
        page.click(f"#{gid['geojson_btn']}")
    gj = gpd.read_file(dl.value.path())
    assert len(gj) == n_gaps and "路段编号" in gj.columns
    # English: the cookie the language button sets
    page.context.add_cookies([{"name": "anju_lang", "value": "en", "url": server}])
    open_page(page, server + "/transport", "transport-grid")
    with page.expect_download() as dl:
        page.click("#transport-export-csv")
    back = pd.read_csv(dl.value.path(), encoding="utf-8-sig", dtype={"Village id": str})
    assert set(back["Village id"]) <= set(plan.villages["village_id"])
    assert {"Name", "Township", "Population", "Road indicator"} <= set(back.columns)
    for personal in ("head_name", "id_number", "phone"):
        assert personal not in back.columns
    assert page.errors == []
