"""Reusable layout pieces: navbar, alerts, the map with its layers and legends, grids."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import dash_ag_grid as dag
import dash_leaflet as dl
from dash import dcc, html

from dashboard import ids
from dashboard.i18n import t, unit_label
from dashboard.plan import RASTER_KINDS, Plan
from dashboard.state import DashboardConfig
from dashboard.tiles import OVERLAYS, legend_stops
from dashboard.viewmodels import (
    ROAD_COLORS,
    STATUS_COLORS,
    blocker_code,
    blocker_colors,
    blocker_counts,
    code_labels,
    coverage_hideout,
    dem_line,
    indicator_label,
    roads_geojson,
    to_geojson,
    villages_geojson,
)
from layers.plan import build_command

PAGES = [
    ("/", "nav_coverage"),
    ("/transport", "nav_transport"),
    ("/water", "nav_water"),
    ("/health", "nav_health"),
    ("/relocation", "nav_relocation"),
    ("/progress", "nav_progress"),
    ("/briefing", "nav_briefing"),
]

POI_STYLE = {
    "clinics": {"color": "#CC79A7", "radius": 5, "shape": "square"},
    "water": {"color": "#56B4E9", "radius": 5, "shape": "circle"},
    "schools": {"color": "#009E73", "radius": 5, "shape": "triangle"},
    "towns": {"color": "#000000", "radius": 7, "shape": "square"},
}
POLY_STYLE = {
    "boundary": {"color": "#222222", "weight": 2.5, "fill": False, "dashArray": "8 4"},
    "townships": {"color": "#555555", "weight": 1, "fill": False, "dashArray": "3 3"},
    # hazards: brown hatch-like outline and a light fill (no status or blocker is brown)
    "hazards": {
        "color": "#6B3E07",
        "weight": 1,
        "dashArray": "4 2",
        "fillColor": "#A6761D",
        "fillOpacity": 0.25,
    },
    "protected": {"color": "#009E73", "weight": 0.5, "fillColor": "#009E73", "fillOpacity": 0.12},
    "service_area": {"color": "#56B4E9", "weight": 1, "fillColor": "#56B4E9", "fillOpacity": 0.12},
    "water_network": {"color": "#56B4E9", "weight": 1.5, "opacity": 0.9},
    "water_bodies": {
        "color": "#3A86C8",
        "weight": 0.5,
        "fillColor": "#8EC3EA",
        "fillOpacity": 0.85,
    },
}

VILLAGE_PANE = "villages"

JS = {
    "village_style": {"variable": "anju.villageStyle"},
    "village_point": {"variable": "anju.villagePoint"},
    "road_style": {"variable": "anju.roadStyle"},
    "poi_point": {"variable": "anju.poiPoint"},
    "hideout_style": {"variable": "anju.hideoutStyle"},
    "label_tooltip": {"variable": "anju.bindLabel"},
    "village_each": {"variable": "anju.villageEach"},
    "radius_point": {"variable": "anju.radiusPoint"},
    "site_point": {"variable": "anju.sitePoint"},
    "cand_point": {"variable": "anju.candPoint"},
    "label_point": {"variable": "anju.labelPoint"},
    "progress_point": {"variable": "anju.progressPoint"},
    "progress_style": {"variable": "anju.progressStyle"},
}


def navbar(lang: str, pathname: str = "/") -> html.Nav:
    """Top bar: title, page links, language toggle."""
    links = [
        dcc.Link(
            t(key, lang),
            href=href,
            className="nav-link active" if href == pathname else "nav-link",
            id=f"nav-{href.strip('/') or 'coverage'}",
        )
        for href, key in PAGES
    ]
    return html.Nav(
        [
            html.Span(t("app_title", lang), className="brand"),
            html.Div(links, className="nav-links"),
            html.Button(t("lang_button", lang), id=ids.LANG_TOGGLE, className="lang-btn"),
        ],
        id=ids.NAVBAR,
        className="navbar",
    )


def plan_alert(lang: str, *, status: str, detail: str, plan_dir=None) -> html.Div:
    """A clear alert for a missing, outdated or unreadable plan (never a traceback), with
    the command that builds the plan the app was pointed at (:func:`layers.plan.build_command`)."""
    body = t("plan_outdated" if status == "outdated" else "plan_missing_body", lang)
    return html.Div(
        [
            html.H2(t("plan_missing_title", lang)),
            html.P(detail, className="alert-detail"),
            html.P(body),
            html.Pre(build_command(plan_dir), className="alert-command"),
        ],
        id=ids.PAGE_ALERT,
        className="alert",
        role="alert",
    )


def _poi_rows(plan: Plan, name: str):
    gdf = plan.layer(name)
    if name == "water" and not gdf.empty:
        gdf = gdf[gdf.geom_type.isin(["Point", "MultiPoint"])]
    return gdf


def _poi_layer(plan: Plan, name: str, lang: str, *, checked: bool) -> dl.Overlay | None:
    if _poi_rows(plan, name).empty:
        return None
    return dl.Overlay(
        dl.GeoJSON(
            url=context_url(plan, f"poi-{name}"),
            pointToLayer=JS["poi_point"],
            onEachFeature=JS["label_tooltip"],
            hideout=POI_STYLE[name],
            id=f"layer-{name}",
        ),
        name=t(name, lang),
        checked=checked,
    )


def _poly_rows(plan: Plan, key: str):
    select = _POLY_SELECT.get(key)
    return select(plan) if select is not None else plan.layer(key)


def _poly_layer(plan: Plan, key: str, lang: str, *, checked: bool, label: str | None = None):
    """Areas (or lines) with a fixed style; points with ``radius_m`` become circles.

    The rows drawn are :data:`_POLY_SELECT`'s for ``key`` (default: the plan layer named
    ``key``).
    """
    if _poly_rows(plan, key).empty:
        return None
    return dl.Overlay(
        dl.GeoJSON(
            url=context_url(plan, f"poly-{key}"),
            style=JS["hideout_style"],
            pointToLayer=JS["radius_point"],
            hideout=POLY_STYLE[key],
            interactive=False,
            id=f"layer-{key}",
        ),
        name=t(label or key, lang),
        checked=checked,
    )


def basemaps(cfg: DashboardConfig, lang: str, plan: Plan) -> list[dl.BaseLayer]:
    """Offline hillshade (default) and elevation tint, plus configured online basemaps."""
    layers = [
        dl.BaseLayer(
            dl.TileLayer(
                url="/tiles/hillshade/{z}/{x}/{y}.png",
                attribution="DEM hillshade (anju, offline)",
                maxZoom=18,
            ),
            name=t("hillshade", lang),
            checked=True,
        ),
        dl.BaseLayer(
            dl.TileLayer(
                url="/tiles/elevation/{z}/{x}/{y}.png",
                attribution="DEM (anju, offline)",
                maxZoom=18,
            ),
            name=t("elevation", lang),
            checked=False,
        ),
    ]
    if cfg.osm:
        layers.append(
            dl.BaseLayer(
                dl.TileLayer(
                    url="https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                    attribution="© OpenStreetMap contributors",
                    maxZoom=19,
                ),
                name=t("osm", lang),
                checked=False,
            )
        )
    if cfg.tianditu_key:
        for lyr, label in (("vec", "tianditu"), ("img", "tianditu")):
            url = (
                "https://t{s}.tianditu.gov.cn/" + lyr + "_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
                "&VERSION=1.0.0&LAYER=" + lyr + "&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
                "&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=" + cfg.tianditu_key
            )
            layers.append(
                dl.BaseLayer(
                    dl.TileLayer(
                        url=url,
                        subdomains="01234567",
                        attribution="© 天地图 Tianditu",
                        maxZoom=18,
                    ),
                    name=f"{t(label, lang)} {lyr}",
                    checked=False,
                )
            )
    for extra in cfg.extra_basemaps:
        layers.append(
            dl.BaseLayer(
                dl.TileLayer(url=extra["url"], attribution=extra.get("attribution", "")),
                name=extra["name"],
                checked=False,
            )
        )
    return layers


def raster_overlays(
    plan: Plan,
    lang: str,
    *,
    only: Sequence[str] | None = None,
    on: Sequence[str] = (),
) -> list:
    """Tile overlays for the rasters present in the plan (``only`` these, in this order when
    given), those in ``on`` checked (the legend's opacity slider reaches them through their
    pattern id)."""
    names = list(only) if only is not None else ["slope_deg", "suitability", *RASTER_KINDS]
    out = []
    for name in names:
        if name not in plan.rasters or (only is not None and name not in only):
            continue
        out.append(
            dl.Overlay(
                dl.TileLayer(
                    url=f"/tiles/{name}/{{z}}/{{x}}/{{y}}.png",
                    opacity=0.6,
                    maxZoom=18,
                    id={"type": "raster-tile", "name": name},
                ),
                name=t(name, lang),
                checked=name in on,
            )
        )
    return out


def context_overlays(plan: Plan, lang: str, *, checked: tuple[str, ...] = ()) -> list:
    """Vector context layers: boundaries, roads, points of interest, hazards, protected."""
    items = [
        _poly_layer(plan, "boundary", lang, checked=True),
        _poly_layer(plan, "townships", lang, checked=True),
        _poly_layer(plan, "protected", lang, checked="protected" in checked),
        _poly_layer(plan, "hazards", lang, checked="hazards" in checked),
        _poly_layer(plan, "water_bodies", lang, checked=True),
        _poly_layer(plan, "service_area", lang, checked="water" in checked),
        _poly_layer(plan, "water_network", lang, checked="water" in checked),
    ]
    roads = plan.layer("roads")
    if not roads.empty:
        items.append(
            dl.Overlay(
                dl.GeoJSON(
                    url=context_url(plan, "roads"),
                    style=JS["road_style"],
                    hideout={"colors": ROAD_COLORS},
                    id=ids.ROADS if "roads" in checked else "layer-roads",
                ),
                name=t("roads", lang),
                checked="roads" in checked,
            )
        )
    for name in ("water", "clinics", "schools", "towns"):
        items.append(_poi_layer(plan, name, lang, checked=name in checked))
    return [i for i in items if i is not None]


def _water_of(types: tuple[str, ...], *, kinds: tuple[str, ...] | None = None):
    """Rows of the water layer with these geometry types (and ``kind`` values, when given)."""

    def select(plan: Plan):
        w = plan.layer("water")
        if w.empty:
            return w
        keep = w.geom_type.isin(list(types))
        if kinds is not None and "kind" in w.columns:
            keep &= w["kind"].isin(list(kinds))
        return w[keep]

    return select


#: Rows of the context layers that are not a plan layer of the same name.
_POLY_SELECT = {
    "water_bodies": _water_of(("Polygon", "MultiPolygon"), kinds=("water_body",)),
    "service_area": _water_of(("Polygon", "MultiPolygon"), kinds=("service_area",)),
    "water_network": _water_of(("LineString", "MultiLineString")),
}


def _township_label_points(plan: Plan) -> dict:
    pts = plan.layer("townships")[["name", "geometry"]].copy()
    pts["geometry"] = pts.geometry.representative_point()
    return to_geojson(pts, columns=["name"])


def context_geojson(plan: Plan, key: str) -> dict | None:
    """The GeoJSON of a context layer of the maps, by key; None for an unknown key.

    Keys: ``poly-<name>`` (boundary, townships, protected, hazards, water_bodies,
    service_area, water_network), ``poi-<name>`` (water, clinics, schools, towns),
    ``roads``, ``labels-townships``, ``labels-villages``. The same for every page and
    language, computed once per plan. The maps load them by URL (:func:`context_url`)
    rather than inside the page's layout: the layout (the user's wait for the first
    villages) stays small, and the browser keeps each layer for every page that shows it.
    """
    kind, _, name = key.partition("-")
    if kind == "poly" and name in POLY_STYLE:
        gdf = _poly_rows(plan, name)
        cols = {"name": "label", "kind": "kind"}
        if "radius_m" in gdf.columns:
            cols["radius_m"] = "r"
        return plan.memo(("poly", name), lambda: to_geojson(gdf, columns=cols))
    if kind == "poi" and name in POI_STYLE:
        gdf = _poi_rows(plan, name)
        return plan.memo(
            ("poi", name),
            lambda: to_geojson(gdf, columns={"name": "label", "kind": "kind", "level": "kind"}),
        )
    if key == "roads":
        return plan.memo("roads", lambda: roads_geojson(plan.layer("roads")))
    if key == "labels-townships" and "name" in plan.layer("townships").columns:
        return plan.memo("tw_labels", lambda: _township_label_points(plan))
    if key == "labels-villages" and "name" in plan.villages.columns:
        v = plan.villages
        return plan.memo("v_labels", lambda: to_geojson(v[["name", "geometry"]], columns=["name"]))
    return None


def context_url(plan: Plan, key: str) -> str:
    """``/geojson/<key>.json?v=<plan version>`` (the version changes with ``plan.gpkg``, so
    a browser's cached copy of an older plan is never shown)."""
    return f"/geojson/{key}.json?v={plan_version(plan)}"


def plan_version(plan: Plan) -> str:
    """A short token that changes whenever the plan's GeoPackage is rewritten."""
    gpkg = plan.plan_dir / "plan.gpkg"
    return plan.memo(
        "version", lambda: format(gpkg.stat().st_mtime_ns if gpkg.is_file() else 0, "x")
    )


def village_data(plan: Plan) -> dict:
    """The villages' GeoJSON (computed once per plan)."""
    return plan.memo("villages", lambda: villages_geojson(plan.villages, plan.indicator_ids))


def label_layers(plan: Plan, lang: str) -> list[dl.Overlay]:
    """Township names (from zoom 9) and village names (from zoom 12) as map labels,
    written as text (``anju.labelPoint``), never as markup."""
    out = []
    tw = plan.layer("townships")
    if not tw.empty and "name" in tw.columns:
        out.append(
            dl.Overlay(
                dl.GeoJSON(
                    url=context_url(plan, "labels-townships"),
                    pointToLayer=JS["label_point"],
                    hideout={"cls": "tw-label"},
                    id=ids.TOWNSHIP_LABELS,
                ),
                name=t("township_labels", lang),
                checked=True,
            )
        )
    v = plan.villages
    if not v.empty and "name" in v.columns:
        out.append(
            dl.Overlay(
                dl.GeoJSON(
                    url=context_url(plan, "labels-villages"),
                    pointToLayer=JS["label_point"],
                    hideout={"cls": "village-label"},
                    id=ids.VILLAGE_LABELS,
                ),
                name=t("village_labels", lang),
                checked=True,
            )
        )
    return out


def village_layer(plan: Plan, lang: str, *, indicator: str = "exit_ready") -> dl.Overlay:
    """The villages, coloured by status through ``hideout`` (see assets/anju.js)."""
    return dl.Overlay(
        dl.GeoJSON(
            data=village_data(plan),
            style=JS["village_style"],
            pointToLayer=JS["village_point"],
            # the label, and the layers kept for the filter's in-place restyle (anju.js)
            onEachFeature=JS["village_each"],
            hideout=coverage_hideout(plan.indicator_ids, indicator=indicator),
            id=ids.VILLAGES,
        ),
        name=t("villages", lang),
        checked=True,
    )


def _padded_center(bounds: list[list[float]], pad: tuple[int, int]) -> list[float]:
    """The map centre that leaves ``pad`` pixels (right, bottom) for the legend on a map
    about 800 × 800 px: the county's centre moved east (or south) by half the padding."""
    (s, w), (n, e) = bounds
    lat, lon = (s + n) / 2, (w + e) / 2
    right, bottom = pad
    lon += (e - w) * (right / 2) / max(1.0, 800.0 - right)
    lat -= (n - s) * (bottom / 2) / max(1.0, 800.0 - bottom)
    return [round(lat, 5), round(lon, 5)]


def map_frame(
    plan: Plan,
    cfg: DashboardConfig,
    lang: str,
    *,
    map_id: str,
    overlays: list,
    rasters: tuple[str, ...] | None = None,
    legend: Any = None,
    legend_pad: tuple[int, int] = (260, 10),
) -> html.Div:
    """A dl.Map with basemaps, the given overlays, raster overlays, scale bar and legend.

    ``legend_pad``: pixels (right, bottom) kept free of the county when the map opens, so the
    legend (bottom right) covers no data: to the right on wide maps, below on tall ones."""
    children = [
        # villages draw in their own pane, above clinics, schools and towns (marker pane)
        dl.Pane(name=VILLAGE_PANE, style={"zIndex": 620}),
        dl.LayersControl(
            [*basemaps(cfg, lang, plan), *overlays, *raster_overlays(plan, lang, only=rasters)],
            collapsed=True,
            position="topright",
        ),
        dl.ScaleControl(position="bottomleft", imperial=False),
    ]
    return html.Div(
        [
            dl.Map(
                children,
                id=map_id,
                bounds=plan.bounds,
                # the county framed left of the legend (bottom right) so it covers no data
                boundsOptions={"paddingTopLeft": [10, 10], "paddingBottomRight": list(legend_pad)},
                # the centre the padded bounds give on a typical screen (dash-leaflet needs
                # one, and it wins over the bounds' padding)
                center=_padded_center(plan.bounds, legend_pad),
                zoomSnap=0.25,
                style={"height": "100%", "width": "100%"},
                preferCanvas=False,
            ),
            legend,
        ],
        className="map-frame",
    )


def _swatch(color: str, *, shape: str = "circle", dash: str | None = None) -> html.Span:
    style = {"background": color}
    if shape == "line":
        style = {"borderTop": f"3px {'dashed' if dash else 'solid'} {color}"}
    return html.Span(className=f"swatch swatch-{shape}", style=style)


def legend_entry(
    label: str,
    color: str,
    *,
    shape: str = "circle",
    dash: bool = False,
    outline: str | None = None,
    layer: str | None = None,
) -> html.Div:
    """One legend row: a swatch (circle, square, triangle, line or area) and its label.

    ``layer``: the name of the map overlay the row describes; the row shows only while
    that overlay is on (``anju`` legend sync in assets/anju.js)."""
    sw = _swatch(color, shape=shape, dash="y" if dash else None)
    if outline is not None and shape != "line":
        sw.style = {
            **sw.style,
            "border": f"2px {'dashed' if dash else 'solid'} {outline}",
            "opacity": 1,
        }
    extra = {"data-layer": layer} if layer else {}
    return html.Div([sw, label], **extra)


def status_entries(view: str, lang: str) -> list[html.Div]:
    """Legend rows of the village statuses in a view (``exit`` or ``indicator``)."""
    rows = []
    for code, label in code_labels(view, lang).items():
        if code == "x":  # drawn small and pale with a dashed ring (anju.villageStyle)
            row = legend_entry(label, STATUS_COLORS[code], dash=True, outline="#6E6E6E")
        else:
            row = legend_entry(label, STATUS_COLORS[code])
        row.className = f"legend-status legend-status-{code}"
        rows.append(row)
    return rows


def blocker_entries(plan: Plan, lang: str) -> list[html.Div]:
    """Legend rows of the main-blocker view: one per indicator, then ready, unconfirmed,
    unknown, not assessed; each with the number of villages it holds (a span the filter
    updates, see ``anju.filter``) and, for an indicator, how many villages fail it at all."""
    iids = plan.indicator_ids
    colors = blocker_colors(iids)
    counts = blocker_counts(plan.villages, iids)
    names = {i["id"]: i for i in plan.indicators}
    rows = []
    labels = [
        (blocker_code(k), indicator_label(names.get(iid, {"id": iid}), lang))
        for k, iid in enumerate(iids)
    ]
    labels += [
        ("o", t("blocker_other", lang)),
        ("m", t("exit_met", lang)),
        ("i", t("exit_met_inferred", lang)),
        ("u", t("exit_unknown", lang)),
        ("x", t("exit_not_assessed", lang)),
    ]
    for code, label in labels:
        n = counts["main"].get(code, 0)
        row = legend_entry(
            label, colors[code], dash=code == "x", outline="#6E6E6E" if code == "x" else None
        )
        row.children = [
            *row.children,
            html.Span(
                str(n),
                id={"type": ids.BLOCKER_COUNT, "code": code},
                className="legend-count",
            ),
        ]
        if code in counts["any"]:
            row.title = t("blocker_any", lang, n=counts["any"][code])
            row.children = [
                *row.children,
                html.Span(f"/{counts['any'][code]}", className="legend-count-any"),
            ]
        row.className = f"legend-status legend-blocker-{code}"
        rows.append(row)
    head = html.Div(t("blocker_legend_head", lang), className="legend-head")
    return [head, *rows]


def coverage_entries(
    lang: str, *, view: str = "indicator", plan: Plan | None = None
) -> list[html.Div]:
    """Legend rows of the coverage and bureau maps: village statuses, roads, points, areas.

    ``view`` ``both`` gives the exit-readiness rows (shown while the map is coloured by
    readiness) and the indicator rows, each in a block the coverage page toggles.
    """
    if view == "both":
        items: list[Any] = [
            html.Div(
                blocker_entries(plan, lang) if plan is not None else [],
                id=ids.LEGEND_BLOCKER,
                className="legend-block",
            ),
            html.Div(
                status_entries("exit", lang),
                id=ids.LEGEND_EXIT,
                className="legend-block",
                style={"display": "none"},
            ),
            html.Div(
                status_entries("indicator", lang),
                id=ids.LEGEND_INDICATOR,
                className="legend-block",
                style={"display": "none"},
            ),
        ]
    else:
        items = status_entries(view, lang)
    roads = t("roads", lang)
    items += [
        legend_entry(t("hardened", lang), ROAD_COLORS["hardened"], shape="line", layer=roads),
        legend_entry(
            t("unhardened", lang), ROAD_COLORS["unhardened"], shape="line", dash=True, layer=roads
        ),
        legend_entry(
            f"{roads}: {t('unknown', lang)}",
            ROAD_COLORS["unknown"],
            shape="line",
            dash=True,
            layer=roads,
        ),
        legend_entry(t("road_inferred", lang), ROAD_COLORS["inferred"], shape="line", layer=roads),
    ]
    for name, st in POI_STYLE.items():
        items.append(
            legend_entry(t(name, lang), st["color"], shape=st["shape"], layer=t(name, lang))
        )
    for key in ("water_bodies", "hazards", "protected", "service_area"):
        items.append(
            legend_entry(
                t(key, lang), POLY_STYLE[key]["fillColor"], shape="area", layer=t(key, lang)
            )
        )
    items.append(
        legend_entry(
            t("water_network", lang),
            POLY_STYLE["water_network"]["color"],
            shape="line",
            layer=t("water_network", lang),
        )
    )
    return items


def raster_legend_names(plan: Plan | None, rasters: bool | tuple[str, ...]) -> list[str]:
    """The raster overlays a legend describes: those the page offers (``rasters`` names,
    or all when True, none when False) that the plan has."""
    if rasters is False or rasters is None:
        return []
    names = list(OVERLAYS) if rasters is True else [n for n in rasters if n in OVERLAYS]
    return [n for n in names if plan is None or n in plan.rasters]


def legend(
    lang: str,
    *,
    plan: Plan | None = None,
    rasters: bool | tuple[str, ...] = True,
    entries: list | None = None,
    view: str = "indicator",
) -> html.Div:
    """Legend: ``entries`` (default: the coverage rows of ``view``), the colour ramp of each
    raster overlay the page offers (``rasters``) with its unit, shown while that overlay is
    on, and, collapsed, the overlays' opacity slider. Rows of a context layer show only while
    the layer is on (``data-layer``, kept in step by assets/anju.js)."""
    items = coverage_entries(lang, view=view, plan=plan) if entries is None else entries
    ramps = []
    for name in raster_legend_names(plan, rasters):
        stops = legend_stops(name)
        grad = ", ".join(c for _, c in stops)
        ov = OVERLAYS[name]
        ramps.append(
            html.Div(
                [
                    html.Div(t(name, lang), className="ramp-title"),
                    html.Div(
                        className="ramp",
                        style={"background": f"linear-gradient(to right, {grad})"},
                    ),
                    html.Div(
                        [
                            html.Span(f"{ov.vmin:g}"),
                            html.Span(f"{ov.vmax:g}{unit_label(ov.unit, lang)}"),
                        ],
                        className="ramp-labels",
                    ),
                ],
                className="ramp-block",
                style={"display": "none"},
                **{"data-raster": name, "data-layer": t(name, lang)},
            )
        )
    body = [html.Div(items, className="legend-items"), *ramps]
    if ramps:
        body.append(
            html.Details(
                [
                    html.Summary(t("overlay_opacity", lang)),
                    dcc.Slider(
                        0,
                        1,
                        0.1,
                        value=0.6,
                        id=ids.RASTER_OPACITY,
                        marks={0: "0", 1: "1"},
                        allow_direct_input=False,
                        tooltip={"placement": "bottom", "always_visible": True},
                    ),
                ]
            )
        )
    return html.Details(
        [html.Summary(t("legend", lang), className="legend-title"), *body],
        id=ids.LEGEND,
        className="legend",
        open=True,
    )


# ---- relocation page styles and legend rows
SITE_STYLE = {"color": "#009E73", "weight": 2, "fillColor": "#009E73", "fillOpacity": 0.5}
IDLE_SITE_STYLE = {
    "color": "#009E73",
    "weight": 1,
    "fillColor": "#009E73",
    "fillOpacity": 0.08,
    "dashArray": "3 3",
}
FLOW_STYLE = {"color": "#CC79A7", "weight": 2, "opacity": 0.8, "dashArray": "4 3"}
SITE_COLOR = "#009E73"
#: Candidate villages (``anju.candPoint``): vermillion dots; a dark ring on those that move
#: by a decisive rule below the score threshold; dark red and larger for those not placed.
CAND_STYLE = {"color": "#D55E00", "radius": 5, "ring": "#1b1b1b", "unplaced": "#A50026"}
RELOC_RASTERS = ("suitability", "slope_deg")


def reloc_legend_entries(lg: str) -> list[html.Div]:
    """Legend rows for what this page draws: candidate villages (by score, by a decisive
    rule, not placed), sites (opened or not, planner or generated), allocation flows, and
    the context layers."""
    src = {"planner": t("planner", lg), "generated": t("generated", lg)}
    opened, idle = t("opened", lg), t("not_opened", lg)
    return [
        legend_entry(t("candidates", lg), CAND_STYLE["color"]),
        legend_entry(t("legend_bypass", lg), CAND_STYLE["color"], outline=CAND_STYLE["ring"]),
        legend_entry(t("legend_unplaced", lg), CAND_STYLE["unplaced"], outline="#ffffff"),
        legend_entry(
            f"{t('sites', lg)}: {opened} · {src['generated']}", SITE_COLOR, outline="#1b1b1b"
        ),
        legend_entry(
            f"{t('sites', lg)}: {opened} · {src['planner']}",
            SITE_COLOR,
            shape="diamond",
            outline="#1b1b1b",
        ),
        legend_entry(f"{t('sites', lg)}: {idle}", "#ffffff", dash=True, outline=SITE_COLOR),
        legend_entry(t("allocation_flow", lg), FLOW_STYLE["color"], shape="line", dash=True),
        legend_entry(t("towns", lg), POI_STYLE["towns"]["color"], shape="square"),
        legend_entry(t("hazards", lg), POLY_STYLE["hazards"]["fillColor"], shape="area"),
        legend_entry(t("protected", lg), POLY_STYLE["protected"]["fillColor"], shape="area"),
        legend_entry(t("boundary", lg), POLY_STYLE["boundary"]["color"], shape="line", dash=True),
        legend_entry(t("townships", lg), POLY_STYLE["townships"]["color"], shape="line", dash=True),
    ]


# Numbers in grids: thousands separators and at most two decimals without trailing zeros
# (12,345.6 reads the same in zh-CN and en); sorting and filtering still use the raw value.
def number_format(field: str) -> str:
    """The d3 format of a numeric column, by what its name says it holds: shares as a
    percent with one decimal, minutes and people as whole numbers, km and ha with one
    decimal, anything else with up to two (the unit is in the header, in the user's
    language)."""
    f = field.lower()
    if f.endswith("_year") or f in ("year", "version_id"):
        return "d"  # 2017, never "2,017"
    if f.endswith("_frac") or f.endswith("_share") or f.endswith("_pct"):
        return ".1%"
    if "people" in f or "population" in f or f.endswith("_count") or f in ("rank", "households"):
        return ",.0f"
    if f.endswith("_min") or f.startswith("travel_min") or "_min_" in f:
        return ",.0f"
    if f.endswith("_km") or f.endswith("_ha"):
        return ",.1f"
    if f.endswith("_m") or f.endswith("_cny"):
        return ",.0f"
    return ",.2~f"


def _formatter(fmt: str) -> str:
    return f"params.value == null || params.value === '' ? '' : d3.format('{fmt}')(params.value)"


def header_min_width(header: str) -> int:
    """Pixels a grid column needs so that its header's longest word is not cut ("Town…"):
    about 8 px per Latin letter, 14 per Chinese character (which wraps anywhere, so two at
    most), and 52 px of sort and filter icons and padding."""
    words = re.split(r"[\s/()（）·,，:：]+", str(header))
    latin = max((len(w) for w in words if w and not re.search(r"[\u4e00-\u9fff]", w)), default=0)
    cjk = 2 if re.search(r"[\u4e00-\u9fff]", str(header)) else 0
    return int(max(8 * latin, 14 * cjk) + 52)


def grid(
    grid_id: str,
    rows: list[dict],
    columns: list[tuple[str, str]],
    *,
    height: str = "320px",
    row_id: str | None = None,
    selectable: bool = True,
    wide: tuple[str, ...] = (),
    min_widths: dict[str, int] | None = None,
    tooltips: dict[str, str] | None = None,
) -> dag.AgGrid:
    """A dash-ag-grid table: ``columns`` are (field, header) pairs; ``wide`` fields get
    more room and a tooltip with the full text; ``tooltips`` maps a field to the field
    whose text its cells show on hover (a note behind a status)."""
    defs = []
    for field, header in columns:
        d: dict[str, Any] = {
            "field": field,
            "headerName": header,
            "filter": True,
            "sortable": True,
            "headerTooltip": header,
        }
        if field in wide:
            d.update({"flex": 3, "tooltipField": field, "minWidth": 200})
        if min_widths and field in min_widths:
            d["minWidth"] = min_widths[field]
        # headers wrap between words (and between Chinese characters), never inside a word:
        # the column is at least as wide as its longest word and the sort / filter icons
        d["minWidth"] = max(d.get("minWidth", 80), header_min_width(header))
        if tooltips and field in tooltips:
            d["tooltipField"] = tooltips[field]
        if rows and isinstance(
            next((r[field] for r in rows if r.get(field) is not None), None), int | float
        ):
            d["filter"] = "agNumberColumnFilter"
            d["valueFormatter"] = {"function": _formatter(number_format(field))}
        defs.append(d)
    opts: dict[str, Any] = {
        "animateRows": False,
        "pagination": len(rows) > 200,
        "paginationPageSize": 100,
    }
    if selectable:
        opts["rowSelection"] = {
            "mode": "singleRow",
            "checkboxes": False,
            "enableClickSelection": True,
        }
    return dag.AgGrid(
        id=grid_id,
        rowData=rows,
        columnDefs=defs,
        # headers wrap onto two lines instead of being cut to "容…" stubs
        defaultColDef={
            "resizable": True,
            "minWidth": 80,
            "flex": 1,
            "wrapHeaderText": True,
            "autoHeaderHeight": True,
        },
        dashGridOptions=opts,
        getRowId=f"params.data.{row_id}" if row_id else None,
        style={"height": height, "width": "100%"},
        className="ag-theme-alpine",
    )


def export_bar(bid: dict[str, str], lang: str) -> html.Div:
    """CSV / XLSX / GeoJSON export buttons and the download target."""
    return html.Div(
        [
            html.Button(t("export_csv", lang), id=bid["csv"], className="btn"),
            html.Button(t("export_xlsx", lang), id=bid["xlsx"], className="btn"),
            html.Button(t("export_geojson", lang), id=bid["geojson_btn"], className="btn"),
            dcc.Download(id=bid["download"]),
        ],
        className="export-bar",
    )


def dem_note(manifest: dict, lang: str) -> html.Div | None:
    """The DEM's resolution in one line; a coarse DEM is shown as a warning (issue: real
    county data, resolution guard)."""
    got = dem_line(manifest, lang)
    if got is None:
        return None
    text, coarse = got
    return html.Div(
        text,
        id=ids.DEM_NOTE,
        className="dem-note dem-note--coarse" if coarse else "dem-note",
        role="alert" if coarse else None,
    )


def warnings_box(manifest: dict, lang: str, *, open_: bool = False) -> html.Details | None:
    """The manifest's warnings (evidence gaps, inferred values, solver limits...), collapsed
    under a count; None when there are none (DESIGN.md rule 3: no silent figure)."""
    items = [str(w) for w in manifest.get("warnings") or [] if str(w).strip()]
    if not items:
        return None
    return html.Details(
        [
            html.Summary(f"{t('warnings', lang)} ({len(items)})"),
            html.Ul([html.Li(w) for w in items]),
        ],
        id=ids.WARNINGS,
        className="warnings",
        open=open_,
    )
