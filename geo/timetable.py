"""The exit timetable (脱贫攻坚时间表): which villages and households exit in which year,
who is on time, who slips, and what must be done by when.

Every county planned its exits year by year and leaders strike villages off the wall map
as they exit (挂图消号). Pure functions on the evaluated villages
(:func:`geo.indicators.evaluate`, with ``blocker_class`` and the indicator statuses), the
road gaps (:func:`geo.coverage.road_gaps`) and the household register:

- :func:`village_timetable`: per village, its planned exit year (计划退出年份), its exit year
  (退出年份), whether it has exited, whether it is due, and a ``timetable_status``;
- :func:`timetable_by_year`: one row per year: villages due, exited on time or late, and for
  those due and not exited: ready, unconfirmed, blocked (at risk once due), unknown; the
  work they still need (km to harden, indicators not met) and the households due and exited;
- :func:`at_risk`: the villages due and not ready, with what blocks them;
- :func:`monitoring`: households returned to poverty (返贫) or close to the income line, by
  id and village only (no personal field);
- :func:`timetable_warnings` and :func:`summary`: what the timetable could not see, and its
  headline figures.

The rules
---------
A village is **exited** when its exit year is at or before ``current_year`` (the year the
data describe); an exit year after it is a data error (warned, not counted). A village is
**due** when its planned year is at or before ``current_year``. A village not exited is,
by the exit indicators of the data: **ready** (``blocker_class == "ready"``),
**unconfirmed** (met only through inferred evidence, not counted ready), **unknown** (some
indicator cannot be evaluated and none is unmet: never counted ready) or blocked; a blocked
village due is **at risk**, a blocked village due in a later year is **in progress**, a
blocked village without a planned year is **not planned**. Villages the exit rule does not
apply to (hamlets, villages not on the poverty list) are ``not_assessed``.

Missing is never met: without planned years (the loader gives a column a file lacks as
all blank, so a column with no value at all is a missing column) the due counts are blank
(NaN), never zero; a village without an exit year has not exited, and without planned and
exit years the exit counts are blank too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from geo.households import register_status
from layers.errors import LayerSchemaError
from layers.tristate import to_tristate

__all__ = [
    "MONITORING_REASONS",
    "TIMETABLE_STATES",
    "at_risk",
    "chinese_headers",
    "monitoring",
    "summary",
    "timetable_by_year",
    "timetable_warnings",
    "village_timetable",
]

#: ``timetable_status`` values (see the module docstring).
TIMETABLE_STATES: tuple[str, ...] = (
    "exited",
    "ready",
    "unconfirmed",
    "unknown",
    "at_risk",
    "in_progress",
    "not_planned",
    "not_assessed",
)
#: Why a household is listed for monitoring.
MONITORING_REASONS: dict[str, tuple[str, str]] = {
    "returned": ("返贫", "returned to poverty"),
    "exited_below_line": ("已脱贫但收入不高于标准线", "exited, income not above the line"),
    "exited_near_line": ("脱贫不稳定户（收入临界）", "exited, income close to the line"),
    "not_registered_below_line": (
        "未建档立卡但收入不高于标准线",
        "not registered, income not above the line",
    ),
    "not_registered_near_line": (
        "边缘易致贫户（收入临界）",
        "not registered, income close to the line",
    ),
}
_BLOCKED = ("blocked_one", "blocked_several")
_PHASES = ("past", "current", "future")


def _years(df: pd.DataFrame, col: str) -> pd.Series:
    """A year column as nullable integers (NaN / blank → <NA>)."""
    if col not in df.columns:
        return pd.Series(pd.NA, index=df.index, dtype="Int64")
    num = pd.to_numeric(df[col], errors="coerce")
    return num.round().astype("Int64")


def _given(df: pd.DataFrame | None, col: str) -> bool:
    """Whether ``df`` holds any value in ``col``. The loader adds an optional column a file
    lacks as all-blank, so "no value at all" is what a missing column looks like."""
    return df is not None and col in df.columns and bool(df[col].notna().any())


def _require(df: pd.DataFrame, cols: Sequence[str], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise LayerSchemaError(
            f"{what}: missing column(s) {', '.join(missing)}; expected the evaluated villages "
            "(geo.indicators.evaluate)"
        )


def village_timetable(villages: pd.DataFrame, *, current_year: int) -> pd.DataFrame:
    """Each village's place in the exit timetable.

    Parameters
    ----------
    villages : DataFrame
        Evaluated villages with ``village_id``, ``exit_applicable``, ``blocker_class`` and,
        when the workspace has them, ``planned_exit_year`` and ``exit_year``.
    current_year : int
        The year the data describe.

    Returns
    -------
    DataFrame
        Indexed like ``villages``: ``planned_exit_year`` and ``exit_year`` (Int64, <NA> when
        blank or missing), ``exited`` (boolean: an exit year at or before
        ``current_year``; a village without one has not exited), ``due`` (nullable boolean,
        <NA> without a planned year), ``overdue_years`` (Int64:
        years since the planned year for a village due and not exited, 0 = due this year)
        and ``timetable_status`` (:data:`TIMETABLE_STATES`). ``attrs`` holds
        ``planned_column`` and ``exit_column`` (whether any village has a value),
        ``past_due`` (a village was due before ``current_year``), ``future_exit``
        (ids with an exit year after ``current_year``) and ``exited_not_ready`` (ids of
        villages exited whose indicators are not all met in the data).

    Raises
    ------
    LayerSchemaError
        If ``village_id``, ``exit_applicable`` or ``blocker_class`` is missing.
    """
    _require(villages, ["village_id", "exit_applicable", "blocker_class"], "villages")
    idx = villages.index
    planned = _years(villages, "planned_exit_year")
    exit_year = _years(villages, "exit_year")
    has_planned = _given(villages, "planned_exit_year")
    has_exit = _given(villages, "exit_year")
    applicable = to_tristate(villages["exit_applicable"]).fillna(False).to_numpy(bool)
    blocker = villages["blocker_class"].astype(object).to_numpy()

    future = (exit_year > current_year).fillna(False).to_numpy(bool)
    # missing is never met: a village without an exit year has not exited
    exited = (exit_year <= current_year).fillna(False).astype("boolean")
    exited_np = exited.to_numpy(bool)
    due = (planned <= current_year).astype("boolean")
    due_np = due.fillna(False).to_numpy(bool)
    no_plan = planned.isna().to_numpy(bool)

    status = np.full(len(idx), "not_assessed", dtype=object)
    open_ = applicable & ~exited_np
    blocked = np.isin(blocker, _BLOCKED)
    status[open_ & (blocker == "ready")] = "ready"
    status[open_ & (blocker == "unconfirmed")] = "unconfirmed"
    status[open_ & (blocker == "unknown")] = "unknown"
    status[open_ & blocked & due_np] = "at_risk"
    status[open_ & blocked & ~due_np & ~no_plan] = "in_progress"
    status[open_ & blocked & no_plan] = "not_planned"
    status[applicable & exited_np] = "exited"

    overdue = pd.Series(pd.NA, index=idx, dtype="Int64")
    late = open_ & due_np
    overdue[late] = (current_year - planned[late]).to_numpy()

    out = pd.DataFrame(
        {
            "planned_exit_year": planned,
            "exit_year": exit_year,
            "exited": exited,
            "due": due,
            "overdue_years": overdue,
            "timetable_status": status,
        },
        index=idx,
    )
    ids = villages["village_id"].astype(str).to_numpy()
    out.attrs["planned_column"] = has_planned
    out.attrs["exit_column"] = has_exit
    out.attrs["future_exit"] = list(ids[future])
    out.attrs["exited_not_ready"] = list(ids[applicable & exited_np & (blocker != "ready")])
    out.attrs["no_plan"] = list(ids[applicable & no_plan & ~exited_np]) if has_planned else []
    past = (planned < current_year).fillna(False).to_numpy(bool)
    out.attrs["past_due"] = bool((applicable & past).any())
    out.attrs["current_year"] = int(current_year)
    return out


def _phase(year: int, current_year: int) -> str:
    return "past" if year < current_year else ("current" if year == current_year else "future")


def _served(gaps: pd.DataFrame | None) -> list[set[str]]:
    if gaps is None or not len(gaps) or "villages_served" not in gaps.columns:
        return []
    out = []
    for v in gaps["villages_served"]:
        if isinstance(v, str):
            out.append({s for s in v.split(",") if s})
        elif isinstance(v, list | tuple | set | np.ndarray):
            out.append({str(s) for s in v})
        else:
            out.append(set())
    return out


def timetable_by_year(
    villages: pd.DataFrame,
    *,
    years: Sequence[int],
    current_year: int,
    indicator_ids: Sequence[str],
    gaps: pd.DataFrame | None = None,
    households: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per year of the timetable: who is due, who exited, what is left to do.

    Parameters
    ----------
    villages : DataFrame
        Evaluated villages joined with :func:`village_timetable` (``planned_exit_year``,
        ``exit_year``, ``exited``, ``timetable_status``), with ``<id>_status`` for each
        indicator id.
    years : sequence of int
        The county's target years; years of the data outside them are added (their row
        says ``in_timetable`` False).
    current_year : int
        The year the data describe.
    indicator_ids : sequence of str
        The profile's indicator ids (one ``not_met_<id>`` count each).
    gaps : DataFrame, optional
        The road gaps (:func:`geo.coverage.road_gaps`) with ``villages_served``,
        ``known_unhardened_km`` and ``unknown_surface_km``: each section counts once, in
        the earliest planned year of the not-exited villages it serves.
    households : DataFrame, optional
        The household register (``planned_exit_year``, ``exit_year``, ``register_status``,
        ``registered_poor``) for the household columns.

    Returns
    -------
    DataFrame
        ``year``, ``phase`` (past / current / future), ``in_timetable``; villages:
        ``villages_due``, ``exited_on_time``, ``exited_late``, ``due_not_exited`` and,
        among those, ``due_ready``, ``due_unconfirmed``, ``due_blocked``, ``due_unknown``;
        ``at_risk`` (= ``due_blocked`` for years up to ``current_year``, blank after),
        ``exited_in_year``, ``exited_by_year_end`` and ``not_exited_by_year_end`` (blank
        for future years); work still to do for the villages due in the year and not
        exited: ``km_to_harden``, ``km_unknown_surface``, ``not_met_<id>``; households:
        ``households_due``, ``households_exited_in_year``, ``households_due_not_exited``.
        Counts that cannot be made (no planned or exit year column) are NaN, never 0.
    """
    _require(villages, ["village_id", "exit_applicable", "blocker_class"], "villages")
    tt = villages
    if "timetable_status" not in villages.columns:
        t = village_timetable(villages, current_year=current_year)
        tt = villages.drop(columns=[c for c in t.columns if c in villages.columns]).join(t)
    applicable = to_tristate(tt["exit_applicable"]).fillna(False).to_numpy(bool)
    v = tt[applicable]
    has_planned = _given(tt, "planned_exit_year")
    has_exit = _given(tt, "exit_year")
    planned = _years(v, "planned_exit_year")
    exit_year = _years(v, "exit_year")
    exited = (exit_year <= current_year).fillna(False)
    blocker = v["blocker_class"].astype(object)

    hh_planned = hh_exit = hh_status = None
    if households is not None and len(households):
        hh_planned = _years(households, "planned_exit_year")
        hh_exit = _years(households, "exit_year")
        hh_status = register_status(households)
        poor = to_tristate(households["registered_poor"]).fillna(False).to_numpy(bool)
        hh_planned, hh_exit, hh_status = hh_planned[poor], hh_exit[poor], hh_status[poor]
    hh_has_planned = _given(households, "planned_exit_year")

    data_years = set(planned.dropna().astype(int)) | set(
        exit_year[exit_year <= current_year].dropna().astype(int)
    )
    all_years = sorted(set(int(y) for y in years) | data_years)
    target = {int(y) for y in years}

    # road work: each gap section in the earliest planned year of its not-exited villages
    open_plan = dict(
        zip(v["village_id"].astype(str), planned.where(~exited).to_numpy(dtype=object), strict=True)
    )
    km_known: dict[int, float] = {}
    km_unknown: dict[int, float] = {}
    if gaps is not None and len(gaps):
        for served, known, unknown in zip(
            _served(gaps),
            pd.to_numeric(gaps.get("known_unhardened_km"), errors="coerce").fillna(0.0),
            pd.to_numeric(gaps.get("unknown_surface_km"), errors="coerce").fillna(0.0),
            strict=True,
        ):
            ys = [open_plan[s] for s in served if s in open_plan and not pd.isna(open_plan[s])]
            if not ys:
                continue
            y = int(min(ys))
            km_known[y] = km_known.get(y, 0.0) + float(known)
            km_unknown[y] = km_unknown.get(y, 0.0) + float(unknown)

    rows = []
    nan = np.nan
    for y in all_years:
        is_due = (planned == y).fillna(False).to_numpy(bool)
        not_exited = is_due & ~exited.to_numpy(bool)
        row: dict[str, Any] = {
            "year": y,
            "phase": _phase(y, current_year),
            "in_timetable": y in target,
        }
        if has_planned:
            row["villages_due"] = int(is_due.sum())
            row["exited_on_time"] = int((is_due & (exit_year <= y).fillna(False) & exited).sum())
            row["exited_late"] = int((is_due & (exit_year > y).fillna(False) & exited).sum())
            row["due_not_exited"] = int(not_exited.sum())
            b = blocker.to_numpy()
            row["due_ready"] = int((not_exited & (b == "ready")).sum())
            row["due_unconfirmed"] = int((not_exited & (b == "unconfirmed")).sum())
            row["due_blocked"] = int((not_exited & np.isin(b, _BLOCKED)).sum())
            row["due_unknown"] = int((not_exited & (b == "unknown")).sum())
            row["at_risk"] = row["due_blocked"] if y <= current_year else nan
        else:
            for k in (
                "villages_due",
                "exited_on_time",
                "exited_late",
                "due_not_exited",
                "due_ready",
                "due_unconfirmed",
                "due_blocked",
                "due_unknown",
                "at_risk",
            ):
                row[k] = nan
        if y <= current_year and (has_planned or has_exit):
            row["exited_in_year"] = int((exit_year == y).fillna(False).sum())
            done = (exit_year <= y).fillna(False)
            row["exited_by_year_end"] = int(done.sum())
            row["not_exited_by_year_end"] = int((~done).sum())
        else:
            row["exited_in_year"] = row["exited_by_year_end"] = row["not_exited_by_year_end"] = nan
        if has_planned:
            row["km_to_harden"] = round(km_known.get(y, 0.0), 3)
            row["km_unknown_surface"] = round(km_unknown.get(y, 0.0), 3)
            for i in indicator_ids:
                col = f"{i}_status"
                row[f"not_met_{i}"] = (
                    int((not_exited & (v[col] == "not_met").to_numpy(bool)).sum())
                    if col in v.columns
                    else nan
                )
        else:
            row["km_to_harden"] = row["km_unknown_surface"] = nan
            for i in indicator_ids:
                row[f"not_met_{i}"] = nan
        if hh_planned is not None and hh_status is not None and hh_has_planned:
            hdue = (hh_planned == y).fillna(False).to_numpy(bool)
            row["households_due"] = int(hdue.sum())
            still = ~np.isin(hh_status.to_numpy(dtype=object), ["exited"])
            row["households_due_not_exited"] = int((hdue & still).sum())
        else:
            row["households_due"] = row["households_due_not_exited"] = nan
        if hh_exit is not None and y <= current_year:
            row["households_exited_in_year"] = int((hh_exit == y).fillna(False).sum())
        else:
            row["households_exited_in_year"] = nan
        rows.append(row)
    return pd.DataFrame(rows)


#: Columns of the at-risk table, beside the indicator statuses.
_RISK_COLUMNS = (
    "village_id",
    "name",
    "township",
    "population",
    "poor_population",
    "planned_exit_year",
    "exit_year",
    "overdue_years",
    "risk",
    "blocker_class",
    "unmet",
    "unknown",
    "unconfirmed",
    "road_access",
    "unhardened_km",
    "unknown_surface_km",
    "connection_km",
)
_RISK_ORDER = {"exited_not_ready": 0, "blocked": 1, "unknown": 2, "unconfirmed": 3}


def at_risk(villages: pd.DataFrame, *, indicator_ids: Sequence[str] = ()) -> pd.DataFrame:
    """The villages that threaten the timetable: due and not ready, or exited and not ready.

    Parameters
    ----------
    villages : DataFrame
        Evaluated villages joined with :func:`village_timetable`.
    indicator_ids : sequence of str
        Indicator ids whose ``<id>_status`` columns are listed.

    Returns
    -------
    DataFrame
        One row per village with ``risk``: ``blocked`` (due, not exited, an indicator not
        met: at risk), ``unknown`` (due, an indicator cannot be evaluated: it cannot be
        counted ready), ``unconfirmed`` (due, met only through inferred evidence) or
        ``exited_not_ready`` (exited by its exit year, yet the data do not show every
        indicator met: an exit to check against 数字脱贫); the blockers, road work and
        indicator statuses; most overdue first.
    """
    _require(villages, ["village_id", "timetable_status", "due"], "villages")
    st = villages["timetable_status"].astype(object)
    due = villages["due"].astype("boolean").fillna(False).to_numpy(bool)
    risk = pd.Series([None] * len(villages), index=villages.index, dtype=object)
    risk[(st == "at_risk").to_numpy()] = "blocked"
    risk[((st == "unknown").to_numpy() & due)] = "unknown"
    risk[((st == "unconfirmed").to_numpy() & due)] = "unconfirmed"
    exited = (st == "exited").to_numpy() & (villages["blocker_class"] != "ready").to_numpy()
    risk[exited] = "exited_not_ready"
    sel = villages[risk.notna().to_numpy()].assign(risk=risk[risk.notna()])
    cols = [c for c in _RISK_COLUMNS if c in sel.columns]
    cols += [f"{i}_status" for i in indicator_ids if f"{i}_status" in sel.columns]
    out = pd.DataFrame(sel[cols]).copy()
    out["_o"] = out["risk"].map(_RISK_ORDER)
    out["_d"] = pd.to_numeric(out.get("overdue_years"), errors="coerce").fillna(-1)
    out = out.sort_values(
        ["_o", "_d", "township", "village_id"], ascending=[True, False, True, True]
    )
    return out.drop(columns=["_o", "_d"]).reset_index(drop=True)


def monitoring(
    households: pd.DataFrame,
    villages: pd.DataFrame | None = None,
    *,
    income_line_cny: float,
    margin_frac: float,
) -> pd.DataFrame:
    """Households to monitor against poverty (防止返贫监测), without personal fields.

    Parameters
    ----------
    households : DataFrame
        The register: ``household_id``, ``village_id``, ``registered_poor``,
        ``register_status`` and ``income_per_capita_cny`` when present.
    villages : DataFrame, optional
        ``village_id``, ``name``, ``township`` to name each household's village.
    income_line_cny : float
        The income line.
    margin_frac : float
        An income above the line by at most this share of it is close to the line.

    Returns
    -------
    DataFrame
        ``household_id``, ``village_id``, ``village_name``, ``township``, ``reason``
        (:data:`MONITORING_REASONS`), ``reason_zh``: households returned to poverty
        (返贫); exited or never-registered households whose income is not above the line
        or above it by at most ``margin_frac``. Households whose poverty registration or
        income is unknown are not listed (``attrs["income_unknown"]``,
        ``attrs["registered_unknown"]`` count them); the register's other columns
        (names, ID numbers, phones, incomes) never appear.

    Raises
    ------
    LayerSchemaError
        If ``household_id``, ``village_id`` or ``registered_poor`` is missing.
    """
    need = ["household_id", "village_id", "registered_poor"]
    missing = [c for c in need if c not in households.columns]
    if missing:
        raise LayerSchemaError(
            f"households: missing column(s) {', '.join(missing)}; expected {', '.join(need)}"
        )
    status = register_status(households).to_numpy(dtype=object)
    poor_tri = to_tristate(households["registered_poor"])
    poor = poor_tri.fillna(False).to_numpy(bool)
    not_poor = (~poor_tri).fillna(False).to_numpy(bool)
    if "income_per_capita_cny" in households.columns:
        income = pd.to_numeric(households["income_per_capita_cny"], errors="coerce").to_numpy(float)
    else:
        income = np.full(len(households), np.nan)
    line = float(income_line_cny)
    with np.errstate(invalid="ignore"):
        below = income <= line
        near = (income > line) & (income <= line * (1.0 + float(margin_frac)))
    exited = poor & (status == "exited")
    reason = np.full(len(households), None, dtype=object)
    reason[not_poor & near] = "not_registered_near_line"
    reason[not_poor & below] = "not_registered_below_line"
    reason[exited & near] = "exited_near_line"
    reason[exited & below] = "exited_below_line"
    reason[poor & (status == "returned")] = "returned"
    keep = np.array([r is not None for r in reason], dtype=bool)
    out = pd.DataFrame(
        {
            "household_id": households["household_id"].astype(str).to_numpy()[keep],
            "village_id": households["village_id"].astype(str).to_numpy()[keep],
            "reason": reason[keep],
        }
    )
    if villages is not None and len(villages):
        vv = villages.drop_duplicates("village_id").set_index(
            villages.drop_duplicates("village_id")["village_id"].astype(str)
        )
        out.insert(
            2, "village_name", out["village_id"].map(vv.get("name", pd.Series(dtype=object)))
        )
        out.insert(
            3, "township", out["village_id"].map(vv.get("township", pd.Series(dtype=object)))
        )
    out["reason_zh"] = out["reason"].map(lambda r: MONITORING_REASONS[r][0])
    order = {r: k for k, r in enumerate(MONITORING_REASONS)}
    out = (
        out.assign(_o=out["reason"].map(order))
        .sort_values(["_o", "village_id", "household_id"])
        .drop(columns="_o")
        .reset_index(drop=True)
    )
    candidates = exited | not_poor
    out.attrs["income_unknown"] = int((candidates & np.isnan(income)).sum())
    out.attrs["registered_unknown"] = int(poor_tri.isna().sum())
    out.attrs["status_column"] = _given(households, "register_status")
    out.attrs["income_column"] = _given(households, "income_per_capita_cny")
    return out


def timetable_warnings(
    timetable: pd.DataFrame,
    *,
    years: Sequence[int],
    households: pd.DataFrame | None = None,
    monitored: pd.DataFrame | None = None,
    current_year_stated: bool = True,
) -> list[str]:
    """What the timetable could not see (DESIGN.md rule 3: no silent figure).

    Parameters
    ----------
    timetable : DataFrame
        :func:`village_timetable`'s output (its ``attrs`` are read) or the villages
        joined with it (then ``attrs`` are passed through ``timetable.attrs``).
    years : sequence of int
        The county's target years.
    households : DataFrame, optional
        The household register.
    monitored : DataFrame, optional
        :func:`monitoring`'s output.
    current_year_stated : bool
        False when the workspace leaves ``current_year`` to the profile's default.

    Returns
    -------
    list of str
    """
    a = timetable.attrs
    cy = a.get("current_year")
    out = []
    if not a.get("planned_column", False):
        out.append(
            "villages carry no planned exit year (planned_exit_year, 计划退出年份): the exit "
            "timetable is not assessed (its counts are blank, not zero)"
        )
    elif a.get("no_plan"):
        ids = a["no_plan"]
        out.append(
            f"{len(ids)} poverty village(s) have no planned exit year: they are not in the "
            f"timetable's due counts: {', '.join(ids[:10])}"
        )
    if a.get("planned_column", False) and not a.get("exit_column", False) and a.get("past_due"):
        out.append(
            "no village carries an exit year (exit_year, 退出年份) although villages were due "
            "before the current year: none is counted as exited (record the exit years)"
        )
    if a.get("future_exit"):
        ids = a["future_exit"]
        out.append(
            f"{len(ids)} village(s) have an exit year after the current year {cy}: not counted "
            f"as exited (check the exit year or current_year): {', '.join(ids[:10])}"
        )
    if a.get("exited_not_ready"):
        ids = a["exited_not_ready"]
        out.append(
            f"{len(ids)} village(s) exited (退出年份) but the data do not show every exit "
            f"indicator met: check the exit (数字脱贫?): {', '.join(ids[:10])}"
        )
    if a.get("planned_column", False) and "planned_exit_year" in timetable.columns:
        planned = _years(timetable, "planned_exit_year").dropna().astype(int)
        outside = sorted(set(planned) - {int(y) for y in years})
        if outside:
            out.append(
                f"planned exit years outside the timetable years ({', '.join(map(str, years))}): "
                f"{', '.join(map(str, outside))} (rows added to the timetable)"
            )
    if a.get("planned_column", False) and not current_year_stated:
        out.append(
            f"the workspace does not state current_year: the profile's {cy} is taken as the "
            "year of the data, which decides who is due and at risk (set [parameters] "
            "current_year in workspace.toml)"
        )
    if households is not None and len(households):
        if not _given(households, "planned_exit_year"):
            out.append(
                "the household register has no planned exit year (计划脱贫年份): households "
                "are not in the timetable's due counts (blank)"
            )
        if monitored is not None:
            if not monitored.attrs.get("status_column", True):
                out.append(
                    "the household register has no status (脱贫状态): households returned to "
                    "poverty (返贫) cannot be listed for monitoring"
                )
            if not monitored.attrs.get("income_column", True):
                out.append(
                    "the household register has no income: households close to the income "
                    "line cannot be listed for monitoring"
                )
            elif monitored.attrs.get("income_unknown"):
                out.append(
                    f"{monitored.attrs['income_unknown']} exited or never-registered "
                    "household(s) have no income: not checked against the line for monitoring"
                )
    return out


def summary(
    villages: pd.DataFrame,
    by_year: pd.DataFrame,
    *,
    current_year: int,
    monitored: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Headline figures of the timetable for ``manifest.json`` (None = not assessed).

    ``villages`` are the evaluated villages joined with :func:`village_timetable`.
    ``timetable_*`` keys count poverty villages (``exit_applicable``): planned, exited,
    due (planned at or before ``current_year``), due and exited, ready, at risk (due and
    blocked), due and unknown or unconfirmed, due this year and not exited, km to harden
    for the villages due this year and not exited; ``households_*`` the monitoring list.
    """
    applicable = to_tristate(villages["exit_applicable"]).fillna(False).to_numpy(bool)
    v = villages[applicable]
    st = v["timetable_status"].astype(object)
    has_planned = _given(villages, "planned_exit_year")
    has_exit = _given(villages, "exit_year")
    due = v["due"].astype("boolean").fillna(False).to_numpy(bool)
    this_year = by_year[by_year["year"] == current_year]

    def n(mask: Any) -> int:
        return int(np.asarray(mask, dtype=bool).sum())

    s: dict[str, Any] = {
        "timetable_assessed": has_planned,
        "timetable_current_year": int(current_year),
        "timetable_planned": n(v["planned_exit_year"].notna()) if has_planned else None,
        "timetable_exited": n(st == "exited") if has_planned or has_exit else None,
        "timetable_due": n(due) if has_planned else None,
        "timetable_due_exited": n(due & (st == "exited").to_numpy()) if has_planned else None,
        "timetable_ready": n(st == "ready"),
        "timetable_at_risk": n(st == "at_risk") if has_planned else None,
        "timetable_due_unknown": n(due & (st == "unknown").to_numpy()) if has_planned else None,
        "timetable_due_unconfirmed": n(due & (st == "unconfirmed").to_numpy())
        if has_planned
        else None,
        "timetable_due_this_year": int(this_year["villages_due"].iloc[0])
        if has_planned and len(this_year)
        else None,
        "timetable_due_this_year_not_exited": int(this_year["due_not_exited"].iloc[0])
        if has_planned and len(this_year)
        else None,
        "timetable_km_to_harden_this_year": float(this_year["km_to_harden"].iloc[0])
        if has_planned and len(this_year)
        else None,
    }
    if monitored is not None:
        counts = monitored["reason"].value_counts()
        s["households_monitored"] = int(len(monitored))
        s["households_returned"] = (
            int(counts.get("returned", 0)) if monitored.attrs.get("status_column", True) else None
        )
        income = monitored.attrs.get("income_column", True)
        s["households_near_line"] = (
            int(counts.get("exited_near_line", 0) + counts.get("not_registered_near_line", 0))
            if income
            else None
        )
        s["households_below_line_not_poor"] = (
            int(counts.get("exited_below_line", 0) + counts.get("not_registered_below_line", 0))
            if income
            else None
        )
    return s


_HEADERS_ZH: dict[str, str] = {
    "year": "年份",
    "phase": "阶段（past 已过 / current 本年 / future 未来）",
    "in_timetable": "在计划年份内",
    "villages_due": "计划退出村数",
    "exited_on_time": "按期退出村数",
    "exited_late": "延期退出村数",
    "due_not_exited": "到期未退出村数",
    "due_ready": "其中：具备退出条件",
    "due_unconfirmed": "其中：待核实（推断证据）",
    "due_blocked": "其中：未达标",
    "due_unknown": "其中：情况不明",
    "at_risk": "有风险村数（到期未达标）",
    "exited_in_year": "当年退出村数",
    "exited_by_year_end": "累计退出村数",
    "not_exited_by_year_end": "年末未退出村数",
    "km_to_harden": "待硬化里程（公里）",
    "km_unknown_surface": "路面不明里程（公里）",
    "households_due": "计划脱贫户数",
    "households_exited_in_year": "当年脱贫户数",
    "households_due_not_exited": "计划脱贫未脱贫户数",
    "village_id": "村代码",
    "name": "村名",
    "township": "乡镇",
    "population": "人口",
    "poor_population": "贫困人口",
    "planned_exit_year": "计划退出年份",
    "exit_year": "退出年份",
    "overdue_years": "逾期年数",
    "risk": "风险",
    "blocker_class": "阻碍类别",
    "unmet": "未达标指标",
    "unknown": "不明指标",
    "unconfirmed": "待核实指标",
    "road_access": "通路状况",
    "unhardened_km": "未硬化里程（公里）",
    "unknown_surface_km": "路面不明里程（公里）",
    "connection_km": "待建连接路（公里）",
    "household_id": "户编号",
    "village_name": "村名",
    "reason": "监测原因（代码）",
    "reason_zh": "监测原因",
}


def chinese_headers(df: pd.DataFrame, *, profile: object | None = None) -> pd.DataFrame:
    """Copy of a timetable table (by year, at risk, monitoring) with Chinese headers.

    ``profile`` names the ``not_met_<id>`` and ``<id>_status`` columns by indicator.
    """
    mapping = dict(_HEADERS_ZH)
    for ind in getattr(profile, "indicators", ()):
        mapping[f"not_met_{ind.id}"] = f"未达标：{ind.name_zh}"
        mapping[f"{ind.id}_status"] = f"{ind.name_zh}（状态）"
    return df.rename(columns={c: mapping[c] for c in df.columns if c in mapping})
