"""Pure view models: plan layers → GeoJSON dicts, styles, panel rows, tables.

Nothing here touches Dash or the file system, so everything is unit-tested without a
browser.  Status codes sent to the browser are one letter: ``m`` met, ``n`` not met,
``u`` unknown.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import mapping

from dashboard.i18n import fmt_frac, fmt_num, status_label, t
from dashboard.plan import json_value
from layers.errors import LayerSchemaError
from layers.tristate import invalid_tristate, parse_tristate, to_tristate

#: Okabe-Ito colour-blind-safe palette for statuses.
STATUS_COLORS = {"m": "#0072B2", "n": "#E69F00", "u": "#9E9E9E"}
STATUS_CODES = {"met": "m", "not_met": "n", "unknown": "u"}
CODE_STATUS = {v: k for k, v in STATUS_CODES.items()}
ROAD_COLORS = {"hardened": "#333333", "unhardened": "#D55E00", "unknown": "#AAAAAA"}
EXIT_READY = "exit_ready"


# --------------------------------------------------------------------------- GeoJSON


def to_geojson(
    gdf: gpd.GeoDataFrame,
    *,
    columns: Sequence[str] | dict[str, str] = (),
) -> dict[str, Any]:
    """A GeoJSON FeatureCollection with only the wanted properties.

    Parameters
    ----------
    gdf : GeoDataFrame
        Already in EPSG:4326 and rounded (see :func:`dashboard.plan.prepare_layer`).
    columns : sequence of str or dict
        Columns to keep; a dict renames ``{column: property}``.  Missing columns are skipped.

    Returns
    -------
    dict
        JSON-safe (NA/NaN become null).
    """
    rename = dict(columns) if isinstance(columns, dict) else {c: c for c in columns}
    keep = [c for c in rename if c in gdf.columns]
    records = gdf[keep].to_dict("records") if keep else [{} for _ in range(len(gdf))]
    features = []
    for geom, rec in zip(gdf.geometry.values, records, strict=True):
        if geom is None or geom.is_empty:
            continue
        props = {rename[k]: json_value(v) for k, v in rec.items()}
        features.append({"type": "Feature", "geometry": mapping(geom), "properties": props})
    return {"type": "FeatureCollection", "features": features}


def to_bool(v: Any) -> bool | None:
    """A nullable boolean from bools, 0/1 numbers or yes/no text (:mod:`layers.tristate`).

    Lenient, for display: a value outside the vocabulary reads as unknown (None),
    never as True or False.
    """
    try:
        return parse_tristate(v)
    except LayerSchemaError:
        return None


def bool_series(s: pd.Series) -> pd.Series:
    """A pandas nullable-boolean Series from any of the forms :func:`to_bool` accepts.

    Values outside the vocabulary read as unknown (<NA>), as in :func:`to_bool`.
    """
    bad = invalid_tristate(s)
    return to_tristate(s.mask(bad) if bad.any() else s)


def _bool_to_code(v: Any) -> str:
    b = to_bool(v)
    if b is None:
        return "u"
    return "m" if b else "n"


BLOCKER_CODES = {"ready": "m", "blocked_one": "n", "blocked_several": "n", "unknown": "u"}


def exit_codes(villages: pd.DataFrame) -> pd.Series:
    """Exit readiness per village: ``blocker_class`` when present (it keeps unknown apart),
    else ``exit_ready_status``, else the boolean ``exit_ready``."""
    if "blocker_class" in villages.columns:
        return villages["blocker_class"].map(lambda s: BLOCKER_CODES.get(s, "u"))
    if "exit_ready_status" in villages.columns:
        return villages["exit_ready_status"].map(lambda s: STATUS_CODES.get(s, "u"))
    if "exit_ready" in villages.columns:
        return villages["exit_ready"].map(_bool_to_code)
    return pd.Series("u", index=villages.index)


def status_codes(villages: pd.DataFrame, indicator_ids: Iterable[str]) -> pd.DataFrame:
    """One-letter status per village for exit readiness and each indicator.

    ``<id>_status`` (met/not_met/unknown) is used when present, otherwise the nullable
    boolean column ``<id>``.  Columns of the result: ``exit_ready`` then each id.
    """
    out = {EXIT_READY: exit_codes(villages)}
    for col in indicator_ids:
        scol = f"{col}_status"
        if scol in villages.columns:
            out[col] = villages[scol].map(lambda s: STATUS_CODES.get(s, "u"))
        elif col in villages.columns:
            out[col] = villages[col].map(_bool_to_code)
        else:
            out[col] = pd.Series("u", index=villages.index)
    return pd.DataFrame(out, index=villages.index)


def villages_geojson(villages: gpd.GeoDataFrame, indicator_ids: Sequence[str]) -> dict[str, Any]:
    """Village features for the coverage map.

    Properties: ``vid`` (village_id), ``name``, ``tw`` (township), ``pop`` (population) and
    ``st``, a string with one status letter per entry of ``["exit_ready", *indicator_ids]``
    (the order is sent in the hideout as ``keys``).
    """
    codes = status_codes(villages, indicator_ids)
    st = codes.apply(lambda r: "".join(r.values), axis=1) if len(codes) else codes
    gj = to_geojson(
        villages.assign(_st=st),
        columns={
            "village_id": "vid",
            "name": "name",
            "township": "tw",
            "population": "pop",
            "_st": "st",
        },
    )
    return gj


def coverage_hideout(
    indicator_ids: Sequence[str],
    *,
    indicator: str = EXIT_READY,
    township: str | None = None,
    status: str | None = None,
    selected: str | None = None,
) -> dict[str, Any]:
    """The ``hideout`` dict read by ``anju.villageStyle`` in ``assets/anju.js``.

    Parameters
    ----------
    indicator_ids : sequence of str
        Indicator order used in the features' ``st`` strings (after ``exit_ready``).
    indicator : str
        ``exit_ready`` or an indicator id to colour by.
    township : str, optional
        Only this township is drawn at full strength ("" or None: all).
    status : str, optional
        ``met`` / ``not_met`` / ``unknown``: only villages with this status are highlighted.
    selected : str, optional
        village_id to outline.
    """
    keys = [EXIT_READY, *indicator_ids]
    return {
        "idx": keys.index(indicator) if indicator in keys else 0,
        "township": township or "",
        "status": STATUS_CODES.get(status or "", ""),
        "colors": STATUS_COLORS,
        "selected": selected or "",
        "pane": "villages",
    }


def filter_counts(
    codes: pd.DataFrame,
    townships: pd.Series,
    *,
    indicator: str = EXIT_READY,
    township: str | None = None,
    status: str | None = None,
) -> dict[str, int]:
    """Counts shown beside the filters (the reference for the client-side counter).

    ``n`` is the number of villages highlighted; met/not_met/unknown count the villages
    of the chosen township (all statuses) so the user sees what the status filter hides.
    """
    col = codes[indicator] if indicator in codes.columns else pd.Series("u", index=codes.index)
    in_tw = townships == township if township else pd.Series(True, index=codes.index)
    sel = in_tw & (col == STATUS_CODES[status]) if status else in_tw
    return {
        "n": int(sel.sum()),
        "met": int((in_tw & (col == "m")).sum()),
        "not_met": int((in_tw & (col == "n")).sum()),
        "unknown": int((in_tw & (col == "u")).sum()),
    }


def roads_geojson(roads: gpd.GeoDataFrame) -> dict[str, Any]:
    """Roads with ``h`` = hardened / unhardened / unknown and ``cls`` = road class."""
    if roads.empty:
        return to_geojson(roads)
    h = roads["hardened"] if "hardened" in roads.columns else pd.Series(pd.NA, index=roads.index)
    state = h.map(road_state)
    return to_geojson(
        roads.assign(_h=state), columns={"road_id": "rid", "road_class": "cls", "_h": "h"}
    )


def road_state(v: Any) -> str:
    """``hardened`` / ``unhardened`` / ``unknown`` from a nullable bool or its text form."""
    if isinstance(v, str):
        return v if v in ROAD_COLORS else "unknown"
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return "unknown"
    return "hardened" if bool(v) else "unhardened"


# --------------------------------------------------------------------------- panel


def village_panel(
    row: pd.Series | dict[str, Any], indicators: Sequence[dict[str, Any]], lang: str = "zh"
) -> dict[str, Any]:
    """Contents of the side panel for one village.

    Returns
    -------
    dict
        ``title``, ``subtitle``, ``exit`` (status label) and ``rows``: one dict per
        indicator with ``id``, ``name``, ``status`` (met/not_met/unknown), ``status_label``,
        ``value``, ``threshold``, ``evidence``, ``clause``.
    """
    r = dict(row)
    rows = []
    for ind in indicators:
        iid = ind["id"]
        status = r.get(f"{iid}_status")
        if status not in STATUS_CODES:
            status = CODE_STATUS[_bool_to_code(r.get(iid))]
        unit = ind.get("unit") or ""
        value = json_value(r.get(f"{iid}_value"))
        thr = json_value(r.get(f"{iid}_threshold"))
        if thr is None:
            thr = json_value(ind.get("threshold"))
        if thr is None and (unit == "bool" or ind.get("rule") == "is_true"):
            thr = True
        rows.append(
            {
                "id": iid,
                "name": ind.get("name_en" if lang == "en" else "name_zh") or iid,
                "status": status,
                "status_label": status_label(status, lang),
                "value": _fmt_value(value, unit, lang),
                "threshold": _fmt_value(thr, unit, lang, rule=ind.get("rule")),
                "evidence": evidence_label(ind.get("evidence"), lang),
                "clause": str(ind.get("clause") or "—"),
            }
        )
    er = CODE_STATUS[exit_codes(pd.DataFrame([r])).iloc[0]]
    return {
        "title": str(r.get("name") or r.get("village_id") or ""),
        "subtitle": " · ".join(
            str(x)
            for x in (
                r.get("township"),
                r.get("village_id"),
                f"{t('population', lang)} {fmt_num(r.get('population'), lang)}",
            )
            if x is not None
        ),
        "exit": status_label(er, lang),
        "exit_status": er,
        "rows": rows,
    }


#: Comparison shown before a threshold, by indicator rule name.
RULE_SYMBOLS = {
    "<": "<",
    "<=": "≤",
    ">": ">",
    ">=": "≥",
    "≤": "≤",
    "≥": "≥",
    "rate_below": "<",
    "below": "<",
    "at_most": "≤",
    "max": "≤",
    "within": "≤",
    "at_least": "≥",
    "min": "≥",
    "frac_at_least": "≥",
    "share_at_least": "≥",
}


def _rule_symbol(rule: str | None) -> str:
    if not rule:
        return ""
    if rule in RULE_SYMBOLS:
        return RULE_SYMBOLS[rule]
    if rule.endswith("_within") or rule.endswith("_below"):
        return "≤" if rule.endswith("_within") else "<"
    if rule.endswith("_at_least"):
        return "≥"
    return ""


def _fmt_value(v: Any, unit: str, lang: str, *, rule: str | None = None) -> str:
    v = json_value(v)
    if v is None:
        return "—"
    b = to_bool(v) if isinstance(v, str | bool) else None
    if isinstance(v, bool) or b is not None:
        return t("yes" if b else "no", lang)
    if isinstance(v, int | float):
        if unit in ("bool",):
            return t("yes" if v else "no", lang)
        if unit in ("frac", "_frac", "ratio"):
            s = fmt_frac(v, lang)
        else:
            s = fmt_num(v, lang, digits=0 if float(v).is_integer() else 2)
            s = f"{s} {unit}".strip()
        sym = _rule_symbol(rule)
        return f"{sym} {s}" if sym else s
    return str(v)


# --------------------------------------------------------------------------- tables


def _cols(df: pd.DataFrame, cols: Sequence[str]) -> list[str]:
    return [c for c in cols if c in df.columns]


def _not_true(s: pd.Series) -> pd.Series:
    return ~bool_series(s).fillna(False).astype(bool)


def transport_villages(villages: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Villages lacking a hardened road (``road_access`` not ``hardened``), biggest first."""
    if "road_access" in villages.columns:
        mask = villages["road_access"].fillna("unknown") != "hardened"
    elif "road_hardened_claimed" in villages.columns:
        mask = _not_true(villages["road_hardened_claimed"])
    else:
        mask = pd.Series(False, index=villages.index)
    cols = _cols(
        villages,
        [
            "village_id",
            "name",
            "township",
            "population",
            "poor_population",
            "road_access",
            "road_snap_m",
            "unhardened_km",
            "unknown_surface_km",
        ],
    )
    out = villages.loc[mask, [*cols, "geometry"]]
    return out.sort_values("population", ascending=False) if "population" in cols else out


def ranked_road_gaps(road_gaps: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Road gaps sorted by people served per km (descending), with a 1-based ``rank``."""
    if road_gaps.empty:
        return road_gaps
    g = road_gaps.copy()
    if "people_per_km" not in g.columns and {"people_served", "length_km"} <= set(g.columns):
        g["people_per_km"] = g["people_served"] / g["length_km"].where(g["length_km"] > 0)
    g = g.sort_values("people_per_km", ascending=False, na_position="last")
    g["rank"] = np.arange(1, len(g) + 1)
    return g


def km_per_township(road_gaps: pd.DataFrame) -> pd.DataFrame:
    """Km to harden and people served per township, most km first."""
    if road_gaps.empty or "township" not in road_gaps.columns:
        return pd.DataFrame(columns=["township", "length_km", "people_served", "segments"])
    g = road_gaps.groupby("township", dropna=False).agg(
        length_km=("length_km", "sum"),
        people_served=("people_served", "sum")
        if "people_served" in road_gaps.columns
        else ("length_km", "size"),
        segments=("length_km", "size"),
    )
    g["length_km"] = g["length_km"].round(2)
    return g.reset_index().sort_values("length_km", ascending=False, ignore_index=True)


def water_villages(villages: gpd.GeoDataFrame, water: gpd.GeoDataFrame | None = None):
    """Villages without safe water (``has_safe_water`` False or unknown), farthest first.

    Adds ``nearest_water_name`` from the water layer when ``nearest_water_id`` is present.
    """
    v = villages
    if "has_safe_water" in v.columns:
        mask = _not_true(v["has_safe_water"])
    else:
        mask = pd.Series(True, index=v.index)
    out = v.loc[mask].copy()
    if water is not None and not water.empty and "nearest_water_id" in out.columns:
        names = water.set_index("water_id")["name"] if "name" in water.columns else None
        if names is not None:
            names = names[~names.index.duplicated()]
            out["nearest_water_name"] = out["nearest_water_id"].map(names)
    for c in ("has_safe_water", "in_water_service_area"):
        if c in out.columns:
            out[c] = bool_series(out[c])
    cols = _cols(
        out,
        [
            "village_id",
            "name",
            "township",
            "population",
            "has_safe_water",
            "in_water_service_area",
            "nearest_water_id",
            "nearest_water_name",
            "water_dist_m",
        ],
    )
    out = out[[*cols, "geometry"]]
    if "water_dist_m" in cols:
        out = out.assign(water_dist_m=out["water_dist_m"].round(0))
        out = out.sort_values("water_dist_m", ascending=False, na_position="first")
    return out


def count_by_township(rows: pd.DataFrame) -> pd.DataFrame:
    """Villages and population per township in a selection, most people first."""
    if rows.empty or "township" not in rows.columns:
        return pd.DataFrame(columns=["township", "villages", "population"])
    pop = rows["population"] if "population" in rows.columns else pd.Series(0, index=rows.index)
    g = pd.DataFrame({"township": rows["township"], "population": pop}).groupby(
        "township", dropna=False
    )
    out = g.agg(villages=("population", "size"), population=("population", "sum")).reset_index()
    return out.sort_values(["population", "villages"], ascending=False, ignore_index=True)


def health_villages(villages: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Villages whose clinic is not standard or has no qualified doctor (or unknown)."""
    mask = pd.Series(False, index=villages.index)
    for c in ("clinic_standard", "clinic_doctor"):
        if c in villages.columns:
            mask |= _not_true(villages[c])
    cols = _cols(
        villages,
        [
            "village_id",
            "name",
            "township",
            "population",
            "clinic_standard",
            "clinic_doctor",
            "travel_min_village_clinic",
            "travel_min_health_centre",
            "nearest_health_centre_id",
        ],
    )
    out = villages.loc[mask, [*cols, "geometry"]]
    for c in ("clinic_standard", "clinic_doctor"):
        if c in out.columns:
            out = out.assign(**{c: bool_series(out[c])})
    for c in ("travel_min_village_clinic", "travel_min_health_centre"):
        if c in out.columns:
            out = out.assign(**{c: out[c].round(1)})
    if "travel_min_health_centre" in cols:
        out = out.sort_values("travel_min_health_centre", ascending=False, na_position="first")
    return out


def health_townships(
    villages: pd.DataFrame, *, thresholds_min: Sequence[float] = (30.0, 60.0)
) -> pd.DataFrame:
    """Per township: population and the share within each threshold of a health centre.

    Unreachable villages (NaN travel time) count as outside every threshold.  A final
    row ``全县/County`` holds the whole county.  Columns: ``township``, ``population``,
    ``within_<T>_frac`` for each threshold, ``villages_clinic_gap``.
    """
    v = villages
    pop = v["population"].astype(float)
    tm = (
        v["travel_min_health_centre"].astype(float)
        if "travel_min_health_centre" in v.columns
        else pd.Series(np.nan, index=v.index)
    )
    gap = pd.Series(False, index=v.index)
    for c in ("clinic_standard", "clinic_doctor"):
        if c in v.columns:
            gap |= _not_true(v[c])
    df = pd.DataFrame({"township": v["township"], "population": pop, "gap": gap})
    for thr in thresholds_min:
        df[f"_w{thr:g}"] = pop.where(tm <= thr, 0.0)
    rows = []
    groups = [(tw, g) for tw, g in df.groupby("township", dropna=False)] + [("全县/County", df)]
    for tw, g in groups:
        total = g["population"].sum()
        row = {"township": tw, "population": int(total)}
        for thr in thresholds_min:
            row[f"within_{thr:g}_frac"] = (
                round(float(g[f"_w{thr:g}"].sum() / total), 4) if total > 0 else np.nan
            )
        row["villages_clinic_gap"] = int(g["gap"].sum())
        rows.append(row)
    return pd.DataFrame(rows)


def township_ranking(villages: pd.DataFrame) -> pd.DataFrame:
    """Townships ranked by share of villages ready to exit (highest first).

    Columns: ``township``, ``villages``, ``ready``, ``blocked``, ``unknown``,
    ``ready_frac``, ``population``, ``rank``.
    """
    codes = status_codes(villages, [])[EXIT_READY]
    df = pd.DataFrame(
        {
            "township": villages["township"],
            "ready": codes == "m",
            "blocked": codes == "n",
            "unknown": codes == "u",
            "population": villages["population"] if "population" in villages else 0,
        }
    )
    g = df.groupby("township", dropna=False).agg(
        villages=("ready", "size"),
        ready=("ready", "sum"),
        blocked=("blocked", "sum"),
        unknown=("unknown", "sum"),
        population=("population", "sum"),
    )
    g["ready_frac"] = (g["ready"] / g["villages"]).round(4)
    g = g.reset_index().sort_values(["ready_frac", "villages"], ascending=[False, False])
    g["rank"] = np.arange(1, len(g) + 1)
    return g.reset_index(drop=True)[
        ["rank", "township", "villages", "ready", "blocked", "unknown", "ready_frac", "population"]
    ]


def headline_numbers(summary: dict[str, Any], villages: pd.DataFrame) -> dict[str, float]:
    """Headline figures: the manifest summary, filled in from the villages where absent."""
    codes = status_codes(villages, [])[EXIT_READY]
    bc = villages["blocker_class"] if "blocker_class" in villages.columns else None
    computed: dict[str, float] = {
        "villages": len(villages),
        "exit_ready": int((codes == "m").sum()),
        "blocked_one": int((bc == "blocked_one").sum()) if bc is not None else 0,
        "blocked_several": int((bc == "blocked_several").sum())
        if bc is not None
        else int((codes == "n").sum()),
        "unknown": int((codes == "u").sum()),
    }
    if "eligible" in villages.columns:
        el = bool_series(villages["eligible"]).fillna(False).astype(bool)
        computed["people_to_relocate"] = int(villages.loc[el, "population"].sum())
    out = {**computed, **{k: v for k, v in summary.items() if v is not None}}
    return out


def relocation_candidates(cands: gpd.GeoDataFrame, lang: str = "zh") -> gpd.GeoDataFrame:
    """Candidates sorted by rank, with ``reasons`` in the chosen language."""
    if cands.empty:
        return cands
    c = cands.copy()
    if "eligible" in c.columns:
        c = c[bool_series(c["eligible"]).fillna(False).astype(bool)]
    rc = "reasons_en" if lang == "en" else "reasons_zh"
    if rc in c.columns:
        c["reasons"] = c[rc]
    if "rank" in c.columns:
        c = c.sort_values("rank", na_position="last")
    cols = _cols(
        c,
        [
            "rank",
            "village_id",
            "name",
            "township",
            "eligible",
            "score",
            "people_to_move",
            "reasons",
        ],
    )
    if "score" in cols:
        c["score"] = c["score"].astype(float).round(3)
    if "rank" in cols:
        c["rank"] = c["rank"].astype("Int64")
    return c[[*cols, "geometry"]]


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-safe dicts (geometry dropped) for dash-ag-grid."""
    d = pd.DataFrame(df.drop(columns=["geometry"], errors="ignore"))
    return [{k: json_value(v) for k, v in r.items()} for r in d.to_dict("records")]


def display_records(df: pd.DataFrame, lang: str = "zh", *, digits: int = 2) -> list[dict[str, Any]]:
    """Rows for a grid, readable: floats rounded, booleans (also text ones) as 是/否/未知.

    A column counts as boolean when every known value is a boolean or "True"/"False".
    """
    d = pd.DataFrame(df.drop(columns=["geometry"], errors="ignore")).copy()
    for c in d.columns:
        col = d[c]
        known = col.dropna()
        if len(known) == 0:
            continue
        if (
            col.dtype == bool
            or str(col.dtype) == "boolean"
            or (
                (pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col))
                and known.map(
                    lambda v: isinstance(v, bool | np.bool_) or str(v) in ("True", "False")
                ).all()
            )
        ):
            d[c] = [
                t("unknown", lang) if b is None else t("yes" if b else "no", lang)
                for b in (to_bool(v) for v in col)
            ]
        elif pd.api.types.is_float_dtype(col) and not c.startswith("_"):
            d[c] = col.round(digits)
    return records(d)


def centroid_latlon(gdf: gpd.GeoDataFrame) -> pd.DataFrame:
    """``lat``/``lon`` of each row (representative point) for flying the map there."""
    pts = gdf.geometry.representative_point()
    return pd.DataFrame({"lat": pts.y.round(5), "lon": pts.x.round(5)}, index=gdf.index)


def site_source(value: Any) -> str:
    """A site's source as ``"planner"`` or ``"generated"`` (anything else: ``"generated"``)."""
    return (
        "planner" if str(value).strip().lower() in ("planner", "规划", "规划提供") else "generated"
    )


def site_points_geojson(sites: gpd.GeoDataFrame, lang: str = "zh") -> dict[str, Any]:
    """Resettlement sites as points (a point inside each site) for the county-scale map.

    Properties: ``label`` (name and translated source), ``src`` (planner/generated).
    """
    if sites.empty:
        return {"type": "FeatureCollection", "features": []}
    pts = sites.geometry.representative_point()
    names = (
        sites["name"]
        if "name" in sites.columns
        else sites.get("site_id", pd.Series("", index=sites.index))
    )
    src = (
        sites["source"].map(site_source)
        if "source" in sites.columns
        else pd.Series("generated", index=sites.index)
    )
    out = gpd.GeoDataFrame(
        {
            "label": [f"{n} · {t(s, lang)}" for n, s in zip(names.astype(str), src, strict=True)],
            "src": src.values,
        },
        geometry=gpd.points_from_xy(pts.x.round(5), pts.y.round(5)),
        crs=sites.crs,
    )
    return to_geojson(out, columns=("label", "src"))


def sites_table(sites: pd.DataFrame, lang: str = "zh", *, digits: int = 3) -> list[dict[str, Any]]:
    """Rows of the sites grid: as :func:`display_records`, with ``source`` translated
    (规划提供/系统生成, planner/generated)."""
    d = pd.DataFrame(sites.drop(columns=["geometry"], errors="ignore")).copy()
    if "source" in d.columns:
        d["source"] = [t(site_source(v), lang) for v in d["source"]]
    return display_records(d, lang, digits=digits)


#: What each evidence source is, for the village panel; the raw name stays in brackets so the
#: figure traces back to its column (挤干水分: every number shows where it comes from).
EVIDENCE_LABELS: dict[str, tuple[str, str]] = {
    "poverty_incidence_frac": (
        "贫困发生率：建档立卡户表优先，与村表核对",
        "poverty incidence: household register first, checked against the village table",
    ),
    "road_access": (
        "路网分析：入村道路是否连通硬化路网",
        "road network analysis: hardened path into the village",
    ),
    "travel_min_health_centre": (
        "通行时间分析：到乡镇卫生院（分钟）",
        "travel-time analysis: minutes to the township health centre",
    ),
    "travel_min_township_seat": (
        "通行时间分析：到乡镇政府（分钟）",
        "travel-time analysis: minutes to the township seat",
    ),
    "has_safe_water": ("村表属性：饮水安全", "village table: safe drinking water"),
    "has_electricity": ("村表属性：通生产生活用电", "village table: electricity"),
    "has_broadband": ("村表属性：通宽带", "village table: broadband"),
    "has_culture_venue": ("村表属性：综合文化服务中心", "village table: cultural service centre"),
    "has_tv": ("村表属性：广播电视户户通", "village table: radio and TV"),
    "clinic_standard": ("村表属性：标准化卫生室", "village table: standard clinic"),
    "flush_toilet_frac": (
        "村表属性：卫生厕所户比例",
        "village table: share of households with a flush toilet",
    ),
    "household_road_hardened_frac": (
        "村表属性：入户道路硬化比例",
        "village table: share of household access roads hardened",
    ),
    "collective_income_cny": (
        "村表属性：村集体经济收入（元）",
        "village table: collective income (CNY)",
    ),
    "funds_cny": ("村表属性：扶贫资金（元）", "village table: poverty funds (CNY)"),
}


def evidence_label(evidence: object, lang: str = "zh") -> str:
    """Human label of an indicator's evidence source, with the raw source name in brackets."""
    if (
        evidence is None
        or (isinstance(evidence, float) and np.isnan(evidence))
        or str(evidence) == ""
    ):
        return "—"
    key = str(evidence)
    if key.startswith("households:"):
        flag = key.split(":", 1)[1]
        label = f"户表：{flag}" if lang != "en" else f"households table: {flag}"
    elif key in EVIDENCE_LABELS:
        label = EVIDENCE_LABELS[key][1 if lang == "en" else 0]
    else:
        return key
    return f"{label} ({key})"
