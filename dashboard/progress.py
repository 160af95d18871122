"""The progress page's view models (挂图作战, 挂图消号): the exit timetable year by year,
villages struck off the map as they exit, the townships against the timetable, the
villages at risk this year and the resettlement sites followed through.

Everything is read from the plan (``villages`` with the timetable columns of
:data:`layers.plan.TIMETABLE_COLUMNS`, ``sites`` with :data:`layers.plan.SITE_PROGRESS_COLUMNS`,
``tables/at_risk.csv``) and, for the plan versions, the workspace's history
(:mod:`layers.history`). The rules are those of :mod:`geo.timetable`, restated for a
chosen year ``Y`` (the page's slider):

- **exited by Y**: an exit year at or before ``Y`` (a historical fact);
- **due by Y**: a planned exit year at or before ``Y`` and not exited by ``Y``; then, by
  the village's *current* exit indicators: ready, unconfirmed (met only by inference),
  unknown (never counted ready) or **at risk** (blocked);
- **later**: planned after ``Y`` and not exited; **not planned**: no planned year;
- **not assessed**: the exit rule does not apply (hamlets, villages not on the poverty list).

For a past year the indicator states are today's (the plan knows no older ones): the page
says so. Without a planned-year column nothing is "due" and the page says the timetable is
not assessed; never a zero.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dashboard.i18n import t
from dashboard.viewmodels import display_records, to_geojson

#: State of a village in the year shown, in legend order, with its colour. "exited" is
#: struck off (a grey cross); the others are filled circles.
YEAR_STATES: tuple[str, ...] = (
    "exited",
    "at_risk",
    "ready",
    "unconfirmed",
    "unknown",
    "later",
    "not_planned",
    "not_assessed",
)
YEAR_COLORS: dict[str, str] = {
    "exited": "#7A7A7A",
    "at_risk": "#C8102E",
    "ready": "#0072B2",
    "unconfirmed": "#AA4499",
    "unknown": "#B0B0B0",
    "later": "#F2C57C",
    "not_planned": "#FFFFFF",
    "not_assessed": "#E4E4E4",
}
#: Site stages in order (geo.site_progress): 选址 → 在建 → 竣工 → 入住.
SITE_STAGES: tuple[str, ...] = ("selected", "building", "built", "occupied")

#: Current exit class of a village (from ``blocker_class``) → its state once due.
_CLASS_WHEN_DUE = {
    "ready": "ready",
    "unconfirmed": "unconfirmed",
    "unknown": "unknown",
    "blocked_one": "at_risk",
    "blocked_several": "at_risk",
}


def _year(v: Any) -> int | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return int(f) if np.isfinite(f) else None


def _years_of(villages: pd.DataFrame, col: str) -> list[int | None]:
    """A year column as Python ints and None (pandas would turn None into NaN floats)."""
    if col not in villages.columns:
        return [None] * len(villages)
    return [_year(v) for v in villages[col].tolist()]


def has_timetable(villages: pd.DataFrame) -> bool:
    """Whether the plan carries planned exit years (else nothing is due: not assessed)."""
    return "planned_exit_year" in villages.columns and villages["planned_exit_year"].notna().any()


def current_class(villages: pd.DataFrame) -> pd.Series:
    """The state each village takes once due (``ready`` ... ``at_risk``), ``not_assessed``
    where the exit rule does not apply."""
    bc = (
        villages["blocker_class"]
        if "blocker_class" in villages.columns
        else pd.Series(None, index=villages.index, dtype=object)
    )
    out = bc.map(
        lambda c: _CLASS_WHEN_DUE.get(
            c, "not_assessed" if c in ("not_registered", "hamlet") else "unknown"
        )
    )
    if "timetable_status" in villages.columns:
        out = out.where(villages["timetable_status"] != "not_assessed", "not_assessed")
    return out.astype(object)


def year_states(villages: pd.DataFrame, year: int) -> pd.Series:
    """Each village's state in ``year`` (:data:`YEAR_STATES`, rules in the module
    docstring); mirrors ``anju.progressState`` in assets/anju.js."""
    cls = current_class(villages)
    ey = _years_of(villages, "exit_year")
    py = _years_of(villages, "planned_exit_year")
    out = []
    for c, e, p in zip(cls, ey, py, strict=True):
        if c == "not_assessed":
            out.append("not_assessed")
        elif e is not None and e <= year:
            out.append("exited")
        elif p is None:
            out.append("not_planned")
        elif p <= year:
            out.append(c)
        else:
            out.append("later")
    return pd.Series(out, index=villages.index, dtype=object)


def year_counts(villages: pd.DataFrame, year: int, township: str | None = None) -> dict[str, int]:
    """Villages per state in ``year`` (all states, zeros too; they add up to the villages)."""
    st = year_states(villages, year)
    if township:
        st = st[villages["township"] == township]
    return {s: int((st == s).sum()) for s in YEAR_STATES}


def timetable_years(villages: pd.DataFrame, current_year: int | None = None) -> list[int]:
    """The years the slider offers: from the first planned or exit year to the last (and
    the current year); empty without a timetable."""
    ys: list[int] = []
    for col in ("planned_exit_year", "exit_year"):
        ys += [y for y in _years_of(villages, col) if y is not None]
    if current_year is not None:
        ys.append(int(current_year))
    if not ys:
        return []
    lo, hi = min(ys), max(ys)
    if hi - lo > 30:  # a stray year: keep the slider readable around the bulk
        lo, hi = int(np.percentile(ys, 2)), int(np.percentile(ys, 98))
    return list(range(int(lo), int(hi) + 1))


def progress_geojson(villages: Any) -> dict[str, Any]:
    """Villages for the progress map: ``vid``, ``name``, ``tw``, ``ey`` (exit year), ``py``
    (planned exit year), ``cs`` (state once due: :func:`current_class`), ``un`` (unmet
    indicators, for the tooltip)."""
    v = villages.assign(
        _ey=pd.Series(_years_of(villages, "exit_year"), index=villages.index, dtype=object),
        _py=pd.Series(_years_of(villages, "planned_exit_year"), index=villages.index, dtype=object),
        _cs=current_class(villages),
    )
    return to_geojson(
        v,
        columns={
            "village_id": "vid",
            "name": "name",
            "township": "tw",
            "_ey": "ey",
            "_py": "py",
            "_cs": "cs",
            "unmet": "un",
        },
    )


def township_rows(villages: pd.DataFrame, year: int, lang: str = "zh") -> list[dict[str, Any]]:
    """Townships against the timetable in ``year``: villages assessed, due by then (exited
    or not), exited, at risk, ready, unknown, share of the due villages exited; worst first
    (most at risk)."""
    st = year_states(villages, year)
    rows = []
    for tw, grp in st.groupby(villages["township"]):
        assessed = int((grp != "not_assessed").sum())
        if not assessed:
            continue
        exited = int((grp == "exited").sum())
        due = exited + int(grp.isin(["at_risk", "ready", "unconfirmed", "unknown"]).sum())
        rows.append(
            {
                "township": tw,
                "assessed": assessed,
                "due": due,
                "exited": exited,
                "at_risk": int((grp == "at_risk").sum()),
                "ready": int((grp == "ready").sum()),
                "unknown": int((grp == "unknown").sum()),
                "exited_frac": round(exited / due, 3) if due else None,
            }
        )
    rows.sort(
        key=lambda r: (
            -r["at_risk"],
            r["exited_frac"] if r["exited_frac"] is not None else 2.0,
            str(r["township"]),
        )
    )
    return rows


def read_table(plan_dir: str | Path, name: str) -> pd.DataFrame | None:
    """``tables/<name>.csv`` of the plan, or None when absent or unreadable."""
    path = Path(plan_dir) / "tables" / f"{name}.csv"
    if not path.is_file():
        return None
    try:
        return pd.read_csv(path, encoding="utf-8-sig", dtype={"village_id": str})
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def at_risk_rows(
    villages: pd.DataFrame, year: int, indicator_names: Mapping[str, str], lang: str = "zh"
) -> list[dict[str, Any]]:
    """The villages at risk in ``year`` (due, not exited, blocked) with their planned year,
    how many years overdue and what blocks them (indicator names in ``lang``)."""
    st = year_states(villages, year)
    v = villages[st == "at_risk"]
    sep = "、" if lang != "en" else ", "
    rows = []
    for _, r in v.iterrows():
        unmet = [u for u in str(r.get("unmet") or "").split(",") if u]
        py = _year(r.get("planned_exit_year"))
        rows.append(
            {
                "village_id": r.get("village_id"),
                "name": r.get("name"),
                "township": r.get("township"),
                "planned_exit_year": py,
                "overdue_years": (year - py) if py is not None else None,
                "blockers": sep.join(indicator_names.get(u, u) for u in unmet) or "—",
                "n_blockers": len(unmet),
            }
        )
    rows.sort(key=lambda r: (-(r["overdue_years"] or 0), -r["n_blockers"], str(r["name"])))
    return rows


def site_rows(sites: pd.DataFrame, lang: str = "zh") -> list[dict[str, Any]]:
    """Sites followed through: stage (in words), stage date, planned and actual people,
    occupancy, school / clinic within reach, follow-up gaps; planner sites with a stage
    first, by stage."""
    if sites is None or sites.empty or "stage" not in sites.columns:
        return []
    d = sites[sites["stage"].notna() & (sites["stage"].astype(str) != "")].copy()
    if d.empty:
        return []
    order = {s: i for i, s in enumerate(SITE_STAGES)}
    d["_o"] = d["stage"].map(lambda s: order.get(str(s), -1))
    d = d.sort_values(["_o", "name"], ascending=[False, True])
    d["stage"] = [t(f"stage_{s}", lang) if s in order else str(s) for s in d["stage"]]
    cols = [
        c
        for c in (
            "site_id",
            "name",
            "stage",
            "stage_date",
            "planned_people",
            "actual_people",
            "occupancy_people_frac",
            "school_ok",
            "health_ok",
            "jobs_found_frac",
            "followup_gaps",
        )
        if c in d.columns
    ]
    return display_records(d[cols], lang, digits=3)


def stage_counts(sites: pd.DataFrame) -> dict[str, int]:
    """Sites per stage (:data:`SITE_STAGES`, zeros too) among those followed."""
    if sites is None or sites.empty or "stage" not in sites.columns:
        return {s: 0 for s in SITE_STAGES}
    st = sites["stage"].astype(str)
    return {s: int((st == s).sum()) for s in SITE_STAGES}


def versions_rows(history_rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The workspace's plan versions (``Version.to_dict()`` of :mod:`layers.history`),
    oldest first, flattened: id, created, profile, the headline figures, same_as."""
    out = []
    for r in history_rows:
        head = r.get("headline") or {}
        out.append(
            {
                "version_id": r.get("id", r.get("version_id")),
                "created": r.get("created"),
                "profile": r.get("profile"),
                **{
                    k: head.get(k, r.get(k))
                    for k in ("ready", "blocked", "unknown", "km_to_harden", "people_to_relocate")
                },
                "same_as": r.get("same_as"),
            }
        )
    return out


def version_fields(v: dict) -> dict:
    """A version's line fields: id, date (day only), ready, blocked, km to harden."""

    def num(x, fmt="{:.0f}"):
        try:
            return fmt.format(float(x))
        except (TypeError, ValueError):
            return "—"

    return {
        "id": v.get("version_id", "—"),
        "date": str(v.get("created") or "—")[:10],
        "ready": num(v.get("ready")),
        "blocked": num(v.get("blocked")),
        "km": num(v.get("km_to_harden"), "{:.1f}"),
    }
