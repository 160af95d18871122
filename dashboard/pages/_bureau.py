"""Shared builder for the bureau pages (transport, water, health).

Each page is a map beside one or more dash-ag-grid tables (:class:`TableSpec`). A table
is linked with a map layer both ways: clicking a row highlights its village or road gap
on the map and flies there; clicking a village or gap on the map selects its row and
scrolls the table to it (:func:`link_update`). Each table's export buttons download the
rows currently shown (after the grid's own filters and sorting) as CSV, XLSX (a Chinese
and an English sheet) or GeoJSON, with headers in the user's language
(:mod:`dashboard.export`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import dash_leaflet as dl
import geopandas as gpd
import pandas as pd
from dash import Input, Output, State, callback, ctx, dcc, html, no_update

from dashboard import ids
from dashboard.bureau import VILLAGE_PROP, feature_key, row_viewport
from dashboard.components import (
    JS,
    context_overlays,
    coverage_entries,
    export_bar,
    grid,
    label_layers,
    legend,
    map_frame,
    raster_overlays,
    village_data,
)
from dashboard.export import export_bytes
from dashboard.i18n import t
from dashboard.pages._common import load_or_alert
from dashboard.plan import Plan
from dashboard.state import config, get_plan, lang
from dashboard.viewmodels import EXIT_READY, coverage_hideout, display_records

#: ``TableSpec.link`` value for the page's villages layer.
VILLAGES = "villages"


@dataclass(frozen=True)
class TableSpec:
    """One table of a bureau page.

    ``table(plan, lang)`` returns the rows (a GeoDataFrame in EPSG:4326, ``key`` unique,
    text in ``lang``); ``columns`` are the (field, i18n key) pairs the grid shows and the
    export writes, ``export_extra`` more pairs only the export writes (notes, evidence),
    ``key_label`` the i18n key of the key's header in the export. ``link`` is the map
    layer the rows link to: :data:`VILLAGES` or the id of a layer of the page's
    ``extra_overlays`` whose features carry the key in property ``prop``; None: not linked.
    ``head(plan, lang, table)`` gives components between the title and the export bar.
    ``min_widths`` (field → px, or (zh px, en px): an English word does not wrap) keep
    columns readable; the grid scrolls sideways when they do not all fit.
    """

    name: str
    title_key: str
    table: Callable[[Plan, str], gpd.GeoDataFrame]
    key: str
    columns: tuple[tuple[str, str], ...]
    key_label: str = "bu_village_id"
    export_extra: tuple[tuple[str, str], ...] = ()
    link: str | None = VILLAGES
    prop: str = VILLAGE_PROP
    head: Callable[[Plan, str, gpd.GeoDataFrame], list] | None = None
    height: str = "320px"
    wide: tuple[str, ...] = ()
    min_widths: dict[str, int | tuple[int, int]] | None = None
    tooltips: dict[str, str] | None = None

    @property
    def ids(self) -> dict[str, str]:
        """The grid, export buttons, download and title ids (:func:`ids.bureau_ids`)."""
        return ids.bureau_ids(self.name)

    def export_columns(self) -> tuple[list[str], dict[str, str]]:
        """Fields the export writes, in order, and their i18n keys."""
        pairs = [(self.key, self.key_label), *self.columns, *self.export_extra]
        cols: list[str] = []
        keys: dict[str, str] = {}
        for f, k in pairs:
            if f not in keys:
                cols.append(f)
                keys[f] = k
        return cols, keys


@dataclass(frozen=True)
class BureauSpec:
    """What a bureau page shows.

    ``tables`` in page order; ``indicator_hint`` picks the indicator the villages are
    coloured by; ``context`` the context layers drawn at first; ``rasters`` the raster
    overlays offered, ``rasters_on`` those drawn at first; ``extra(plan, lang)`` more
    components under the tables; ``extra_overlays(plan, lang)`` map layers besides the
    villages; ``legend_extra(lang)`` more legend rows.
    """

    page: str
    title_key: str
    tables: tuple[TableSpec, ...]
    indicator_hint: str
    context: tuple[str, ...]
    rasters: tuple[str, ...] = ()
    rasters_on: tuple[str, ...] = ()
    extra: Callable[[Plan, str], list] | None = None
    extra_overlays: Callable[[Plan, str], list] | None = None
    legend_extra: Callable[[str], list] | None = None

    @property
    def ids(self) -> dict[str, str]:
        return ids.bureau_ids(self.page)

    def layer_id(self, ts: TableSpec) -> str | None:
        """The component id of the map layer ``ts`` links to (None: not linked)."""
        if ts.link is None:
            return None
        return self.ids["geojson"] if ts.link == VILLAGES else ts.link

    def linked(self) -> list[TableSpec]:
        return [ts for ts in self.tables if ts.link is not None]

    def layer_ids(self) -> list[str]:
        out: list[str] = []
        for ts in self.linked():
            lid = self.layer_id(ts)
            if lid is not None and lid not in out:
                out.append(lid)
        return out


def indicator_for(plan: Plan, hint: str) -> str:
    """The first indicator whose id contains ``hint`` (``exit_ready`` when none)."""
    for iid in plan.indicator_ids:
        if hint in iid:
            return iid
    return EXIT_READY


def table_for(plan: Plan, ts: TableSpec, lg: str) -> gpd.GeoDataFrame:
    """``ts.table(plan, lg)``, computed once per plan and language."""
    return plan.memo(("bureau-table", ts.name, lg), lambda: ts.table(plan, lg))


def min_widths(ts: TableSpec, lg: str) -> dict[str, int]:
    """The columns' minimum widths in ``lg`` (a (zh, en) pair picks by language)."""
    out = {}
    for f, w in (ts.min_widths or {}).items():
        out[f] = (w[1] if lg == "en" else w[0]) if isinstance(w, tuple) else w
    return out


def grid_rows(df: gpd.GeoDataFrame, ts: TableSpec, lg: str) -> list[dict]:
    """The rows the grid gets: the key, the shown columns and the tooltip fields only."""
    want = [ts.key, *(f for f, _ in ts.columns), *((ts.tooltips or {}).values())]
    cols = [c for c in dict.fromkeys(want) if c in df.columns]
    return display_records(pd.DataFrame(df[cols]), lg)


def bureau_layout(spec: BureauSpec) -> html.Div:
    """The page layout for ``spec``."""
    lg = lang()
    plan, alert = load_or_alert(lg)
    if plan is None:
        return alert
    bid = spec.ids
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
    overlays += raster_overlays(plan, lg, only=spec.rasters, on=spec.rasters_on)
    if spec.extra_overlays is not None:
        overlays += spec.extra_overlays(plan, lg)
    overlays.append(villages)
    overlays += label_layers(plan, lg)  # township names, and village names when zoomed in
    entries = None
    if spec.legend_extra is not None:
        entries = [*coverage_entries(lg, view="indicator"), *spec.legend_extra(lg)]
    the_map = map_frame(
        plan,
        config(),
        lg,
        map_id=bid["map"],
        overlays=overlays,
        rasters=(),
        legend=legend(lg, plan=plan, rasters=tuple(spec.rasters), entries=entries),
        legend_pad=(10, 300),  # the bureau maps are tall and narrow: the county above it
    )
    parts: list[Any] = [html.H2(t(spec.title_key, lg))]
    if spec.linked():
        parts.append(html.Div(t("bu_link_hint", lg), className="bureau-hint"))
    for ts in spec.tables:
        tid = ts.ids
        df = table_for(plan, ts, lg)
        cols = [(f, t(k, lg)) for f, k in ts.columns if f in df.columns]
        parts.append(html.H3(f"{t(ts.title_key, lg)} ({len(df)})", id=tid["summary"]))
        if ts.head is not None:
            parts += ts.head(plan, lg, df)
        parts.append(export_bar(tid, lg))
        g = grid(
            tid["grid"],
            grid_rows(df, ts, lg),
            cols,
            row_id=ts.key,
            height=ts.height,
            selectable=ts.link is not None,
            wide=ts.wide,
            min_widths=min_widths(ts, lg),
            tooltips=ts.tooltips,
        )
        # every row stays reachable by scrolling, so a map click can bring its row into view
        g.dashGridOptions = {**(g.dashGridOptions or {}), "pagination": False}
        parts.append(g)
    if spec.extra is not None:
        parts += spec.extra(plan, lg)
    page = html.Div(
        [the_map, html.Div(parts, className="bureau-tables")], className="bureau bureau-linked"
    )
    return html.Div([alert, page]) if alert is not None else page


# --------------------------------------------------------------------------- linking


def link_update(
    *,
    trigger: str | None,
    grids: Sequence[str],
    layers: Sequence[str],
    grid_layer: Sequence[int],
    props: Sequence[str],
    clicked: Sequence[Mapping | None],
    features: Sequence[Mapping | None],
    hideouts: Sequence[Mapping | None],
    selected: Sequence[Sequence | None],
    keys_of: Callable[[int], set],
    geometry_of: Callable[[int, str], Any],
) -> list:
    """What a row click or a map click changes (pure; the page callback feeds it).

    Parameters
    ----------
    trigger : str
        Id of the grid whose cell was clicked, or of the layer whose feature was clicked.
    grids, layers : sequences of ids
        The linked grids, and the distinct map layers they link to.
    grid_layer : sequence of int
        For each grid, the index in ``layers`` of its layer.
    props : sequence of str
        For each layer, the feature property holding the row key.
    clicked : the grids' ``cellClicked`` (``rowId`` is the row's key).
    features : the layers' ``clickData`` (the clicked feature).
    hideouts : the layers' ``hideout`` (``selected`` holds the highlighted key).
    selected : the grids' ``selectedRows``.
    keys_of(i) : the keys of grid ``i``'s table.
    geometry_of(i, key) : the geometry of a row of grid ``i`` (None when absent).

    Returns
    -------
    list
        ``[viewport, *hideouts, *selectedRows, *scrollTo]`` (``no_update`` where nothing
        changes). A row click highlights its feature, flies there and clears the other
        selections; a map click highlights the feature and selects (and scrolls to) its
        row in the tables linked to that layer, without moving the map.
    """
    n_g, n_l = len(grids), len(layers)
    view: Any = no_update
    new_hide: list[Any] = [no_update] * n_l
    new_sel: list[Any] = [no_update] * n_g
    scroll: list[Any] = [no_update] * n_g
    key: str | None = None
    layer: int | None = None
    if trigger in grids:
        i = list(grids).index(trigger)
        cell = clicked[i] or {}
        key = None if cell.get("rowId") is None else str(cell.get("rowId"))
        if key is None:
            return [view, *new_hide, *new_sel, *scroll]
        layer = grid_layer[i]
        view = row_viewport(geometry_of(i, key)) or no_update
        for j in range(n_g):
            if j != i and selected[j]:
                new_sel[j] = []
    elif trigger in layers:
        layer = list(layers).index(trigger)
        key = feature_key(features[layer], props[layer])
        if key is None:
            return [view, *new_hide, *new_sel, *scroll]
        for j in range(n_g):
            if grid_layer[j] == layer and key in keys_of(j):
                new_sel[j] = {"ids": [key]}
                scroll[j] = {"rowId": key, "rowPosition": "middle"}
            elif selected[j]:
                new_sel[j] = []
    else:
        return [view, *new_hide, *new_sel, *scroll]
    for k in range(n_l):
        h = dict(hideouts[k] or {})
        want = key if k == layer else ""
        if (h.get("selected") or "") != want:
            h["selected"] = want
            new_hide[k] = h
    return [view, *new_hide, *new_sel, *scroll]


def register_bureau_callbacks(spec: BureauSpec) -> None:
    """Rows and map linked both ways; each table's export buttons → download of its shown rows."""
    linked = spec.linked()
    layers = spec.layer_ids()
    if linked:
        grids = [ts.ids["grid"] for ts in linked]
        grid_layer = [layers.index(spec.layer_id(ts)) for ts in linked]
        props = [next(ts.prop for ts in linked if spec.layer_id(ts) == lid) for lid in layers]

        @callback(
            output=[
                Output(spec.ids["map"], "viewport"),
                *[Output(lid, "hideout") for lid in layers],
                *[Output(g, "selectedRows") for g in grids],
                *[Output(g, "scrollTo") for g in grids],
            ],
            inputs=[
                *[Input(g, "cellClicked") for g in grids],
                *[Input(lid, "clickData") for lid in layers],
            ],
            state=[
                *[State(lid, "hideout") for lid in layers],
                *[State(g, "selectedRows") for g in grids],
            ],
            prevent_initial_call=True,
        )
        def _link(*args):
            n_g, n_l = len(grids), len(layers)
            clicked = args[:n_g]
            features = args[n_g : n_g + n_l]
            hideouts = args[n_g + n_l : n_g + 2 * n_l]
            selected = args[n_g + 2 * n_l :]
            plan, lg = get_plan(), lang()

            def indexed(i: int) -> gpd.GeoDataFrame:
                ts = linked[i]
                df = table_for(plan, ts, lg)
                return plan.memo(
                    ("bureau-index", ts.name, lg), lambda: df.set_index(df[ts.key].astype(str))
                )

            def geometry_of(i: int, key: str):
                df = indexed(i)
                if key not in df.index:
                    return None
                # a row may say what its click shows (a gap with the villages it serves)
                return df["_extent"].loc[key] if "_extent" in df.columns else df.geometry.loc[key]

            return link_update(
                trigger=ctx.triggered_id,
                grids=grids,
                layers=layers,
                grid_layer=grid_layer,
                props=props,
                clicked=clicked,
                features=features,
                hideouts=hideouts,
                selected=selected,
                keys_of=lambda i: set(indexed(i).index),
                geometry_of=geometry_of,
            )

    for ts in spec.tables:
        _register_export(spec, ts)


def shown_rows(df: pd.DataFrame, key: str, shown: Sequence[Mapping] | None) -> pd.DataFrame:
    """The rows of ``df`` the grid shows (``virtualRowData``: after its filters and
    sorting), in the grid's order; all rows when the grid has not said."""
    if shown is None:
        return df.reset_index(drop=True)
    keys = [str(r.get(key)) for r in shown if r.get(key) is not None]
    idx = df.set_index(df[key].astype(str), drop=False)
    idx = idx[~idx.index.duplicated()]
    return idx.loc[[k for k in keys if k in idx.index]].reset_index(drop=True)


def _register_export(spec: BureauSpec, ts: TableSpec) -> None:
    tid = ts.ids

    @callback(
        Output(tid["download"], "data"),
        Input(tid["csv"], "n_clicks"),
        Input(tid["xlsx"], "n_clicks"),
        Input(tid["geojson_btn"], "n_clicks"),
        State(tid["grid"], "virtualRowData"),
        prevent_initial_call=True,
    )
    def _export(_c, _x, _g, shown):
        fmt = {tid["csv"]: "csv", tid["xlsx"]: "xlsx", tid["geojson_btn"]: "geojson"}.get(
            ctx.triggered_id
        )
        if fmt is None:
            return no_update
        plan, lg = get_plan(), lang()
        tables = {l_: shown_rows(table_for(plan, ts, l_), ts.key, shown) for l_ in ("zh", "en")}
        cols, keys = ts.export_columns()
        data, ext = export_bytes(tables, fmt, lg, columns=cols, keys=keys)
        name = f"anju_{ts.name.replace('-', '_')}_{date.today().isoformat()}.{ext}"
        return dcc.send_bytes(data, name)
