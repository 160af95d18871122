"""The province page (``/province``): counties as a choropleth, drill-down to townships.

Shown when the app serves a province (``anju serve --province OUT``). The browser gets the
county polygons with their figures (tens of features) and, when a county is chosen, that
county's townships; the villages only on the county's own pages, after "open the county's
village map" (``/province/open/<adcode>``, :mod:`dashboard.app`) switched the served plan.
Choosing a county also loads its plan in the background, so that switch finds it cached.
"""

from __future__ import annotations

import json
import time
from functools import partial
from pathlib import Path
from typing import Any

import dash
import dash_leaflet as dl
from dash import Input, Output, State, callback, ctx, dcc, html, no_update
from flask import current_app, request

from dashboard import ids
from dashboard.components import grid
from dashboard.i18n import fmt_num, t
from dashboard.plan import json_value
from dashboard.province import (
    METRICS,
    NONE_ASSESSED_COLOR,
    UNKNOWN_COLOR,
    Province,
    load_province,
    prefetch_plan,
)
from dashboard.state import COUNTY_COOKIE, config, lang, province_dir
from layers.errors import AnjuError

dash.register_page(__name__, path="/province", name="province", title="安居 · 全省")

# component ids (this page's own; the shell's are in dashboard.ids)
MAP = "province-map"
COUNTIES = "province-counties"
TOWNSHIPS = "province-townships"
METRIC = "province-metric"
LEGEND = "province-legend"
GRID = "province-grid"
PANEL = "province-panel"
SELECTED = "province-selected"
ALERT = "province-alert"
OPEN = "province-open-county"

#: Seconds a county's prefetch waits before it starts: the response that chose the county
#: is sent first (a reader looks at the townships for longer than this before opening).
PREFETCH_DELAY_S = 0.3

#: Columns of the county table (then the township table, with ``township`` first).
TABLE_FIGURES = (
    "villages_assessed",
    "ready",
    "ready_frac",
    "blocked",
    "unknown",
    "km_to_harden",
    "water_gap",
    "water_unknown",
    "water_gap_people",
    "clinic_gap",
    "clinic_unknown",
    "clinic_gap_people",
    "people_to_relocate",
    "sites_opened",
)
_HEADERS = {
    "county": "prov_col_county",
    "township": "prov_col_township",
    "status_label": "prov_col_status",
    "villages": "prov_col_villages",
    "villages_assessed": "prov_col_assessed",
    "ready": "prov_col_ready",
    "unknown": "prov_col_unknown",
    "water_unknown": "prov_col_water_unknown",
    "clinic_unknown": "prov_col_clinic_unknown",
}


def metric_label(metric: str, lg: str) -> str:
    """The metric's name in ``lg``."""
    return t(f"prov_m_{metric}", lg)


def _header(col: str, lg: str) -> str:
    if col in _HEADERS:
        return t(_HEADERS[col], lg)
    if col in METRICS:
        return metric_label(col, lg)
    return col


def _hideout(prov: Province, metric: str, lg: str, *, key: str, selected: str | None) -> dict:
    return {
        "key": key,
        "metric": metric,
        "selected": selected,
        "selKey": "adcode" if key == "county" else "township",
        "unknown": UNKNOWN_COLOR,
        "unknownText": t("unknown", lg),
        "noneText": t("prov_none_assessed", lg),
        "labels": {m: metric_label(m, lg) for m in prov.metrics},
        "lang": lg,
    }


def _fmt(value: Any, metric: str, lg: str) -> str:
    v = json_value(value)
    if v is None:
        return t("unknown", lg)
    if metric == "ready_frac":
        return f"{100 * float(v):.1f}%"
    if metric.startswith("km_"):
        return fmt_num(v, lg, digits=1)
    return fmt_num(v, lg)


def legend_rows(prov: Province, metric: str, lg: str, *, level: str, adcode: str | None) -> list:
    """Legend of the metric: one row per class with its range and how many counties (or
    townships) it holds, and the unknown ones apart (their count too)."""
    leg = prov.legend(metric, level=level, adcode=adcode)
    head = t(
        "prov_legend_head",
        lg,
        metric=metric_label(metric, lg),
        level=t(f"prov_level_{level}", lg),
    )
    rows: list[Any] = [html.Div(head, className="legend-head")]
    for lo, hi, color, n in leg["bins"]:
        rng = (
            _fmt(lo, metric, lg) if lo == hi else f"{_fmt(lo, metric, lg)} – {_fmt(hi, metric, lg)}"
        )
        rows.append(
            html.Div(
                [
                    html.Span(className="swatch swatch-area", style={"background": color}),
                    rng,
                    html.Span(str(n), className="legend-count"),
                ],
                className="legend-class",
            )
        )
    if leg.get("none_assessed"):
        rows.append(
            html.Div(
                [
                    html.Span(
                        className="swatch swatch-area",
                        style={"background": NONE_ASSESSED_COLOR, "border": "1px solid #555"},
                    ),
                    t("prov_none_assessed", lg),
                    html.Span(str(leg["none_assessed"]), className="legend-count"),
                ],
                className="legend-class legend-none-assessed",
            )
        )
    rows.append(
        html.Div(
            [
                html.Span(
                    className="swatch swatch-area",
                    style={"background": UNKNOWN_COLOR, "border": "1px dashed #6E6E6E"},
                ),
                t("prov_unknown", lg),
                html.Span(str(leg["unknown"]), className="legend-count"),
            ],
            className="legend-class legend-unknown",
        )
    )
    return rows


def _status_label(status: Any, lg: str) -> str:
    if status == "ok":
        return t("prov_status_ok", lg)
    if status == "failed":
        return t("prov_status_failed", lg)
    return t("prov_status_other", lg)


def table_rows(frame, lg: str, *, first: str) -> list[dict[str, Any]]:
    """Rows for a grid: ``first`` (county or township), status, the figures (None where
    unknown: the grid writes "unknown")."""
    out = []
    for _, r in frame.iterrows():
        row: dict[str, Any] = {first: str(r[first]), "adcode": str(r["adcode"])}
        if first == "county":
            row["status_label"] = _status_label(r.get("status"), lg)
        for c in ("villages", *TABLE_FIGURES):
            if c in frame.columns:
                row[c] = json_value(r[c])
        out.append(row)
    return out


def _grid(grid_id: str, rows: list[dict], frame, lg: str, *, first: str, height: str):
    cols = [first] + (["status_label"] if first == "county" else [])
    cols += [c for c in ("villages", *TABLE_FIGURES) if c in frame.columns]
    g = grid(
        grid_id,
        rows,
        [(c, _header(c, lg)) for c in cols],
        height=height,
        row_id="adcode" if first == "county" else None,
    )
    # a blank figure is unknown: the grid says so rather than leaving an empty cell
    unknown = json.dumps(t("unknown", lg))
    none = json.dumps(t("prov_none_assessed", lg))
    for d in g.columnDefs:
        f = d.get("valueFormatter", {}).get("function")
        if f:
            f = f.replace("? ''", f"? {unknown}", 1)
            if d["field"] == "ready_frac":  # no village to assess is not unknown
                f = f"params.data && params.data.villages_assessed === 0 ? {none} : ({f})"
            d["valueFormatter"] = {"function": f}
    return g


def _headline(prov: Province, lg: str) -> list[Any]:
    c = prov.counties
    ok = c[c["status"] == "ok"] if "status" in c.columns else c
    out: list[Any] = [
        html.P(
            t(
                "prov_headline",
                lg,
                n=len(ok),
                assessed=_fmt(ok["villages_assessed"].sum(min_count=1), "villages", lg),
                ready=_fmt(ok["ready"].sum(min_count=1), "ready", lg),
                blocked=_fmt(ok["blocked"].sum(min_count=1), "blocked", lg),
                km=_fmt(ok["km_to_harden"].sum(min_count=1), "km_to_harden", lg),
                people=_fmt(ok["people_to_relocate"].sum(min_count=1), "people", lg),
                sites=_fmt(ok["sites_opened"].sum(min_count=1), "sites", lg),
            ),
            className="counts",
        )
    ]
    failed = len(c) - len(ok)
    if failed:
        out.append(html.P(t("prov_failed", lg, n=failed), className="alert-detail", role="alert"))
    return out


def layout(**_kwargs) -> html.Div:
    lg = lang()
    root = province_dir()
    if root is None:
        return html.Div(html.P(t("prov_none", lg)), id=ALERT, className="alert", role="alert")
    try:
        prov = load_province(root)
    except AnjuError as exc:
        return html.Div(
            [html.P(t("prov_none", lg)), html.P(str(exc), className="alert-detail")],
            id=ALERT,
            className="alert",
            role="alert",
        )
    metric = prov.metrics[0] if prov.metrics else "ready_frac"
    source = (
        t("prov_source_rollup", lg, path=str(root / "province"))
        if prov.source == "rollup"
        else t("prov_source_plans", lg)
    )
    sidebar = html.Div(
        [
            html.H3(t("prov_title", lg, name=prov.name)),
            *_headline(prov, lg),
            html.Label(t("prov_metric", lg), htmlFor=METRIC),
            dcc.Dropdown(
                options=[{"label": metric_label(m, lg), "value": m} for m in prov.metrics],
                value=metric,
                clearable=False,
                searchable=False,
                id=METRIC,
            ),
            html.P(t("prov_click_county", lg), className="evidence"),
            html.P(source, className="evidence"),
            dcc.Store(id=SELECTED, data=None),
        ],
        className="sidebar",
    )
    the_map = html.Div(
        [
            dl.Map(
                [
                    *_basemap(lg),
                    dl.GeoJSON(
                        data=prov.county_geojson(),
                        style={"variable": "anjuProvince.style"},
                        onEachFeature={"variable": "anjuProvince.each"},
                        hideout=_hideout(prov, metric, lg, key="county", selected=None),
                        id=COUNTIES,
                    ),
                    dl.GeoJSON(
                        data={"type": "FeatureCollection", "features": []},
                        style={"variable": "anjuProvince.style"},
                        onEachFeature={"variable": "anjuProvince.each"},
                        hideout=_hideout(prov, metric, lg, key="township", selected=None),
                        id=TOWNSHIPS,
                    ),
                    dl.ScaleControl(position="bottomleft", imperial=False),
                ],
                id=MAP,
                bounds=prov.bounds,
                center=_center(prov.bounds),
                zoomSnap=0.25,
                style={"height": "100%", "width": "100%", "background": "#F4F6F8"},
            ),
            html.Div(
                legend_rows(prov, metric, lg, level="county", adcode=None),
                id=LEGEND,
                className="legend",
            ),
        ],
        className="map-frame",
    )
    rows = table_rows(prov.counties, lg, first="county")
    panel = html.Div(
        [
            html.H3(t("prov_counties", lg)),
            _grid(GRID, rows, prov.counties, lg, first="county", height="38vh"),
            html.Div(id=PANEL),
        ],
        className="panel",
    )
    return html.Div([sidebar, the_map, panel], className="coverage progress province")


def _center(bounds: list[list[float]]) -> list[float]:
    (s, w), (n, e) = bounds
    return [round((s + n) / 2, 5), round((w + e) / 2, 5)]


def _basemap(lg: str) -> list:
    """Online basemaps only when configured (the hillshade tiles are a county's own)."""
    cfg = config()
    if cfg.osm:
        return [
            dl.TileLayer(
                url="https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                attribution="© OpenStreetMap contributors",
                opacity=0.5,
            )
        ]
    return []


def county_panel(prov: Province, adcode: str, metric: str, lg: str) -> list[Any]:
    """The chosen county: the link to its village map (when it has a plan) and its
    townships' table."""
    name = prov.county_name(adcode) or adcode
    out: list[Any] = [html.H3(name, id="province-county-title")]
    if prov.plan_dir(adcode) is not None:
        # :func:`open_county` switches in place, without reloading the app; the same
        # switch has an address to bookmark or share: /province/open/<adcode>
        out.append(
            html.Button(
                t("prov_open_county", lg, county=name),
                id=OPEN,
                n_clicks=0,
                className="btn",
                title=f"/province/open/{adcode}",
            )
        )
    else:
        out.append(html.P(t("prov_no_plan", lg), className="alert-detail", role="alert"))
    towns = prov.township_rows(adcode)
    if len(towns):
        out += [
            html.H4(t("prov_townships", lg, county=name)),
            _grid(
                "province-township-grid",
                table_rows(towns, lg, first="township"),
                towns,
                lg,
                first="township",
                height="30vh",
            ),
        ]
    return out


def _warm_county(plan_dir: Path, *, server: Any, adcode: str, lg: str) -> None:
    """Load a county's plan and what its coverage page computes first: the villages'
    GeoJSON, the context layers and the page's layout (its memos), as the browser that
    chose the county would ask for them."""
    from dashboard.components import context_geojson, village_data
    from dashboard.plan import load_plan

    c = config()
    time.sleep(PREFETCH_DELAY_S)  # the drill-down's own answer goes out first
    try:
        plan = load_plan(plan_dir, simplify_m=c.simplify_m, precision=c.precision)
        village_data(plan)
        for key in ("poly-boundary", "poly-townships", "roads", "labels-townships"):
            context_geojson(plan, key)
        home = next(p for p in dash.page_registry.values() if p["path"] == "/")
        cookie = f"{COUNTY_COOKIE}={adcode}; anju_lang={lg}"
        with server.test_request_context("/", headers={"Cookie": cookie}):
            home["layout"]()
    except AnjuError:
        return  # the county's pages will show the alert


@callback(
    Output(COUNTIES, "hideout"),
    Output(TOWNSHIPS, "data"),
    Output(TOWNSHIPS, "hideout"),
    Output(LEGEND, "children"),
    Output(PANEL, "children"),
    Output(SELECTED, "data"),
    Output(MAP, "viewport"),
    Input(METRIC, "value"),
    Input(COUNTIES, "clickData"),
    Input(GRID, "selectedRows"),
    State(SELECTED, "data"),
    prevent_initial_call=True,
)
def update(metric, click, rows, selected):
    """A metric chosen → both layers restyled and the legend redrawn; a county clicked
    (map or table) → its townships drawn (the drill-down payload), its panel, the map
    flown to it, and its plan loaded in the background."""
    lg = lang()
    root = province_dir()
    if root is None:
        return (no_update,) * 7
    prov = load_province(root)
    if metric not in prov.metrics:
        return (no_update,) * 7
    trig = ctx.triggered_id
    view = no_update
    if trig == COUNTIES and click:
        selected = str((click.get("properties") or {}).get("adcode") or "") or selected
    elif trig == GRID and rows:
        selected = str(rows[0].get("adcode") or "") or selected
    if selected not in prov.adcodes:
        selected = None
    if trig in (COUNTIES, GRID) and selected is not None:
        b = prov.county_bounds(selected)
        if b is not None:
            view = {"bounds": b, "transition": "flyToBounds"}
    towns = (
        prov.township_geojson(selected)
        if selected
        else {"type": "FeatureCollection", "features": []}
    )
    # the counties' classes, and those of the chosen county's townships (classed among
    # themselves) below them
    legend = legend_rows(prov, metric, lg, level="county", adcode=None)
    if selected:
        legend += legend_rows(prov, metric, lg, level="township", adcode=selected)
    panel = county_panel(prov, selected, metric, lg) if selected else []
    plan_dir = prov.plan_dir(selected) if selected else None
    if trig in (COUNTIES, GRID) and plan_dir is not None:
        prefetch_plan(
            plan_dir,
            partial(_warm_county, server=current_app._get_current_object(), adcode=selected, lg=lg),
        )
    return (
        _hideout(prov, metric, lg, key="county", selected=selected),
        towns if trig != METRIC else no_update,
        _hideout(prov, metric, lg, key="township", selected=None),
        legend,
        panel,
        selected,
        view,
    )


@callback(
    Output(ids.URL, "pathname"),
    Output("nav-county", "children"),
    Input(OPEN, "n_clicks"),
    State(SELECTED, "data"),
    prevent_initial_call=True,
)
def open_county(n_clicks, adcode):
    """ "Open the county's village map": remember the county for this browser (the same
    cookie as ``/province/open/<adcode>``) and go to the coverage page without reloading
    the app (its plan is usually loaded already: choosing the county prefetched it)."""
    root = province_dir()
    if not n_clicks or root is None or not adcode:
        return no_update, no_update
    prov = load_province(root)
    if prov.plan_dir(adcode) is None:
        return no_update, no_update
    ctx.response.set_cookie(
        COUNTY_COOKIE,
        adcode,
        max_age=30 * 86400,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure,
    )
    return "/", prov.county_name(adcode)
