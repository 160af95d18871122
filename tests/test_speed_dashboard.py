"""What keeps the dashboard quick where the user waits, checked for correctness (no timings):
the first page does not import what only other pages need, the briefing needs no charting
library, and its ranking bars say what the ranking says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dash
import pytest
from plotly.utils import PlotlyJSONEncoder

from tests.sample_plan import write_sample_plan

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def plan_dir(tmp_path_factory):
    return write_sample_plan(tmp_path_factory.mktemp("speed") / "plan", n_villages=12)


def _walk(node):
    """Every Dash component of a layout (depth first)."""
    if isinstance(node, list | tuple):
        for n in node:
            yield from _walk(n)
        return
    if not hasattr(node, "to_plotly_json"):
        return
    yield node
    for prop in ("children",):
        yield from _walk(getattr(node, prop, None))


def _briefing_layout(plan_dir, lang="zh"):
    from dashboard.app import create_app

    app = create_app(plan_dir, config={"osm": False})
    entry = next(p for p in dash.page_registry.values() if p["path"] == "/briefing")
    with app.server.test_request_context("/", headers={"Cookie": f"anju_lang={lang}"}):
        return entry["layout"]()


def test_briefing_page_has_no_plotly_graph(plan_dir):
    layout = _briefing_layout(plan_dir)
    types = {type(c).__name__ for c in _walk(layout)}
    assert "Graph" not in types  # dcc.Graph makes Dash download plotly.min.js (4.8 MB)
    assert "plotly" not in json.dumps(layout, cls=PlotlyJSONEncoder).lower()


def test_ranking_bars_follow_the_ranking_and_its_counts(plan_dir):
    from dashboard.briefing import RANKING_BARS, briefing_ranking
    from dashboard.plan import load_plan
    from dashboard.viewmodels import STATUS_COLORS

    layout = _briefing_layout(plan_dir, lang="en")
    chart = next(c for c in _walk(layout) if getattr(c, "className", None) == "rank-chart")
    rows = [c for c in _walk(chart) if getattr(c, "className", None) == "rank-row"]
    ranking = briefing_ranking(load_plan(plan_dir).villages)
    assert [r.children[0].children for r in rows] == [str(t) for t in ranking["township"]]
    cols = [col for col, _, _ in RANKING_BARS]
    most = float(ranking[cols].sum(axis=1).max())
    for row, (_, want) in zip(rows, ranking.iterrows(), strict=True):
        segs = row.children[1].children
        expected = [(code, want[col]) for col, code, _ in RANKING_BARS if want[col] > 0]
        assert [s.className.split()[-1] for s in segs] == [f"rank-{c}" for c, _ in expected]
        for seg, (code, n) in zip(segs, expected, strict=True):
            assert float(seg.style["width"].rstrip("%")) == pytest.approx(100 * n / most, abs=0.01)
            assert seg.style["backgroundColor"] == STATUS_COLORS[code]
            assert seg.title.endswith(f": {int(n)}")
        assert row.children[2].children == str(int(want[cols].sum()))


def test_a_fresh_server_does_not_import_what_only_other_pages_need(tmp_path):
    # the plan is missing: the warm-up thread stops at once, so only create_app's imports count
    code = (
        "import sys; from dashboard.app import create_app; "
        f"create_app({str(tmp_path / 'none')!r}); "
        "print(sorted(m for m in ('matplotlib', 'morecantile', 'rio_tiler', 'dashboard.briefing')"
        " if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def _geojson_components(layout):
    return [c for c in _walk(layout) if type(c).__name__ == "GeoJSON"]


def test_map_context_layers_come_by_url_and_match_the_plan(plan_dir):
    from dashboard.app import create_app
    from dashboard.components import context_geojson
    from dashboard.plan import load_plan

    app = create_app(plan_dir, config={"osm": False})
    entry = next(p for p in dash.page_registry.values() if p["path"] == "/")
    with app.server.test_request_context("/"):
        layout = entry["layout"]()
    layers = _geojson_components(layout)
    inline = [g.id for g in layers if getattr(g, "data", None) is not None]
    assert inline == ["villages-geojson"]  # the filter reads it; everything else by URL
    urls = {g.id: g.url for g in layers if getattr(g, "url", None)}
    assert {"layer-townships", "layer-boundary", "township-labels", "village-labels"} <= set(urls)
    plan = load_plan(plan_dir)
    client = app.server.test_client()
    for cid, url in urls.items():
        resp = client.get(url)
        assert resp.status_code == 200, cid
        assert resp.headers["Cache-Control"] == "private, max-age=86400"
        key = url.split("/geojson/")[1].split(".json")[0]
        got = json.loads(resp.data)
        assert got == json.loads(json.dumps(context_geojson(plan, key))), cid
        assert got["features"], cid
    names = {
        f["properties"]["name"]
        for f in json.loads(client.get(urls["village-labels"]).data)["features"]
    }
    assert names == set(plan.villages["name"])
    assert client.get("/geojson/nonsense.json").status_code == 404
    assert client.get("/geojson/poly-nonsense.json").status_code == 404


def test_context_urls_change_with_the_plan(tmp_path):
    from dashboard.components import context_url
    from dashboard.plan import load_plan

    d = write_sample_plan(tmp_path / "plan", n_villages=5)
    first = context_url(load_plan(d), "roads")
    st = (d / "plan.gpkg").stat()
    os.utime(d / "plan.gpkg", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert context_url(load_plan(d), "roads") != first  # a browser never reuses an old plan's


def test_a_page_downloads_the_grid_library_only_if_it_shows_a_grid(plan_dir):
    """A page whose layout has a data grid lists dash-ag-grid's bundle among its scripts; the
    coverage map, which has none, does not: the bundle's address is in the deferred block
    for assets/anju.js (which loads it before the browser moves to a page with a grid)."""
    import re

    from dashboard.app import DEFERRED_ID, create_app

    app = create_app(plan_dir, config={"osm": False})
    client = app.server.test_client()
    seen = {}
    for entry in dash.page_registry.values():
        path = entry["path"]
        with app.server.test_request_context(path):
            layout = entry["layout"]() if callable(entry["layout"]) else entry["layout"]
        has_grid = any(type(c).__name__ == "AgGrid" for c in _walk(layout))
        page = client.get(path).get_data(as_text=True)
        srcs = re.findall(r'<script src="([^"]+)"', page)
        loads = any("/dash_ag_grid/" in s for s in srcs)
        block = re.search(
            rf'<script id="{DEFERRED_ID}" type="application/json">(.*?)</script>', page
        )
        seen[path] = (has_grid, loads)
        if loads:
            assert block is None, path
        else:
            assert not has_grid, path  # a grid without its library would break the page
            deferred = json.loads(block.group(1))
            assert len(deferred) == 1 and "/dash_ag_grid/dash_ag_grid." in deferred[0], path
            assert client.get(deferred[0]).status_code == 200
            # the deferred block comes before assets/anju.js, which reads it as it runs
            assert page.index(DEFERRED_ID) < page.index("/assets/anju.js")
    assert seen["/"] == (False, False)
    assert seen["/transport"] == (True, True)
    # an address that is no page gets every bundle (Dash shows its 404 inside the shell)
    page = client.get("/no-such-page").get_data(as_text=True)
    assert "/dash_ag_grid/dash_ag_grid." in page and DEFERRED_ID not in page


def test_defer_scripts_keeps_the_other_scripts_in_order():
    from dashboard.app import DEFERRED_ID, defer_scripts

    tags = "\n".join(
        f'<script src="/_dash-component-suites/{lib}/{lib}.v1m2.min.js"></script>'
        for lib in ("dash_leaflet", "dash_ag_grid", "dash_table")
    )
    out = defer_scripts(tags, ["dash_ag_grid"])
    srcs = [line for line in out.split("\n") if line.startswith("<script src=")]
    assert srcs == [tags.split("\n")[0], tags.split("\n")[2]]
    assert out.startswith(f'<script id="{DEFERRED_ID}" type="application/json">')
    assert json.loads(out.split(">", 1)[1].split("</script>")[0]) == [
        "/_dash-component-suites/dash_ag_grid/dash_ag_grid.v1m2.min.js"
    ]
    assert defer_scripts(tags, []) == tags
    assert defer_scripts(tags, ["dash_bootstrap_components"]) == tags
