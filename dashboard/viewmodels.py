"""Pure view models: plan layers → GeoJSON dicts, styles, panel rows, tables.

Nothing here touches Dash or the file system, so everything is unit-tested without a
browser.  Status codes sent to the browser are one letter (:data:`STATUS_CODES`):
``m`` met (exit view: ready), ``i`` met only through inferred evidence (exit view:
unconfirmed, not counted ready), ``n`` not met (exit view: blocked), ``u`` unknown and,
in the exit view only, ``x`` not assessed (hamlets and villages not on the poverty
register, to which the exit rule does not apply).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import mapping

from dashboard.i18n import fmt_frac, fmt_num, has_key, t
from dashboard.plan import json_value
from layers.errors import LayerSchemaError
from layers.tristate import invalid_tristate, parse_tristate, to_tristate

#: Okabe-Ito colour-blind-safe blue, orange and grey for met / not met / unknown; a purple
#: (Tol) of its own for "met (inferred)" that no other map symbol uses; a pale grey with a
#: dashed outline (see anju.js) for villages the exit rule does not assess.
STATUS_COLORS = {"m": "#0072B2", "i": "#AA4499", "n": "#E69F00", "u": "#9E9E9E", "x": "#E4E4E4"}
#: Status (as in the filter and the panel) → one-letter code.
STATUS_CODES = {
    "met": "m",
    "met_inferred": "i",
    "not_met": "n",
    "unknown": "u",
    "not_assessed": "x",
}
CODE_STATUS = {v: k for k, v in STATUS_CODES.items()}
#: Codes in the order legends and counts list them, per view.
EXIT_CODES = ("m", "i", "n", "u", "x")
INDICATOR_CODES = ("m", "i", "n", "u")
ROAD_COLORS = {
    "hardened": "#333333",
    "unhardened": "#8C510A",  # brown: no other layer or status uses it
    "unknown": "#AAAAAA",
    "inferred": "#B39DDB",  # surface taken from the road class (lilac, apart from the statuses)
}
EXIT_READY = "exit_ready"
#: Evidence qualities, best first (geo.indicators.QUALITIES).
QUALITIES = ("measured", "attribute", "inferred", "missing")
#: Blocker classes the exit rule does not assess.
NOT_ASSESSED = ("not_registered", "hamlet")


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


#: blocker_class → exit-view code.
BLOCKER_CODES = {
    "ready": "m",
    "unconfirmed": "i",
    "blocked_one": "n",
    "blocked_several": "n",
    "unknown": "u",
    "not_registered": "x",
    "hamlet": "x",
}


def exit_codes(villages: pd.DataFrame) -> pd.Series:
    """Exit readiness per village (codes of :data:`EXIT_CODES`).

    From ``blocker_class`` when present (it keeps unconfirmed, unknown and the villages not
    assessed apart; a value outside the classes reads as unknown), else from
    ``exit_ready_status`` or the boolean ``exit_ready``, with ``exit_applicable`` False as
    not assessed.
    """
    if "blocker_class" in villages.columns:
        return villages["blocker_class"].map(lambda s: BLOCKER_CODES.get(s, "u"))
    if "exit_ready_status" in villages.columns:
        codes = villages["exit_ready_status"].map(lambda s: STATUS_CODES.get(s, "u"))
    elif "exit_ready" in villages.columns:
        codes = villages["exit_ready"].map(_bool_to_code)
    else:
        codes = pd.Series("u", index=villages.index)
    if "exit_applicable" in villages.columns:
        applicable = bool_series(villages["exit_applicable"])
        codes = codes.where(~(applicable == False).fillna(False), "x")  # noqa: E712
    return codes


def indicator_status(villages: pd.DataFrame, iid: str) -> pd.Series:
    """Status of indicator ``iid`` per village: met / met_inferred / not_met / unknown.

    ``<id>_status`` when present (met with ``<id>_quality`` "inferred" becomes
    ``met_inferred``), else the nullable boolean column ``<id>``; unknown without either.
    """
    scol = f"{iid}_status"
    if scol in villages.columns:
        st = villages[scol].map(lambda s: s if s in ("met", "not_met", "unknown") else "unknown")
    elif iid in villages.columns:
        st = villages[iid].map(lambda v: CODE_STATUS[_bool_to_code(v)])
    else:
        return pd.Series("unknown", index=villages.index, dtype=object)
    qcol = f"{iid}_quality"
    if qcol in villages.columns:
        st = st.where(~((st == "met") & (villages[qcol] == "inferred")), "met_inferred")
    return st.astype(object)


def status_codes(villages: pd.DataFrame, indicator_ids: Iterable[str]) -> pd.DataFrame:
    """One-letter status per village for exit readiness and each indicator.

    Columns of the result: ``exit_ready`` (:func:`exit_codes`) then each id
    (:func:`indicator_status` as a code: ``i`` where met only through inferred evidence).
    """
    out = {EXIT_READY: exit_codes(villages)}
    for col in indicator_ids:
        out[col] = indicator_status(villages, col).map(STATUS_CODES)
    return pd.DataFrame(out, index=villages.index)


def code_labels(view: str, lang: str = "zh") -> dict[str, str]:
    """Label of each status code in a view (``exit`` or ``indicator``), in legend order."""
    if view == "exit":
        return {c: t(f"exit_{CODE_STATUS[c]}", lang) for c in EXIT_CODES}
    return {c: t(CODE_STATUS[c], lang) for c in INDICATOR_CODES}


def villages_geojson(villages: gpd.GeoDataFrame, indicator_ids: Sequence[str]) -> dict[str, Any]:
    """Village features for the coverage map.

    Properties: ``vid`` (village_id), ``name``, ``tw`` (township), ``pop`` (population) and
    ``st``, a string with one status letter per entry of ``["exit_ready", *indicator_ids]``
    (the order is sent in the hideout as ``keys``).
    """
    codes = status_codes(villages, indicator_ids)
    st = codes.apply(lambda r: "".join(r.values), axis=1) if len(codes) else codes
    gj = to_geojson(
        villages.assign(_st=st, _mb=main_blockers(villages, indicator_ids)),
        columns={
            "village_id": "vid",
            "name": "name",
            "township": "tw",
            "population": "pop",
            "_st": "st",
            "_mb": "mb",
        },
    )
    return gj


#: The coverage page's default view: villages coloured by what blocks their exit.
MAIN_BLOCKER = "main_blocker"
#: Colours of the main blockers, in the profile's indicator order; chosen apart from the
#: status colours (:data:`STATUS_COLORS`: ready blue, unconfirmed purple, unknown grey) and
#: from the context layers' colours.
BLOCKER_PALETTE = (
    "#C8102E",  # crimson
    "#F0C808",  # yellow
    "#17A2B8",  # teal
    "#5D3A9B",  # indigo
    "#E377C2",  # pink
    "#BCBD22",  # olive
    "#6A3D9A",  # deep violet
    "#66A61E",  # leaf green
    "#FF9896",  # salmon
    "#1F3A93",  # navy
    "#7F7F00",  # dark olive
    "#FDBF6F",  # sand
)
#: Blocker view codes that are not an indicator: ready, unconfirmed, unknown, not
#: assessed (exit codes) and "o": blocked by no single indicator of the map (households).
BLOCKER_SPECIAL = ("m", "i", "u", "x", "o")
BLOCKER_OTHER_COLOR = "#5A5A5A"


def blocker_code(k: int) -> str:
    """The one-letter code of the ``k``-th indicator in the blocker view (A, B, ...)."""
    return chr(ord("A") + k)


def main_blockers(villages: pd.DataFrame, indicator_ids: Sequence[str]) -> pd.Series:
    """What blocks each village's exit, as a code: the first indicator (in the profile's
    order, incidence first) that is not met (:func:`blocker_code`), else the exit code
    (``m`` ready, ``i`` unconfirmed, ``u`` unknown, ``x`` not assessed), ``o`` for a blocked
    village with no not-met indicator of the map (e.g. a household-level blocker)."""
    ex = exit_codes(villages)
    out = ex.copy()
    blocked = ex == "n"
    out[blocked] = "o"
    todo = blocked.copy()
    for k, iid in enumerate(indicator_ids):
        if not todo.any():
            break
        hit = todo & (indicator_status(villages, iid) == "not_met")
        out[hit] = blocker_code(k)
        todo &= ~hit
    return out.astype(object)


def blocker_colors(indicator_ids: Sequence[str]) -> dict[str, str]:
    """Code → colour of the blocker view."""
    colors = {
        blocker_code(k): BLOCKER_PALETTE[k % len(BLOCKER_PALETTE)]
        for k in range(len(indicator_ids))
    }
    colors.update({c: STATUS_COLORS[c] for c in ("m", "i", "u", "x")})
    colors["o"] = BLOCKER_OTHER_COLOR
    return colors


def blocker_counts(
    villages: pd.DataFrame,
    indicator_ids: Sequence[str],
    *,
    township: str | None = None,
) -> dict[str, dict[str, int]]:
    """Villages per main blocker (``main``: each village once, by :func:`main_blockers`) and
    per not-met indicator (``any``: a village under every indicator it fails), in a township
    or the whole county. ``main`` counts add up to the villages counted."""
    sel = (
        villages["township"] == township
        if township and "township" in villages.columns
        else pd.Series(True, index=villages.index)
    )
    v = villages[sel.fillna(False).astype(bool)]
    mb = main_blockers(v, indicator_ids)
    main = {c: int((mb == c).sum()) for c in [*map(blocker_code, range(len(indicator_ids)))]}
    main.update({c: int((mb == c).sum()) for c in BLOCKER_SPECIAL})
    blocked = exit_codes(v) == "n"
    anyc = {
        blocker_code(k): int((blocked & (indicator_status(v, iid) == "not_met")).sum())
        for k, iid in enumerate(indicator_ids)
    }
    return {"main": main, "any": anyc}


def blocker_legend_codes(indicator_ids: Sequence[str]) -> list[str]:
    """The blocker view's codes in legend order (indicators, other, m, i, u, x)."""
    return [*map(blocker_code, range(len(indicator_ids))), "o", "m", "i", "u", "x"]


def township_bounds(plan: Any) -> dict[str, list[list[float]]]:
    """``{township: [[south, west], [north, east]]}`` (EPSG:4326) from the townships layer,
    else from the township's villages."""
    tw = plan.layer("townships")
    out: dict[str, list[list[float]]] = {}
    if not tw.empty and "name" in tw.columns:
        for name, g in zip(tw["name"], tw.geometry, strict=True):
            if g is None or g.is_empty or not isinstance(name, str):
                continue
            x0, y0, x1, y1 = g.bounds
            out[name] = [[round(y0, 5), round(x0, 5)], [round(y1, 5), round(x1, 5)]]
    v = plan.villages
    if "township" in v.columns:
        for name, grp in v.groupby("township"):
            if name in out or not len(grp):
                continue
            x0, y0, x1, y1 = grp.total_bounds
            pad = 0.01
            out[str(name)] = [
                [round(y0 - pad, 5), round(x0 - pad, 5)],
                [round(y1 + pad, 5), round(x1 + pad, 5)],
            ]
    return out


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
        ``main_blocker`` (colour by what blocks each village; statuses filter as in
        ``exit_ready``), ``exit_ready`` or an indicator id to colour by.
    township : str, optional
        Only this township is drawn at full strength ("" or None: all).
    status : str, optional
        A key of :data:`STATUS_CODES`: only villages with this status are highlighted.
    selected : str, optional
        village_id to outline.
    """
    keys = [EXIT_READY, *indicator_ids]
    return {
        "idx": keys.index(indicator) if indicator in keys else 0,
        "blocker": indicator == MAIN_BLOCKER,
        "bcolors": blocker_colors(indicator_ids),
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

    ``n`` is the number of villages highlighted; ``total`` the villages of the chosen
    township; one count per key of :data:`STATUS_CODES` over those ``total`` villages
    (all statuses, so the user sees what the status filter hides). The status counts
    always add up to ``total``.
    """
    col = codes[indicator] if indicator in codes.columns else pd.Series("u", index=codes.index)
    col = col.where(col.isin(list(CODE_STATUS)), "u")
    in_tw = townships == township if township else pd.Series(True, index=codes.index)
    sel = in_tw & (col == STATUS_CODES[status]) if status else in_tw
    out = {"n": int(sel.sum()), "total": int(in_tw.sum())}
    for name, code in STATUS_CODES.items():
        out[name] = int((in_tw & (col == code)).sum())
    return out


def counts_meta(lang: str = "zh") -> dict[str, Any]:
    """What ``anju.filter`` in assets/anju.js needs to write :func:`counts_text` itself."""
    return {
        "head": t("counts_head", lang),
        "of": t("counts_of", lang),
        "item": t("counts_item", lang),
        "sep": t("counts_sep", lang),
        "join": t("counts_join", lang),
        "labels": {"exit": code_labels("exit", lang), "indicator": code_labels("indicator", lang)},
    }


def counts_text(counts: Mapping[str, int], lang: str = "zh", *, view: str = "exit") -> str:
    """The counter under the filters, e.g. ``显示 40 个村：达标 30，达标（推定） 2，…``.

    Lists every class of the view (``exit`` or ``indicator``, zeros too); ``（共 N 个）``
    follows the number shown when a status filter hides some.  Mirrors ``countsText`` in
    assets/anju.js.
    """
    m = counts_meta(lang)
    head = m["head"].replace("{n}", str(counts["n"]))
    if counts["n"] != counts["total"]:
        head += m["of"].replace("{total}", str(counts["total"]))
    items = [
        m["item"].replace("{label}", label).replace("{count}", str(counts[CODE_STATUS[c]]))
        for c, label in m["labels"][view].items()
    ]
    return head + m["sep"] + m["join"].join(items)


def status_options(view: str, lang: str = "zh") -> list[dict[str, str]]:
    """Options of the status filter in a view (all, then each class of the view)."""
    return [{"label": t("all_status", lang), "value": ""}] + [
        {"label": label, "value": CODE_STATUS[c]} for c, label in code_labels(view, lang).items()
    ]


def roads_geojson(roads: gpd.GeoDataFrame) -> dict[str, Any]:
    """Roads with ``h`` = hardened / unhardened / unknown, ``cls`` = road class and ``inf``
    = 1 where the surface was inferred from the road class (``hardened_inferred``), drawn in
    the "inferred" colour by ``anju.roadStyle``."""
    if roads.empty:
        return to_geojson(roads)
    h = roads["hardened"] if "hardened" in roads.columns else pd.Series(pd.NA, index=roads.index)
    state = h.map(road_state)
    inferred = (
        bool_series(roads["hardened_inferred"]).fillna(False).astype(int)
        if "hardened_inferred" in roads.columns
        else pd.Series(0, index=roads.index)
    )
    return to_geojson(
        roads.assign(_h=state, _inf=inferred),
        columns={"road_id": "rid", "road_class": "cls", "_h": "h", "_inf": "inf"},
    )


def road_state(v: Any) -> str:
    """``hardened`` / ``unhardened`` / ``unknown`` from a nullable bool or its text form."""
    if isinstance(v, str):
        return v if v in ROAD_COLORS else "unknown"
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return "unknown"
    return "hardened" if bool(v) else "unhardened"


# --------------------------------------------------------------------------- panel


def _text(v: Any) -> str:
    v = json_value(v)
    return "" if v is None else str(v).strip()


def _ids(v: Any) -> list[str]:
    return [x for x in (p.strip() for p in _text(v).split(",")) if x]


def is_verified(ind: Mapping[str, Any]) -> bool:
    """Whether an indicator's threshold or clause is confirmed (``verified`` absent: yes)."""
    return to_bool(ind.get("verified", True)) is not False


def indicator_label(ind: Mapping[str, Any], lang: str = "zh") -> str:
    """An indicator's name, marked ``（待核实）`` when its threshold or clause is unverified."""
    name = ind.get("name_en" if lang == "en" else "name_zh") or ind["id"]
    if is_verified(ind):
        return str(name)
    return (
        f"{name}（{t('unverified', lang)}）"
        if lang != "en"
        else f"{name} ({t('unverified', lang)})"
    )


def unverified_indicators(indicators: Sequence[Mapping[str, Any]], lang: str = "zh") -> list[str]:
    """One line per indicator whose threshold or clause is unverified: its name, its
    threshold when it has a number, and its clause."""
    out = []
    for ind in indicators:
        if is_verified(ind):
            continue
        name = ind.get("name_en" if lang == "en" else "name_zh") or ind["id"]
        thr = json_value(ind.get("threshold"))
        if isinstance(thr, int | float) and not isinstance(thr, bool):
            colon = "：" if lang != "en" else ": "
            unit = ind.get("unit") or ""
            name = f"{name}{colon}{_fmt_value(thr, unit, lang, rule=ind.get('rule'))}"
        out.append(" · ".join([name, *([clause_text(ind, lang)] if ind.get("clause") else [])]))
    return out


def clause_text(ind: Mapping[str, Any], lang: str = "zh") -> str:
    """An indicator's policy clause in ``lang``: in English its English rendering when the
    profile gives one (``clause_en``), else the Chinese source marked as such."""
    zh = str(ind.get("clause") or "").strip()
    if lang != "en":
        return zh or "—"
    en = str(ind.get("clause_en") or "").strip()
    if en:
        return en
    return f"(Chinese original) {zh}" if zh else "—"


def profile_line(title: str, profile: Mapping[str, Any], lang: str = "zh") -> str:
    """The policy profile as the pages name it: its title, ``（标准待核实）`` when the profile
    is unverified, and whether inferred evidence counts as met."""
    line = title
    if to_bool(profile.get("verified", True)) is False:
        line += t("profile_unverified", lang)
    if to_bool(profile.get("inferred_counts_as_met")) is True:
        line += f" · {t('inferred_counts', lang)}"
    return line


def dem_line(manifest: Mapping[str, Any], lang: str = "zh") -> tuple[str, bool] | None:
    """The DEM's resolution as the pages say it, and whether it is a warning.

    ``("高程数据 30 米（EPSG:4545）", False)``; a DEM coarser than the profile's
    ``dem_coarse_cell_m`` says that slopes and travel times within a cell are low-confidence,
    one coarser than ``dem_max_cell_m`` that the slope-based relocation rules are unknown
    (``True``: shown as a warning). None when the manifest records no DEM.
    """
    dem = manifest.get("dem") if isinstance(manifest, Mapping) else None
    if not isinstance(dem, Mapping) or not dem.get("cellsize_m"):
        return None
    try:
        cell = max(float(c) for c in dem["cellsize_m"])
    except (TypeError, ValueError):
        return None
    line = t("dem_line", lang, cell=f"{cell:.0f}", crs=str(dem.get("crs") or "—"))
    coarse = to_bool(dem.get("coarse")) is True
    if coarse:
        line += t("dem_coarse", lang, limit=f"{float(dem.get('coarse_cell_m') or 90):.0f}")
    if to_bool(dem.get("terrain_rules_unknown")) is True:
        line += t("dem_too_coarse", lang, limit=f"{float(dem.get('max_cell_m') or 250):.0f}")
    return line, coarse


def village_panel(
    row: pd.Series | dict[str, Any], indicators: Sequence[dict[str, Any]], lang: str = "zh"
) -> dict[str, Any]:
    """Contents of the side panel for one village.

    Returns
    -------
    dict
        ``title``, ``subtitle``; ``exit`` (label of the village's blocker class),
        ``exit_status`` (a key of :data:`STATUS_CODES`), ``exit_class`` (the
        ``blocker_class``, None when absent) and ``exit_detail`` (which indicators are
        unconfirmed, not met or unknown); ``rows``: one dict per indicator with ``id``,
        ``name``, ``status`` (met / met_inferred / not_met / unknown), ``status_label``,
        ``quality`` (measured / attribute / inferred / missing or None),
        ``quality_label``, ``note``, ``verified`` (bool), ``value``, ``threshold``,
        ``evidence``, ``clause``.
    """
    r = dict(row)
    frame = pd.DataFrame([r])
    rows = []
    names = {}
    for ind in indicators:
        iid = ind["id"]
        names[iid] = ind.get("name_en" if lang == "en" else "name_zh") or iid
        status = indicator_status(frame, iid).iloc[0]
        quality = _text(r.get(f"{iid}_quality")) or None
        unit = ind.get("unit") or ""
        value = json_value(r.get(f"{iid}_value"))
        thr = json_value(r.get(f"{iid}_threshold"))
        if thr is None:
            thr = json_value(ind.get("threshold"))
        if thr is None and (unit == "bool" or ind.get("rule") in ("is_true", "clinic_in_village")):
            thr = True
        rows.append(
            {
                "id": iid,
                "name": names[iid],
                "status": status,
                "status_label": t(status, lang),
                "quality": quality if quality in QUALITIES else None,
                "quality_label": t(f"quality_{quality}", lang) if quality in QUALITIES else "—",
                "note": _text(r.get(f"{iid}_note_{'en' if lang == 'en' else 'zh'}")),
                "verified": is_verified(ind),
                "value": _fmt_value(value, unit, lang),
                "threshold": _fmt_value(thr, unit, lang, rule=ind.get("rule")),
                "evidence": evidence_label(ind.get("evidence"), lang),
                "clause": clause_text(ind, lang),
            }
        )
    code = exit_codes(frame).iloc[0]
    bc = _text(r.get("blocker_class")) or None
    sep = "、" if lang != "en" else ", "
    colon = "：" if lang != "en" else ": "
    detail = []
    for key, col in (
        ("unconfirmed", "unconfirmed"),
        ("not_met", "unmet"),
        ("unknown", "unknown"),
    ):
        listed = [names.get(i, i) for i in _ids(r.get(col))]
        if listed and code != "x":
            label = t(key if key != "unconfirmed" else "to_confirm", lang)
            detail.append(f"{label}{colon}{sep.join(listed)}")
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
        "exit": t(f"bc_{bc}", lang)
        if bc in BLOCKER_CODES
        else t(f"exit_{CODE_STATUS[code]}", lang),
        "exit_status": CODE_STATUS[code],
        "exit_class": bc,
        "exit_detail": detail,
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
    "households_share_at_least": "≥",
    "road_access_hardened": "≤",
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


def transport_villages(villages: gpd.GeoDataFrame, *, indicator: str = "road") -> gpd.GeoDataFrame:
    """Villages without a confirmed hardened road, biggest first.

    A village is listed when ``road_access`` is not ``hardened``, or when the road
    indicator is met only through inferred evidence (a surface taken from the road class:
    to confirm).  Columns (those present): ``village_id``, ``name``, ``township``,
    ``population``, ``poor_population``, ``road_access``, ``road_status`` (met_inferred /
    not_met / unknown, :func:`indicator_status`), ``road_quality``, ``road_snap_m``,
    ``unhardened_km`` (known unhardened), ``unknown_surface_km`` (surface unknown: to
    survey), ``connection_km`` (road to build), ``inferred_km``, ``road_note_zh``,
    ``road_note_en``; km columns blank (NaN) stay blank, never 0.
    """
    v = villages
    status = indicator_status(v, indicator)
    if "road_access" in v.columns:
        mask = v["road_access"].fillna("unknown") != "hardened"
    elif "road_hardened_claimed" in v.columns:
        mask = _not_true(v["road_hardened_claimed"])
    else:
        mask = pd.Series(False, index=v.index)
    mask |= status == "met_inferred"
    out = v.loc[mask].copy()
    out["road_status"] = status[mask]
    if f"{indicator}_quality" in out.columns:
        out["road_quality"] = out[f"{indicator}_quality"]
    for lg in ("zh", "en"):
        if f"{indicator}_note_{lg}" in out.columns:
            out[f"road_note_{lg}"] = out[f"{indicator}_note_{lg}"]
    cols = _cols(
        out,
        [
            "village_id",
            "name",
            "township",
            "population",
            "poor_population",
            "road_access",
            "road_status",
            "road_quality",
            "road_snap_m",
            "unhardened_km",
            "unknown_surface_km",
            "connection_km",
            "inferred_km",
            "road_note_zh",
            "road_note_en",
        ],
    )
    out = out[[*cols, "geometry"]]
    return out.sort_values("population", ascending=False) if "population" in cols else out


def ranked_road_gaps(road_gaps: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Road gaps sorted by people served per km (descending), with a 1-based ``rank``,
    and the km split of :func:`gap_km_split` (``kind``, ``known_unhardened_km``,
    ``unknown_surface_km``, ``connection_km``)."""
    if road_gaps.empty:
        return road_gaps
    g = road_gaps.copy()
    if "people_per_km" not in g.columns and {"people_served", "length_km"} <= set(g.columns):
        g["people_per_km"] = g["people_served"] / g["length_km"].where(g["length_km"] > 0)
    split = gap_km_split(g)
    for c in split.columns:
        g[c] = split[c]
    g = g.sort_values("people_per_km", ascending=False, na_position="last")
    g["rank"] = np.arange(1, len(g) + 1)
    return g


def gap_km_split(road_gaps: pd.DataFrame) -> pd.DataFrame:
    """Each gap's km as known unhardened, unknown surface and connection to build.

    ``kind`` is ``harden`` or ``connection`` (``harden`` when the plan does not say);
    a connection's whole length is road to build.  Without ``known_unhardened_km`` the
    known part is ``length_km - unknown_surface_km``; without ``unknown_surface_km``
    the split is not known and both are blank (NaN), never 0.

    Returns
    -------
    DataFrame
        Indexed like ``road_gaps``: ``kind``, ``known_unhardened_km``,
        ``unknown_surface_km``, ``connection_km``.
    """
    idx = road_gaps.index
    nan = pd.Series(np.nan, index=idx)
    length = (
        pd.to_numeric(road_gaps["length_km"], errors="coerce") if "length_km" in road_gaps else nan
    )
    kind = (
        road_gaps["kind"].where(road_gaps["kind"].isin(["harden", "connection"]), "harden")
        if "kind" in road_gaps
        else pd.Series("harden", index=idx)
    ).astype(object)
    conn = kind == "connection"
    unknown = (
        pd.to_numeric(road_gaps["unknown_surface_km"], errors="coerce")
        if "unknown_surface_km" in road_gaps
        else nan
    )
    known = (
        pd.to_numeric(road_gaps["known_unhardened_km"], errors="coerce")
        if "known_unhardened_km" in road_gaps
        else length - unknown
    )
    return pd.DataFrame(
        {
            "kind": kind,
            "known_unhardened_km": known.where(~conn, 0.0),
            "unknown_surface_km": unknown.where(~conn, 0.0),
            "connection_km": length.where(conn, 0.0),
        },
        index=idx,
    )


def road_km(road_gaps: pd.DataFrame) -> dict[str, float | None]:
    """Km of the road gaps: ``known_unhardened_km``, ``unknown_surface_km``,
    ``connection_km`` and ``total_km`` (None where the plan cannot say)."""
    if road_gaps is None or road_gaps.empty or "length_km" not in road_gaps.columns:
        return {
            "known_unhardened_km": 0.0,
            "unknown_surface_km": 0.0,
            "connection_km": 0.0,
            "total_km": 0.0,
        }
    split = gap_km_split(road_gaps)

    def total(s: pd.Series) -> float | None:
        return None if s.isna().any() else round(float(s.sum()), 2)

    return {
        "known_unhardened_km": total(split["known_unhardened_km"]),
        "unknown_surface_km": total(split["unknown_surface_km"]),
        "connection_km": total(split["connection_km"]),
        "total_km": total(pd.to_numeric(road_gaps["length_km"], errors="coerce")),
    }


def km_per_township(road_gaps: pd.DataFrame) -> pd.DataFrame:
    """Km per township, most km first: ``length_km`` (all of it), split into
    ``known_unhardened_km``, ``unknown_surface_km`` and ``connection_km``
    (:func:`gap_km_split`), with ``people_served`` and ``segments``."""
    cols = [
        "township",
        "length_km",
        "known_unhardened_km",
        "unknown_surface_km",
        "connection_km",
        "people_served",
        "segments",
    ]
    if road_gaps.empty or "township" not in road_gaps.columns:
        return pd.DataFrame(columns=cols)
    split = gap_km_split(road_gaps)
    df = pd.DataFrame(
        {
            "township": road_gaps["township"],
            "length_km": road_gaps["length_km"],
            **{c: split[c] for c in ("known_unhardened_km", "unknown_surface_km", "connection_km")},
            "people_served": road_gaps["people_served"]
            if "people_served" in road_gaps.columns
            else np.nan,
        }
    )
    g = df.groupby("township", dropna=False).agg(
        length_km=("length_km", "sum"),
        known_unhardened_km=("known_unhardened_km", lambda s: s.sum(min_count=len(s))),
        unknown_surface_km=("unknown_surface_km", lambda s: s.sum(min_count=len(s))),
        connection_km=("connection_km", "sum"),
        people_served=("people_served", "sum"),
        segments=("length_km", "size"),
    )
    for c in ("length_km", "known_unhardened_km", "unknown_surface_km", "connection_km"):
        g[c] = g[c].round(2)
    return g.reset_index().sort_values("length_km", ascending=False, ignore_index=True)[cols]


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


def clinic_status(villages: pd.DataFrame, *, indicator: str = "clinic") -> pd.Series:
    """met / not_met / unknown per village for the clinic: the evaluated indicator
    (``<indicator>_status`` or its boolean), else a standard clinic with a qualified doctor
    (``clinic_standard`` and ``clinic_doctor``, Kleene: unknown unless decided).

    The health page's map, table, headline and the briefing all count this.
    """
    if f"{indicator}_status" in villages.columns or indicator in villages.columns:
        st = indicator_status(villages, indicator)
        return st.where(st != "met_inferred", "met")
    na = pd.Series(pd.NA, index=villages.index, dtype="boolean")
    std = bool_series(villages["clinic_standard"]) if "clinic_standard" in villages else na
    doc = bool_series(villages["clinic_doctor"]) if "clinic_doctor" in villages else na
    both = std & doc
    return pd.Series(
        np.where(both.isna(), "unknown", np.where(both.fillna(False), "met", "not_met")),
        index=villages.index,
        dtype=object,
    )


def health_villages(villages: gpd.GeoDataFrame, *, indicator: str = "clinic") -> gpd.GeoDataFrame:
    """Villages whose clinic indicator is not met or unknown (:func:`clinic_status`), not
    met first, then the longest trip to the health centre.

    Columns (those present): ``village_id``, ``name``, ``township``, ``population``,
    ``clinic_status`` (not_met | unknown), ``clinic_note_zh`` / ``clinic_note_en``,
    ``clinic_standard``, ``clinic_doctor``, ``hosts_health_centre``,
    ``travel_min_village_clinic``, ``travel_min_health_centre``,
    ``nearest_health_centre_id``.
    """
    state = clinic_status(villages, indicator=indicator)
    mask = state != "met"
    out = villages.loc[mask].copy()
    out["clinic_status"] = state[mask]
    for lg in ("zh", "en"):
        if f"{indicator}_note_{lg}" in out.columns:
            out[f"clinic_note_{lg}"] = out[f"{indicator}_note_{lg}"]
    cols = _cols(
        out,
        [
            "village_id",
            "name",
            "township",
            "population",
            "clinic_status",
            "clinic_note_zh",
            "clinic_note_en",
            "clinic_standard",
            "clinic_doctor",
            "hosts_health_centre",
            "travel_min_village_clinic",
            "travel_min_health_centre",
            "nearest_health_centre_id",
        ],
    )
    out = out[[*cols, "geometry"]]
    for c in ("clinic_standard", "clinic_doctor", "hosts_health_centre"):
        if c in out.columns:
            out = out.assign(**{c: bool_series(out[c])})
    for c in ("travel_min_village_clinic", "travel_min_health_centre"):
        if c in out.columns:
            out = out.assign(**{c: out[c].round(1)})
    keys = [out["clinic_status"] != "not_met"]
    if "travel_min_health_centre" in cols:
        keys.append(-out["travel_min_health_centre"].fillna(np.inf))
    order = np.lexsort([k.to_numpy(dtype=float) for k in reversed(keys)])
    return out.iloc[order]


def health_townships(
    villages: pd.DataFrame,
    *,
    thresholds_min: Sequence[float] = (30.0, 60.0),
    indicator: str = "clinic",
) -> pd.DataFrame:
    """Per township: population, the share within each threshold of a health centre, and
    the clinic indicator's villages met / not met / unknown (:func:`clinic_status`).

    Unreachable villages (NaN travel time) count as outside every threshold.  A final
    row ``全县/County`` holds the whole county.  Columns: ``township``, ``population``,
    ``within_<T>_frac`` for each threshold, ``clinic_met``, ``clinic_not_met``,
    ``clinic_unknown`` (they add up to the township's villages).
    """
    v = villages
    pop = v["population"].astype(float)
    tm = (
        v["travel_min_health_centre"].astype(float)
        if "travel_min_health_centre" in v.columns
        else pd.Series(np.nan, index=v.index)
    )
    state = clinic_status(v, indicator=indicator)
    df = pd.DataFrame({"township": v["township"], "population": pop, "state": state})
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
        for st in ("met", "not_met", "unknown"):
            row[f"clinic_{st}"] = int((g["state"] == st).sum())
        rows.append(row)
    return pd.DataFrame(rows)


def township_ranking(villages: pd.DataFrame) -> pd.DataFrame:
    """Townships ranked by the share of assessed villages ready to exit (highest first).

    Columns: ``rank``, ``township``, ``villages`` (all), ``assessed`` (the exit rule
    applies), ``ready``, ``unconfirmed`` (met only through inferred evidence: not counted
    ready), ``blocked``, ``unknown``, ``not_assessed`` (hamlets, villages not on the
    poverty register), ``ready_frac`` (ready / assessed), ``population``.  ready +
    unconfirmed + blocked + unknown = assessed; assessed + not_assessed = villages.
    """
    codes = exit_codes(villages)
    df = pd.DataFrame(
        {
            "township": villages["township"],
            "ready": codes == "m",
            "unconfirmed": codes == "i",
            "blocked": codes == "n",
            "unknown": codes == "u",
            "not_assessed": codes == "x",
            "population": villages["population"] if "population" in villages else 0,
        }
    )
    g = df.groupby("township", dropna=False).agg(
        villages=("ready", "size"),
        ready=("ready", "sum"),
        unconfirmed=("unconfirmed", "sum"),
        blocked=("blocked", "sum"),
        unknown=("unknown", "sum"),
        not_assessed=("not_assessed", "sum"),
        population=("population", "sum"),
    )
    g["assessed"] = g["villages"] - g["not_assessed"]
    g["ready_frac"] = (g["ready"] / g["assessed"].where(g["assessed"] > 0)).round(4)
    g = g.reset_index().sort_values(
        ["ready_frac", "assessed"], ascending=[False, False], na_position="last"
    )
    g["rank"] = np.arange(1, len(g) + 1)
    return g.reset_index(drop=True)[
        [
            "rank",
            "township",
            "villages",
            "assessed",
            "ready",
            "unconfirmed",
            "blocked",
            "unknown",
            "not_assessed",
            "ready_frac",
            "population",
        ]
    ]


#: Headline figures counted from the villages layer itself, so the headline, the map and
#: the tables count the same villages (the manifest summary is used for the others).
_FROM_VILLAGES = (
    "villages",
    "villages_assessed",
    "exit_ready",
    "unconfirmed",
    "blocked_one",
    "blocked_several",
    "unknown",
    "not_registered",
    "hamlet",
    "not_assessed",
    "no_standard_clinic",
    "clinic_met",
    "clinic_unknown",
)


def headline_numbers(
    summary: dict[str, Any],
    villages: pd.DataFrame,
    road_gaps: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Headline figures of the briefing.

    Counts of villages by blocker class (``exit_ready``, ``unconfirmed``,
    ``blocked_one``, ``blocked_several``, ``unknown``, ``not_registered``, ``hamlet``,
    ``not_assessed``, ``villages_assessed``) and of clinics (``no_standard_clinic`` =
    not met, ``clinic_unknown``, ``clinic_met``: :func:`clinic_status`) come from the
    villages layer; the km (``km_to_harden`` known unhardened, ``km_unknown_surface``,
    ``km_to_connect``) from ``road_gaps`` when given (:func:`road_km`); everything else
    from the manifest ``summary``, filled in from the villages where absent.
    """
    v = villages
    bc = v["blocker_class"] if "blocker_class" in v.columns else None
    codes = exit_codes(v)
    computed: dict[str, Any] = {"villages": len(v)}
    if bc is not None:
        for k in (
            "unconfirmed",
            "blocked_one",
            "blocked_several",
            "unknown",
            "not_registered",
            "hamlet",
        ):
            computed[k] = int((bc == k).sum())
    else:
        computed["unconfirmed"] = int((codes == "i").sum())
        computed["blocked_several"] = int((codes == "n").sum())
        computed["unknown"] = int((codes == "u").sum())
    computed["exit_ready"] = int((codes == "m").sum())
    computed["not_assessed"] = int((codes == "x").sum())
    computed["villages_assessed"] = len(v) - computed["not_assessed"]
    has_clinic = any(c in v.columns for c in ("clinic_status", "clinic", "clinic_standard"))
    if has_clinic:
        cs = clinic_status(v)
        computed["no_standard_clinic"] = int((cs == "not_met").sum())
        computed["clinic_unknown"] = int((cs == "unknown").sum())
        computed["clinic_met"] = int((cs == "met").sum())
    fallback: dict[str, Any] = {}
    if "eligible" in v.columns:
        el = bool_series(v["eligible"]).fillna(False).astype(bool)
        fallback["people_to_relocate"] = int(v.loc[el, "population"].sum())
    if road_gaps is not None and "length_km" in road_gaps.columns:
        km = road_km(road_gaps)
        computed["km_to_harden"] = km["known_unhardened_km"]
        computed["km_unknown_surface"] = km["unknown_surface_km"]
        computed["km_to_connect"] = km["connection_km"]
    from_summary = {k: v_ for k, v_ in summary.items() if v_ is not None}
    # a km the gaps layer cannot split (an older plan) falls back to the manifest's figure
    authoritative = {
        k: v_
        for k, v_ in computed.items()
        if k in _FROM_VILLAGES or (k.startswith("km_") and v_ is not None)
    }
    return {**fallback, **computed, **from_summary, **authoritative}


def relocation_candidates(cands: gpd.GeoDataFrame, lang: str = "zh") -> gpd.GeoDataFrame:
    """Eligible villages sorted by rank, with ``reasons`` in the chosen language (and the
    people to move, registered poor and others apart, when the layer has them)."""
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
            "people_to_move_poor",
            "people_to_move_other",
            "move_scope",
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


def site_points_geojson(
    sites: gpd.GeoDataFrame, lang: str = "zh", *, labels: Sequence[str] | None = None
) -> dict[str, Any]:
    """Resettlement sites as points (a point inside each site) for the county-scale map.

    Properties: ``label`` (``labels`` when given, else name and translated source), ``src``
    (planner/generated).
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
            "label": list(labels)
            if labels is not None
            else [f"{n} · {t(s, lang)}" for n, s in zip(names.astype(str), src, strict=True)],
            "src": src.values,
            "sid": sites["site_id"].astype(str).values
            if "site_id" in sites.columns
            else [""] * len(sites),
        },
        geometry=gpd.points_from_xy(pts.x.round(5), pts.y.round(5)),
        crs=sites.crs,
    )
    return to_geojson(out, columns=("label", "src", "sid"))


def sites_table(sites: pd.DataFrame, lang: str = "zh", *, digits: int = 3) -> list[dict[str, Any]]:
    """Rows of the sites grid: as :func:`display_records`, with ``source`` translated
    (规划提供/系统生成, planner/generated)."""
    d = pd.DataFrame(sites.drop(columns=["geometry"], errors="ignore")).copy()
    if "source" in d.columns:
        d["source"] = [t(site_source(v), lang) for v in d["source"]]
    return display_records(d, lang, digits=digits)


# --------------------------------------------------------------------------- relocation scenario

#: Relocation rules (the codes of :mod:`geo.relocation`, in its canonical order): the prefix
#: of their ``<prefix>_decisive`` setting and a short name (zh, en) for the page.
RULE_NAMES: dict[str, tuple[str, str, str]] = {
    "HAZARD": ("hazard", "地质灾害", "geological hazard"),
    "SEISMIC": ("seismic", "地震", "seismic zone"),
    "FLOOD": ("flood", "洪涝", "flood"),
    "PROTECTED": ("protected", "生态红线/保护区", "protected zone"),
    "HIGH_COLD": ("high_cold", "高寒", "high and cold"),
    "STEEP": ("steep", "陡坡", "steep land"),
    "REMOTE": ("remote", "偏远", "remote"),
    "SMALL_POOR": ("small_poor", "小规模贫困自然村", "small poor hamlet"),
    "REPAIR_COSTLIER": ("repair", "就地改善贵于搬迁", "repair costlier than moving"),
}

#: Rows of the baseline / scenario comparison: figure key and how it reads.
COMPARE_ROWS: tuple[tuple[str, str], ...] = (
    ("min_score", "score"),
    ("candidates", "count"),
    ("decisive_bypass", "count"),
    ("people_total", "count"),
    ("people_poor", "count"),
    ("people_other", "count"),
    ("needs_review", "count"),
    ("sites_candidate", "count"),
    ("sites_opened", "count"),
    ("people_placed", "count"),
    ("people_unplaced", "count"),
    ("mean_travel_min", "minutes"),
    ("robustness", "frac"),
    ("allocation_status", "status"),
    ("allocation_gap", "gap"),
    ("relocation_cost_cny", "cny"),
)
#: Comparison rows that break a figure down (drawn indented under the one above).
SUB_ROWS = ("decisive_bypass", "people_poor", "people_other")
#: Comparison rows shown only when one side has a value other than 0.
OPTIONAL_ROWS = ("needs_review",)


def rule_name(code: str, lang: str = "zh") -> str:
    """The short name of a relocation rule (``HAZARD`` → 地质灾害); unknown codes as they are."""
    entry = RULE_NAMES.get(code)
    if entry is None:
        return code
    return entry[2] if lang == "en" else entry[1]


def decisive_codes(settings: Mapping[str, Any] | None) -> list[str]:
    """Rules flagged decisive (``<prefix>_decisive`` true) in relocation settings, in the
    canonical order; a flag that is absent or not a boolean does not make a rule decisive."""
    s = settings or {}
    return [c for c, (p, _, _) in RULE_NAMES.items() if to_bool(s.get(f"{p}_decisive")) is True]


def _float(v: Any) -> float:
    v = json_value(v)
    if v is None or isinstance(v, bool):
        return np.nan
    try:
        return float(v)
    except (TypeError, ValueError):
        return np.nan


def _eligible(c: pd.DataFrame) -> pd.Series:
    if "eligible" not in c.columns:
        return pd.Series(False, index=c.index)
    return bool_series(c["eligible"]).fillna(False).astype(bool)


def site_opened(sites: pd.DataFrame) -> pd.Series:
    """Sites in use: ``opened`` when present, else ``assigned_people`` > 0, else all."""
    if "opened" in sites.columns:
        return bool_series(sites["opened"]).fillna(False).astype(bool)
    if "assigned_people" in sites.columns:
        return pd.to_numeric(sites["assigned_people"], errors="coerce").fillna(0) > 0
    return pd.Series(True, index=sites.index)


def _below_threshold(c: pd.DataFrame, min_score: float) -> pd.Series:
    """Rows whose score is below ``min_score`` (the screening's tolerance); False when unknown."""
    if "score" not in c.columns or not np.isfinite(min_score):
        return pd.Series(False, index=c.index)
    score = pd.to_numeric(c["score"], errors="coerce")
    return (score < min_score - 1e-9).fillna(False).astype(bool)


def relocation_figures(
    summary: Mapping[str, Any] | None,
    candidates: pd.DataFrame | None,
    sites: pd.DataFrame | None,
    allocation: pd.DataFrame | None,
    unplaced: pd.DataFrame | None,
    *,
    settings: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The figures of a relocation plan (baseline or scenario) that the page compares.

    Summary values win when present (``relocation_candidates``, ``people_to_relocate``,
    ``people_to_relocate_poor`` / ``_other``, ``decisive_bypass``, ``people_placed``,
    ``people_unplaced``, ``sites_candidate``, ``sites_opened``, ``mean_travel_min``,
    ``mean_robustness_opened``, ``allocation_status``, ``allocation_gap``); the rest comes from
    the layers: eligible villages of ``candidates``, ``sites`` (opened: :func:`site_opened`),
    ``allocation`` lines (people-weighted travel time), ``unplaced`` (people per village).

    Parameters
    ----------
    settings : mapping
        The relocation settings the plan was screened with: ``min_score``,
        ``<prefix>_decisive`` (see :data:`RULE_NAMES`), ``relocation_cny_per_person``.

    Returns
    -------
    dict
        JSON-safe (unknown figures are None): ``min_score``, ``candidates``,
        ``people_total``, ``people_poor``, ``people_other``, ``decisive_bypass`` (eligible
        villages scoring below ``min_score``: moved by a decisive rule), ``bypass_people``,
        ``bypass_rules`` (decisive rule code → bypass villages it applies to), ``needs_review``,
        ``sites_candidate``, ``sites_opened``, ``people_placed``, ``people_unplaced``,
        ``unplaced_villages``, ``mean_travel_min``, ``robustness``, ``allocation_status``,
        ``allocation_gap``, ``cost_per_person``, ``relocation_cost_cny`` (people × cost per
        person; the unit cost is an unverified placeholder of the profile).
    """
    s = {k: v for k, v in (summary or {}).items() if v is not None}
    st = settings or {}
    min_score = _float(st.get("min_score"))
    cost_pp = _float(st.get("relocation_cny_per_person"))
    c = candidates if candidates is not None else pd.DataFrame()
    e = c[_eligible(c)]

    def esum(frame: pd.DataFrame, col: str) -> float:
        if col not in frame.columns:
            return np.nan
        return float(pd.to_numeric(frame[col], errors="coerce").fillna(0).sum())

    bypass = e[_below_threshold(e, min_score)]
    rules: dict[str, int] = {}
    if "reason_codes" in bypass.columns:
        hit = [_ids(v) for v in bypass["reason_codes"]]
        for code in decisive_codes(st):
            n = sum(code in h for h in hit)
            if n:
                rules[code] = n
    st_sites = sites if sites is not None else pd.DataFrame()
    opened = st_sites[site_opened(st_sites)] if len(st_sites) else st_sites
    alloc = allocation if allocation is not None else pd.DataFrame()
    mean_t = np.nan
    if {"people", "travel_min"} <= set(alloc.columns):
        w = pd.to_numeric(alloc["people"], errors="coerce")
        tm = pd.to_numeric(alloc["travel_min"], errors="coerce")
        ok = w.notna() & tm.notna()
        if w[ok].sum() > 0:
            mean_t = float((w[ok] * tm[ok]).sum() / w[ok].sum())
    un = unplaced if unplaced is not None else None
    computed: dict[str, Any] = {
        "candidates": int(len(e)) if "eligible" in c.columns else np.nan,
        "people_total": esum(e, "people_to_move"),
        "people_poor": esum(e, "people_to_move_poor"),
        "people_other": esum(e, "people_to_move_other"),
        "decisive_bypass": int(len(bypass)) if "score" in c.columns else np.nan,
        "people_placed": esum(alloc, "people"),
        "people_unplaced": esum(un, "people") if un is not None else np.nan,
        "sites_candidate": int(len(st_sites)) if sites is not None else np.nan,
        "sites_opened": int(len(opened)) if sites is not None else np.nan,
        "mean_travel_min": mean_t,
        "robustness": float(pd.to_numeric(opened["robustness_frac"], errors="coerce").mean())
        if "robustness_frac" in opened.columns and len(opened)
        else np.nan,
    }
    from_summary = {
        "candidates": "relocation_candidates",
        "people_total": "people_to_relocate",
        "people_poor": "people_to_relocate_poor",
        "people_other": "people_to_relocate_other",
        "decisive_bypass": "decisive_bypass",
        "people_placed": "people_placed",
        "people_unplaced": "people_unplaced",
        "sites_candidate": "sites_candidate",
        "sites_opened": "sites_opened",
        "mean_travel_min": "mean_travel_min",
        "robustness": "mean_robustness_opened",
    }
    out: dict[str, Any] = {"min_score": min_score}
    for key, value in computed.items():
        out[key] = s[from_summary[key]] if from_summary[key] in s else value
    out["bypass_people"] = esum(bypass, "people_to_move")
    out["bypass_rules"] = rules
    out["needs_review"] = (
        int(bool_series(c["needs_review"]).fillna(False).astype(bool).sum())
        if "needs_review" in c.columns
        else np.nan
    )
    out["unplaced_villages"] = int(len(un)) if un is not None else np.nan
    out["allocation_status"] = s.get("allocation_status")
    out["allocation_gap"] = _float(s.get("allocation_gap"))
    out["cost_per_person"] = cost_pp
    out["relocation_cost_cny"] = _float(out["people_total"]) * cost_pp
    return {
        k: (v if isinstance(v, dict) else json_value(_float(v) if k != "allocation_status" else v))
        for k, v in out.items()
    }


def _count(v: Any) -> str:
    x = _float(v)
    return "—" if np.isnan(x) else f"{x:,.0f}"


def _cny(v: Any, lang: str, *, signed: bool = False) -> str:
    """Yuan as a planner reads them: 23.28 亿元, 636 万元; CNY 2,328.5 M (below a million:
    CNY 60,000)."""
    x = _float(v)
    if np.isnan(x):
        return "—"
    sign = ("+" if x > 0 else "−" if x < 0 else "") if signed else ("−" if x < 0 else "")
    a = abs(x)
    if lang == "en":
        return f"{sign}CNY {a / 1e6:,.1f} M" if a >= 1e6 else f"{sign}CNY {a:,.0f}"
    if a >= 1e8:
        return f"{sign}{a / 1e8:,.2f} 亿元"
    return f"{sign}{a / 1e4:,.0f} 万元"


def _signed(d: float, digits: int = 0) -> str:
    if abs(d) < 0.5 * 10**-digits:
        return "0"
    return f"{'+' if d > 0 else '−'}{abs(d):,.{digits}f}"


def status_text(status: Any, gap: Any = None, lang: str = "zh") -> str:
    """The allocation solver's verdict in words; ``optimal`` with a gap above 0 (a plan from
    before the solver told the two apart) reads as within the allowed gap, never as proven;
    a status without a translation as it is."""
    s = _text(status)
    if not s:
        return "—"
    if s == "optimal" and _float(gap) > 1e-9:
        s = "gap_limit"
    return t(f"status_{s}", lang) if has_key(f"status_{s}") else s


def _fmt_figure(key: str, kind: str, v: Any, lang: str) -> str:
    if kind == "status":
        return status_text(v, None, lang)
    x = _float(v)
    if np.isnan(x):
        return "—"
    if kind == "count":
        return f"{x:,.0f}"
    if kind == "score":
        return f"{x:g}{t('points_unit', lang)}"
    if kind == "minutes":
        return f"{x:.1f}"
    if kind == "frac":
        return fmt_frac(x, lang, digits=1)
    if kind == "gap":
        return fmt_frac(x, lang, digits=2)
    return _cny(x, lang)


def _delta(kind: str, b: Any, s: Any, lang: str) -> str:
    if kind in ("status", "gap", "frac"):
        return ""
    bx, sx = _float(b), _float(s)
    if np.isnan(bx) or np.isnan(sx):
        return ""
    if kind == "cny":
        return "0" if sx == bx else _cny(sx - bx, lang, signed=True)
    return _signed(sx - bx, 1 if kind == "minutes" else 0)


def comparison_rows(
    base: Mapping[str, Any], scen: Mapping[str, Any] | None, lang: str = "zh"
) -> list[dict[str, Any]]:
    """Rows of the comparison table: ``key``, ``label``, ``base``, ``scen`` (``""`` without a
    scenario), ``delta`` (scenario − baseline, signed; ``""`` where a difference means
    nothing), ``sub`` (a breakdown of the row above).  :data:`OPTIONAL_ROWS` appear only when
    one side is above 0; the cost row names the unit cost and that it is unverified."""
    rows = []
    for key, kind in COMPARE_ROWS:
        b, s = base.get(key), (scen or {}).get(key)
        if key in OPTIONAL_ROWS and not (_float(b) > 0 or _float(s) > 0):
            continue
        label = t(f"cmp_{key}", lang)
        if key == "relocation_cost_cny":
            label = t("cmp_relocation_cost_cny", lang, unit=_cny(base.get("cost_per_person"), lang))
        if kind == "status":  # read with its gap: "optimal" is only ever proven optimal
            fb = status_text(b, base.get("allocation_gap"), lang)
            fs = status_text(s, (scen or {}).get("allocation_gap"), lang)
        else:
            fb, fs = _fmt_figure(key, kind, b, lang), _fmt_figure(key, kind, s, lang)
        rows.append(
            {
                "key": key,
                "label": label,
                "base": fb,
                "scen": fs if scen is not None else "",
                "delta": _delta(kind, b, s, lang) if scen is not None else "",
                "sub": key in SUB_ROWS,
            }
        )
    return rows


def _change(b: Any, s: Any, lang: str) -> str:
    bx, sx = _float(b), _float(s)
    if np.isnan(bx) or np.isnan(sx):
        return "—"
    if sx == bx:
        return t("no_change", lang)
    return _signed(sx - bx)


def change_summary(
    base: Mapping[str, Any], scen: Mapping[str, Any] | None = None, lang: str = "zh"
) -> str:
    """One line: who moves, how many sites open, how many people are not placed; with a
    scenario, its figures and each one's change against the baseline."""
    if scen is None:
        return t(
            "summary_baseline",
            lang,
            villages=_count(base.get("candidates")),
            people=_count(base.get("people_total")),
            sites=_count(base.get("sites_opened")),
            unplaced=_count(base.get("people_unplaced")),
        )
    return t(
        "summary_scenario",
        lang,
        villages=_count(scen.get("candidates")),
        dv=_change(base.get("candidates"), scen.get("candidates"), lang),
        people=_count(scen.get("people_total")),
        dp=_change(base.get("people_total"), scen.get("people_total"), lang),
        sites=_count(scen.get("sites_opened")),
        ds=_change(base.get("sites_opened"), scen.get("sites_opened"), lang),
        unplaced=_count(scen.get("people_unplaced")),
        du=_change(base.get("people_unplaced"), scen.get("people_unplaced"), lang),
    )


def bypass_line(fig: Mapping[str, Any], lang: str = "zh") -> str | None:
    """Why raising the threshold may move (almost) nobody less: the villages that score
    below ``min_score`` yet move because a decisive rule applies, with the rules named and
    how many of those villages each applies to.  None when there are none."""
    n = _float(fig.get("decisive_bypass"))
    if np.isnan(n) or n <= 0:
        return None
    rules = fig.get("bypass_rules") or {}
    sep = ", " if lang == "en" else "、"
    names = (
        sep.join(t("rule_count", lang, name=rule_name(c, lang), n=k) for c, k in rules.items())
        or "—"
    )
    return t(
        "bypass_line",
        lang,
        n=_count(n),
        people=_count(fig.get("bypass_people")),
        thr=_fmt_figure("min_score", "score", fig.get("min_score"), lang),
        rules=names,
    )


def unplaced_rows(
    unplaced: pd.DataFrame | None, candidates: pd.DataFrame | None, lang: str = "zh"
) -> list[dict[str, Any]]:
    """The villages the allocation could not place, most people first: ``village_id``,
    ``name`` and ``township`` (from ``candidates``; the id when unknown), ``people`` and
    ``reason`` in ``lang`` (``reason_zh`` / ``reason_en``, else the ``reason_code``)."""
    if unplaced is None or unplaced.empty or "village_id" not in unplaced.columns:
        return []
    c = candidates if candidates is not None else pd.DataFrame()
    vid = c["village_id"].astype(str) if "village_id" in c.columns else pd.Series(dtype=str)
    names = dict(zip(vid, c["name"], strict=True)) if "name" in c.columns else {}
    towns = dict(zip(vid, c["township"], strict=True)) if "township" in c.columns else {}
    col = "reason_en" if lang == "en" else "reason_zh"
    rows = []
    for r in unplaced.to_dict("records"):
        v = _text(r.get("village_id"))
        reason = _text(r.get(col)) or _text(r.get("reason_code")) or t("unknown", lang)
        rows.append(
            {
                "village_id": v,
                "name": _text(names.get(v)) or v,
                "township": _text(towns.get(v)),
                "people": json_value(r.get("people")),
                "reason": reason,
            }
        )
    return sorted(rows, key=lambda r: -(_float(r["people"]) if r["people"] is not None else -1))


def candidate_table(
    cands: gpd.GeoDataFrame, *, settings: Mapping[str, Any] | None, lang: str = "zh"
) -> gpd.GeoDataFrame:
    """Eligible villages by rank (:func:`relocation_candidates`) with ``basis``: why each moves
    ("评分达标" when its score reaches ``min_score``, else the decisive rules that move it
    regardless), ``bypass`` (True for the latter) and ``move_scope`` in words (仅建档立卡
    贫困人口 / 整村同步搬迁)."""
    c = relocation_candidates(cands, lang)
    if c.empty:
        return c.assign(basis=pd.Series(dtype=object), bypass=pd.Series(dtype=bool))
    st = settings or {}
    below = _below_threshold(c, _float(st.get("min_score")))
    dec = decisive_codes(st)
    sep = ", " if lang == "en" else "、"
    codes = (
        cands.loc[c.index, "reason_codes"]
        if "reason_codes" in cands.columns
        else pd.Series("", index=c.index)
    )
    basis = []
    for low, rc in zip(below, codes, strict=True):
        if not low:
            basis.append(t("basis_score", lang))
            continue
        hit = [rule_name(x, lang) for x in dec if x in _ids(rc)]
        basis.append(t("basis_decisive", lang, rules=sep.join(hit) or "—"))
    out = c.assign(basis=basis, bypass=below.to_numpy())
    if "move_scope" in cands.columns:
        scope = cands.loc[c.index, "move_scope"]
        out["move_scope"] = [t(f"scope_{v}", lang) if _text(v) else "—" for v in scope]
    return out


def _join_label(parts: Iterable[str]) -> str:
    return " · ".join(p for p in parts if p)


def candidate_features(
    table: gpd.GeoDataFrame, unplaced: Iterable[dict[str, Any]] = (), lang: str = "zh"
) -> dict[str, Any]:
    """Candidate villages for the map (from :func:`candidate_table`): ``label`` (name,
    township, score, people, why it moves; the reason it is not placed), ``b`` 1 when it
    moves by a decisive rule below the threshold, ``u`` 1 when it is not placed."""
    if table.empty:
        return {"type": "FeatureCollection", "features": []}
    why = {r["village_id"]: r["reason"] for r in unplaced}
    labels, b, u = [], [], []
    for r in table.drop(columns="geometry").to_dict("records"):
        v = _text(r.get("village_id"))
        labels.append(
            _join_label(
                [
                    _text(r.get("name")),
                    _text(r.get("township")),
                    t("label_score", lang, score=f"{_float(r.get('score')):.0f}"),
                    t("label_people", lang, people=_count(r.get("people_to_move"))),
                    _text(r.get("basis")),
                    t("label_unplaced", lang, reason=why[v]) if v in why else "",
                ]
            )
        )
        b.append(int(bool(r.get("bypass"))))
        u.append(int(v in why))
    return to_geojson(
        table.assign(_l=labels, _b=b, _u=u),
        columns={"_l": "label", "_b": "b", "_u": "u", "village_id": "vid"},
    )


def flow_features(
    allocation: gpd.GeoDataFrame,
    candidates: pd.DataFrame | None,
    sites: pd.DataFrame | None,
    lang: str = "zh",
) -> dict[str, Any]:
    """Allocation lines labelled ``village → site: people, minutes``."""
    if allocation is None or allocation.empty:
        return {"type": "FeatureCollection", "features": []}

    def names(frame: pd.DataFrame | None, key: str) -> dict[str, str]:
        if frame is None or key not in frame.columns or "name" not in frame.columns:
            return {}
        return dict(zip(frame[key].astype(str), frame["name"].map(_text), strict=True))

    vn, sn = names(candidates, "village_id"), names(sites, "site_id")
    labels = []
    for r in allocation.drop(columns="geometry").to_dict("records"):
        v, s = _text(r.get("village_id")), _text(r.get("site_id"))
        labels.append(
            t(
                "flow_label",
                lang,
                village=vn.get(v) or v,
                site=sn.get(s) or s,
                people=_count(r.get("people")),
                minutes=f"{_float(r.get('travel_min')):.0f}",
            )
        )
    return to_geojson(allocation.assign(_l=labels), columns={"_l": "label"})


def site_features(sites: gpd.GeoDataFrame, lang: str = "zh") -> dict[str, dict[str, Any]]:
    """The sites for the map, opened and not opened apart: ``open`` / ``idle`` areas
    (labelled name, source, assigned / capacity) and ``open_points`` / ``idle_points``
    (:func:`site_points_geojson`)."""
    empty = {"type": "FeatureCollection", "features": []}
    if sites is None or sites.empty:
        return {"open": empty, "idle": empty, "open_points": empty, "idle_points": empty}
    opened = site_opened(sites)
    names = sites["name"] if "name" in sites.columns else sites.get("site_id")
    src = (
        sites["source"].map(site_source)
        if "source" in sites.columns
        else pd.Series("generated", index=sites.index)
    )
    labels = []
    for i, (n, s) in enumerate(zip(names.map(_text), src, strict=True)):
        row = sites.iloc[i]
        load = ""
        if "capacity_people" in sites.columns:
            load = t(
                "site_load",
                lang,
                assigned=_count(row.get("assigned_people", 0)),
                capacity=_count(row["capacity_people"]),
            )
        labels.append(_join_label([n, t(s, lang), load]))
    lab = sites.assign(_l=labels)
    return {
        "open": to_geojson(lab[opened], columns={"_l": "label", "site_id": "sid"}),
        "idle": to_geojson(lab[~opened], columns={"_l": "label", "site_id": "sid"}),
        "open_points": site_points_geojson(
            sites[opened], lang, labels=lab.loc[opened, "_l"].tolist()
        ),
        "idle_points": site_points_geojson(
            sites[~opened], lang, labels=lab.loc[~opened, "_l"].tolist()
        ),
    }


#: Columns of the sites grid (the rest of the layer stays on the server).
SITE_COLUMNS = (
    "site_id",
    "name",
    "source",
    "opened",
    "assigned_people",
    "capacity_people",
    "township",
    "suitability",
    "robustness_frac",
)


def site_rows(sites: pd.DataFrame, lang: str = "zh") -> list[dict[str, Any]]:
    """Rows of the sites grid: opened first, most people first, ``opened`` as 是/否."""
    if sites is None or sites.empty:
        return []
    d = sites.assign(opened=site_opened(sites))
    keys = ["opened", "assigned_people"] if "assigned_people" in d.columns else ["opened"]
    d = d.sort_values(keys, ascending=False, kind="stable")
    rows = sites_table(d[_cols(d, SITE_COLUMNS)], lang, digits=3)
    if isinstance(d, gpd.GeoDataFrame) and len(rows) == len(d):  # where the map flies to
        ll = centroid_latlon(d)
        for r, lat, lon in zip(rows, ll["lat"], ll["lon"], strict=True):
            r["_lat"], r["_lon"] = float(lat), float(lon)
    return rows


def relocation_view(
    *,
    candidates: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    allocation: gpd.GeoDataFrame,
    unplaced: pd.DataFrame | None,
    summary: Mapping[str, Any] | None,
    notes: Sequence[str],
    settings: Mapping[str, Any] | None,
    lang: str = "zh",
) -> dict[str, Any]:
    """Everything the relocation page shows of one plan (the baseline or a scenario), JSON-safe
    so a scenario can wait in a ``dcc.Store`` while the page shows the baseline.

    Layers are in EPSG:4326 and already simplified (:func:`dashboard.plan.prepare_layer`).

    Returns
    -------
    dict
        ``figures`` (:func:`relocation_figures`), ``cand_rows`` (:func:`candidate_table`),
        ``site_rows``, ``unplaced_rows``, ``notes`` and the map's GeoJSON under ``geo``:
        ``cands``, ``flows``, ``open``, ``idle``, ``open_points``, ``idle_points``.
    """
    figures = relocation_figures(
        summary, candidates, sites, allocation, unplaced, settings=settings
    )
    table = candidate_table(candidates, settings=settings, lang=lang)
    unpl = unplaced_rows(unplaced, candidates, lang)
    geo = site_features(sites, lang)
    geo["cands"] = candidate_features(table, unpl, lang)
    geo["flows"] = flow_features(allocation, candidates, sites, lang)
    return {
        "figures": figures,
        "cand_rows": display_records(
            table.drop(columns=["bypass"], errors="ignore").join(
                centroid_latlon(table).rename(columns={"lat": "_lat", "lon": "_lon"})
            )
            if len(table)
            else table.drop(columns=["bypass"], errors="ignore"),
            lang,
            digits=1,
        ),
        "site_rows": site_rows(sites, lang),
        "unplaced_rows": unpl,
        "notes": [str(n) for n in notes if str(n).strip()],
        "geo": geo,
    }


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
    "clinic_standard, clinic_doctor, hosts_health_centre": (
        "村表属性：标准化卫生室、合格村医；乡镇卫生院位置",
        "village table: standard clinic, qualified doctor; township health centre location",
    ),
    "bus_service": ("村表属性：通客车", "village table: passenger bus"),
    "medical_insurance_frac": (
        "村表属性：医保参保率",
        "village table: medical insurance enrolment",
    ),
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
