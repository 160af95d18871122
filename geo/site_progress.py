"""Resettlement sites followed through (搬得出、稳得住、有事做、能致富).

A planner site (the workspace's ``sites`` layer) moves through the stages selected (选址)
→ building (在建) → built (竣工) → occupied (入住); leaders follow its occupancy rate
(入住率), the services at or near it (大、小配套: school, clinic, jobs) against the people it
houses, and the follow-up support (后续扶持: jobs found, the use rights of the old fields
kept, the way back to the old village). :func:`follow_sites` adds these columns to the
plan's sites; :func:`progress_table` is the table of the sites followed; :func:`summary`
and :func:`site_warnings` give the headline and what could not be seen.

The rules
---------
- Occupancy: ``occupancy_people_frac`` = actual people / planned people and
  ``occupancy_households_frac`` = actual households / planned households; unknown (NaN)
  when either figure is missing or the planned figure is 0, never 0 or 1 by default.
- The people a site's services must serve (``people_basis``): the actual people of an
  occupied site, else the planned people, else the people the plan's allocation assigns.
- Services: ``school_min`` / ``health_min`` are the travel minutes from the site to the
  nearest school / township health centre (or better) from the plan's travel-time rasters;
  ``school_ok`` / ``health_ok`` are within the limits (inclusive), unknown when the minutes
  are. ``jobs_in_reach`` sums the ``jobs`` of towns and industrial parks within the jobs
  limit (minutes between town and site on the allocation's grid); unknown without towns or
  minutes, and a lower bound (``jobs_unknown_towns`` > 0) when a town in reach has no
  jobs figure.
- Follow-up: ``jobs_found_frac`` = jobs found / working-age people (``labour_people``);
  ``return_min_mean`` / ``return_min_max``: the people-weighted mean and the longest trip
  back from the site to the villages the allocation sends there (the old fields).
- ``followup_gaps`` lists what is known to be lacking (school, health, jobs, land_rights),
  ``followup_unknown`` what cannot be told.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from layers.catalogue import SITE_STAGE_DATES, SITE_STAGES
from layers.errors import LayerSchemaError
from layers.tristate import to_tristate

__all__ = [
    "STAGE_ZH",
    "chinese_headers",
    "follow_sites",
    "followed",
    "parse_stage_date",
    "progress_table",
    "site_warnings",
    "summary",
]

#: Stage names as leaders read them.
STAGE_ZH: dict[str, str] = {
    "selected": "选址",
    "building": "在建",
    "built": "竣工",
    "occupied": "入住",
}
_DATE_RE = re.compile(
    r"^\s*(\d{4})(?:\s*[-/.年]\s*(\d{1,2})(?:\s*[-/.月]\s*(\d{1,2})\s*日?)?\s*月?)?\s*年?"
    # a time of day after the date (a GeoJSON or spreadsheet date read back as a datetime)
    r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?\s*$"
)


def parse_stage_date(value: Any) -> tuple[dt.date | None, bool]:
    """Read a stage date written as counties write it.

    Accepts ``2017-05-20``, ``2017/5/20``, ``2017.05``, ``2017-05``, ``2017``,
    ``2017年5月20日``, ``2017年5月``, ``2017年``, a date with a time of day
    (``2017-05-20 00:00:00``, as GeoJSON and spreadsheets give dates back) and datetime
    values; a month or a year alone is read as its first day.

    Returns
    -------
    (date or None, ok)
        ``(None, True)`` for a blank; ``(None, False)`` for text that is not a date.
    """
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None, True
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.date(), True
    if isinstance(value, dt.date):
        return value, True
    text = str(value).strip()
    if not text or text.lower() in ("nan", "none", "nat", "未知", "-"):
        return None, True
    m = _DATE_RE.match(text)
    if not m:
        return None, False
    y, mo, d = int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1)
    try:
        return dt.date(y, mo, d), True
    except ValueError:
        return None, False


def _num(df: pd.DataFrame, col: str) -> pd.Series:
    if col not in df.columns:
        return pd.Series(np.nan, index=df.index, dtype=float)
    return pd.to_numeric(df[col], errors="coerce").astype(float)


def _ratio(a: pd.Series, b: pd.Series) -> pd.Series:
    with np.errstate(divide="ignore", invalid="ignore"):
        r = a / b
    return r.where(b > 0)


def followed(sites: pd.DataFrame) -> np.ndarray:
    """Which sites are followed through: the planner's, and the sites the plan opens."""
    planner = (
        (sites["source"] == "planner").to_numpy(bool)
        if "source" in sites.columns
        else np.zeros(len(sites), bool)
    )
    opened = (
        to_tristate(sites["opened"]).fillna(False).to_numpy(bool)
        if "opened" in sites.columns
        else np.zeros(len(sites), bool)
    )
    return planner | opened


def follow_sites(
    sites: pd.DataFrame,
    *,
    allocation: pd.DataFrame | None,
    current_year: int,
    school_max_min: float,
    health_max_min: float,
    jobs_max_min: float,
    towns: pd.DataFrame | None = None,
    town_minutes: np.ndarray | None = None,
    town_site_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The follow-through columns of every site.

    Parameters
    ----------
    sites : DataFrame
        The plan's sites (``site_id``, ``source``, ``assigned_people``,
        ``travel_min_school``, ``travel_min_health_centre`` from the plan) with the
        planner's optional ``stage``, stage dates, planned and actual households and
        people, ``jobs_found``, ``labour_people``, ``land_rights_kept``.
    allocation : DataFrame or None
        The allocation (``site_id``, ``people``, ``travel_min``: village → site).
    current_year : int
        The year of the data (``years_in_stage``).
    school_max_min, health_max_min, jobs_max_min : float
        The service limits in minutes (inclusive).
    towns : DataFrame, optional
        Towns and industrial parks with ``jobs`` (rows of ``town_minutes``).
    town_minutes : ndarray, optional
        Minutes between each town (rows) and each site of ``town_site_ids`` (columns);
        NaN = unreachable or off the grid.
    town_site_ids : sequence of str, optional
        The sites of ``town_minutes``' columns (others get no jobs figure).

    Returns
    -------
    DataFrame
        Indexed like ``sites``, the columns of :data:`layers.plan.SITE_PROGRESS_COLUMNS`,
        the stage dates as ISO text (``selected_date``...; a value that is not a date is
        kept as given), ``stage_zh``, ``jobs_unknown_towns``,
        ``followup_unknown``. ``attrs["problems"]`` lists data problems (dates that are
        not dates, dates out of order, people in a site still being built, more people
        than planned), ``attrs["stage_column"]`` whether the planner gave stages.

    Raises
    ------
    LayerSchemaError
        If ``site_id`` is missing or ``town_minutes`` does not match the towns and sites.
    """
    if "site_id" not in sites.columns:
        raise LayerSchemaError(f"sites: expected column 'site_id', found {list(sites.columns)}")
    idx = sites.index
    ids = sites["site_id"].astype(str)
    problems: list[str] = []
    planner = (
        (sites["source"] == "planner").to_numpy(bool)
        if "source" in sites.columns
        else np.ones(len(sites), bool)
    )

    # ---- stage and its dates
    stage = (
        sites["stage"].astype(object).where(sites["stage"].notna(), None)
        if "stage" in sites.columns
        else pd.Series([None] * len(idx), index=idx, dtype=object)
    )
    bad_stage = stage.notna() & ~stage.isin(SITE_STAGES)
    if bad_stage.any():
        raise LayerSchemaError(
            f"sites column 'stage': expected one of {', '.join(SITE_STAGES)}, found "
            f"{sorted(set(map(str, stage[bad_stage])))}"
        )
    dates: dict[str, list[dt.date | None]] = {}
    shown: dict[str, list[str | None]] = {}
    for st, col in SITE_STAGE_DATES.items():
        vals: list[dt.date | None] = []
        text: list[str | None] = []
        raw = (
            sites[col]
            if col in sites.columns
            else pd.Series([None] * len(idx), index=idx, dtype=object)
        )
        for sid, v in zip(ids, raw, strict=True):
            d, ok = parse_stage_date(v)
            if not ok:
                problems.append(f"site {sid}: {col} {v!r} is not a date (read as unknown)")
            elif d is not None and d.year > current_year:
                problems.append(
                    f"site {sid}: {col} {d.isoformat()} is after the current year {current_year}"
                )
            vals.append(d)
            # dates as ISO text; what is not a date is shown as it was given (and warned)
            text.append(d.isoformat() if d is not None else (None if ok else str(v)))
        dates[st] = vals
        shown[col] = text
    stage_date: list[str | None] = []
    years_in: list[float] = []
    rank = {s: k for k, s in enumerate(SITE_STAGES)}
    for i, (sid, st) in enumerate(zip(ids, stage, strict=True)):
        seq = [(s, dates[s][i]) for s in SITE_STAGES]
        known = [(s, d) for s, d in seq if d is not None]
        if any(b[1] < a[1] for a, b in zip(known, known[1:], strict=False)):
            problems.append(
                f"site {sid}: stage dates out of order ("
                + ", ".join(f"{s} {d.isoformat()}" for s, d in known)
                + ")"
            )
        if st is not None:
            later = [s for s, d in known if rank[s] > rank[st]]
            if later:
                problems.append(
                    f"site {sid}: stage {st} but a date for the later stage(s) {', '.join(later)}"
                )
            d = dates[st][i]
            stage_date.append(d.isoformat() if d is not None else None)
            years_in.append(float(current_year - d.year) if d is not None else np.nan)
        else:
            stage_date.append(None)
            years_in.append(np.nan)

    # ---- occupancy
    ph, pp = _num(sites, "planned_households"), _num(sites, "planned_people")
    ah, ap = _num(sites, "actual_households"), _num(sites, "actual_people")
    occ_h, occ_p = _ratio(ah, ph), _ratio(ap, pp)
    early = stage.isin(["selected", "building"]).to_numpy() & ((ah > 0) | (ap > 0)).to_numpy()
    for sid in ids[early]:
        problems.append(f"site {sid}: people recorded as moved in while the site is not built")
    over = ((occ_h > 1) | (occ_p > 1)).to_numpy()
    for sid in ids[over]:
        problems.append(f"site {sid}: more households or people moved in than planned")

    # ---- the people the services serve
    assigned = _num(sites, "assigned_people")
    occupied = (stage == "occupied").to_numpy()
    basis = pd.Series(np.nan, index=idx, dtype=float)
    kind = pd.Series([None] * len(idx), index=idx, dtype=object)
    for mask, vals, name in (
        (assigned.gt(0).to_numpy(), assigned, "allocated"),
        (pp.notna().to_numpy(), pp, "planned"),
        (occupied & ap.notna().to_numpy(), ap, "actual"),
    ):
        basis[mask] = vals[mask]
        kind[mask] = name

    # ---- services
    school = _num(sites, "travel_min_school").round(1)
    health = _num(sites, "travel_min_health_centre").round(1)
    school_ok = (school <= school_max_min).astype("boolean").where(school.notna(), pd.NA)
    health_ok = (health <= health_max_min).astype("boolean").where(health.notna(), pd.NA)
    jobs = pd.Series(np.nan, index=idx, dtype=float)
    jobs_unknown = pd.Series(np.nan, index=idx, dtype=float)
    if towns is not None and town_minutes is not None and town_site_ids is not None:
        tm = np.asarray(town_minutes, dtype=float)
        if tm.shape != (len(towns), len(town_site_ids)):
            raise LayerSchemaError(
                f"town_minutes: expected shape ({len(towns)}, {len(town_site_ids)}) "
                f"(towns x sites), found {tm.shape}"
            )
        tj = _num(pd.DataFrame(towns), "jobs").to_numpy()
        col_of = {str(s): j for j, s in enumerate(town_site_ids)}
        for k, sid in enumerate(ids):
            j = col_of.get(sid)
            if j is None:
                continue
            reach = tm[:, j] <= jobs_max_min
            jobs.iloc[k] = float(np.nansum(np.where(reach, tj, 0.0)))
            jobs_unknown.iloc[k] = float((reach & np.isnan(tj)).sum())
    jobs_pp = _ratio(jobs, basis)

    # ---- follow-up support
    found = _num(sites, "jobs_found")
    labour = _num(sites, "labour_people")
    land = (
        to_tristate(sites["land_rights_kept"])
        if "land_rights_kept" in sites.columns
        else pd.Series(pd.NA, index=idx, dtype="boolean")
    )
    ret_mean = pd.Series(np.nan, index=idx, dtype=float)
    ret_max = pd.Series(np.nan, index=idx, dtype=float)
    if allocation is not None and len(allocation):
        a = pd.DataFrame(allocation)[["site_id", "people", "travel_min"]].copy()
        a["site_id"] = a["site_id"].astype(str)
        a = a[pd.to_numeric(a["travel_min"], errors="coerce").notna()]
        a["pm"] = a["people"].astype(float) * a["travel_min"].astype(float)
        g = a.groupby("site_id")
        mean = g["pm"].sum() / g["people"].sum().where(lambda x: x > 0)
        mx = g["travel_min"].max()
        ret_mean = pd.Series(ids.map(mean).to_numpy(float), index=idx).round(1)
        ret_max = pd.Series(ids.map(mx).to_numpy(float), index=idx).round(1)

    gaps, unknown = [], []
    for k in range(len(idx)):
        g_, u_ = [], []
        for name, ok in (("school", school_ok.iloc[k]), ("health", health_ok.iloc[k])):
            if ok is pd.NA:
                u_.append(name)
            elif not ok:
                g_.append(name)
        if np.isnan(jobs.iloc[k]):
            u_.append("jobs")
        elif jobs.iloc[k] == 0 and jobs_unknown.iloc[k] == 0:
            g_.append("jobs")
        if land.iloc[k] is pd.NA:
            u_.append("land_rights")
        elif not land.iloc[k]:
            g_.append("land_rights")
        gaps.append(",".join(g_))
        unknown.append(",".join(u_))

    out = pd.DataFrame(
        {
            "stage": stage,
            "stage_zh": stage.map(lambda s: STAGE_ZH.get(s) if s else None),
            "stage_date": stage_date,
            **shown,
            "years_in_stage": years_in,
            "planned_households": ph,
            "planned_people": pp,
            "actual_households": ah,
            "actual_people": ap,
            "occupancy_households_frac": occ_h.round(3),
            "occupancy_people_frac": occ_p.round(3),
            "people_basis": basis,
            "people_basis_kind": kind,
            "school_min": school,
            "school_ok": school_ok,
            "health_min": health,
            "health_ok": health_ok,
            "jobs_in_reach": jobs,
            "jobs_unknown_towns": jobs_unknown,
            "jobs_in_reach_per_person": jobs_pp.round(2),
            "jobs_found": found,
            "jobs_found_frac": _ratio(found, labour).round(3),
            "land_rights_kept": land,
            "return_min_mean": ret_mean,
            "return_min_max": ret_max,
            "followup_gaps": gaps,
            "followup_unknown": unknown,
        },
        index=idx,
    )
    out.attrs["problems"] = problems
    # the loader adds a column a file lacks as all-blank: no stage at all = not given
    out.attrs["stage_column"] = bool(stage[planner].notna().any())
    out.attrs["planner_without_stage"] = list(ids[planner & stage.isna().to_numpy()])
    return out


#: Columns of ``tables/site_progress.csv`` (those present).
_TABLE_COLUMNS = (
    "site_id",
    "name",
    "township",
    "source",
    "opened",
    "capacity_people",
    "stage",
    "stage_zh",
    "stage_date",
    "years_in_stage",
    *SITE_STAGE_DATES.values(),
    "planned_households",
    "planned_people",
    "actual_households",
    "actual_people",
    "occupancy_households_frac",
    "occupancy_people_frac",
    "assigned_people",
    "people_basis",
    "people_basis_kind",
    "school_min",
    "school_ok",
    "health_min",
    "health_ok",
    "jobs_in_reach",
    "jobs_unknown_towns",
    "jobs_in_reach_per_person",
    "jobs_found",
    "labour_people",
    "jobs_found_frac",
    "land_rights_kept",
    "return_min_mean",
    "return_min_max",
    "followup_gaps",
    "followup_unknown",
)


def progress_table(sites: pd.DataFrame) -> pd.DataFrame:
    """The sites followed through (planner sites and the sites the plan opens), planner
    sites first, by stage; no geometry."""
    sel = sites[followed(sites)]
    cols = [c for c in _TABLE_COLUMNS if c in sel.columns]
    out = pd.DataFrame(sel[cols]).copy()
    order = {s: k for k, s in enumerate(reversed(SITE_STAGES))}
    out["_p"] = (out["source"] != "planner").astype(int) if "source" in out else 0
    out["_s"] = out["stage"].map(order).fillna(len(order)) if "stage" in out else 0
    out = out.sort_values(["_p", "_s", "site_id"]).drop(columns=["_p", "_s"])
    return out.reset_index(drop=True)


def site_warnings(progress: pd.DataFrame, *, has_planner_sites: bool) -> list[str]:
    """What the follow-through could not see, and the data problems it found."""
    out = []
    if has_planner_sites and not progress.attrs.get("stage_column", False):
        out.append(
            "planner sites carry no stage (建设阶段: 选址/在建/竣工/入住): the sites are not "
            "followed through (progress and occupancy not assessed)"
        )
    elif progress.attrs.get("planner_without_stage"):
        ids = progress.attrs["planner_without_stage"]
        out.append(f"{len(ids)} planner site(s) have no stage (unknown): {', '.join(ids[:10])}")
    problems = progress.attrs.get("problems") or []
    if problems:
        out.append(
            f"{len(problems)} problem(s) in the sites' follow-through figures: "
            + "; ".join(problems[:8])
            + (" …" if len(problems) > 8 else "")
        )
    return out


def summary(sites: pd.DataFrame) -> dict[str, Any]:
    """Headline figures of the sites followed through (``manifest.json``).

    ``sites_<stage>``: planner sites at each stage (None when no planner site has a stage);
    ``sites_occupancy_people_frac``: actual / planned people summed over the sites where
    both are known (None when none); ``sites_occupancy_unknown``: occupied sites whose
    occupancy cannot be computed; ``sites_followup_gaps``: followed sites lacking a school,
    health centre, jobs or the old fields' rights.
    """
    f = sites[followed(sites)]
    stage = f["stage"] if "stage" in f.columns else pd.Series(dtype=object)
    has_stage = bool(stage.notna().any())
    s: dict[str, Any] = {"sites_followed": int(len(f))}
    for st in SITE_STAGES:
        s[f"sites_{st}"] = int((stage == st).sum()) if has_stage else None
    ap, pp = _num(f, "actual_people"), _num(f, "planned_people")
    both = ap.notna() & pp.gt(0)
    s["sites_actual_people"] = int(ap[both].sum()) if both.any() else None
    s["sites_planned_people"] = int(pp[both].sum()) if both.any() else None
    s["sites_occupancy_people_frac"] = (
        round(float(ap[both].sum() / pp[both].sum()), 3) if both.any() else None
    )
    occ = (stage == "occupied").to_numpy()
    s["sites_occupancy_unknown"] = (
        int((occ & f["occupancy_people_frac"].isna().to_numpy()).sum())
        if has_stage and "occupancy_people_frac" in f
        else None
    )
    s["sites_followup_gaps"] = (
        int((f["followup_gaps"].astype(str) != "").sum()) if "followup_gaps" in f else None
    )
    return s


_HEADERS_ZH: dict[str, str] = {
    "site_id": "安置点编号",
    "name": "安置点名称",
    "township": "乡镇",
    "source": "来源（planner 规划 / generated 生成）",
    "opened": "本方案启用",
    "capacity_people": "容量（人）",
    "stage": "建设阶段（代码）",
    "stage_zh": "建设阶段",
    "stage_date": "进入本阶段日期",
    "years_in_stage": "本阶段已历年数",
    "selected_date": "选址日期",
    "building_date": "开工日期",
    "built_date": "竣工日期",
    "occupied_date": "入住日期",
    "planned_households": "计划安置户数",
    "planned_people": "计划安置人数",
    "actual_households": "实际入住户数",
    "actual_people": "实际入住人数",
    "occupancy_households_frac": "入住率（户）",
    "occupancy_people_frac": "入住率（人）",
    "assigned_people": "本方案分配人数",
    "people_basis": "配套服务对象人数",
    "people_basis_kind": "服务对象口径",
    "school_min": "到学校时间（分钟）",
    "school_ok": "学校在时限内",
    "health_min": "到乡镇卫生院时间（分钟）",
    "health_ok": "卫生院在时限内",
    "jobs_in_reach": "时限内就业岗位",
    "jobs_unknown_towns": "时限内岗位数不明的城镇数",
    "jobs_in_reach_per_person": "人均可及岗位",
    "jobs_found": "已就业人数",
    "labour_people": "劳动力人数",
    "jobs_found_frac": "劳动力就业率",
    "land_rights_kept": "保留原承包地经营权",
    "return_min_mean": "回原村平均时间（分钟）",
    "return_min_max": "回原村最长时间（分钟）",
    "followup_gaps": "后续扶持缺口",
    "followup_unknown": "情况不明项",
}


def chinese_headers(df: pd.DataFrame) -> pd.DataFrame:
    """Copy of the site progress table (or a sites table) with Chinese headers; a header
    the table already has (e.g. translated by another vocabulary) is not given twice."""
    taken = {str(c) for c in df.columns}
    rename: dict[str, str] = {}
    for c in df.columns:
        zh = _HEADERS_ZH.get(c)
        if zh is not None and zh not in taken:
            rename[c] = zh
            taken.add(zh)
    return df.rename(columns=rename)
