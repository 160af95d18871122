"""Bureau coverage: what transport, water, health bureaus and leaders read.

Pure functions on the evaluated villages (:func:`geo.indicators.evaluate`) and the
network's gap edges. Every per-township table ends with a county row
(``level == "county"``) whose counts are the sums of the township rows; villages
with no township are grouped under ``unknown_township_label`` so nothing is lost.

Conventions
-----------
- People are never counted twice (:func:`counted_population`): an administrative
  village (``level`` "admin" or blank) contains its hamlets, so a hamlet
  (``level == "hamlet"``) whose ``parent_id`` is a row of the same table adds no
  people to a total; hamlets whose parent is not in the table are counted. Counts
  of villages (``n_*``) still count every row.
- "lacking a hardened road": ``road_access`` is ``gap`` or ``no_road``; ``unknown``
  or missing is counted apart as unknown, never as hardened.
- km of road work are split by what is known: known unhardened road to harden,
  road of unknown surface (to survey first: it may be hardened already) and
  connections to build (a settlement farther than the profile's connection
  distance from its road); never one mixed figure.
- "without safe water": ``has_safe_water`` False; <NA> is listed as unknown.
  Only water sources recorded as safe count as safe sources (:func:`water_access`).
- clinics: ``clinic_status`` (met | not_met | unknown, the indicator of
  :func:`geo.indicators.evaluate`) when the table has it, so map, tables and
  briefing count the same thing; otherwise a standard clinic with a doctor
  (``clinic_standard`` and ``clinic_doctor``: not met when either is False,
  unknown when neither is False and one is <NA>). Unknown is never "without".
- travel time within N minutes is inclusive (<= N); NaN (unreachable, or the access
  stage did not run) counts as not within.
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from geo.indicators import BLOCKER_CLASSES
from layers.errors import CRSError, LayerSchemaError
from layers.tristate import to_tristate

__all__ = [
    "counted_population",
    "road_gaps",
    "transport_summary",
    "water_access",
    "water_summary",
    "water_township_summary",
    "health_summary",
    "health_township_summary",
    "leader_summary",
    "chinese_headers",
]

_CLINIC_STATES = ("met", "not_met", "unknown")
#: Villages the exit rule does not assess (hamlets, villages not on the poverty register).
_NOT_ASSESSED = ("not_registered", "hamlet")


# --------------------------------------------------------------------------- helpers


def _require(df: pd.DataFrame, cols: Sequence[str], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise LayerSchemaError(
            f"{what}: missing column(s) {', '.join(missing)}; found {', '.join(map(str, df.columns))}"
        )


def _township(df: pd.DataFrame, label: str) -> pd.Series:
    if "township" not in df.columns:
        return pd.Series(label, index=df.index, dtype=object)
    t = df["township"].astype(object)
    return t.where(t.notna() & (t.astype(str) != ""), label)


def _population(df: pd.DataFrame) -> pd.Series:
    if "population" not in df.columns:
        return pd.Series(0.0, index=df.index)
    return pd.to_numeric(df["population"], errors="coerce").fillna(0.0).astype(float)


def counted_population(df: pd.DataFrame) -> pd.Series:
    """Population of each row where it counts towards a total, 0 elsewhere.

    An administrative village (``level`` "admin", blank or absent) contains its
    hamlets (自然村): a hamlet (``level == "hamlet"``) whose ``parent_id`` is the
    ``village_id`` of a row of ``df`` counts 0, since its people are in the parent's
    population. A hamlet whose parent is not in ``df`` (or has no ``parent_id``)
    counts its own population. Sum the result for any total of people.

    Parameters
    ----------
    df : DataFrame
        With ``population`` (missing or non-numeric values count 0) and optionally
        ``level``, ``parent_id`` and ``village_id``.

    Returns
    -------
    pandas.Series
        Float, indexed like ``df``.
    """
    pop = _population(df)
    if "level" not in df.columns or "parent_id" not in df.columns or "village_id" not in df:
        return pop
    level = df["level"].astype(object)
    hamlet = level.map(lambda x: isinstance(x, str) and x.strip().lower() == "hamlet")
    if not hamlet.any():
        return pop
    vid = df["village_id"].astype(object)
    ids = set(vid.dropna().astype(str))
    parent = df["parent_id"].astype(object)
    # a hamlet naming itself as parent has no parent row: it counts
    parent_here = [
        p is not None and not pd.isna(p) and str(p) in ids and str(p) != str(me)
        for p, me in zip(parent, vid, strict=True)
    ]
    return pop.where(~(hamlet.to_numpy(dtype=bool) & np.array(parent_here, dtype=bool)), 0.0)


def _with_county(table: pd.DataFrame, county_label: str) -> pd.DataFrame:
    """Append the county row: sums of every numeric column."""
    table = table.sort_values("township", kind="stable").reset_index(drop=True)
    table.insert(0, "level", "township")
    county = {c: table[c].sum() for c in table.columns if pd.api.types.is_numeric_dtype(table[c])}
    county.update({"level": "county", "township": county_label})
    return pd.concat([table, pd.DataFrame([county])], ignore_index=True)


def _share(num: pd.Series, den: pd.Series) -> pd.Series:
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.Series(np.where(den > 0, num / den.where(den > 0), np.nan), index=num.index)


# --------------------------------------------------------------------------- transport

_GAP_COLUMNS = [
    "gap_id",
    "kind",
    "township",
    "townships",
    "length_km",
    "known_unhardened_km",
    "unknown_surface_km",
    "n_edges",
    "edge_ids",
    "villages_served",
    "n_villages",
    "people_served",
    "people_per_km",
    "rank",
]


def road_gaps(
    edges_gdf: gpd.GeoDataFrame,
    villages_eval: pd.DataFrame,
    *,
    gap_col: str = "gap_edge_ids",
    connection_col: str = "connection_km",
    unknown_township_label: str = "（未知乡镇）",
) -> gpd.GeoDataFrame:
    """Road work to do — sections to harden and connections to build — ranked by
    people connected per km.

    Edges on the gap path of at least one village are grouped by the set of
    villages they serve; each group is split into contiguous runs (edges sharing
    an end point, or a node id when ``edges_gdf`` has ``u``/``v``). A trunk used
    by villages A and B is thus one segment, ranked above the branch that serves
    A alone. Each village farther from its road than the connection distance
    (``connection_col`` > 0, from :func:`geo.network.unhardened_gap`; ``no_road``
    villages included) adds one connection: a straight line from the village to
    the nearest point of the network.

    Parameters
    ----------
    edges_gdf : GeoDataFrame
        The network's edges (``net.edges``) in a metric CRS; ``gap_col`` holds
        its ``edge_id`` values (its index labels when there is no ``edge_id``
        column). ``length_m`` is used when present, else the geometry length;
        whole edges are counted. ``hardened`` False marks known unhardened road,
        <NA> unknown surface; without a ``hardened`` column every surface is unknown.
    villages_eval : DataFrame
        Evaluated villages with ``village_id``, ``population``, ``township``,
        ``gap_col`` (list of edge ids per village, empty/None when no gap) and
        optionally ``connection_col`` (km), ``level`` and ``parent_id``. A
        GeoDataFrame in ``edges_gdf``'s CRS when any connection is to be drawn.
    gap_col : str
        Column with the per-village gap edge ids (from ``unhardened_gap``).
    connection_col : str
        Column with the km of connection each village needs (0 or NaN: none).
    unknown_township_label : str
        Township label for rows whose villages carry none.

    Returns
    -------
    GeoDataFrame
        One row per segment or connection: ``gap_id``, ``kind`` (``"harden"``: road
        sections to harden or survey; ``"connection"``: a road to build),
        ``township`` (of the served villages with most people), ``townships`` (all,
        comma-separated), ``length_km`` (total), ``known_unhardened_km`` (known work:
        road known to be unhardened, or the whole connection), ``unknown_surface_km``
        (road of unknown surface: survey first, it may be hardened already), so that
        ``length_km = known_unhardened_km + unknown_surface_km``; ``n_edges``,
        ``edge_ids`` (empty for a connection), ``villages_served`` (comma-separated
        ids), ``n_villages``, ``people_served``, ``people_per_km``, ``rank`` (1 =
        most people per km, over all rows), geometry (merged lines; the
        connection's straight line), in ``edges_gdf``'s CRS.

        ``people_served`` is :func:`counted_population` summed over the row's served
        villages (a hamlet served together with its parent village adds nobody).
        ``people_per_km`` = sum over the served villages of their counted people /
        the village's whole work (km of its gap edges plus its connection). A village
        is connected only when all of its gap is hardened and its connection built,
        so a short run that is part of a longer gap is not credited with the whole
        village per its own short length; a trunk shared by several villages adds
        up their shares.

    Raises
    ------
    LayerSchemaError
        If a column is missing, a village names an edge id not in ``edges_gdf``, or
        a connection is needed but the villages carry no geometry.
    CRSError
        If the villages' CRS differs from the edges' CRS.
    """
    _require(villages_eval, ["village_id", gap_col], "villages")
    cols = _GAP_COLUMNS
    vid_all = villages_eval["village_id"].astype(str)
    served: dict[object, set[str]] = {}
    for vid, ids in zip(vid_all, villages_eval[gap_col], strict=True):
        if ids is None or (np.isscalar(ids) and pd.isna(ids)):
            continue
        for e in list(ids):
            served.setdefault(e, set()).add(vid)
    conn = (
        pd.to_numeric(villages_eval[connection_col], errors="coerce")
        if connection_col in villages_eval.columns
        else pd.Series(np.nan, index=villages_eval.index)
    )
    needs = (conn > 0).fillna(False).to_numpy(dtype=bool)
    if not served and not needs.any():
        return gpd.GeoDataFrame({c: [] for c in cols}, geometry=[], crs=edges_gdf.crs)

    vt = (
        villages_eval.assign(
            _vid=vid_all,
            _pop=_population(villages_eval),
            _town=_township(villages_eval, unknown_township_label),
            _conn=conn.where(conn > 0, 0.0).fillna(0.0),
        )
        .drop_duplicates("_vid")
        .set_index("_vid")
    )

    # counted within the row, as counted_population counts a frame of the row's villages: a
    # hamlet counts unless its parent is served by it too (per-village look-ups: a county
    # has hundreds of rows, and a DataFrame per row cost most of this function's time)
    pop_of = vt["_pop"].astype(float).to_dict()
    town_of = vt["_town"].astype(str).to_dict()
    parent_of: dict[str, str] = {}
    if {"level", "parent_id", "village_id"} <= set(vt.columns):
        for vid, lv, par in zip(vt.index, vt["level"].astype(object), vt["parent_id"], strict=True):
            is_hamlet = isinstance(lv, str) and lv.strip().lower() == "hamlet"
            if is_hamlet and par is not None and not pd.isna(par) and str(par) != vid:
                parent_of[vid] = str(par)

    def people(vids: list[str]) -> pd.Series:
        here = set(vids)
        return pd.Series(
            [0.0 if parent_of.get(v) in here else pop_of[v] for v in vids], index=vids, dtype=float
        )

    def by_township(pops: pd.Series) -> list[str]:
        """The row's townships, most people first (ties by name)."""
        sums: dict[str, float] = {}
        for v, n in pops.items():
            sums[town_of[v]] = sums.get(town_of[v], 0.0) + n
        return sorted(sums, key=lambda t: (-sums[t], t))

    records: list[dict] = []
    geoms_out: list[object] = []
    work_km = vt["_conn"].astype(float).to_dict()  # each village's whole work, km
    if served:
        keyed = edges_gdf.set_index("edge_id", drop=False) if "edge_id" in edges_gdf else edges_gdf
        unknown = [e for e in served if e not in keyed.index]
        if unknown:
            raise LayerSchemaError(
                f"villages.{gap_col}: edge id(s) {unknown[:5]} not in the network's edges "
                f"(ids {keyed.index.min()}..{keyed.index.max()})"
            )
        edge_ids = list(served)
        sub = keyed.loc[edge_ids]
        if "hardened" in sub.columns:
            h = to_tristate(sub["hardened"], where="edges.hardened")
            known_unhard = (~h).fillna(False).to_numpy(dtype=bool)
            unknown_surface = h.isna().to_numpy()
        else:  # nothing says what the surface is
            known_unhard = np.zeros(len(sub), dtype=bool)
            unknown_surface = np.ones(len(sub), dtype=bool)
        lengths_m = (
            pd.to_numeric(sub["length_m"], errors="coerce").to_numpy()
            if "length_m" in sub.columns
            else shapely.length(sub.geometry.to_numpy())
        )
        labels, keys = _runs(sub, edge_ids, served)
        pos = {e: i for i, e in enumerate(edge_ids)}
        for e, vids_e in served.items():
            for vid in vids_e:
                work_km[vid] = work_km.get(vid, 0.0) + float(lengths_m[pos[e]]) / 1000.0
        for lab in np.unique(labels):
            members = np.flatnonzero(labels == lab)
            vids = sorted(keys[members[0]])
            pops = people(vids)
            towns = by_township(pops)
            lm = lengths_m[members]
            records.append(
                {
                    "kind": "harden",
                    "township": towns[0],
                    "townships": ",".join(sorted(towns)),
                    "length_km": float(np.nansum(lm)) / 1000.0,
                    "known_unhardened_km": float(np.nansum(lm[known_unhard[members]])) / 1000.0,
                    "unknown_surface_km": float(np.nansum(lm[unknown_surface[members]])) / 1000.0,
                    "n_edges": len(members),
                    "edge_ids": ",".join(str(edge_ids[i]) for i in members),
                    "villages_served": ",".join(vids),
                    "n_villages": len(vids),
                    "people_served": float(pops.sum()),
                    "people_per_km": _per_km(pops, work_km),
                }
            )
            geoms_out.append(
                shapely.line_merge(shapely.union_all(sub.geometry.to_numpy()[members]))
            )
    if needs.any():
        lines = _connection_lines(edges_gdf, villages_eval, needs)
        seen: set[str] = set()
        for vid, line in zip(vid_all[needs], lines, strict=True):
            if vid in seen:
                continue  # a village listed twice gets one connection
            seen.add(vid)
            km = float(vt.at[vid, "_conn"])
            pops = people([vid])
            town = str(vt.at[vid, "_town"])
            records.append(
                {
                    "kind": "connection",
                    "township": town,
                    "townships": town,
                    "length_km": km,
                    "known_unhardened_km": km,  # a connection to build is known work
                    "unknown_surface_km": 0.0,
                    "n_edges": 0,
                    "edge_ids": "",
                    "villages_served": vid,
                    "n_villages": 1,
                    "people_served": float(pops.sum()),
                    "people_per_km": _per_km(pops, work_km),
                }
            )
            geoms_out.append(line)
    out = gpd.GeoDataFrame(records, geometry=geoms_out, crs=edges_gdf.crs)
    order = out.sort_values(
        ["people_per_km", "people_served", "villages_served", "edge_ids", "kind"],
        ascending=[False, False, True, True, True],
        kind="stable",
    ).index
    out = out.loc[order].reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    out.insert(0, "gap_id", [f"gap{r:04d}" for r in out["rank"]])
    return out[[*cols, "geometry"]]


def _per_km(pops: pd.Series, work_km: dict) -> float:
    return float(
        sum(float(pops[v]) / work_km[v] if work_km.get(v, 0.0) > 0 else np.inf for v in pops.index)
    )


def _runs(
    sub: gpd.GeoDataFrame, edge_ids: list, served: dict[object, set[str]]
) -> tuple[np.ndarray, list[frozenset[str]]]:
    """Label gap edges by contiguous run within the same served set of villages."""
    # node ids for contiguity: the network's u/v, else rounded end points
    if {"u", "v"} <= set(sub.columns):
        ends = list(zip(sub["u"].tolist(), sub["v"].tolist(), strict=True))
    else:
        geoms = sub.geometry.to_numpy()
        first = shapely.get_coordinates(shapely.get_point(geoms, 0))
        last = shapely.get_coordinates(shapely.get_point(geoms, -1))
        ends = [
            (tuple(np.round(a, 3)), tuple(np.round(b, 3))) for a, b in zip(first, last, strict=True)
        ]
    keys = [frozenset(served[e]) for e in edge_ids]
    node_ix: dict[object, int] = {}
    rows, colsx = [], []
    for i, (a, b) in enumerate(ends):
        for n in (a, b):
            j = node_ix.setdefault((keys[i], n), len(node_ix))
            rows.append(i)
            colsx.append(j)
    m = len(edge_ids)
    inc = coo_matrix((np.ones(len(rows)), (rows, colsx)), shape=(m, len(node_ix))).tocsr()
    _, labels = connected_components(inc @ inc.T, directed=False)
    return labels, keys


def _connection_lines(
    edges_gdf: gpd.GeoDataFrame, villages_eval: pd.DataFrame, needs: np.ndarray
) -> np.ndarray:
    """Straight lines from each village that needs a connection to the nearest road.

    The line runs from the village's point nearest to the road (the point itself
    for point villages) to the nearest point of the nearest edge, so its length is
    the village's snap distance.
    """
    n = int(needs.sum())
    active = (
        villages_eval.active_geometry_name if isinstance(villages_eval, gpd.GeoDataFrame) else None
    )
    if active is None or active not in villages_eval.columns:
        raise LayerSchemaError(
            f"villages: {n} village(s) need a connection (connection_km > 0) but the table "
            "has no geometry to draw it from"
        )
    vcrs, ecrs = villages_eval.crs, edges_gdf.crs
    if vcrs is not None and ecrs is not None and vcrs != ecrs:
        raise CRSError(f"villages: CRS {vcrs} differs from the road edges' CRS {ecrs}")
    vg = villages_eval.geometry.to_numpy()[needs]
    out = np.full(n, None, dtype=object)
    ok = ~(shapely.is_missing(vg) | shapely.is_empty(vg))
    if not len(edges_gdf) or not ok.any():
        return out
    eg = edges_gdf.geometry.to_numpy()
    qi, ei = shapely.STRtree(eg).query_nearest(vg[ok], all_matches=False)
    idx = np.flatnonzero(ok)[qi]
    out[idx] = shapely.shortest_line(vg[idx], eg[ei])
    return out


def transport_summary(
    villages_eval: pd.DataFrame,
    *,
    gaps: pd.DataFrame | None = None,
    county_label: str = "全县",
    unknown_township_label: str = "（未知乡镇）",
) -> pd.DataFrame:
    """Villages lacking a hardened road and the km of road work, per township and county.

    Parameters
    ----------
    villages_eval : DataFrame
        With ``road_access`` (and ``unhardened_km``, ``population``, ``township``,
        ``level``, ``parent_id``).
    gaps : DataFrame, optional
        The :func:`road_gaps` layer; gives the km without double counting shared
        segments (each row counted once, in its ``township``). Rows without
        ``kind`` are sections to harden; without ``known_unhardened_km`` their
        known part is ``length_km - unknown_surface_km``.
    county_label, unknown_township_label : str
        Labels of the county row and of villages without a township.

    Returns
    -------
    DataFrame
        ``level``, ``township``, ``n_villages``, ``n_hardened``,
        ``n_without_hardened_road``, ``n_road_unknown``,
        ``people_without_hardened_road`` (:func:`counted_population`),
        ``gap_km_villages_sum`` (sum of each village's unhardened km: shared
        segments count once per village), and from ``gaps`` (NaN when not given):
        ``km_known_unhardened`` (existing road known to be unhardened),
        ``km_unknown_surface`` (existing road of unknown surface: survey first),
        ``km_to_connect`` (connections to build), ``km_total`` (their sum),
        ``km_to_harden`` (known work: ``km_known_unhardened + km_to_connect``, the
        manifest's figure), ``n_gap_segments`` (sections to harden or survey),
        ``n_connections``. Township rows sum to the county row.
    """
    _require(villages_eval, ["road_access"], "villages")
    access = villages_eval["road_access"].astype(object)
    lacking = access.isin(["gap", "no_road"])
    km = (
        pd.to_numeric(villages_eval["unhardened_km"], errors="coerce").fillna(0.0)
        if "unhardened_km" in villages_eval
        else pd.Series(0.0, index=villages_eval.index)
    )
    df = pd.DataFrame(
        {
            "township": _township(villages_eval, unknown_township_label),
            "n_villages": 1,
            "n_hardened": (access == "hardened").astype(int),
            "n_without_hardened_road": lacking.astype(int),
            "n_road_unknown": (~access.isin(["hardened", "gap", "no_road"])).astype(int),
            "people_without_hardened_road": counted_population(villages_eval).where(lacking, 0.0),
            "gap_km_villages_sum": km.where(lacking, 0.0),
        }
    )
    table = df.groupby("township", dropna=False, sort=True).sum().reset_index()
    km_cols = [
        "km_known_unhardened",
        "km_unknown_surface",
        "km_to_connect",
        "km_total",
        "km_to_harden",
    ]
    n_cols = ["n_gap_segments", "n_connections"]
    if gaps is not None and len(gaps):
        g = _gap_km(gaps, unknown_township_label).groupby("township").sum()
        extra = g.index.difference(table["township"])
        if len(extra):
            table = pd.concat(
                [table, pd.DataFrame({"township": list(extra)})], ignore_index=True
            ).fillna(0)
        for c in km_cols:
            table[c] = table["township"].map(g[c]).fillna(0.0).astype(float)
        for c in n_cols:
            table[c] = table["township"].map(g[c]).fillna(0).astype(int)
    else:
        for c in km_cols:
            table[c] = 0.0
        for c in n_cols:
            table[c] = 0
    out = _with_county(table, county_label)
    if gaps is None:  # not computed: unknown, not zero
        out[km_cols] = np.nan
    return out


def _gap_km(gaps: pd.DataFrame, unknown_township_label: str) -> pd.DataFrame:
    """Per gap row: the km split by what is known, and its township."""
    length = pd.to_numeric(gaps["length_km"], errors="coerce").fillna(0.0)
    unknown = (
        pd.to_numeric(gaps["unknown_surface_km"], errors="coerce").fillna(0.0)
        if "unknown_surface_km" in gaps
        else pd.Series(0.0, index=gaps.index)
    )
    known = (
        pd.to_numeric(gaps["known_unhardened_km"], errors="coerce").fillna(0.0)
        if "known_unhardened_km" in gaps
        else length - unknown
    )
    conn = (
        (gaps["kind"] == "connection").to_numpy(dtype=bool)
        if "kind" in gaps
        else np.zeros(len(gaps), dtype=bool)
    )
    return pd.DataFrame(
        {
            "township": _township(gaps, unknown_township_label).astype(str),
            "km_known_unhardened": known.where(~conn, 0.0),
            "km_unknown_surface": unknown.where(~conn, 0.0),
            "km_to_connect": length.where(conn, 0.0),
            "km_total": length,
            "km_to_harden": known,
            "n_gap_segments": (~conn).astype(int),
            "n_connections": conn.astype(int),
        },
        index=gaps.index,
    )


# --------------------------------------------------------------------------- water


def _village_cols(df: pd.DataFrame, extra: Sequence[str]) -> list[str]:
    base = ["village_id", "name", "township", "population", "poor_population"]
    return [c for c in [*base, *extra] if c in df.columns]


def water_summary(villages_eval: pd.DataFrame) -> pd.DataFrame:
    """Villages without safe water (False or unknown), with the nearest source.

    Parameters
    ----------
    villages_eval : DataFrame
        With ``has_safe_water`` and, from the pipeline (:func:`water_access`),
        ``nearest_water_id``, ``water_dist_m``, ``nearest_unknown_safety_water_id``,
        ``water_dist_unknown_safety_m``, ``in_water_service_area``.

    Returns
    -------
    DataFrame
        One row per village whose ``has_safe_water`` is not True:
        ``village_id``, ``name``, ``township``, ``population``,
        ``safe_water_status`` (not_met | unknown), ``nearest_water_id``,
        ``water_dist_m`` (nearest source recorded as safe),
        ``nearest_unknown_safety_water_id``, ``water_dist_unknown_safety_m``
        (nearest source whose safety is unknown, when the columns exist),
        ``in_water_service_area``; not_met first, then by distance.
    """
    _require(villages_eval, ["village_id", "has_safe_water"], "villages")
    safe = to_tristate(villages_eval["has_safe_water"], where="villages.has_safe_water")
    keep = ~safe.fillna(False).to_numpy(dtype=bool)
    cols = _village_cols(
        villages_eval,
        [
            "nearest_water_id",
            "water_dist_m",
            "nearest_unknown_safety_water_id",
            "water_dist_unknown_safety_m",
            "in_water_service_area",
        ],
    )
    out = villages_eval.loc[keep, cols].copy()
    n_base = len(_village_cols(villages_eval, []))
    out.insert(n_base, "safe_water_status", np.where(safe[keep].isna(), "unknown", "not_met"))
    for c in ("nearest_water_id", "water_dist_m"):
        if c not in out.columns:
            out[c] = np.nan
    out = out.sort_values(["safe_water_status", "water_dist_m"], kind="stable")
    return pd.DataFrame(out).reset_index(drop=True)


def water_township_summary(
    villages_eval: pd.DataFrame,
    *,
    county_label: str = "全县",
    unknown_township_label: str = "（未知乡镇）",
) -> pd.DataFrame:
    """Per township and county: villages and people without safe water, unknown.

    Returns
    -------
    DataFrame
        ``level``, ``township``, ``n_villages``, ``n_safe_water``,
        ``n_without_safe_water``, ``n_water_unknown``, ``people_without_safe_water``
        (:func:`counted_population`).
    """
    _require(villages_eval, ["has_safe_water"], "villages")
    safe = to_tristate(villages_eval["has_safe_water"], where="villages.has_safe_water")
    no = (~safe).fillna(False).astype(bool)
    df = pd.DataFrame(
        {
            "township": _township(villages_eval, unknown_township_label),
            "n_villages": 1,
            "n_safe_water": safe.fillna(False).astype(bool).astype(int),
            "n_without_safe_water": no.astype(int),
            "n_water_unknown": safe.isna().astype(int),
            "people_without_safe_water": counted_population(villages_eval).where(no, 0.0),
        }
    )
    table = df.groupby("township", sort=True).sum().reset_index()
    return _with_county(table, county_label)


# --------------------------------------------------------------------------- health


def _clinic_state(df: pd.DataFrame) -> pd.Series:
    """met | not_met | unknown per village: ``clinic_status`` when present, else
    a standard clinic with a doctor from ``clinic_standard`` and ``clinic_doctor``."""
    if "clinic_status" in df.columns:
        s = df["clinic_status"].astype(object)
        s = s.where(s.notna(), "unknown")
        bad = sorted({str(x) for x in s.unique()} - set(_CLINIC_STATES))
        if bad:
            raise LayerSchemaError(
                f"villages.clinic_status: expected {', '.join(_CLINIC_STATES)}, "
                f"found {', '.join(bad)}"
            )
        return s
    na = pd.Series(pd.NA, index=df.index, dtype="boolean")
    std = (
        to_tristate(df["clinic_standard"], where="villages.clinic_standard")
        if "clinic_standard" in df
        else na
    )
    doc = (
        to_tristate(df["clinic_doctor"], where="villages.clinic_doctor")
        if "clinic_doctor" in df
        else na
    )
    both = std & doc  # Kleene logic: False if either is False
    return pd.Series(
        np.where(both.isna(), "unknown", np.where(both.fillna(False), "met", "not_met")),
        index=df.index,
        dtype=object,
    )


def health_summary(villages_eval: pd.DataFrame) -> pd.DataFrame:
    """Villages whose clinic indicator is not met, or unknown.

    The state is ``clinic_status`` when the table has it (the evaluated clinic
    indicator), else a standard clinic with a doctor (module conventions).

    Returns
    -------
    DataFrame
        ``village_id``, ``name``, ``township``, ``population``, ``clinic_status``
        (not_met | unknown, never mixed), then when present ``clinic_quality``,
        ``clinic_standard``, ``clinic_doctor``, ``hosts_health_centre``,
        ``travel_min_health_centre``, ``nearest_health_centre_id``;
        sorted by travel time, longest (and unreachable) first.

    Raises
    ------
    LayerSchemaError
        If ``village_id`` is missing or ``clinic_status`` holds another value.
    """
    _require(villages_eval, ["village_id"], "villages")
    state = _clinic_state(villages_eval)
    keep = (state != "met").to_numpy()
    cols = _village_cols(
        villages_eval,
        [
            "clinic_quality",
            "clinic_standard",
            "clinic_doctor",
            "hosts_health_centre",
            "travel_min_health_centre",
            "nearest_health_centre_id",
        ],
    )
    out = villages_eval.loc[keep, [c for c in cols if c != "clinic_status"]].copy()
    out.insert(len(_village_cols(villages_eval, [])), "clinic_status", state[keep].to_numpy())
    if "travel_min_health_centre" not in out.columns:
        out["travel_min_health_centre"] = np.nan
    out = out.sort_values(
        "travel_min_health_centre", ascending=False, na_position="first", kind="stable"
    )
    return pd.DataFrame(out).reset_index(drop=True)


def health_township_summary(
    villages_eval: pd.DataFrame,
    *,
    minutes: Sequence[float] = (30, 60),
    county_label: str = "全县",
    unknown_township_label: str = "（未知乡镇）",
) -> pd.DataFrame:
    """Per township and county: clinic coverage and people within N minutes.

    Parameters
    ----------
    villages_eval : DataFrame
        With ``clinic_status`` (or ``clinic_standard`` and ``clinic_doctor``),
        ``travel_min_health_centre``, ``population``, ``township``.
    minutes : sequence of float
        Travel-time limits to the township health centre (inclusive).

    Returns
    -------
    DataFrame
        ``level``, ``township``, ``n_villages``, ``population``
        (:func:`counted_population`), ``n_clinic_met``,
        ``n_without_standard_clinic`` (not met only), ``n_clinic_unknown``, and per
        limit N ``people_within_<N>_min`` and ``share_within_<N>_min_frac`` (people
        within / population; the county share is recomputed from the sums, not summed).

    Raises
    ------
    LayerSchemaError
        If ``clinic_status`` holds a value other than met, not_met, unknown.
    """
    state = _clinic_state(villages_eval)
    pop = counted_population(villages_eval)
    travel = (
        pd.to_numeric(villages_eval["travel_min_health_centre"], errors="coerce")
        if "travel_min_health_centre" in villages_eval
        else pd.Series(np.nan, index=villages_eval.index)
    )
    data = {
        "township": _township(villages_eval, unknown_township_label),
        "n_villages": 1,
        "population": pop,
        "n_clinic_met": (state == "met").astype(int),
        "n_without_standard_clinic": (state == "not_met").astype(int),
        "n_clinic_unknown": (state == "unknown").astype(int),
    }
    for n in minutes:
        data[f"people_within_{n:g}_min"] = pop.where(travel <= n, 0.0)
    table = pd.DataFrame(data).groupby("township", sort=True).sum().reset_index()
    out = _with_county(table, county_label)
    for n in minutes:
        out[f"share_within_{n:g}_min_frac"] = _share(
            out[f"people_within_{n:g}_min"], out["population"]
        )
    return out


# --------------------------------------------------------------------------- leaders


def leader_summary(
    villages_eval: pd.DataFrame,
    *,
    county_label: str = "全县",
    unknown_township_label: str = "（未知乡镇）",
) -> pd.DataFrame:
    """Villages ready to exit, unconfirmed, blocked by one, by several, unknown — per township.

    Parameters
    ----------
    villages_eval : DataFrame
        With ``blocker_class`` (from :func:`geo.indicators.evaluate`, one of
        :data:`geo.indicators.BLOCKER_CLASSES`).

    Returns
    -------
    DataFrame
        ``level``, ``township``, ``n_villages``, ``n_<class>`` for every blocker
        class (``n_ready``, ``n_unconfirmed``, ``n_blocked_one``,
        ``n_blocked_several``, ``n_unknown``, ``n_not_registered``, ``n_hamlet``),
        ``n_assessed`` (villages the exit rule applies to), ``population`` and
        ``people_ready`` (:func:`counted_population`), ``ready_frac`` (ready /
        assessed); township rows sum to the county row. The lead adds the people to
        relocate later.

    Raises
    ------
    LayerSchemaError
        If ``blocker_class`` is missing or holds an unknown class.
    """
    _require(villages_eval, ["blocker_class"], "villages")
    cls = villages_eval["blocker_class"].astype(object)
    bad = sorted(set(cls.dropna().astype(str)) - set(BLOCKER_CLASSES))
    if bad or cls.isna().any():
        raise LayerSchemaError(
            f"villages.blocker_class: expected {', '.join(BLOCKER_CLASSES)}, "
            f"found {', '.join(bad) or 'missing values'}"
        )
    pop = counted_population(villages_eval)
    data = {"township": _township(villages_eval, unknown_township_label), "n_villages": 1}
    for c in BLOCKER_CLASSES:
        data[f"n_{c}"] = (cls == c).astype(int)
    data["n_assessed"] = (~cls.isin(_NOT_ASSESSED)).astype(int)
    data["population"] = pop
    data["people_ready"] = pop.where(cls == "ready", 0.0)
    table = pd.DataFrame(data).groupby("township", sort=True).sum().reset_index()
    out = _with_county(table, county_label)
    out["ready_frac"] = _share(out["n_ready"], out["n_assessed"])
    return out


# --------------------------------------------------------------------------- headers

_HEADERS_COMMON = {
    "level": "层级",
    "township": "乡镇",
    "townships": "涉及乡镇",
    "village_id": "村代码",
    "name": "村名",
    "population": "人口",
    "households": "户数",
    "poor_population": "建档立卡贫困人口",
    "n_villages": "村数",
    "exit_ready": "具备退出条件",
    "unmet": "未达标指标",
    "unknown": "数据缺失指标",
    "n_unmet": "未达标项数",
    "n_unknown": "缺失项数",
    "score": "得分",
    "blocker_class": "退出状态分类",
    "poverty_incidence_frac": "贫困发生率",
    "incidence_source": "发生率来源",
    "incidence_conflict": "发生率数据矛盾",
    "incidence_households_frac": "贫困发生率（按户表）",
    "incidence_attribute_frac": "贫困发生率（按村属性）",
    "road_access": "通硬化路状态",
    "road_snap_m": "距最近道路（米）",
    "unhardened_km": "未硬化里程（公里）",
    "unknown_surface_km": "路面不明里程（公里）",
    "connection_km": "需新建连接路（公里）",
    "inferred_km": "其中路面为推定（公里）",
    "road_evidence": "道路证据",
    "road_claim_conflict": "道路硬化申报矛盾",
    "road_hardened_claimed": "申报已通硬化路",
}
_HEADERS = {
    "transport": {
        "n_hardened": "已通硬化路村数",
        "n_without_hardened_road": "未通硬化路村数",
        "n_road_unknown": "道路状况不明村数",
        "people_without_hardened_road": "未通硬化路人口",
        "gap_km_villages_sum": "各村未硬化里程合计（公里，共用路段重复计）",
        "km_known_unhardened": "已知未硬化里程（公里）",
        "km_unknown_surface": "路面不明里程（公里，待核查）",
        "km_to_connect": "需新建连接路里程（公里）",
        "km_total": "合计里程（公里）",
        "km_to_harden": "已知需硬化及新建里程（公里）",
        "n_gap_segments": "需硬化或核查路段数",
        "n_connections": "需新建连接路数",
        "gap_id": "路段编号",
        "kind": "类型（harden 硬化 / connection 新建连接路）",
        "length_km": "长度（公里）",
        "known_unhardened_km": "其中已知未硬化或需新建（公里）",
        "unknown_surface_km": "其中路面不明（公里）",
        "n_edges": "路段边数",
        "edge_ids": "边编号",
        "villages_served": "受益村",
        "people_served": "受益人口",
        "people_per_km": "每公里受益人口",
        "rank": "优先序",
    },
    "water": {
        "safe_water_status": "饮水安全状态",
        "has_safe_water": "饮水安全",
        "nearest_water_id": "最近安全水源/管网编号",
        "water_dist_m": "距最近安全水源/管网（米）",
        "nearest_unknown_safety_water_id": "最近安全性不明水源编号",
        "water_dist_unknown_safety_m": "距最近安全性不明水源（米）",
        "in_water_service_area": "在供水范围内",
        "n_safe_water": "饮水安全村数",
        "n_without_safe_water": "饮水不安全村数",
        "n_water_unknown": "饮水状况不明村数",
        "people_without_safe_water": "饮水不安全人口",
    },
    "health": {
        "clinic_status": "卫生室状态",
        "clinic_standard": "标准化卫生室",
        "clinic_doctor": "有合格村医",
        "clinic_quality": "卫生室证据",
        "hosts_health_centre": "乡镇卫生院所在村",
        "n_clinic_met": "卫生室达标村数",
        "travel_min_health_centre": "到乡镇卫生院时间（分钟）",
        "nearest_health_centre_id": "最近卫生院编号",
        "n_without_standard_clinic": "卫生室未达标村数",
        "n_clinic_unknown": "卫生室状况不明村数",
    },
    "leaders": {
        "n_ready": "具备退出条件村数",
        "n_unconfirmed": "待核实村数（推定证据）",
        "n_not_registered": "非贫困村数",
        "n_hamlet": "自然村数（不单独评估）",
        "n_assessed": "参评村数",
        "n_blocked_one": "差一项村数",
        "n_blocked_several": "差多项村数",
        "n_unknown": "数据不全村数",
        "people_ready": "具备退出条件村人口",
        "ready_frac": "具备退出条件比例",
    },
    "households": {
        "household_id": "户编号",
        "members": "家庭人口",
        "registered_poor": "建档立卡",
        "income_per_capita_cny": "人均纯收入（元）",
        "head_name": "户主姓名",
        "id_number": "身份证号",
        "phone": "联系电话",
        "income_status": "收入达标",
        "food_status": "不愁吃",
        "clothing_status": "不愁穿",
        "education_status": "义务教育有保障",
        "medical_status": "基本医疗有保障",
        "housing_status": "住房安全有保障",
        "safe_water_status": "饮水安全",
        "exit_ready": "具备脱贫条件",
        "unmet": "未达标项",
        "unknown": "缺失项",
    },
}
_HEADERS["villages"] = {
    k: v for kind in ("transport", "water", "health") for k, v in _HEADERS[kind].items()
}
_SUFFIX = {
    "_status": "（状态）",
    "_quality": "（证据质量）",
    "_value": "（实测值）",
    "_threshold": "（标准）",
    "_note_zh": "（说明）",
    "_note_en": "（说明，英文）",
}


def chinese_headers(
    df: pd.DataFrame, table_kind: str, *, profile: object | None = None
) -> pd.DataFrame:
    """Copy of ``df`` with Chinese column headers for CSV/XLSX export.

    Parameters
    ----------
    df : DataFrame
        A table from this module, :func:`geo.indicators.evaluate` or
        :func:`geo.households.evaluate_households`.
    table_kind : {"transport", "water", "health", "leaders", "villages", "households"}
        Which vocabulary to use beside the common one.
    profile : PolicyProfile, optional
        Names indicator columns (``<id>``, ``<id>_status``...) with ``name_zh``.

    Returns
    -------
    DataFrame
        Same data; unmapped columns keep their names; ``within_<N>_min`` columns are
        translated generically.

    Raises
    ------
    LayerSchemaError
        For an unknown ``table_kind``.
    """
    if table_kind not in _HEADERS:
        raise LayerSchemaError(
            f"unknown table kind {table_kind!r}; expected one of {', '.join(sorted(_HEADERS))}"
        )
    mapping = {**_HEADERS_COMMON, **_HEADERS[table_kind]}
    if profile is not None:
        for ind in getattr(profile, "indicators", ()):
            # a placeholder threshold or clause is marked wherever the indicator is named
            name = ind.name_zh + ("（待核实）" if not getattr(ind, "verified", True) else "")
            mapping[ind.id] = name
            for suf, zh in _SUFFIX.items():
                mapping[f"{ind.id}{suf}"] = name + zh
    rename = {}
    for c in df.columns:
        if c in mapping:
            rename[c] = mapping[c]
        elif isinstance(c, str) and c.startswith("people_within_") and c.endswith("_min"):
            rename[c] = f"{c[len('people_within_') : -len('_min')]}分钟内人口"
        elif isinstance(c, str) and c.startswith("share_within_") and c.endswith("_min_frac"):
            rename[c] = f"{c[len('share_within_') : -len('_min_frac')]}分钟内人口比例"
    return df.rename(columns=rename)


def water_access(villages: gpd.GeoDataFrame, water: gpd.GeoDataFrame | None) -> pd.DataFrame:
    """Straight-line distance to the nearest safe water source, plant or network, its id,
    the same for the nearest one whose safety is unknown, and whether the village lies
    in a water service area.

    Only sources recorded as safe (``safe`` True) count as safe: a source whose
    safety is blank is never taken for safe; it is reported apart so the water bureau
    sees both. Without a ``safe`` column every source is of unknown safety. Sources
    recorded as unsafe are in neither.

    Parameters
    ----------
    villages : GeoDataFrame
        Village points or polygons (their representative point is used).
    water : GeoDataFrame or None
        With ``water_id``, ``kind`` (``source`` | ``plant`` | ``network`` |
        ``service_area``) and optionally ``safe``, in the villages' CRS.

    Returns
    -------
    DataFrame
        Indexed like ``villages``: ``water_dist_m`` and ``nearest_water_id`` (nearest
        safe source; NaN / None when there is none), ``water_dist_unknown_safety_m``
        and ``nearest_unknown_safety_water_id`` (nearest source of unknown safety;
        NaN / None when there is none), ``in_water_service_area`` (nullable boolean;
        unknown without a water layer).

    Raises
    ------
    LayerSchemaError
        If ``safe`` holds a value that is not yes / no / blank.
    """
    out = pd.DataFrame(index=villages.index)
    out["water_dist_m"] = np.nan
    out["nearest_water_id"] = None
    out["water_dist_unknown_safety_m"] = np.nan
    out["nearest_unknown_safety_water_id"] = None
    out["in_water_service_area"] = pd.array([pd.NA] * len(villages), dtype="boolean")
    if water is None or not len(water):
        return out
    safe = (
        to_tristate(water["safe"], where="water.safe")
        if "safe" in water.columns
        else pd.Series(pd.NA, index=water.index, dtype="boolean")
    )
    points_kind = water["kind"].isin(["source", "plant", "network"]).to_numpy(dtype=bool)
    pts = villages.geometry.representative_point()
    for mask, dist_col, id_col in (
        (safe.fillna(False).to_numpy(dtype=bool), "water_dist_m", "nearest_water_id"),
        (
            safe.isna().to_numpy(dtype=bool),
            "water_dist_unknown_safety_m",
            "nearest_unknown_safety_water_id",
        ),
    ):
        src = water[points_kind & mask]
        if not len(src):
            continue
        g = gpd.GeoDataFrame(
            {"_id": src["water_id"].to_numpy()}, geometry=src.geometry.to_numpy(), crs=water.crs
        )
        j = gpd.sjoin_nearest(
            gpd.GeoDataFrame(geometry=pts, crs=villages.crs), g, how="left", distance_col="_d"
        )
        j = j[~j.index.duplicated(keep="first")]
        out[dist_col] = j["_d"].round(1).to_numpy()
        out[id_col] = j["_id"].to_numpy()
    areas = water[water["kind"] == "service_area"]
    inside = pts.within(areas.union_all()) if len(areas) else pd.Series(False, index=villages.index)
    out["in_water_service_area"] = pd.array(inside.to_numpy(), dtype="boolean")
    return out
