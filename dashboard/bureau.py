"""View models of the bureau pages (transport, water, health): the tables they show and
export, the map features the rows link to, and the viewport of a row.

Pure functions of plan layers as :class:`dashboard.plan.Plan` gives them (EPSG:4326):
nothing here touches Dash, so everything is unit-tested without a browser. Every table
is built in one language (``lang``): status, evidence quality and kind are written as
the page shows them; numbers are rounded as the bureau reads them (:func:`round_km`:
km and minutes to 1 decimal, people as integers). A missing value stays missing (NaN,
"unknown"): it is never read as 0 or as met.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from dashboard.i18n import fmt_num, t
from dashboard.viewmodels import (
    bool_series,
    gap_km_split,
    health_villages,
    indicator_status,
    to_geojson,
)

#: Feature property holding a village's id (as in ``viewmodels.villages_geojson``) and a
#: road gap's id (:func:`gaps_geojson`): what a map click sends back to select a row.
VILLAGE_PROP = "vid"
GAP_PROP = "gid"

#: Worst first: the order the water and clinic tables list statuses in.
STATUS_ORDER = {"not_met": 0, "unknown": 1, "met_inferred": 2, "met": 3}
#: How a village gets its water (:func:`water_supply`).
SUPPLY_KINDS = ("network", "source", "none")


# --------------------------------------------------------------------------- numbers


def round_km(values: Any, digits: int = 1) -> Any:
    """Round km or minutes to ``digits`` decimals without turning a positive amount into 0
    (0.03 km stays 0.03: a gap that exists never reads as none). NaN stays NaN."""
    s = pd.to_numeric(pd.Series(values), errors="coerce").astype(float)
    r = s.round(digits)
    tiny = (r == 0) & (s.abs() > 0)
    r = r.where(~tiny, s.round(digits + 2))
    if isinstance(values, pd.Series):
        return r.set_axis(values.index)
    return r.to_numpy() if np.ndim(values) else float(r.iloc[0])


def people(values: pd.Series) -> pd.Series:
    """People as integers (nullable: a missing count stays missing)."""
    return pd.to_numeric(values, errors="coerce").round(0).astype("Int64")


def fmt_km(value: Any, lang: str = "zh") -> str:
    """``"1.2 公里"`` / ``"1.2 km"`` (``"—"`` when missing)."""
    s = fmt_num(value, lang, digits=1)
    return s if s == "—" else f"{s} {t('bu_km', lang)}"


def fmt_min(value: Any, lang: str = "zh") -> str:
    """``"12.5 分钟"`` / ``"12.5 min"`` (``"—"`` when missing)."""
    s = fmt_num(value, lang, digits=1)
    return s if s == "—" else f"{s} {t('bu_min', lang)}"


def _join(names: Sequence[str], lang: str) -> str:
    return ("、" if lang != "en" else ", ").join(names)


def quality_label(q: Any, lang: str = "zh") -> str:
    """Label of an evidence quality (measured / attribute / inferred / missing); ``"—"``
    when the plan does not say."""
    if isinstance(q, str) and q in ("measured", "attribute", "inferred", "missing"):
        return t(f"quality_{q}", lang)
    return "—"


def status_text(status: Any, lang: str = "zh") -> str:
    """Label of an indicator status; anything else reads "unknown", never "met"."""
    return t(status if status in STATUS_ORDER else "unknown", lang)


# --------------------------------------------------------------------------- viewport


def row_viewport(geom: Any, *, zoom: int = 14, min_half_deg: float = 0.012) -> dict | None:
    """The map viewport that shows one row's geometry (EPSG:4326).

    A point: centred at ``zoom``; a line or area: its bounds, at least ``min_half_deg``
    either side of the middle (so a short gap is not shown at street level). None for an
    empty geometry.
    """
    if geom is None or geom.is_empty:
        return None
    if geom.geom_type == "Point":
        return {"center": [round(geom.y, 5), round(geom.x, 5)], "zoom": zoom, "transition": "flyTo"}
    minx, miny, maxx, maxy = geom.bounds
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    hx = max((maxx - minx) / 2, min_half_deg)
    hy = max((maxy - miny) / 2, min_half_deg)
    return {
        "bounds": [
            [round(cy - hy, 5), round(cx - hx, 5)],
            [round(cy + hy, 5), round(cx + hx, 5)],
        ],
        "transition": "flyToBounds",
    }


# --------------------------------------------------------------------------- transport


def _metric(gdf: gpd.GeoDataFrame, crs: str | None) -> gpd.GeoDataFrame:
    if gdf.crs is None:
        gdf = gdf.set_crs("EPSG:4326")
    if crs:
        return gdf.to_crs(crs)
    return gdf.to_crs(gdf.estimate_utm_crs()) if not gdf.crs.is_projected else gdf


def gap_road_names(
    gaps: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame,
    *,
    metric_crs: str | None = None,
    max_dist_m: float = 30.0,
    min_share: float = 0.3,
) -> pd.Series:
    """Names of the roads each gap runs along (lists, most of the gap first).

    The plan's gaps carry network edge ids, not road ids, so the roads are found on the
    map: points every 10 m along the gap (5 to 60 of them) vote for their nearest road
    within ``max_dist_m``; a road name with at least ``min_share`` of the votes is kept
    (a road crossing the gap gets only the few votes near the crossing). A connection
    (a road still to build) has no name; nor has a gap along unnamed roads.

    Returns
    -------
    Series of list of str, indexed like ``gaps`` (empty lists when the roads layer has no
    ``name`` column).
    """
    empty = pd.Series([[] for _ in range(len(gaps))], index=gaps.index, dtype=object)
    if gaps.empty or roads is None or roads.empty or "name" not in roads.columns:
        return empty
    r = roads[["name", "geometry"]]
    r = r[r.geometry.notna() & ~r.geometry.is_empty]
    if r.empty:
        return empty
    crs = metric_crs
    if crs is None:
        crs = str(_metric(gaps.iloc[:1], None).crs)
    g = _metric(gaps, crs)
    rm = _metric(r, crs)
    tree = shapely.STRtree(rm.geometry.to_numpy())
    names = rm["name"].to_numpy()
    kinds = gaps["kind"].to_numpy() if "kind" in gaps.columns else np.full(len(gaps), "harden")
    out = []
    for geom, kind in zip(g.geometry.to_numpy(), kinds, strict=True):
        if geom is None or geom.is_empty or kind == "connection":
            out.append([])
            continue
        n = int(np.clip(geom.length / 10.0, 5, 60))
        pts = shapely.line_interpolate_point(geom, np.linspace(0, 1, n), normalized=True)
        _, hit = tree.query_nearest(pts, max_distance=max_dist_m, all_matches=False)
        votes = pd.Series(names[hit], dtype=object).dropna().astype(str).str.strip()
        votes = votes[votes != ""].value_counts()
        out.append([str(k) for k, c in votes.items() if c >= min_share * n])
    return pd.Series(out, index=gaps.index, dtype=object)


def served_ids(value: Any) -> list[str]:
    """The village ids in a gap's ``villages_served`` (comma-separated text); an older plan
    that stores only a count gives none."""
    if isinstance(value, str):
        return [s.strip() for s in value.split(",") if s.strip()]
    if isinstance(value, list | tuple):
        return [str(s) for s in value]
    return []


def road_gap_table(
    gaps: gpd.GeoDataFrame,
    villages: pd.DataFrame,
    roads: gpd.GeoDataFrame | None,
    lang: str = "zh",
    *,
    metric_crs: str | None = None,
) -> gpd.GeoDataFrame:
    """The transport bureau's road-gap table, by rank (most people per km first).

    Columns: ``gap_id``, ``rank``, ``kind`` (harden / connection, in ``lang``),
    ``road_name`` (only when the roads layer has names; :func:`gap_road_names`; "unnamed
    road" when the gap's roads have none, "connection to build" for one), ``township``, ``villages`` (names of the villages served, in
    ``lang``'s list style; the ids when a village has no name), ``n_villages``,
    ``length_km``, ``known_unhardened_km`` (road known to be unhardened), ``unknown_surface_km``
    (surface unknown: survey first), ``connection_km`` (road to build)
    (:func:`dashboard.viewmodels.gap_km_split`; NaN where the plan cannot split), ``people_served``,
    ``people_per_km``, ``kind_code`` (raw kind), geometry and ``_extent`` (the gap with the
    villages it serves: what a row click shows; hidden, never exported). Km to 1 decimal
    (:func:`round_km`), people as integers.
    """
    cols = [
        "gap_id",
        "rank",
        "kind",
        "road_name",
        "township",
        "villages",
        "n_villages",
        "length_km",
        "known_unhardened_km",
        "unknown_surface_km",
        "connection_km",
        "people_served",
        "people_per_km",
        "kind_code",
    ]
    if gaps is None or gaps.empty:
        return gpd.GeoDataFrame({c: [] for c in cols}, geometry=[], crs="EPSG:4326")
    g = gaps.copy()
    if "gap_id" not in g.columns:
        g["gap_id"] = [f"gap{i + 1:04d}" for i in range(len(g))]
    g["gap_id"] = g["gap_id"].astype(str)
    if "people_per_km" not in g.columns and {"people_served", "length_km"} <= set(g.columns):
        length = pd.to_numeric(g["length_km"], errors="coerce")
        g["people_per_km"] = g["people_served"] / length.where(length > 0)
    split = gap_km_split(g)
    out = pd.DataFrame(index=g.index)
    out["gap_id"] = g["gap_id"]
    if "rank" in g.columns:
        rank = pd.to_numeric(g["rank"], errors="coerce")
    elif "people_per_km" in g.columns:
        rank = g["people_per_km"].rank(ascending=False, method="first")
    else:
        rank = pd.Series(np.arange(1, len(g) + 1), index=g.index)
    out["rank"] = rank.round(0).astype("Int64")
    out["kind_code"] = split["kind"]
    out["kind"] = split["kind"].map(lambda k: t(f"bu_kind_{k}", lang))
    if roads is not None and not roads.empty and "name" in roads.columns:
        names = gap_road_names(g, roads, metric_crs=metric_crs)
        unnamed = t("bu_unnamed_road", lang)
        out["road_name"] = [
            _join(ns, lang)
            if ns
            else (t("bu_kind_connection", lang) if k == "connection" else unnamed)
            for ns, k in zip(names, split["kind"], strict=True)
        ]
    out["township"] = g["township"] if "township" in g.columns else None
    vname = (
        pd.Series(villages["name"].to_numpy(), index=villages["village_id"].astype(str))
        if {"village_id", "name"} <= set(villages.columns)
        else pd.Series(dtype=object)
    )
    vname = vname[~vname.index.duplicated()]
    if "villages_served" in g.columns:
        ids_ = g["villages_served"].map(served_ids)

        def village_names(vs: list[str]) -> str:
            named = [vname.get(v) for v in vs]
            return _join(
                [n if isinstance(n, str) and n else v for n, v in zip(named, vs, strict=True)], lang
            )

        out["villages"] = ids_.map(lambda vs: village_names(vs) if vs else "—")
        counted = ids_.map(len)
        numeric = pd.to_numeric(g["villages_served"], errors="coerce")
        n = g["n_villages"] if "n_villages" in g.columns else counted.where(counted > 0, numeric)
        out["n_villages"] = pd.to_numeric(n, errors="coerce").astype("Int64")
    elif "n_villages" in g.columns:
        out["n_villages"] = pd.to_numeric(g["n_villages"], errors="coerce").astype("Int64")
    if "length_km" in g.columns:
        out["length_km"] = round_km(pd.to_numeric(g["length_km"], errors="coerce"))
    for c in ("known_unhardened_km", "unknown_surface_km", "connection_km"):
        out[c] = round_km(split[c])
    if "people_served" in g.columns:
        out["people_served"] = people(g["people_served"])
    if "people_per_km" in g.columns:
        ppk = pd.to_numeric(g["people_per_km"], errors="coerce")
        out["people_per_km"] = ppk.where(np.isfinite(ppk)).round(1)
    keep = [c for c in cols if c in out.columns]
    res = gpd.GeoDataFrame(out[keep], geometry=g.geometry, crs=g.crs)
    if "villages_served" in g.columns and "village_id" in villages.columns:
        res["_extent"] = _with_villages(g, villages)
    return res.sort_values("rank", na_position="last", kind="stable")


def _with_villages(g: gpd.GeoDataFrame, villages: pd.DataFrame) -> list:
    """Each gap's line with the points of the villages it serves (what a row click shows)."""
    geom = villages.geometry if isinstance(villages, gpd.GeoDataFrame) else None
    if geom is None:
        return list(g.geometry)
    where = pd.Series(
        geom.representative_point().to_numpy(), index=villages["village_id"].astype(str)
    )
    where = where[~where.index.duplicated()]
    out = []
    for line, served in zip(g.geometry, g["villages_served"].map(served_ids), strict=True):
        pts = [where[v] for v in served if v in where.index]
        parts = [x for x in [line, *pts] if x is not None and not x.is_empty]
        out.append(shapely.union_all(parts) if parts else line)
    return out


def gaps_geojson(table: gpd.GeoDataFrame, lang: str = "zh") -> dict:
    """The gaps for the map: ``gid`` (the row's key), ``k`` (harden / connection) and a
    ``label`` written as text by ``anju.bindLabel`` (id, road, km, people served)."""
    if table.empty:
        return to_geojson(table)

    def label(r) -> str:
        parts = [str(r["gap_id"])]
        road = r.get("road_name")
        unnamed = (t("bu_unnamed_road", lang), t("bu_kind_connection", lang))
        if isinstance(road, str) and road not in unnamed:
            parts.append(road)
        parts.append(str(r["kind"]))
        parts.append(fmt_km(r.get("length_km"), lang))
        if pd.notna(r.get("people_served")):
            parts.append(t("bu_people_served_n", lang, n=fmt_num(r["people_served"], lang)))
        return " · ".join(parts)

    tab = table.assign(_label=[label(r) for _, r in table.iterrows()])
    return to_geojson(tab, columns={"gap_id": GAP_PROP, "kind_code": "k", "_label": "label"})


# --------------------------------------------------------------------------- water


def _water_status(villages: pd.DataFrame, indicator: str) -> pd.Series:
    if f"{indicator}_status" in villages.columns or indicator in villages.columns:
        return indicator_status(villages, indicator)
    if "has_safe_water" in villages.columns:
        return indicator_status(villages, "has_safe_water")
    return pd.Series("unknown", index=villages.index, dtype=object)


def water_supply(
    villages: gpd.GeoDataFrame, water: gpd.GeoDataFrame | None, *, max_snap_m: float = 300.0
) -> pd.DataFrame:
    """Which water network or source serves each village.

    ``network``: the village lies in a water service area (the plan's
    ``in_water_service_area``, or, without that column, the service-area polygons); it is
    served by the network line crossing that area (the area itself when none does).
    ``source``: no network is known to serve it; the nearest safe source (plan's
    ``nearest_water_id``) and the straight-line distance to it (``water_dist_m``) are
    given, and labelled straight-line. ``none``: no safe source is known at all.

    Returns
    -------
    DataFrame indexed like ``villages``: ``supply_kind``, ``supply_id``, ``supply_name``,
    ``source_km`` (straight-line km, only for ``source``).
    """
    idx = villages.index
    out = pd.DataFrame(
        {
            "supply_kind": "none",
            "supply_id": pd.Series([None] * len(idx), index=idx, dtype=object),
            "supply_name": pd.Series([None] * len(idx), index=idx, dtype=object),
            "source_km": np.nan,
        },
        index=idx,
    )
    w = water if water is not None else gpd.GeoDataFrame(geometry=[], crs="EPSG:4326")
    names = (
        w.set_index("water_id")["name"]
        if {"water_id", "name"} <= set(w.columns)
        else pd.Series(dtype=object)
    )
    names = names[~names.index.duplicated()]
    # nearest safe source: straight line
    if "nearest_water_id" in villages.columns:
        wid = villages["nearest_water_id"]
        has = wid.notna() & (wid.astype(str).str.strip() != "")
        out.loc[has, "supply_kind"] = "source"
        out.loc[has, "supply_id"] = wid[has].astype(str)
        out.loc[has, "supply_name"] = wid[has].astype(str).map(lambda x: names.get(x, None))
        if "water_dist_m" in villages.columns:
            km = pd.to_numeric(villages["water_dist_m"], errors="coerce") / 1000.0
            out.loc[has, "source_km"] = round_km(km[has])
    # service areas: which network serves a village inside one
    areas = w[w["kind"] == "service_area"] if "kind" in w.columns and not w.empty else w.iloc[:0]
    areas = areas[areas.geom_type.isin(["Polygon", "MultiPolygon"])] if not areas.empty else areas
    if "in_water_service_area" in villages.columns:
        inside = bool_series(villages["in_water_service_area"]).fillna(False).astype(bool)
    elif not areas.empty:
        inside = pd.Series(False, index=idx)  # decided from the polygons below
    else:
        inside = pd.Series(False, index=idx)
    if not areas.empty and len(villages):
        crs = str(_metric(villages.iloc[:1], None).crs)
        pts = gpd.GeoDataFrame(geometry=villages.geometry.representative_point(), crs=villages.crs)
        pts_m = _metric(pts, crs)
        am = _metric(areas[["water_id", "geometry"]].reset_index(drop=True), crs)
        j = gpd.sjoin_nearest(pts_m, am, how="left", max_distance=max_snap_m, distance_col="_d")
        j = j[~j.index.duplicated(keep="first")]
        area_of = j["water_id"].reindex(idx)
        if "in_water_service_area" not in villages.columns:
            inside = (j["_d"].reindex(idx) == 0).fillna(False)
        nets = (
            w[(w["kind"] == "network") & w.geom_type.isin(["LineString", "MultiLineString"])]
            if "kind" in w.columns
            else w.iloc[:0]
        )
        served_by: dict[str, tuple[str, Any]] = {}
        if not nets.empty:
            nm = _metric(nets[["water_id", "geometry"]].reset_index(drop=True), crs)
            for aid, ageom in zip(am["water_id"], am.geometry, strict=True):
                lengths = nm.geometry.intersection(ageom).length
                if (lengths > 0).any():
                    k = int(lengths.to_numpy().argmax())
                    nid = str(nm["water_id"].iat[k])
                    served_by[str(aid)] = (nid, names.get(nid, None))
        for i in idx[inside.to_numpy(dtype=bool)]:
            aid = area_of.get(i)
            if aid is None or (isinstance(aid, float) and np.isnan(aid)):
                sid, sname = None, None
            else:
                sid, sname = served_by.get(str(aid), (str(aid), names.get(str(aid), None)))
            out.at[i, "supply_kind"] = "network"
            out.at[i, "supply_id"] = sid
            out.at[i, "supply_name"] = sname
            out.at[i, "source_km"] = np.nan
    else:
        out.loc[inside.to_numpy(dtype=bool), ["supply_kind", "supply_id", "supply_name"]] = [
            "network",
            None,
            None,
        ]
        out.loc[inside.to_numpy(dtype=bool), "source_km"] = np.nan
    return out


def water_table(
    villages: gpd.GeoDataFrame,
    water: gpd.GeoDataFrame | None,
    lang: str = "zh",
    *,
    indicator: str = "water",
) -> gpd.GeoDataFrame:
    """Every village with how it gets water and its safe-water status, worst first.

    Columns: ``village_id``, ``name``, ``township``, ``population``, ``water_status``
    (met / met (inferred) / not met / unknown, in ``lang``: a village the plan cannot
    decide is unknown, never met), ``water_quality`` (evidence quality), ``supply_kind``
    (network / nearest safe source, straight line / none, in ``lang``), ``supply_name``,
    ``supply_id``, ``source_km`` (straight-line km to the nearest safe source, only when no
    network is known), ``water_note``, ``status_code`` (raw) and geometry.
    Order: not met, unknown, met (inferred), met; then by population.
    """
    v = villages
    st = _water_status(v, indicator)
    sup = water_supply(v, water)
    out = pd.DataFrame(index=v.index)
    for c in ("village_id", "name", "township"):
        if c in v.columns:
            out[c] = v[c]
    if "population" in v.columns:
        out["population"] = people(v["population"])
    out["water_status"] = st.map(lambda s: status_text(s, lang))
    q = f"{indicator}_quality"
    out["water_quality"] = v[q].map(lambda x: quality_label(x, lang)) if q in v.columns else "—"
    out["supply_kind"] = sup["supply_kind"].map(lambda k: t(f"bu_supply_{k}", lang))
    out["supply_name"] = [
        (n if isinstance(n, str) and n else (i if isinstance(i, str) and i else "—"))
        for n, i in zip(sup["supply_name"], sup["supply_id"], strict=True)
    ]
    out["supply_id"] = sup["supply_id"].map(lambda x: x if isinstance(x, str) and x else "—")
    out["source_km"] = sup["source_km"]
    note = f"{indicator}_note_{'en' if lang == 'en' else 'zh'}"
    if note in v.columns:
        out["water_note"] = v[note].fillna("")
    out["status_code"] = st
    res = gpd.GeoDataFrame(out, geometry=v.geometry, crs=v.crs)
    keys = [
        st.map(STATUS_ORDER).fillna(1).to_numpy(dtype=float),
        -pd.to_numeric(v.get("population", pd.Series(0, index=v.index)), errors="coerce")
        .fillna(0)
        .to_numpy(dtype=float),
    ]
    order = np.lexsort(list(reversed(keys)))
    return res.iloc[order]


def status_counts(codes: pd.Series) -> dict[str, int]:
    """Villages per status (met, met_inferred, not_met, unknown; they add up)."""
    c = codes.where(codes.isin(list(STATUS_ORDER)), "unknown")
    return {s: int((c == s).sum()) for s in ("met", "met_inferred", "not_met", "unknown")}


def water_by_supply(table: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """Villages per network or source (:func:`water_table`): ``supply_kind``, ``supply_name``,
    ``villages``, ``population``, ``met``, ``not_met``, ``unknown`` (met (inferred) counts
    with met only when confirmed: it is listed apart as ``met_inferred``), and
    ``people_not_met``; most villages not met first."""
    cols = [
        "supply_kind",
        "supply_name",
        "villages",
        "population",
        "met",
        "met_inferred",
        "not_met",
        "unknown",
        "people_not_met",
    ]
    if table.empty:
        return pd.DataFrame(columns=cols)
    code = table["status_code"]
    pop = pd.to_numeric(table.get("population"), errors="coerce").fillna(0)
    df = pd.DataFrame(
        {
            "supply_kind": table["supply_kind"],
            "supply_name": table["supply_name"],
            "population": pop,
            "met": code == "met",
            "met_inferred": code == "met_inferred",
            "not_met": code == "not_met",
            "unknown": ~code.isin(["met", "met_inferred", "not_met"]),
            "people_not_met": pop.where(code == "not_met", 0.0),
        }
    )
    g = (
        df.groupby(["supply_kind", "supply_name"], dropna=False)
        .agg(
            villages=("population", "size"),
            population=("population", "sum"),
            met=("met", "sum"),
            met_inferred=("met_inferred", "sum"),
            not_met=("not_met", "sum"),
            unknown=("unknown", "sum"),
            people_not_met=("people_not_met", "sum"),
        )
        .reset_index()
    )
    for c in ("villages", "met", "met_inferred", "not_met", "unknown"):
        g[c] = g[c].astype(int)
    for c in ("population", "people_not_met"):
        g[c] = people(g[c])
    g = g.sort_values(["not_met", "unknown", "villages"], ascending=False, kind="stable")
    return g.reset_index(drop=True)[cols]


# --------------------------------------------------------------------------- health


def health_table(
    villages: gpd.GeoDataFrame,
    clinics: gpd.GeoDataFrame | None = None,
    lang: str = "zh",
    *,
    indicator: str = "clinic",
) -> gpd.GeoDataFrame:
    """The clinic gaps: villages whose clinic indicator is not met or unknown
    (:func:`dashboard.viewmodels.health_villages`: not met first, then the longest trip).

    Columns (those the plan has): ``village_id``, ``name``, ``township``, ``population``,
    ``clinic_status`` (in ``lang``), ``clinic_quality`` (evidence quality),
    ``clinic_standard``, ``clinic_doctor``, ``travel_min_health_centre``,
    ``nearest_health_centre`` (its name, else its id), ``travel_min_village_clinic``
    (minutes, 1 decimal; blank when unreachable or unknown), ``clinic_note``,
    ``status_code`` (raw) and geometry.
    """
    base = health_villages(villages, indicator=indicator)
    out = base.copy()
    out["status_code"] = base["clinic_status"]
    out["clinic_status"] = base["clinic_status"].map(lambda s: status_text(s, lang))
    q = f"{indicator}_quality"
    if q in villages.columns:
        out["clinic_quality"] = villages.loc[base.index, q].map(lambda x: quality_label(x, lang))
    if "population" in out.columns:
        out["population"] = people(out["population"])
    for c in ("travel_min_health_centre", "travel_min_village_clinic"):
        if c in out.columns:  # from the plan's value: 0.02 min is not 0
            out[c] = round_km(pd.to_numeric(villages.loc[base.index, c], errors="coerce"))
    if "nearest_health_centre_id" in out.columns:
        names = (
            clinics.set_index("clinic_id")["name"]
            if clinics is not None and {"clinic_id", "name"} <= set(clinics.columns)
            else pd.Series(dtype=object)
        )
        names = names[~names.index.duplicated()]
        out["nearest_health_centre"] = out["nearest_health_centre_id"].map(
            lambda x: names.get(x, x) if isinstance(x, str) and x else "—"
        )
    note = f"clinic_note_{'en' if lang == 'en' else 'zh'}"
    if note in out.columns:
        out["clinic_note"] = out[note].fillna("")
    cols = [
        "village_id",
        "name",
        "township",
        "population",
        "clinic_status",
        "clinic_quality",
        "clinic_standard",
        "clinic_doctor",
        "hosts_health_centre",
        "travel_min_health_centre",
        "nearest_health_centre",
        "travel_min_village_clinic",
        "clinic_note",
        "status_code",
    ]
    return out[[c for c in cols if c in out.columns] + ["geometry"]]


# --------------------------------------------------------------------------- linking


def feature_key(feature: Mapping[str, Any] | None, prop: str) -> str | None:
    """The key a clicked map feature carries (``properties[prop]``), None when absent."""
    props = (feature or {}).get("properties") or {}
    v = props.get(prop)
    return None if v is None else str(v)
