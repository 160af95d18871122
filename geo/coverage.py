"""Bureau coverage: what transport, water, health bureaus and leaders read.

Pure functions on the evaluated villages (:func:`geo.indicators.evaluate`) and the
network's gap edges. Every per-township table ends with a county row
(``level == "county"``) whose counts are the sums of the township rows; villages
with no township are grouped under ``unknown_township_label`` so nothing is lost.

Conventions
-----------
- "lacking a hardened road": ``road_access`` is ``gap`` or ``no_road``; ``unknown``
  or missing is counted apart as unknown, never as hardened.
- "without safe water": ``has_safe_water`` False; <NA> is listed as unknown.
- "without a standard clinic with a doctor": ``clinic_standard`` or
  ``clinic_doctor`` False; unknown when neither is False and one is <NA>.
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

from layers.errors import LayerSchemaError
from layers.tristate import to_tristate

__all__ = [
    "road_gaps",
    "transport_summary",
    "water_summary",
    "water_township_summary",
    "health_summary",
    "health_township_summary",
    "leader_summary",
    "chinese_headers",
]

_BLOCKER_CLASSES = ("ready", "blocked_one", "blocked_several", "unknown")


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


def road_gaps(
    edges_gdf: gpd.GeoDataFrame,
    villages_eval: pd.DataFrame,
    *,
    gap_col: str = "gap_edge_ids",
    unknown_township_label: str = "（未知乡镇）",
) -> gpd.GeoDataFrame:
    """Road segments to harden, ranked by people connected per km.

    Edges on the gap path of at least one village are grouped by the set of
    villages they serve; each group is split into contiguous runs (edges sharing
    an end point, or a node id when ``edges_gdf`` has ``u``/``v``). A trunk used
    by villages A and B is thus one segment, ranked above the branch that serves
    A alone.

    Parameters
    ----------
    edges_gdf : GeoDataFrame
        The network's edges (``net.edges``) in a metric CRS; ``gap_col`` holds
        its ``edge_id`` values (its index labels when there is no ``edge_id``
        column). ``length_m`` is used when present, else the geometry length;
        whole edges are counted. ``hardened`` <NA> marks unknown surface.
    villages_eval : DataFrame
        Evaluated villages with ``village_id``, ``population``, ``township`` and
        ``gap_col`` (list of edge ids per village, empty/None when no gap).
    gap_col : str
        Column with the per-village gap edge ids (from ``unhardened_gap``).
    unknown_township_label : str
        Township label for segments whose villages carry none.

    Returns
    -------
    GeoDataFrame
        One row per segment: ``gap_id``, ``township`` (of the served villages with
        most people), ``townships`` (all, comma-separated), ``length_km``,
        ``unknown_surface_km`` (part of it whose surface is unknown: survey first),
        ``n_edges``, ``edge_ids``, ``villages_served`` (comma-separated ids),
        ``n_villages``, ``people_served`` (population of the served villages),
        ``people_per_km``, ``rank`` (1 = most people per km), geometry (merged
        lines), in ``edges_gdf``'s CRS.

        ``people_per_km`` = sum over the served villages of population / the
        village's whole gap length (km). A village is connected only when all of
        its gap is hardened, so a short run that is part of a longer gap is not
        credited with the whole village per its own short length; a trunk shared
        by several villages adds up their shares.

    Raises
    ------
    LayerSchemaError
        If a column is missing or a village names an edge id not in ``edges_gdf``.
    """
    _require(villages_eval, ["village_id", gap_col], "villages")
    cols = [
        "gap_id",
        "township",
        "townships",
        "length_km",
        "unknown_surface_km",
        "n_edges",
        "edge_ids",
        "villages_served",
        "n_villages",
        "people_served",
        "people_per_km",
        "rank",
    ]
    served: dict[object, set[str]] = {}
    for vid, ids in zip(
        villages_eval["village_id"].astype(str), villages_eval[gap_col], strict=True
    ):
        if ids is None or (np.isscalar(ids) and pd.isna(ids)):
            continue
        for e in list(ids):
            served.setdefault(e, set()).add(vid)
    if not served:
        return gpd.GeoDataFrame({c: [] for c in cols}, geometry=[], crs=edges_gdf.crs)
    keyed = edges_gdf.set_index("edge_id", drop=False) if "edge_id" in edges_gdf else edges_gdf
    unknown = [e for e in served if e not in keyed.index]
    if unknown:
        raise LayerSchemaError(
            f"villages.{gap_col}: edge id(s) {unknown[:5]} not in the network's edges "
            f"(ids {keyed.index.min()}..{keyed.index.max()})"
        )
    edge_ids = list(served)
    sub = keyed.loc[edge_ids]
    unknown_surface = (
        sub["hardened"].isna().to_numpy()
        if "hardened" in sub.columns
        else np.zeros(len(sub), dtype=bool)
    )
    lengths_m = (
        pd.to_numeric(sub["length_m"], errors="coerce").to_numpy()
        if "length_m" in sub.columns
        else shapely.length(sub.geometry.to_numpy())
    )
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
    # label each edge by its served set, then connected components within a set
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
    adj = inc @ inc.T
    _, labels = connected_components(adj, directed=False)

    # each village's whole gap length: a run that is only part of it connects nobody
    # alone, so it is credited with the village's people per km of the whole gap
    pos = {e: i for i, e in enumerate(edge_ids)}
    gap_km: dict[str, float] = {}
    for e, vids_e in served.items():
        for vid in vids_e:
            gap_km[vid] = gap_km.get(vid, 0.0) + float(lengths_m[pos[e]]) / 1000.0
    vt = (
        villages_eval.assign(
            _vid=villages_eval["village_id"].astype(str),
            _pop=_population(villages_eval),
            _town=_township(villages_eval, unknown_township_label),
        )
        .drop_duplicates("_vid")
        .set_index("_vid")
    )
    records, geoms_out = [], []
    for lab in np.unique(labels):
        members = np.flatnonzero(labels == lab)
        vids = sorted(keys[members[0]])
        pops = vt.loc[vids, "_pop"]
        towns = vt.loc[vids, "_town"].astype(str)
        by_town = pops.groupby(towns.to_numpy()).sum().sort_values(ascending=False, kind="stable")
        length_km = float(np.nansum(lengths_m[members])) / 1000.0
        people = float(pops.sum())
        per_km = sum(float(pops[v]) / gap_km[v] if gap_km[v] > 0 else np.inf for v in vids)
        records.append(
            {
                "township": by_town.index[0],
                "townships": ",".join(sorted(by_town.index)),
                "length_km": length_km,
                "unknown_surface_km": float(np.nansum(lengths_m[members][unknown_surface[members]]))
                / 1000.0,
                "n_edges": len(members),
                "edge_ids": ",".join(str(edge_ids[i]) for i in members),
                "villages_served": ",".join(vids),
                "n_villages": len(vids),
                "people_served": people,
                "people_per_km": per_km,
            }
        )
        merged = shapely.line_merge(shapely.union_all(sub.geometry.to_numpy()[members]))
        geoms_out.append(merged)
    out = gpd.GeoDataFrame(records, geometry=geoms_out, crs=edges_gdf.crs)
    order = out.sort_values(
        ["people_per_km", "people_served", "villages_served", "edge_ids"],
        ascending=[False, False, True, True],
        kind="stable",
    ).index
    out = out.loc[order].reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    out.insert(0, "gap_id", [f"gap{r:04d}" for r in out["rank"]])
    return out[[*cols, "geometry"]]


def transport_summary(
    villages_eval: pd.DataFrame,
    *,
    gaps: pd.DataFrame | None = None,
    county_label: str = "全县",
    unknown_township_label: str = "（未知乡镇）",
) -> pd.DataFrame:
    """Villages lacking a hardened road and km to harden, per township and county.

    Parameters
    ----------
    villages_eval : DataFrame
        With ``road_access`` (and ``unhardened_km``, ``population``, ``township``).
    gaps : DataFrame, optional
        The :func:`road_gaps` layer; gives ``km_to_harden`` without double counting
        shared segments (each segment counted once, in its ``township``).
    county_label, unknown_township_label : str
        Labels of the county row and of villages without a township.

    Returns
    -------
    DataFrame
        ``level``, ``township``, ``n_villages``, ``n_hardened``,
        ``n_without_hardened_road``, ``n_road_unknown``,
        ``people_without_hardened_road``, ``gap_km_villages_sum`` (sum of each
        village's unhardened km: shared segments count once per village),
        ``km_to_harden`` (from ``gaps``; NaN if not given), ``n_gap_segments``.
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
            "people_without_hardened_road": _population(villages_eval).where(lacking, 0.0),
            "gap_km_villages_sum": km.where(lacking, 0.0),
        }
    )
    table = df.groupby("township", dropna=False, sort=True).sum().reset_index()
    if gaps is not None and len(gaps):
        g = gaps.groupby("township").agg(
            km_to_harden=("length_km", "sum"), n_gap_segments=("length_km", "size")
        )
        extra = g.index.difference(table["township"])
        if len(extra):
            table = pd.concat(
                [table, pd.DataFrame({"township": list(extra)})], ignore_index=True
            ).fillna(0)
        table["km_to_harden"] = table["township"].map(g["km_to_harden"]).fillna(0.0)
        table["n_gap_segments"] = table["township"].map(g["n_gap_segments"]).fillna(0).astype(int)
    else:
        table["km_to_harden"] = np.nan
        table["n_gap_segments"] = 0
    out = _with_county(table, county_label)
    if gaps is None or not len(gaps):
        out["km_to_harden"] = np.nan
    return out


# --------------------------------------------------------------------------- water


def _village_cols(df: pd.DataFrame, extra: Sequence[str]) -> list[str]:
    base = ["village_id", "name", "township", "population", "poor_population"]
    return [c for c in [*base, *extra] if c in df.columns]


def water_summary(villages_eval: pd.DataFrame) -> pd.DataFrame:
    """Villages without safe water (False or unknown), with the nearest source.

    Parameters
    ----------
    villages_eval : DataFrame
        With ``has_safe_water`` and, from the pipeline, ``nearest_water_id``,
        ``water_dist_m``, ``in_water_service_area``.

    Returns
    -------
    DataFrame
        One row per village whose ``has_safe_water`` is not True:
        ``village_id``, ``name``, ``township``, ``population``,
        ``safe_water_status`` (not_met | unknown), ``nearest_water_id``,
        ``water_dist_m``, ``in_water_service_area``; not_met first, then by distance.
    """
    _require(villages_eval, ["village_id", "has_safe_water"], "villages")
    safe = to_tristate(villages_eval["has_safe_water"], where="villages.has_safe_water")
    keep = ~safe.fillna(False).to_numpy(dtype=bool)
    cols = _village_cols(
        villages_eval, ["nearest_water_id", "water_dist_m", "in_water_service_area"]
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
        ``n_without_safe_water``, ``n_water_unknown``, ``people_without_safe_water``.
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
            "people_without_safe_water": _population(villages_eval).where(no, 0.0),
        }
    )
    table = df.groupby("township", sort=True).sum().reset_index()
    return _with_county(table, county_label)


# --------------------------------------------------------------------------- health


def _clinic_state(df: pd.DataFrame) -> pd.Series:
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
    """Villages without a standard clinic with a doctor (or unknown).

    Returns
    -------
    DataFrame
        ``village_id``, ``name``, ``township``, ``population``, ``clinic_status``
        (not_met | unknown), ``clinic_standard``, ``clinic_doctor``,
        ``travel_min_health_centre``, ``nearest_health_centre_id`` (when present);
        sorted by travel time, longest first.
    """
    _require(villages_eval, ["village_id"], "villages")
    state = _clinic_state(villages_eval)
    keep = (state != "met").to_numpy()
    cols = _village_cols(
        villages_eval,
        [
            "clinic_standard",
            "clinic_doctor",
            "travel_min_health_centre",
            "nearest_health_centre_id",
        ],
    )
    out = villages_eval.loc[keep, cols].copy()
    out["clinic_status"] = state[keep].to_numpy()
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
        With ``clinic_standard``, ``clinic_doctor``, ``travel_min_health_centre``,
        ``population``, ``township``.
    minutes : sequence of float
        Travel-time limits to the township health centre (inclusive).

    Returns
    -------
    DataFrame
        ``level``, ``township``, ``n_villages``, ``population``,
        ``n_without_standard_clinic``, ``n_clinic_unknown``, and per limit N
        ``people_within_<N>_min`` and ``share_within_<N>_min_frac`` (people within /
        population; the county share is recomputed from the sums, not summed).
    """
    state = _clinic_state(villages_eval)
    pop = _population(villages_eval)
    travel = (
        pd.to_numeric(villages_eval["travel_min_health_centre"], errors="coerce")
        if "travel_min_health_centre" in villages_eval
        else pd.Series(np.nan, index=villages_eval.index)
    )
    data = {
        "township": _township(villages_eval, unknown_township_label),
        "n_villages": 1,
        "population": pop,
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
    """Villages ready to exit, blocked by one, by several, unknown — per township.

    Parameters
    ----------
    villages_eval : DataFrame
        With ``blocker_class`` (from :func:`geo.indicators.evaluate`).

    Returns
    -------
    DataFrame
        ``level``, ``township``, ``n_villages``, ``n_ready``, ``n_blocked_one``,
        ``n_blocked_several``, ``n_unknown``, ``population``, ``people_ready``,
        ``ready_frac``; township rows sum to the county row. The lead adds the
        people to relocate later.

    Raises
    ------
    LayerSchemaError
        If ``blocker_class`` is missing or holds an unknown class.
    """
    _require(villages_eval, ["blocker_class"], "villages")
    cls = villages_eval["blocker_class"].astype(object)
    bad = sorted(set(cls.dropna().astype(str)) - set(_BLOCKER_CLASSES))
    if bad or cls.isna().any():
        raise LayerSchemaError(
            f"villages.blocker_class: expected {', '.join(_BLOCKER_CLASSES)}, "
            f"found {', '.join(bad) or 'missing values'}"
        )
    pop = _population(villages_eval)
    data = {"township": _township(villages_eval, unknown_township_label), "n_villages": 1}
    for c in _BLOCKER_CLASSES:
        data[f"n_{c}"] = (cls == c).astype(int)
    data["population"] = pop
    data["people_ready"] = pop.where(cls == "ready", 0.0)
    table = pd.DataFrame(data).groupby("township", sort=True).sum().reset_index()
    out = _with_county(table, county_label)
    out["ready_frac"] = _share(out["n_ready"], out["n_villages"])
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
    "unhardened_km": "未硬化里程（公里）",
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
        "km_to_harden": "需硬化里程（公里）",
        "n_gap_segments": "需硬化路段数",
        "gap_id": "路段编号",
        "length_km": "长度（公里）",
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
        "nearest_water_id": "最近水源/管网编号",
        "water_dist_m": "距最近水源/管网（米）",
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
        "travel_min_health_centre": "到乡镇卫生院时间（分钟）",
        "nearest_health_centre_id": "最近卫生院编号",
        "n_without_standard_clinic": "无标准化卫生室村数",
        "n_clinic_unknown": "卫生室状况不明村数",
    },
    "leaders": {
        "n_ready": "具备退出条件村数",
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
_SUFFIX = {"_status": "（状态）", "_value": "（实测值）", "_threshold": "（标准）"}


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
            mapping[ind.id] = ind.name_zh
            for suf, zh in _SUFFIX.items():
                mapping[f"{ind.id}{suf}"] = ind.name_zh + zh
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
    and whether the village lies in a water service area.

    Returns
    -------
    DataFrame
        Indexed like ``villages``: ``water_dist_m``, ``nearest_water_id``,
        ``in_water_service_area`` (nullable boolean; unknown without a water layer).
    """
    out = pd.DataFrame(index=villages.index)
    out["water_dist_m"] = np.nan
    out["nearest_water_id"] = None
    out["in_water_service_area"] = pd.array([pd.NA] * len(villages), dtype="boolean")
    if water is None or not len(water):
        return out
    safe = (
        water["safe"].fillna(True).astype(bool)
        if "safe" in water.columns
        else pd.Series(True, index=water.index)
    )
    src = water[water["kind"].isin(["source", "plant", "network"]) & safe]
    pts = villages.geometry.representative_point()
    if len(src):
        g = gpd.GeoDataFrame(
            {"nearest_water_id": src["water_id"].to_numpy()},
            geometry=src.geometry.to_numpy(),
            crs=water.crs,
        )
        j = gpd.sjoin_nearest(
            gpd.GeoDataFrame(geometry=pts, crs=villages.crs),
            g,
            how="left",
            distance_col="water_dist_m",
        )
        j = j[~j.index.duplicated(keep="first")]
        out["water_dist_m"] = j["water_dist_m"].round(1).to_numpy()
        out["nearest_water_id"] = j["nearest_water_id"].to_numpy()
    areas = water[water["kind"] == "service_area"]
    inside = pts.within(areas.union_all()) if len(areas) else pd.Series(False, index=villages.index)
    out["in_water_service_area"] = pd.array(inside.to_numpy(), dtype="boolean")
    return out
