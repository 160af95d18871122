"""Resettlement sites (安置点) and the capacitated allocation of people to them.

* :func:`sites_from_suitability` turns contiguous suitable patches of the suitability
  raster into candidate sites with a capacity (area x people per hectare);
* :func:`merge_planner_sites` adds the planner's own sites (the optional ``sites`` layer),
  used as given and possibly locked in;
* :func:`allocate` solves the capacitated p-median exactly with HiGHS (highspy):
  minimise population-weighted travel time (plus a penalty for leaving the township),
  whole villages by default, optional number of sites to open, locked sites, and a limit
  on the time back to the old village's fields. Villages that cannot be placed are listed
  with a reason in Chinese and English, never a crash;
* :func:`greedy_allocate` is the baseline with the same inputs and outputs;
* :func:`site_selection_frequency` / :func:`robustness` count how often each site is chosen
  over Monte Carlo draws of the suitability weights.

Travel minutes come from ``geo.access``; this module only reads the cost matrix.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

import geopandas as gpd
import highspy
import numpy as np
import pandas as pd
import rasterio.features
import scipy.ndimage as ndi
import scipy.sparse as sp
import shapely
from affine import Affine

from layers.errors import LayerSchemaError, PolicyError

__all__ = [
    "AllocationResult",
    "sites_from_suitability",
    "merge_planner_sites",
    "allocate",
    "greedy_allocate",
    "site_selection_frequency",
    "robustness",
    "match_sites",
]

_ASSIGN_COLS = ["village_id", "site_id", "people", "travel_min"]
_UNPLACED_COLS = ["village_id", "people", "reason_code", "reason_en", "reason_zh"]


# --------------------------------------------------------------------------- candidate sites


def _quiet_highs() -> highspy.Highs:
    """A ``highspy.Highs`` without its copyright banner on stdout.

    HiGHS prints the banner from C++ when the object is built, before any option can
    be set; it would break the pipeline's progress bar and a CLI's clean output. The
    process-level stdout is muted for that one call only.
    """
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # no real stdout (captured, notebook)
        return highspy.Highs()
    sys.stdout.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
            return highspy.Highs()
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def sites_from_suitability(
    suit: np.ndarray,
    *,
    transform: Affine,
    crs,
    threshold: float,
    min_area_ha: float,
    people_per_ha: float,
    max_sites: int | None = None,
    max_area_ha: float | None = None,
) -> gpd.GeoDataFrame:
    """Candidate sites from contiguous patches of suitable land.

    Parameters
    ----------
    suit : numpy.ndarray
        Suitability raster (0..1, NaN excluded) on a metric grid.
    transform : affine.Affine
        The grid's transform (cell size in metres).
    crs
        The grid's CRS (metric); given to the output.
    threshold : float
        Cells with ``suit >= threshold`` are suitable.
    min_area_ha : float
        Patches smaller than this are dropped.
    people_per_ha : float
        Gross resettlement density; ``capacity_people = floor(area_ha * people_per_ha)``.
    max_sites : int, optional
        Keep only the best ``max_sites`` patches (by mean suitability, then area).
    max_area_ha : float, optional
        Cap on the area counted for capacity. A very large patch (a whole valley floor)
        keeps its full polygon and ``area_ha``, but its capacity is computed from
        ``max_area_ha`` (column ``capped`` says so): one site is one construction project.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``site_id`` ("S001", ... by rank), ``name``, ``area_ha``, ``capacity_people``,
        ``suitability`` (mean over the patch), ``source`` ("generated"), ``locked`` (False),
        ``capped``, ``rep_x``/``rep_y`` (a representative point inside the patch, for travel
        times), geometry (patch polygon, 8-connected cells).

    Raises
    ------
    PolicyError
        If threshold, areas or density are invalid.
    """
    for name, val in (("min_area_ha", min_area_ha), ("people_per_ha", people_per_ha)):
        if not np.isfinite(val) or val < 0:
            raise PolicyError(f"sites_from_suitability: {name} must be >= 0, found {val}")
    if not np.isfinite(threshold):
        raise PolicyError(f"sites_from_suitability: threshold must be a number, found {threshold}")
    if max_area_ha is not None and not (max_area_ha > 0):
        raise PolicyError(f"sites_from_suitability: max_area_ha must be > 0, found {max_area_ha}")
    s = np.asarray(suit, dtype=float)
    cell_ha = abs(transform.a * transform.e - transform.b * transform.d) / 1e4
    with np.errstate(invalid="ignore"):
        ok = s >= threshold
    labels, n = ndi.label(ok, structure=np.ones((3, 3), dtype=bool))
    cols = [
        "site_id",
        "name",
        "area_ha",
        "capacity_people",
        "suitability",
        "source",
        "locked",
        "capped",
        "rep_x",
        "rep_y",
    ]
    if n == 0:
        return gpd.GeoDataFrame({c: [] for c in cols}, geometry=[], crs=crs)
    flat = labels.ravel()
    counts = np.bincount(flat, minlength=n + 1)
    sums = np.bincount(flat, weights=np.where(ok, s, 0.0).ravel(), minlength=n + 1)
    area = counts * cell_ha
    keep = [lab for lab in range(1, n + 1) if area[lab] >= min_area_ha and counts[lab] > 0]
    mean = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    keep.sort(key=lambda lab: (-mean[lab], -area[lab], lab))
    if max_sites is not None:
        keep = keep[: int(max_sites)]
    if not keep:
        return gpd.GeoDataFrame({c: [] for c in cols}, geometry=[], crs=crs)
    keep_mask = np.isin(labels, keep)
    parts: dict[int, list] = {lab: [] for lab in keep}
    for geom, val in rasterio.features.shapes(
        labels.astype(np.int32), mask=keep_mask, transform=transform, connectivity=8
    ):
        parts[int(val)].append(shapely.geometry.shape(geom))
    geoms = [shapely.union_all(parts[lab]) for lab in keep]
    reps = shapely.point_on_surface(np.asarray(geoms, dtype=object))
    counted = area[keep] if max_area_ha is None else np.minimum(area[keep], max_area_ha)
    out = gpd.GeoDataFrame(
        {
            "site_id": [f"S{i + 1:03d}" for i in range(len(keep))],
            "name": [f"S{i + 1:03d}" for i in range(len(keep))],
            "area_ha": area[keep],
            "capacity_people": np.floor(counted * people_per_ha + 1e-9).astype(np.int64),
            "suitability": mean[keep],
            "source": "generated",
            "locked": False,
            "capped": counted < area[keep],
            "rep_x": shapely.get_x(reps),
            "rep_y": shapely.get_y(reps),
        },
        geometry=geoms,
        crs=crs,
    )
    return out


def merge_planner_sites(
    generated: gpd.GeoDataFrame,
    planner_sites: gpd.GeoDataFrame | None,
    *,
    people_per_ha: float | None = None,
    drop_overlapping: bool = True,
) -> gpd.GeoDataFrame:
    """Add the planner's sites to the generated ones; the planner's are used as given.

    Parameters
    ----------
    generated : geopandas.GeoDataFrame
        Output of :func:`sites_from_suitability`.
    planner_sites : geopandas.GeoDataFrame or None
        The ``sites`` layer: ``site_id``, ``name``, optional ``capacity_people``, ``locked``.
    people_per_ha : float, optional
        Capacity for a planner polygon without ``capacity_people``; a planner point without
        a capacity is an error.
    drop_overlapping : bool
        Drop generated sites that intersect a planner site (the same land counted twice).

    Returns
    -------
    geopandas.GeoDataFrame
        Planner sites first (``source`` = "planner", ``locked`` kept, default False), then
        generated ones; generated ids that clash with a planner id get a ``-gen`` suffix.

    Raises
    ------
    LayerSchemaError
        A planner site without ``site_id``, duplicated ids, or a capacity that is missing
        (and cannot be derived from its area) or negative.
    """
    if planner_sites is None or len(planner_sites) == 0:
        return generated.copy()
    ps = planner_sites.copy()
    if "site_id" not in ps.columns:
        raise LayerSchemaError(f"sites: expected column 'site_id', found {list(ps.columns)}")
    ps["site_id"] = ps["site_id"].astype(str)
    dup = ps["site_id"][ps["site_id"].duplicated()].tolist()
    if dup:
        raise LayerSchemaError(f"sites: site_id must be unique, found duplicates {dup}")
    if generated.crs is not None and ps.crs is not None and ps.crs != generated.crs:
        ps = ps.to_crs(generated.crs)
    cap = (
        pd.to_numeric(ps["capacity_people"], errors="coerce")
        if "capacity_people" in ps
        else pd.Series(np.nan, index=ps.index)
    )
    area_ha = ps.geometry.area / 1e4
    problems = []
    for idx in ps.index:
        c = cap[idx]
        if pd.isna(c):
            if people_per_ha is not None and area_ha[idx] > 0:
                cap[idx] = math.floor(area_ha[idx] * people_per_ha)
            else:
                problems.append(
                    f"site {ps.at[idx, 'site_id']!r}: capacity_people missing and no area to derive it"
                )
        elif c < 0:
            problems.append(
                f"site {ps.at[idx, 'site_id']!r}: capacity_people must be >= 0, found {c}"
            )
    if problems:
        raise LayerSchemaError("sites: " + "; ".join(problems))
    ps["capacity_people"] = cap.astype(np.int64)
    ps["locked"] = ps["locked"].fillna(False).astype(bool) if "locked" in ps else False
    ps["source"] = "planner"
    if "name" not in ps:
        ps["name"] = ps["site_id"]
    ps["area_ha"] = area_ha.where(area_ha > 0)
    if "suitability" not in ps:
        ps["suitability"] = np.nan
    reps = shapely.point_on_surface(ps.geometry.values)
    ps["rep_x"], ps["rep_y"] = shapely.get_x(reps), shapely.get_y(reps)
    gen = generated.copy()
    if drop_overlapping and len(gen):
        hit = gen.geometry.intersects(ps.geometry.union_all())
        gen = gen[~hit.to_numpy()]
    clash = gen["site_id"].isin(set(ps["site_id"]))
    gen.loc[clash, "site_id"] = gen.loc[clash, "site_id"] + "-gen"
    merged = pd.concat([ps, gen], ignore_index=True)
    return gpd.GeoDataFrame(merged, geometry="geometry", crs=generated.crs or ps.crs)


def match_sites(base: gpd.GeoDataFrame, other: gpd.GeoDataFrame) -> dict[str, str]:
    """Map each site of ``other`` to the ``base`` site it overlaps most (for robustness runs).

    Generated site ids are ranks and change between runs; the largest overlap by area
    (or containment of the representative point for zero-area sites) ties a run's sites to
    the base set. Sites overlapping no base site are left out of the mapping.
    """
    out: dict[str, str] = {}
    if len(base) == 0 or len(other) == 0:
        return out
    bgeoms = base.geometry.values
    tree = shapely.STRtree(bgeoms)
    for sid, g in zip(other["site_id"], other.geometry.values, strict=True):
        cand = tree.query(g, predicate="intersects")
        if len(cand) == 0:
            continue
        areas = shapely.area(shapely.intersection(bgeoms[cand], g))
        out[str(sid)] = str(base["site_id"].iloc[cand[int(np.argmax(areas))]])
    return out


# --------------------------------------------------------------------------- allocation


@dataclass
class AllocationResult:
    """Result of :func:`allocate` / :func:`greedy_allocate`.

    Attributes
    ----------
    assignments : pandas.DataFrame
        ``village_id``, ``site_id``, ``people``, ``travel_min`` (one row per village, or per
        village and site when splitting).
    unplaced : pandas.DataFrame
        ``village_id``, ``people``, ``reason_code`` (``no_site_reachable``, ``no_site_within_limit``,
        ``village_too_large``, ``capacity_shortfall``, ``no_room``, ``solver_no_solution``),
        ``reason_en``, ``reason_zh``.
    site_load : pandas.DataFrame
        ``site_id``, ``capacity_people``, ``assigned_people``, ``open`` (bool).
    status : str
        ``optimal`` | ``time_limit`` | ``infeasible`` (HiGHS's own status; a time-limited
        answer is never called optimal), ``heuristic`` for the greedy baseline, or HiGHS's
        status text for other stops.
    mip_gap : float
        HiGHS's relative MIP gap (0 when optimal, NaN for greedy).
    objective : float
        Sum over placed people of (travel minutes + township penalty).
    solve_s : float
        Wall-clock seconds (model build and solve).
    method : str
        ``highs`` or ``greedy``.
    notes : list of str
        What happened on the way (e.g. "capacity short: second phase used").
    """

    assignments: pd.DataFrame
    unplaced: pd.DataFrame
    site_load: pd.DataFrame
    status: str
    mip_gap: float
    objective: float
    solve_s: float
    method: str
    notes: list[str] = field(default_factory=list)

    @property
    def open_sites(self) -> list[str]:
        """Ids of sites that are open (chosen or locked) in this result."""
        return self.site_load.loc[self.site_load["open"], "site_id"].tolist()

    @property
    def placed_people(self) -> float:
        """People assigned to a site."""
        return float(self.assignments["people"].sum())

    @property
    def unplaced_people(self) -> float:
        """People left out (listed in ``unplaced``)."""
        return float(self.unplaced["people"].sum())


@dataclass
class _Problem:
    vid: np.ndarray  # village ids (str)
    people: np.ndarray  # int64
    sid: np.ndarray  # site ids (str)
    cap: np.ndarray  # int64
    locked: np.ndarray  # bool
    travel: np.ndarray  # (n, m) float, NaN unreachable
    cost: np.ndarray  # (n, m) travel + township penalty
    allowed: np.ndarray  # (n, m) bool
    active: np.ndarray  # (n,) bool: villages entering the optimisation
    unplaced: list[dict]
    p: int | None
    split: bool


#: A solution as :func:`_greedy_core` returns it and HiGHS takes it as a start:
#: (village row, site column, people) rows, open-site mask, left-out village rows and
#: the people each of them leaves out.
_Start = tuple[list[tuple[int, int, float]], np.ndarray, list[int], dict[int, int]]


@dataclass(frozen=True)
class _HighsOptions:
    """Solver options of one :func:`_solve_highs` call (see :func:`allocate`)."""

    time_limit_s: float
    mip_gap: float
    threads: int | None
    presolve: str
    start: _Start | None = None


def _reason(code: str, vid: str, people: int, en: str, zh: str) -> dict:
    return {
        "village_id": vid,
        "people": people,
        "reason_code": code,
        "reason_en": en,
        "reason_zh": zh,
    }


def _prepare(
    demand: pd.DataFrame,
    sites: pd.DataFrame,
    cost_min: np.ndarray,
    *,
    p: int | None,
    max_return_min: float | None,
    township_penalty_min: float,
    split: bool,
) -> _Problem:
    problems = []
    for name, df, need in (
        ("demand", demand, ["village_id", "people"]),
        ("sites", sites, ["site_id", "capacity_people"]),
    ):
        missing = [c for c in need if c not in df.columns]
        if missing:
            problems.append(f"{name}: expected columns {missing}, found {list(df.columns)}")
    if problems:
        raise LayerSchemaError("allocate: " + "; ".join(problems))
    n, m = len(demand), len(sites)
    travel = np.asarray(cost_min, dtype=float)
    if travel.shape != (n, m):
        raise LayerSchemaError(
            f"allocate: cost_min must have shape (villages, sites) = ({n}, {m}), found {travel.shape}"
        )
    if np.any(travel < 0):
        i, j = np.argwhere(travel < 0)[0]
        raise LayerSchemaError(
            f"allocate: cost_min must be >= 0, found {travel[i, j]} at village row {i}, site {j}"
        )
    vid = demand["village_id"].astype(str).to_numpy()
    sid = sites["site_id"].astype(str).to_numpy()
    for what, ids in (("village_id", vid), ("site_id", sid)):
        u, c = np.unique(ids, return_counts=True)
        if np.any(c > 1):
            raise LayerSchemaError(
                f"allocate: {what} must be unique, found duplicates {u[c > 1][:5].tolist()}"
            )
    people = pd.to_numeric(demand["people"], errors="coerce").to_numpy(dtype=float)
    cap = pd.to_numeric(sites["capacity_people"], errors="coerce").to_numpy(dtype=float)
    if np.any(~np.isfinite(people)) or np.any(people < 0) or np.any(people != np.round(people)):
        raise LayerSchemaError(
            f"allocate: demand.people must be whole numbers >= 0, found {people[:10].tolist()}"
        )
    if np.any(~np.isfinite(cap)) or np.any(cap < 0):
        raise LayerSchemaError(
            f"allocate: sites.capacity_people must be >= 0, found {cap[:10].tolist()}"
        )
    people = people.astype(np.int64)
    cap = np.floor(cap).astype(np.int64)
    locked = (
        sites["locked"].fillna(False).astype(bool).to_numpy()
        if "locked" in sites.columns
        else np.zeros(m, bool)
    )
    if not np.isfinite(township_penalty_min) or township_penalty_min < 0:
        raise PolicyError(
            f"allocate: township_penalty_min must be >= 0, found {township_penalty_min}"
        )
    if max_return_min is not None and not (max_return_min >= 0):
        raise PolicyError(f"allocate: max_return_min must be >= 0, found {max_return_min}")
    if p is not None:
        if int(p) != p or p < 1 or p > m:
            raise PolicyError(
                f"allocate: p must be an integer in 1..{m} (number of sites), found {p}"
            )
        if locked.sum() > p:
            raise PolicyError(
                f"allocate: {int(locked.sum())} sites are locked but only p={p} may open"
            )
        p = int(p)
    cost = travel.copy()
    if township_penalty_min > 0 and "township" in demand.columns and "township" in sites.columns:
        tv = demand["township"].to_numpy(dtype=object)[:, None]
        ts = sites["township"].to_numpy(dtype=object)[None, :]
        known = pd.notna(tv) & pd.notna(ts)
        cost = cost + np.where(known & (tv != ts), township_penalty_min, 0.0)
    with np.errstate(invalid="ignore"):
        reach = np.isfinite(travel)
        allowed = reach & ((travel <= max_return_min) if max_return_min is not None else True)
    unplaced: list[dict] = []
    active = people > 0
    for i in np.flatnonzero(active):
        if not reach[i].any():
            unplaced.append(
                _reason(
                    "no_site_reachable",
                    vid[i],
                    people[i],
                    "no site is reachable from this village",
                    "没有可达的安置点",
                )
            )
            active[i] = False
        elif not allowed[i].any():
            nearest = float(np.nanmin(travel[i]))
            unplaced.append(
                _reason(
                    "no_site_within_limit",
                    vid[i],
                    people[i],
                    f"no site within {max_return_min:g} min (nearest {nearest:.0f} min)",
                    f"{max_return_min:g} 分钟内没有安置点（最近 {nearest:.0f} 分钟）",
                )
            )
            active[i] = False
        elif not split and people[i] > cap[allowed[i]].max():
            big = int(cap[allowed[i]].max())
            unplaced.append(
                _reason(
                    "village_too_large",
                    vid[i],
                    people[i],
                    f"village of {people[i]} people exceeds the capacity of every reachable site (largest {big})",
                    f"村人口 {people[i]} 人超过任何可达安置点的容量（最大 {big} 人）",
                )
            )
            active[i] = False
    if not split:
        allowed = allowed & (people[:, None] <= cap[None, :])
    allowed &= active[:, None]
    return _Problem(
        vid, people, sid, cap, locked, travel, cost, allowed, active, unplaced, p, split
    )


def _usable_capacity(pb: _Problem) -> int:
    """Largest capacity the sites may offer: all sites, or the locked plus the largest others up to p."""
    if pb.p is None:
        return int(pb.cap.sum())
    others = np.sort(pb.cap[~pb.locked])[::-1]
    return int(pb.cap[pb.locked].sum() + others[: pb.p - int(pb.locked.sum())].sum())


def _shortfall_reasons(
    pb: _Problem, rows: Iterable[int], demand_total: int, usable: int
) -> list[dict]:
    out = []
    for i in rows:
        if demand_total > usable:
            short = demand_total - usable
            en = f"not enough site capacity: demand {demand_total} people, usable capacity {usable} (short by {short})"
            zh = f"安置容量不足：需安置 {demand_total} 人，可用容量 {usable} 人，缺口 {short} 人"
            code = "capacity_shortfall"
        else:
            en = (
                "reachable sites are full (whole villages cannot be fitted into the remaining room)"
            )
            zh = "可达安置点剩余容量不足以整村安置"
            code = "no_room"
        out.append(_reason(code, pb.vid[i], int(pb.people[i]), en, zh))
    return out


def _result(
    pb: _Problem,
    rows: list[tuple[int, int, float]],
    open_mask: np.ndarray,
    extra_unplaced: list[dict],
    *,
    status: str,
    gap: float,
    t0: float,
    method: str,
    notes: list[str],
) -> AllocationResult:
    load: np.ndarray
    if rows:
        ii = np.array([r[0] for r in rows])
        jj = np.array([r[1] for r in rows])
        ppl = np.array([r[2] for r in rows], dtype=float)
        assignments = pd.DataFrame(
            {
                "village_id": pb.vid[ii],
                "site_id": pb.sid[jj],
                "people": ppl,
                "travel_min": pb.travel[ii, jj],
            }
        )
        if not pb.split or np.allclose(ppl, np.round(ppl)):
            assignments["people"] = np.round(ppl).astype(np.int64)
        objective = float((ppl * pb.cost[ii, jj]).sum())
        load = np.bincount(jj, weights=ppl, minlength=len(pb.sid))
    else:
        assignments = pd.DataFrame(
            {
                c: pd.Series(dtype=t)
                for c, t in zip(_ASSIGN_COLS, [str, str, "int64", float], strict=True)
            }
        )
        objective = 0.0
        load = np.zeros(len(pb.sid))
    unplaced = pd.DataFrame(pb.unplaced + extra_unplaced, columns=_UNPLACED_COLS)
    site_load = pd.DataFrame(
        {
            "site_id": pb.sid,
            "capacity_people": pb.cap,
            "assigned_people": load,
            "open": open_mask | (load > 0),
        }
    )
    return AllocationResult(
        assignments=assignments,
        unplaced=unplaced,
        site_load=site_load,
        status=status,
        mip_gap=gap,
        objective=objective,
        solve_s=time.perf_counter() - t0,
        method=method,
        notes=notes,
    )


_STATUS = {
    highspy.HighsModelStatus.kOptimal: "optimal",
    highspy.HighsModelStatus.kTimeLimit: "time_limit",
    highspy.HighsModelStatus.kInfeasible: "infeasible",
}


def _solve_highs(
    pb: _Problem,
    opts: _HighsOptions,
    *,
    dummy: bool,
    unplaced_cap: float | None,
    phase_one: bool,
    relax: bool = False,
) -> tuple[str, float, np.ndarray, np.ndarray, np.ndarray, bool]:
    """Build and solve one MIP. Returns status, gap, pair values, y, u, has_solution.

    Variables: one per allowed (village, site) pair; one y per site when p is given;
    one dummy u per active village when ``dummy``. Whole villages: binary x; split:
    integer people counts.
    """
    ii, jj = np.nonzero(pb.allowed)
    k = len(ii)
    act = np.flatnonzero(pb.active)
    n_act = len(act)
    row_of = -np.ones(len(pb.vid), dtype=np.int64)
    row_of[act] = np.arange(n_act)
    m = len(pb.sid)
    use_y = pb.p is not None
    ppl = pb.people.astype(float)
    # Unify both modes: variable v has upper bound ub, assignment coefficient 1,
    # capacity coefficient q, cost f.
    if pb.split:
        ub = ppl[ii]
        q = np.ones(k)
        f = pb.cost[ii, jj]
        rhs_assign = ppl[act]
        u_ub = ppl[act]
        u_weight = np.ones(n_act)
    else:
        ub = np.ones(k)
        q = ppl[ii]
        f = ppl[ii] * pb.cost[ii, jj]
        rhs_assign = np.ones(n_act)
        u_ub = np.ones(n_act)
        u_weight = ppl[act]
    if phase_one:
        f = np.zeros(k)
    n_y = m if use_y else 0
    n_u = n_act if dummy else 0
    ncol = k + n_y + n_u
    col_cost = np.concatenate([f, np.zeros(n_y), u_weight if phase_one else np.zeros(n_u)])
    col_lower = np.zeros(ncol)
    col_upper = np.concatenate([ub, np.ones(n_y), u_ub if dummy else np.zeros(0)])
    if use_y:
        col_lower[k : k + m][pb.locked] = 1.0
    rows_r, rows_c, rows_v, lo, hi = [], [], [], [], []
    r0 = 0
    # assignment: sum_j v_ij (+ u_i) = rhs_i
    rows_r.append(row_of[ii])
    rows_c.append(np.arange(k))
    rows_v.append(np.ones(k))
    if dummy:
        rows_r.append(np.arange(n_act))
        rows_c.append(k + n_y + np.arange(n_act))
        rows_v.append(np.ones(n_act))
    lo.append(rhs_assign)
    hi.append(rhs_assign)
    r0 += n_act
    # capacity: sum_i q v_ij - cap_j y_j <= 0   (or <= cap_j without y)
    rows_r.append(r0 + jj)
    rows_c.append(np.arange(k))
    rows_v.append(q)
    if use_y:
        rows_r.append(r0 + np.arange(m))
        rows_c.append(k + np.arange(m))
        rows_v.append(-pb.cap.astype(float))
        lo.append(np.full(m, -np.inf))
        hi.append(np.zeros(m))
    else:
        lo.append(np.full(m, -np.inf))
        hi.append(pb.cap.astype(float))
    r0 += m
    if pb.p is not None:  # use_y
        # strong linking v_ij <= ub_ij y_j: tight LP bound for the p-median
        rows_r += [r0 + np.arange(k), r0 + np.arange(k)]
        rows_c += [np.arange(k), k + jj]
        rows_v += [np.ones(k), -ub]
        lo.append(np.full(k, -np.inf))
        hi.append(np.zeros(k))
        r0 += k
        rows_r.append(np.full(m, r0))
        rows_c.append(k + np.arange(m))
        rows_v.append(np.ones(m))
        lo.append(np.array([float(pb.p)]))
        hi.append(np.array([float(pb.p)]))
        r0 += 1
        if not phase_one and (unplaced_cap is not None or not dummy):
            # valid cut: the open sites must hold everyone placed (sum_j cap_j y_j >= placed)
            must = (rhs_assign if pb.split else ppl[act]).sum() - (unplaced_cap or 0.0)
            rows_r.append(np.full(m, r0))
            rows_c.append(k + np.arange(m))
            rows_v.append(pb.cap.astype(float))
            lo.append(np.array([must - 1e-6]))
            hi.append(np.array([np.inf]))
            r0 += 1
    if unplaced_cap is not None and dummy:
        rows_r.append(np.full(n_act, r0))
        rows_c.append(k + n_y + np.arange(n_act))
        rows_v.append(u_weight)
        lo.append(np.array([-np.inf]))
        hi.append(np.array([unplaced_cap + 1e-6]))
        r0 += 1
    a = sp.csc_matrix(
        (np.concatenate(rows_v), (np.concatenate(rows_r), np.concatenate(rows_c))), shape=(r0, ncol)
    )
    a.sort_indices()
    h = _quiet_highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(opts.time_limit_s))
    h.setOptionValue("mip_rel_gap", float(opts.mip_gap))
    h.setOptionValue("random_seed", 0)
    if opts.threads is not None:
        h.setOptionValue("threads", int(opts.threads))
    lp = highspy.HighsLp()
    lp.num_col_ = ncol
    lp.num_row_ = r0
    lp.col_cost_ = col_cost
    lp.col_lower_ = col_lower
    lp.col_upper_ = col_upper
    inf = highspy.kHighsInf
    lp.row_lower_ = np.where(np.isinf(np.concatenate(lo)), -inf, np.concatenate(lo))
    lp.row_upper_ = np.where(np.isinf(np.concatenate(hi)), inf, np.concatenate(hi))
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr.astype(np.int32)
    lp.a_matrix_.index_ = a.indices.astype(np.int32)
    lp.a_matrix_.value_ = a.data
    lp.a_matrix_.num_col_ = ncol
    lp.a_matrix_.num_row_ = r0
    if not relax:
        lp.integrality_ = [highspy.HighsVarType.kInteger] * ncol
    h.setOptionValue("presolve", opts.presolve)
    h.passModel(lp)
    start = opts.start
    if start is not None:
        x0 = _start_vector(pb, start, ii, jj, act, use_y=use_y, dummy=dummy)
        left_w = float(x0[k + n_y :] @ u_weight) if dummy else 0.0
        feasible = (dummy or not start[2]) and (
            unplaced_cap is None or left_w <= unplaced_cap + 1e-6
        )
        if feasible:
            sol = highspy.HighsSolution()
            sol.col_value = x0
            sol.value_valid = True
            h.setSolution(sol)
    h.run()
    ms = h.getModelStatus()
    status = _STATUS.get(ms, h.modelStatusToString(ms).lower().replace(" ", "_"))
    info = h.getInfo()
    has_sol = info.primal_solution_status == 2  # kSolutionStatusFeasible
    gap = float(info.mip_gap) if has_sol else math.inf
    if status == "optimal":
        gap = max(0.0, gap) if np.isfinite(gap) else 0.0
    if has_sol:
        x = np.asarray(h.getSolution().col_value)
    else:
        x = np.zeros(ncol)
    return status, gap, x[:k], x[k : k + n_y], x[k + n_y :], has_sol


def _rows_from(pb: _Problem, v: np.ndarray) -> list[tuple[int, int, float]]:
    """(village row, site column, people) for each pair the solver switched on."""
    ii, jj = np.nonzero(pb.allowed)
    mult = np.ones(len(ii)) if pb.split else pb.people[ii].astype(float)
    val = np.round(v)
    return [(int(ii[k]), int(jj[k]), float(val[k] * mult[k])) for k in np.flatnonzero(val > 0.5)]


def _rows_cost(pb: _Problem, rows: list[tuple[int, int, float]]) -> float:
    return float(sum(ppl * pb.cost[i, j] for i, j, ppl in rows))


def _lp_rounding_start(
    pb: _Problem, greedy: _Start, *, time_limit_s: float, opts: _HighsOptions
) -> _Start | None:
    """A better first incumbent for the p-median: LP relaxation -> open the p sites with the
    largest y (locked first) -> solve the assignment to those sites as a smaller MIP.
    Returns a start tuple like :func:`_greedy_core` if it beats the greedy one, else None."""
    t0 = time.perf_counter()
    o = replace(opts, start=None, time_limit_s=time_limit_s)
    st, _, _, y, _, has = _solve_highs(
        pb, o, dummy=False, unplaced_cap=None, phase_one=False, relax=True
    )
    if not has or st != "optimal":
        return None
    score = np.where(pb.locked, np.inf, y)
    open_mask = np.zeros(len(pb.sid), bool)
    open_mask[np.argsort(-score, kind="stable")[: pb.p]] = True
    sub = replace(pb, allowed=pb.allowed & open_mask[None, :], p=None)
    o = replace(o, time_limit_s=max(time_limit_s - (time.perf_counter() - t0), 0.1))
    # The assignment LP has a basic optimum with at most (#sites) fractional villages:
    # keep the integral ones, place the rest greedily in the room left.
    st2, _, v, _, _, has2 = _solve_highs(
        sub, o, dummy=False, unplaced_cap=None, phase_one=False, relax=True
    )
    rows: list[tuple[int, int, float]] = []
    if has2 and st2 == "optimal":
        ii, jj = np.nonzero(sub.allowed)
        whole = v > 1 - 1e-6 if not pb.split else np.zeros(len(v), bool)
        rows = [(int(ii[k]), int(jj[k]), float(pb.people[ii[k]])) for k in np.flatnonzero(whole)]
        rest = np.ones(len(pb.vid), bool)
        rest[[r[0] for r in rows]] = False
        room = np.where(open_mask, pb.cap, 0).astype(float)
        for _, j, ppl in rows:
            room[j] -= ppl
        c = np.where(sub.allowed, pb.cost, np.inf)
        todo = np.flatnonzero(rest & pb.active)
        for i in todo[np.argsort(-pb.people[todo], kind="stable")]:
            for j in np.argsort(c[i], kind="stable"):
                if np.isfinite(c[i, j]) and room[j] >= pb.people[i]:
                    rows.append((int(i), int(j), float(pb.people[i])))
                    room[j] -= pb.people[i]
                    break
    if pb.split or not rows or len(rows) < pb.active.sum():
        o = replace(
            o,
            time_limit_s=max(time_limit_s - (time.perf_counter() - t0), 0.1),
            mip_gap=max(opts.mip_gap, 2e-3),  # a start, not the answer
        )
        st3, _, v3, _, _, has3 = _solve_highs(
            sub, o, dummy=False, unplaced_cap=None, phase_one=False
        )
        if not has3:
            return None
        rows = _rows_from(sub, v3)
    placed = np.zeros(len(pb.vid))
    for i, _, ppl in rows:
        placed[i] += ppl
    if np.any(placed[pb.active] < pb.people[pb.active] - 0.5):
        return None
    if greedy[2] or _rows_cost(pb, rows) < _rows_cost(pb, greedy[0]):
        return rows, open_mask, [], {}
    return None


def _start_vector(
    pb: _Problem,
    start: _Start,
    ii: np.ndarray,
    jj: np.ndarray,
    act: np.ndarray,
    *,
    use_y: bool,
    dummy: bool,
) -> np.ndarray:
    """Column values of a greedy solution, to give HiGHS an incumbent from the start."""
    rows, open_mask, left, left_people = start
    kidx = -np.ones(pb.allowed.shape, dtype=np.int64)
    kidx[ii, jj] = np.arange(len(ii))
    xv = np.zeros(len(ii))
    for i, j, ppl in rows:
        xv[kidx[i, j]] = ppl if pb.split else 1.0
    parts = [xv]
    if use_y:
        parts.append(open_mask.astype(float))
    if dummy:
        pos = {int(i): r for r, i in enumerate(act)}
        uv = np.zeros(len(act))
        for i in left:
            uv[pos[i]] = left_people[i] if pb.split else 1.0
        parts.append(uv)
    return np.concatenate(parts)


def allocate(
    demand: pd.DataFrame,
    sites: pd.DataFrame,
    cost_min: np.ndarray,
    *,
    p: int | None = None,
    max_return_min: float | None = None,
    township_penalty_min: float = 0.0,
    split: bool = False,
    time_limit_s: float = 60.0,
    mip_gap: float = 1e-4,
    threads: int | None = None,
    presolve: str = "off",
    warm_start: bool = True,
    heuristic_frac: float = 0.3,
) -> AllocationResult:
    """Exact capacitated allocation of people to sites (capacitated p-median) with HiGHS.

    Minimise ``sum_i people_i * (cost_ij + township_penalty if township_i != township_j)``
    subject to: each village placed once (whole, or split in whole people with
    ``split=True``); ``sum_i people_i x_ij <= cap_j y_j``; ``sum_j y_j = p`` when ``p`` is
    given, locked sites open (``y_j = 1``); ``x_ij = 0`` where the cost is NaN or above
    ``max_return_min`` (cost_min is also the time back to the old fields).

    Infeasibility never raises. Villages with no reachable site, none within the limit, or
    bigger than every reachable site are excluded before solving and reported. If the rest
    still does not fit (total capacity short, or whole villages do not pack), a first MIP
    minimises the people left out, a second minimises travel among allocations that leave
    out no more; everyone left out is listed with the reason.

    Parameters
    ----------
    demand : pandas.DataFrame
        ``village_id``, ``people`` (whole numbers), optional ``township``.
    sites : pandas.DataFrame
        ``site_id``, ``capacity_people``, optional ``township``, ``locked``.
    cost_min : numpy.ndarray, shape (villages, sites)
        Travel minutes village -> site; NaN = unreachable.
    p : int, optional
        Number of sites to open (locked ones included). None: every site may be used.
    max_return_min : float, optional
        Longest acceptable trip back to the village's farmland.
    township_penalty_min : float
        Minutes added per person placed outside their township (a preference, not a rule).
        Missing townships are never penalised.
    split : bool
        Allow a village to be split across sites (in whole people). Default False: a
        village moves together, as planners do.
    time_limit_s, mip_gap : float
        HiGHS time limit and relative gap target (per MIP solve).
    threads : int, optional
        HiGHS threads option.
    presolve : {"off", "choose", "on"}
        HiGHS presolve. Off by default: on this model HiGHS 1.16's presolve reduces nothing
        and took about a minute on 1,500 villages x 40 sites before the search began.
    warm_start : bool
        Give HiGHS the greedy allocation as its first incumbent, so a time-limited answer
        is never worse than the greedy baseline.
    heuristic_frac : float
        With ``p`` on larger instances (> 5,000 village-site pairs), up to this share of
        ``time_limit_s`` goes to an LP-rounding start (LP relaxation, open the p sites with
        the largest y, solve the assignment to them); the full MIP gets the rest.

    Returns
    -------
    AllocationResult
        ``status`` is HiGHS's: ``optimal`` only if HiGHS proved it; ``time_limit`` with the
        incumbent and its gap otherwise.

    Raises
    ------
    LayerSchemaError
        Missing columns, duplicate ids, a cost matrix of the wrong shape or negative costs.
    PolicyError
        ``p`` out of range or smaller than the number of locked sites; negative penalty/limit.
    """
    t0 = time.perf_counter()
    pb = _prepare(
        demand,
        sites,
        cost_min,
        p=p,
        max_return_min=max_return_min,
        township_penalty_min=township_penalty_min,
        split=split,
    )
    notes: list[str] = []
    act = np.flatnonzero(pb.active)
    demand_total = int(pb.people[act].sum())
    usable = _usable_capacity(pb)
    start = _greedy_core(pb) if warm_start and len(act) else None
    opts = _HighsOptions(
        time_limit_s=time_limit_s, mip_gap=mip_gap, threads=threads, presolve=presolve, start=start
    )
    if (
        start is not None
        and pb.p is not None
        and demand_total <= usable
        and pb.allowed.sum() > 5000
    ):
        budget = heuristic_frac * time_limit_s
        better = _lp_rounding_start(pb, start, time_limit_s=budget, opts=opts)
        if better is not None:
            notes.append(
                f"start: LP rounding {_rows_cost(pb, better[0]):.6g} "
                f"(greedy {_rows_cost(pb, start[0]):.6g})"
            )
            opts = replace(opts, start=better)
        opts = replace(opts, time_limit_s=max(time_limit_s - (time.perf_counter() - t0), 1e-3))
    if len(act) == 0:
        open_mask = pb.locked.copy()
        return _result(
            pb, [], open_mask, [], status="optimal", gap=0.0, t0=t0, method="highs", notes=notes
        )
    # v, y, u stay empty unless a solve below finds a solution (has)
    empty = np.zeros(0)
    status, gap, v, y, u, has = "infeasible", math.inf, empty, empty, empty, False
    if demand_total <= usable:
        status, gap, v, y, u, has = _solve_highs(
            pb, opts, dummy=False, unplaced_cap=None, phase_one=False
        )
    if status == "infeasible" or demand_total > usable:
        notes.append(
            f"not everyone fits (demand {demand_total}, usable capacity {usable}): "
            "phase 1 minimised people left out, phase 2 travel time"
        )
        s1, g1, _, _, u1, has1 = _solve_highs(
            pb, opts, dummy=True, unplaced_cap=None, phase_one=True
        )
        if not has1:
            notes.append(f"phase 1 found no solution ({s1})")
            status, gap, has = s1, math.inf, False
        else:
            w = pb.people[act].astype(float) if not pb.split else np.ones(len(act))
            left_out = float(np.round(u1 @ w))
            notes.append(f"phase 1: {s1}, {left_out:g} people left out")
            status, gap, v, y, u, has = _solve_highs(
                pb, opts, dummy=True, unplaced_cap=left_out, phase_one=False
            )
            if s1 != "optimal" and status == "optimal":
                status, gap = s1, g1  # the number left out is only as good as phase 1
    if not has:
        extra = [
            _reason(
                "solver_no_solution",
                pb.vid[i],
                int(pb.people[i]),
                f"the solver stopped ({status}) before finding any allocation",
                f"求解器在找到可行方案前停止（{status}）",
            )
            for i in act
        ]
        return _result(
            pb,
            [],
            pb.locked.copy(),
            extra,
            status=status,
            gap=gap,
            t0=t0,
            method="highs",
            notes=notes,
        )
    rows = _rows_from(pb, v)
    placed = np.zeros(len(pb.vid))
    for i, _, ppl in rows:
        placed[i] += ppl
    left = [int(i) for i in act if placed[i] < pb.people[i] - 0.5]
    extra = _shortfall_reasons(pb, left, demand_total, usable)
    if pb.split:
        for rec, i in zip(extra, left, strict=True):
            rec["people"] = int(pb.people[i] - placed[i])
    open_mask = (np.round(y) > 0.5) if len(y) else np.zeros(len(pb.sid), bool)
    return _result(
        pb, rows, open_mask, extra, status=status, gap=gap, t0=t0, method="highs", notes=notes
    )


def _greedy_core(pb: _Problem) -> _Start:
    """Greedy opening (with p) and assignment; returns rows, open mask, left-out rows and people."""
    act = np.flatnonzero(pb.active)
    demand_total = int(pb.people[act].sum())
    m = len(pb.sid)
    c = np.where(pb.allowed, pb.cost, np.inf)
    if pb.p is None:
        open_mask = np.ones(m, bool)
    else:
        open_mask = pb.locked.copy()
        w = np.where(pb.active, pb.people, 0).astype(float)
        big = (
            np.nanmax(np.where(np.isfinite(c), c, np.nan)) * 10 + 1 if np.isfinite(c).any() else 1.0
        )
        cc = np.where(np.isfinite(c), c, big)
        cur = cc[:, open_mask].min(axis=1) if open_mask.any() else np.full(len(w), big)
        need = demand_total
        while open_mask.sum() < pb.p:
            slots = pb.p - int(open_mask.sum())
            cap_open = int(pb.cap[open_mask].sum())
            closed = np.flatnonzero(~open_mask)
            score = (w[:, None] * np.minimum(cur[:, None], cc[:, closed])).sum(axis=0)
            # best capacity reachable if j opens: j plus the largest (slots - 1) other closed sites
            caps = pb.cap[closed].astype(float)
            order_c = np.argsort(-caps, kind="stable")
            top = caps[order_c]
            rank = np.empty(len(closed), dtype=np.int64)
            rank[order_c] = np.arange(len(closed))
            top_k = top[: slots - 1].sum()
            others = np.where(
                rank < slots - 1,
                top_k - caps + (top[slots - 1] if slots - 1 < len(top) else 0.0),
                top_k,
            )
            feasible = cap_open + caps + others >= need
            if feasible.any():
                score = np.where(feasible, score, np.inf)
            j = closed[int(np.argmin(score))]
            open_mask[j] = True
            cur = np.minimum(cur, cc[:, j])
    room = np.where(open_mask, pb.cap, 0).astype(float)
    order = act[np.argsort(-pb.people[act], kind="stable")]
    rows: list[tuple[int, int, float]] = []
    left: list[int] = []
    left_people: dict[int, int] = {}
    for i in order:
        need_i = float(pb.people[i])
        for j in np.argsort(c[i], kind="stable"):
            if not np.isfinite(c[i, j]) or need_i <= 0:
                break
            if not open_mask[j]:
                continue
            if pb.split:
                take = min(need_i, room[j])
                if take > 0:
                    rows.append((int(i), int(j), take))
                    room[j] -= take
                    need_i -= take
            elif room[j] >= need_i:
                rows.append((int(i), int(j), need_i))
                room[j] -= need_i
                need_i = 0
                break
        if need_i > 0:
            left.append(int(i))
            left_people[int(i)] = int(need_i)
    return rows, open_mask, left, left_people


def greedy_allocate(
    demand: pd.DataFrame,
    sites: pd.DataFrame,
    cost_min: np.ndarray,
    *,
    p: int | None = None,
    max_return_min: float | None = None,
    township_penalty_min: float = 0.0,
    split: bool = False,
) -> AllocationResult:
    """Greedy baseline with the inputs and outputs of :func:`allocate`.

    With ``p``: open the locked sites, then add one site at a time, the one that most
    lowers the uncapacitated population-weighted cost, among those that keep the open
    capacity able to reach the demand. Then place villages in descending size, each in
    its cheapest open site with room (split: fill the cheapest, then the next).
    ``status`` is ``heuristic``, ``mip_gap`` NaN. It takes no solver options: a misspelt
    or solver-only keyword is a ``TypeError``, not silently ignored.
    """
    t0 = time.perf_counter()
    pb = _prepare(
        demand,
        sites,
        cost_min,
        p=p,
        max_return_min=max_return_min,
        township_penalty_min=township_penalty_min,
        split=split,
    )
    rows, open_mask, left, left_people = _greedy_core(pb)
    act = np.flatnonzero(pb.active)
    demand_total = int(pb.people[act].sum())
    usable = _usable_capacity(pb)
    extra = _shortfall_reasons(pb, left, demand_total, usable)
    for rec, i in zip(extra, left, strict=True):
        rec["people"] = left_people[i]
    return _result(
        pb,
        rows,
        open_mask,
        extra,
        status="heuristic",
        gap=math.nan,
        t0=t0,
        method="greedy",
        notes=[],
    )


# --------------------------------------------------------------------------- robustness


def site_selection_frequency(
    runs: Sequence[Iterable[str]], *, sites: Sequence[str] | None = None
) -> pd.Series:
    """Share of runs in which each site was chosen.

    Parameters
    ----------
    runs : sequence of iterables of site ids
        The chosen (open) sites of each Monte Carlo run.
    sites : sequence of str, optional
        All candidate ids, so never-chosen sites show 0.

    Returns
    -------
    pandas.Series
        ``frac`` in [0, 1] indexed by ``site_id``, highest first (ties by id).
    """
    n = len(runs)
    counts: dict[str, int] = {str(s): 0 for s in (sites or [])}
    for r in runs:
        for s in set(map(str, r)):
            counts[s] = counts.get(s, 0) + 1
    if n == 0:
        return pd.Series({k: np.nan for k in counts}, name="frac", dtype=float).rename_axis(
            "site_id"
        )
    ser = pd.Series({k: v / n for k, v in counts.items()}, name="frac", dtype=float).rename_axis(
        "site_id"
    )
    return ser.sort_index().sort_values(ascending=False, kind="stable")


def robustness(
    weight_draws: np.ndarray,
    run: Callable[[np.ndarray], Iterable[str]],
    *,
    sites: Sequence[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pd.Series:
    """Monte Carlo robustness of site selection over perturbed weights.

    Parameters
    ----------
    weight_draws : numpy.ndarray, shape (n, k)
        e.g. from :func:`geo.suitability.monte_carlo_weights`.
    run : callable
        ``run(weights) -> chosen site ids`` (suitability -> sites -> allocation; map generated
        sites to a base set with :func:`match_sites` so ids compare across runs).
    sites : sequence of str, optional
        All base site ids (never-chosen ones report 0).
    progress : callable, optional
        Called as ``progress(done, total)`` after each draw.

    Returns
    -------
    pandas.Series
        Frequency per site (see :func:`site_selection_frequency`).
    """
    draws = np.atleast_2d(np.asarray(weight_draws, dtype=float))
    runs = []
    for d, w in enumerate(draws):
        runs.append(set(map(str, run(w))))
        if progress is not None:
            progress(d + 1, len(draws))
    return site_selection_frequency(runs, sites=sites)
