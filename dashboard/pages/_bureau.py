"""Shared builder for the bureau pages (transport, water, health).

Each page is a map beside a dash-ag-grid table; selecting a row flies the map there;
the export buttons download the rows currently shown (after the grid's own filters and
sorting) as CSV, XLSX or GeoJSON.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import dash_leaflet as dl
import geopandas as gpd
from dash import Input, Output, State, callback, ctx, dcc, html, no_update

from dashboard import ids
from dashboard.components import (
    JS,
    context_overlays,
    export_bar,
    grid,
    legend,
    map_frame,
    village_data,
)
from dashboard.export import export_bytes
from dashboard.i18n import t
from dashboard.pages._common import load_or_alert
from dashboard.plan import Plan
from dashboard.state import config, get_plan, lang
from dashboard.viewmodels import (
    EXIT_READY,
    centroid_latlon,
    coverage_hideout,
    display_records,
)


@dataclass(frozen=True)
class BureauSpec:
    """What a bureau page shows.

    ``table(plan, lang)`` returns the main GeoDataFrame (one row per item, ``key`` column
    unique); ``columns`` are (field, i18n key) pairs; ``extra(plan, lang)`` returns more
    components under the table; ``overlays(plan, lang)`` the map layers besides villages;
    ``wide`` fields of the table get more room, ``min_widths`` (field → px) keep short ones
    readable and ``tooltips`` (field → field) show a note on hover.
    """

    page: str
    title_key: str
    table_title_key: str
    table: Callable[[Plan, str], gpd.GeoDataFrame]
    key: str
    columns: tuple[tuple[str, str], ...]
    indicator_hint: str
    context: tuple[str, ...]
    rasters: tuple[str, ...] = ()
    extra: Callable[[Plan, str], list] | None = None
    extra_overlays: Callable[[Plan, str], list] | None = None
    wide: tuple[str, ...] = ()
    min_widths: dict[str, int] | None = None
    tooltips: dict[str, str] | None = None


def indicator_for(plan: Plan, hint: str) -> str:
    """The first indicator whose id contains ``hint`` (``exit_ready`` when none)."""
    for iid in plan.indicator_ids:
        if hint in iid:
            return iid
    return EXIT_READY


def table_rows(gdf: gpd.GeoDataFrame, lang: str = "zh") -> list[dict]:
    """Readable grid rows with hidden ``_lat``/``_lon`` for flying the map to a row."""
    if gdf.empty:
        return []
    ll = centroid_latlon(gdf)
    return display_records(gdf.assign(_lat=ll["lat"], _lon=ll["lon"]), lang)


def bureau_layout(spec: BureauSpec) -> html.Div:
    """The page layout for ``spec``."""
    lg = lang()
    plan, alert = load_or_alert(lg)
    if plan is None:
        return alert
    bid = ids.bureau_ids(spec.page)
    table = spec.table(plan, lg)
    ind = indicator_for(plan, spec.indicator_hint)
    villages = dl.Overlay(
        dl.GeoJSON(
            data=village_data(plan),
            style=JS["village_style"],
            pointToLayer=JS["village_point"],
            onEachFeature=JS["label_tooltip"],
            hideout=coverage_hideout(plan.indicator_ids, indicator=ind),
            id=bid["geojson"],
        ),
        name=t("villages", lg),
        checked=True,
    )
    overlays = [*context_overlays(plan, lg, checked=spec.context)]
    if spec.extra_overlays is not None:
        overlays += spec.extra_overlays(plan, lg)
    overlays.append(villages)
    the_map = map_frame(
        plan,
        config(),
        lg,
        map_id=bid["map"],
        overlays=overlays,
        rasters=spec.rasters,
        legend=legend(lg, plan=plan, rasters=tuple(spec.rasters or ())),
    )
    cols = [(f, t(k, lg)) for f, k in spec.columns if f in table.columns]
    tables = [
        html.H2(t(spec.title_key, lg)),
        html.H3(f"{t(spec.table_title_key, lg)} ({len(table)})", id=bid["summary"]),
        export_bar(bid, lg),
        grid(
            bid["grid"],
            table_rows(table, lg),
            cols,
            row_id=spec.key,
            wide=spec.wide,
            min_widths=spec.min_widths,
            tooltips=spec.tooltips,
        ),
    ]
    if spec.extra is not None:
        tables += spec.extra(plan, lg)
    page = html.Div([the_map, html.Div(tables, className="bureau-tables")], className="bureau")
    return html.Div([alert, page]) if alert is not None else page


def register_bureau_callbacks(spec: BureauSpec) -> None:
    """Row selection → fly to; export buttons → download of the shown rows."""
    bid = ids.bureau_ids(spec.page)

    @callback(
        Output(bid["map"], "viewport"),
        Input(bid["grid"], "selectedRows"),
        prevent_initial_call=True,
    )
    def _fly(selected):
        if not selected:
            return no_update
        r = selected[0]
        if r.get("_lat") is None:
            return no_update
        return {"center": [r["_lat"], r["_lon"]], "zoom": 14, "transition": "flyTo"}

    @callback(
        Output(bid["download"], "data"),
        Input(bid["csv"], "n_clicks"),
        Input(bid["xlsx"], "n_clicks"),
        Input(bid["geojson_btn"], "n_clicks"),
        State(bid["grid"], "virtualRowData"),
        prevent_initial_call=True,
    )
    def _export(_c, _x, _g, shown):
        fmt = {bid["csv"]: "csv", bid["xlsx"]: "xlsx", bid["geojson_btn"]: "geojson"}.get(
            ctx.triggered_id
        )
        if fmt is None:
            return no_update
        table = spec.table(get_plan(), lang())
        if shown is not None:
            keys = [r.get(spec.key) for r in shown]
            table = table.set_index(spec.key, drop=False).loc[
                [k for k in keys if k in set(table[spec.key])]
            ]
        data, ext = export_bytes(table.reset_index(drop=True), fmt)
        name = f"anju_{spec.page}_{date.today().isoformat()}.{ext}"
        return dcc.send_bytes(data, name)
