"""The relocation chain: who moves → where they could go → which sites open → who goes where.

One function, :func:`plan_resettlement`, runs the chain the pipeline and the dashboard's
scenario panel share, on arrays and GeoDataFrames in the workspace's metric CRS::

    screening (geo.relocation) → suitability overlay (geo.suitability) →
    candidate sites (geo.siting) → village → site travel minutes (geo.access) →
    capacitated allocation (HiGHS) and greedy baseline → robustness (Monte Carlo)

Its settings are the typed :class:`~layers.settings.RelocationRules` and
:class:`~layers.settings.SiteSettings`; nothing here has a default of its own. The
result is a :class:`ResettlementResult`, whose :meth:`~ResettlementResult.summary` gives
the headline figures the manifest and the scenario comparison show.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypedDict

import geopandas as gpd
import numpy as np
import pandas as pd
from rasterio.features import rasterize
from scipy import ndimage
from shapely.geometry import LineString

from geo import access, relocation, siting
from geo.suitability import ahp_weights, exclusion_mask, monte_carlo_weights, rescale_float32
from layers.catalogue import TRAVEL_KINDS
from layers.errors import PolicyError
from layers.grid import Grid, cells
from layers.settings import RelocationRules, SiteSettings

__all__ = [
    "RANGED_FACTORS",
    "ResettlementResult",
    "SuitabilityInputs",
    "allocation_frames",
    "combine_suitability",
    "factor_rasters",
    "plan_resettlement",
    "prepare_suitability",
    "site_cost_matrix",
]

ProgressFn = Callable[[str, float], None]


class _ModelArgs(TypedDict):
    """The allocation model shared by the exact solve, the greedy baseline and robustness."""

    p: int | None
    max_return_min: float | None
    township_penalty_min: float


#: Factors computed here besides the travel-time rasters.
RANGED_FACTORS: tuple[str, ...] = ("road_dist_m", "water_dist_m", "slope_deg")
#: Every factor name a profile may list.
KNOWN_FACTORS: frozenset[str] = frozenset(RANGED_FACTORS) | {
    f"travel_min_{k}" for k in TRAVEL_KINDS
}


def _points(gdf: gpd.GeoDataFrame) -> gpd.GeoSeries:
    return gdf.geometry.representative_point()


def _cells(grid: Grid, pts: gpd.GeoSeries) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return cells(grid, pts.x.to_numpy(), pts.y.to_numpy())


def _distance_to(geoms: gpd.GeoSeries, grid: Grid) -> np.ndarray:
    """Metres from every cell to the nearest cell the geometries touch (inf when none)."""
    if not len(geoms):
        return np.full(grid.shape, np.inf, "float32")
    mask = rasterize(
        ((g, 1) for g in geoms),
        out_shape=grid.shape,
        transform=grid.transform,
        fill=0,
        all_touched=True,
        dtype="uint8",
    )
    if not mask.any():
        return np.full(grid.shape, np.inf, "float32")
    return (ndimage.distance_transform_edt(mask == 0) * grid.cellsize[0]).astype("float32")


def factor_rasters(
    rasters: Mapping[str, np.ndarray], layers: Mapping[str, gpd.GeoDataFrame], grid: Grid
) -> dict[str, np.ndarray]:
    """All suitability factors on the grid: the given rasters (travel minutes, slope) plus
    the distance to a hardened road and to a water source, plant or network."""
    out = dict(rasters)
    todo: list[tuple[str, gpd.GeoSeries]] = []
    roads = layers.get("roads")
    if roads is not None and len(roads):
        hard = roads[roads["hardened"].fillna(False).astype(bool)]
        todo.append(("road_dist_m", hard.geometry))
    water = layers.get("water")
    if water is not None and len(water):
        w = water[water["kind"].isin(["source", "plant", "network"])]
        todo.append(("water_dist_m", w.geometry))
    # the distance transforms release the GIL for most of their time: side by side
    dists = access.thread_map(lambda item: _distance_to(item[1], grid), todo)
    out.update({name: d for (name, _), d in zip(todo, dists, strict=True)})
    return out


@dataclass
class SuitabilityInputs:
    """What the overlay needs, computed once: factor names, rescaled factors, exclusions, AHP matrix."""

    names: list[str]
    rescaled: list[np.ndarray]
    exclusion: np.ndarray
    matrix: np.ndarray
    keep: list[int]
    dropped: dict[str, str] = field(default_factory=dict)


def site_exclusion(
    sites: SiteSettings,
    layers: Mapping[str, gpd.GeoDataFrame],
    grid: Grid,
    outside: np.ndarray,
    slope_deg: np.ndarray | None,
) -> np.ndarray:
    """Cells where no resettlement site may go (:func:`geo.suitability.exclusion_mask` with
    the profile's limits and buffers): too steep, near a hazard, on protected land or water,
    outside the county. Needs no suitability factor but the slope, so a caller may compute it
    beside :func:`factor_rasters` and give it to :func:`prepare_suitability`."""
    hz = layers.get("hazards")
    prot = layers.get("protected")
    wb = access.water_bodies(layers.get("water"))
    return np.asarray(
        exclusion_mask(
            shape=grid.shape,
            transform=grid.transform,
            slope_deg=slope_deg,
            slope_limit_deg=sites.slope_limit_deg,
            hazard_geoms=list(hz.geometry) if hz is not None and len(hz) else None,
            hazard_radius_m=(
                hz["radius_m"].fillna(0).to_numpy(float)
                if hz is not None and "radius_m" in hz.columns and len(hz)
                else None
            ),
            hazard_buffer_m=sites.hazard_buffer_m,
            protected_geoms=list(prot.geometry) if prot is not None and len(prot) else None,
            protected_buffer_m=sites.protected_buffer_m,
            water_geoms=list(wb.geometry) if wb is not None else None,
            water_buffer_m=sites.water_buffer_m,
            outside_mask=outside,
            all_touched=sites.all_touched,
        ),
        bool,
    )


def prepare_suitability(
    factors: Mapping[str, np.ndarray],
    sites: SiteSettings,
    layers: Mapping[str, gpd.GeoDataFrame],
    grid: Grid,
    outside: np.ndarray,
    exclusion: np.ndarray | None = None,
) -> SuitabilityInputs:
    """Exclusion mask and every factor rescaled to 0..1 (cost direction), ready for any weights.

    Only the weights change between Monte Carlo draws, so the expensive parts happen once.
    ``exclusion``: :func:`site_exclusion` when the caller computed it already.

    Raises
    ------
    PolicyError
        For an unknown factor name or an AHP matrix that does not match the factors.
    """
    names_all = list(sites.factors)
    unknown = [n for n in names_all if n not in KNOWN_FACTORS]
    if unknown:
        raise PolicyError(
            f"[suitability] unknown factor(s) {', '.join(unknown)}; known: {', '.join(sorted(KNOWN_FACTORS))}"
        )
    matrix = np.asarray(sites.ahp, dtype=float)
    if matrix.shape != (len(names_all), len(names_all)):
        raise PolicyError(
            f"[suitability] ahp must be {len(names_all)}x{len(names_all)} (one row per factor); "
            f"found {matrix.shape[0]}x{matrix.shape[1] if matrix.ndim == 2 else '?'}"
        )
    # A factor whose layer the workspace lacks (no water layer, say), or that is blank or
    # constant over the county (no industrial park on the grid: travel minutes all NaN), would
    # blank or flatten the whole overlay: it leaves, with its AHP row and column, and the
    # caller warns. The remaining weights are the AHP weights of the smaller matrix.
    inside = ~np.asarray(outside, bool)
    dropped: dict[str, str] = {}
    for n in names_all:
        if n not in factors:
            dropped[n] = "the workspace lacks its layer"
            continue
        vals = np.asarray(factors[n])[inside]
        finite = vals[np.isfinite(vals)]
        if not finite.size:
            dropped[n] = "blank over the county (no destination of that kind on the grid)"
        elif float(finite.max()) == float(finite.min()):
            dropped[n] = f"constant over the county ({float(finite.min()):g})"
    keep = [i for i, n in enumerate(names_all) if n not in dropped]
    names = [names_all[i] for i in keep]
    if exclusion is None:
        exclusion = site_exclusion(sites, layers, grid, outside, factors.get("slope_deg"))
    rescaled = []
    for n in names:
        lo, hi = sites.ranges.get(n) or (None, None)
        rescaled.append(rescale_float32(factors[n], direction="cost", lo=lo, hi=hi))
    return SuitabilityInputs(
        names=names,
        rescaled=rescaled,
        exclusion=np.asarray(exclusion, bool),
        matrix=matrix,
        keep=keep,
        dropped=dropped,
    )


def combine_suitability(
    prep: SuitabilityInputs, weights: np.ndarray | None = None
) -> tuple[np.ndarray, dict[str, float], float]:
    """Weighted overlay: sum of weight x rescaled factor, NaN where excluded or a factor is NaN.

    ``weights`` (one per factor of the full AHP matrix) override the AHP weights, as the
    Monte Carlo draws do. Returns (suitability float32, weights by factor, consistency ratio).
    """
    sub = prep.matrix[np.ix_(prep.keep, prep.keep)]
    w, cr, _ = ahp_weights(sub)
    if weights is not None:
        wf = np.asarray(weights, dtype=float)[prep.keep]
        w = wf / wf.sum()
    total = np.zeros(prep.exclusion.shape, dtype="float32")
    for wk, r in zip(w, prep.rescaled, strict=True):
        total += np.float32(wk) * r
    total[prep.exclusion] = np.nan
    return total, dict(zip(prep.names, map(float, w), strict=True)), float(cr)


#: Search rounds and wall-clock backstop of a robustness draw's re-solve.
_ROBUSTNESS_ROUNDS = 0
_ROBUSTNESS_BACKSTOP_S = 30.0


class _DrawSuitability:
    """:func:`combine_suitability` for many weight draws, on the cells that can score.

    A cell excluded or with a blank factor is NaN whatever the weights, so the factors are
    kept only where every one is a number, and each draw sums them there in the same
    order and precision as :func:`combine_suitability` (the same raster, bit for bit).
    """

    def __init__(self, prep: SuitabilityInputs) -> None:
        ok = ~prep.exclusion
        for r in prep.rescaled:
            ok &= np.isfinite(r)
        self.idx = np.flatnonzero(ok)
        self.values = [np.ascontiguousarray(r.ravel()[self.idx]) for r in prep.rescaled]
        self.shape = prep.exclusion.shape
        self.keep = prep.keep

    def at_cells(self, weights: np.ndarray) -> np.ndarray:
        """The draw's suitability on the cells ``self.idx`` (every other cell is NaN)."""
        wf = np.asarray(weights, dtype=float)[self.keep]
        w = wf / wf.sum()
        total = np.zeros(len(self.idx), dtype="float32")
        for wk, r in zip(w, self.values, strict=True):
            total += np.float32(wk) * r
        return total

    def __call__(self, weights: np.ndarray) -> np.ndarray:
        out = np.full(self.shape[0] * self.shape[1], np.nan, dtype="float32")
        out[self.idx] = self.at_cells(weights)
        return out.reshape(self.shape)


def _coarse(speed: np.ndarray, factor: int) -> np.ndarray:
    """The fastest cell of each factor x factor block (NaN counts as 0, a barrier)."""
    if factor <= 1:
        return speed
    h, w = speed.shape
    H, W = h // factor * factor, w // factor * factor
    s = np.where(np.isfinite(speed), speed, 0.0)[:H, :W].reshape(
        H // factor, factor, W // factor, factor
    )
    # the fastest cell in a block stands for it: roads are thin and must survive the coarsening
    return s.max(axis=(1, 3))


def site_cost_matrix(
    speed: np.ndarray,
    grid: Grid,
    demand_pts: gpd.GeoSeries,
    site_pts: gpd.GeoSeries,
    *,
    factor: int,
    progress: ProgressFn | None = None,
) -> np.ndarray:
    """Travel minutes from every demand point to every site (cost-distance from each site
    on a ``factor`` times coarser grid); NaN where a point is off the grid or unreachable."""
    coarse = _coarse(speed, factor)
    cg = grid.coarsened(factor) if factor > 1 else grid
    dr, dc, dins = _cells(cg, demand_pts)
    sr, sc, sins = _cells(cg, site_pts)
    cost = np.full((len(demand_pts), len(site_pts)), np.nan)

    surface = access.PreparedSurface(coarse, cellsize=cg.cellsize)  # costs once, not per site

    def column(j: int) -> None:
        if progress:
            progress(f"site {j + 1}/{len(site_pts)}", j / max(1, len(site_pts)))
        # each search fills its own column, and stops once every demand point is reached
        cost[dins, j] = surface.minutes_at(int(sr[j]), int(sc[j]), dr[dins], dc[dins])

    access.thread_map(column, [j for j in range(len(site_pts)) if sins[j]])
    return cost


def _site_attributes(
    sites: gpd.GeoDataFrame,
    grid: Grid,
    rasters: Mapping[str, np.ndarray],
    suit: np.ndarray,
    layers: Mapping[str, gpd.GeoDataFrame],
) -> gpd.GeoDataFrame:
    sites = sites.copy()
    pts = sites.geometry.representative_point()
    r, c, inside = _cells(grid, pts)
    for kind in ("county_seat", "township_seat", "health_centre", "school", "industrial_park"):
        key = f"travel_min_{kind}"
        vals = np.full(len(sites), np.nan)
        if key in rasters:
            vals[inside] = rasters[key][r[inside], c[inside]]
        sites[key] = np.round(vals, 1)
    if "suitability" not in sites.columns or sites["suitability"].isna().any():
        vals = np.full(len(sites), np.nan)
        vals[inside] = suit[r[inside], c[inside]]
        sites["suitability"] = sites.get(
            "suitability", pd.Series(np.nan, index=sites.index)
        ).fillna(pd.Series(vals, index=sites.index))
    tw = layers.get("townships")
    sites["township"] = None
    if tw is not None and len(tw):
        j = gpd.sjoin(
            gpd.GeoDataFrame(geometry=pts, crs=sites.crs),
            tw[["name", "geometry"]],
            predicate="within",
            how="left",
        )
        j = j[~j.index.duplicated(keep="first")]
        sites["township"] = j["name"].to_numpy()
    if "name" not in sites.columns:
        sites["name"] = None
    sites["name"] = sites["name"].where(
        sites["name"].notna(), sites["site_id"].map(lambda s: f"安置点 {s}")
    )
    return sites


@dataclass
class ResettlementResult:
    """What :func:`plan_resettlement` found.

    Attributes
    ----------
    screened : DataFrame
        One row per village (index of the villages): eligible, score, rank, reasons,
        people_to_move, repair-in-place cost... (see :func:`geo.relocation.screen`).
    sites : GeoDataFrame
        Candidate and planner sites with capacity, suitability, travel minutes, township,
        ``robustness_frac``, ``assigned_people`` and ``opened``.
    suitability : ndarray
        The suitability raster (NaN where excluded).
    weights : dict
        AHP weight of each factor used.
    cr : float
        AHP consistency ratio.
    allocation, greedy : siting.AllocationResult
        The exact (HiGHS) allocation and the greedy baseline.
    demand : DataFrame
        village_id, people, township of every eligible village.
    cost : ndarray
        Minutes from each demand village (rows) to each site (columns).
    notes : list of str
        Warnings for the manifest and the page (a factor left out, a high CR...).
    timings : dict
        Seconds per step.
    """

    screened: pd.DataFrame
    sites: gpd.GeoDataFrame
    suitability: np.ndarray
    weights: dict[str, float]
    cr: float
    allocation: siting.AllocationResult
    greedy: siting.AllocationResult
    demand: pd.DataFrame
    cost: np.ndarray
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    min_score: float = 0.0

    def summary(self) -> dict:
        """Headline figures (plan manifest and scenario comparison)."""
        res = self.allocation
        a = res.assignments
        opened = self.sites[self.sites["site_id"].isin(res.open_sites)]
        return {
            "relocation_candidates": int(self.screened["eligible"].fillna(False).sum()),
            "people_to_relocate": int(self.demand["people"].sum()),
            "people_to_relocate_poor": int(
                self.screened.loc[
                    self.screened["eligible"].fillna(False).astype(bool), "people_to_move_poor"
                ]
                .fillna(0)
                .sum()
            )
            if "people_to_move_poor" in self.screened
            else None,
            "people_to_relocate_other": int(
                self.screened.loc[
                    self.screened["eligible"].fillna(False).astype(bool), "people_to_move_other"
                ]
                .fillna(0)
                .sum()
            )
            if "people_to_move_other" in self.screened
            else None,
            "decisive_bypass": int(
                (
                    self.screened["eligible"].fillna(False).astype(bool)
                    & (self.screened["score"] < self.min_score)
                ).sum()
            ),
            "people_placed": int(round(res.placed_people)),
            "people_unplaced": int(round(res.unplaced_people)),
            "sites_candidate": int(len(self.sites)),
            "sites_opened": int(len(res.open_sites)),
            "mean_travel_min": float(
                round((a["people"] * a["travel_min"]).sum() / max(1.0, a["people"].sum()), 1)
            )
            if len(a)
            else None,
            "mean_robustness_opened": float(round(opened["robustness_frac"].mean(), 3))
            if len(opened)
            else None,
            "allocation_status": res.status,
            "allocation_gap": None
            if res.mip_gap is None or not np.isfinite(res.mip_gap)
            else float(res.mip_gap),
            "exact_objective": float(res.objective) if res.objective is not None else None,
            "greedy_objective": float(self.greedy.objective)
            if self.greedy.objective is not None
            else None,
            "ahp_cr": round(self.cr, 4),
        }

    def candidates(self, villages: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """Every village with its screening columns (the ``relocation_candidates`` layer)."""
        sc = self.screened
        cand = villages[["village_id", "name", "township", "population", "geometry"]].join(
            sc.drop(columns=[c for c in ("village_id",) if c in sc.columns])
        )
        return gpd.GeoDataFrame(cand, geometry="geometry", crs=villages.crs)


def allocation_frames(
    villages: gpd.GeoDataFrame, sites: gpd.GeoDataFrame, result: siting.AllocationResult
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Allocation lines (village → site) and the unplaced table."""
    a = result.assignments.copy()
    vpt = dict(zip(villages["village_id"], _points(villages), strict=True))
    spt = dict(zip(sites["site_id"], sites.geometry.representative_point(), strict=True))
    geoms = [
        LineString([vpt[v], spt[s]]) for v, s in zip(a["village_id"], a["site_id"], strict=True)
    ]
    alloc = gpd.GeoDataFrame(a, geometry=geoms, crs=villages.crs)
    return alloc, result.unplaced.copy()


def _outcome_notes(
    site_gdf: gpd.GeoDataFrame,
    demand: pd.DataFrame,
    result: siting.AllocationResult,
    sites: SiteSettings,
    prep: SuitabilityInputs,
) -> list[str]:
    """No silent zeros: say why no site opened, or why many people stay unplaced."""
    notes = []
    total = float(demand["people"].sum()) if len(demand) else 0.0
    gap = result.mip_gap
    gap_txt = f"{gap:.2%}" if gap is not None and np.isfinite(gap) else "unknown"
    if result.status == "heuristic":
        notes.append(
            "allocation by the fast heuristic, not proven optimal: within "
            f"{gap_txt} of a lower bound (run the exact solver for the proven optimum)"
        )
    elif result.status in ("gap_limit", "time_limit"):
        why = (
            f"the solver stopped at its time limit ({sites.time_limit_s:g} s)"
            if result.status == "time_limit"
            else f"the solver stopped at the requested gap ({sites.mip_gap:g})"
        )
        notes.append(f"allocation not proven optimal: {why}, gap {gap_txt}")
    elif result.status not in ("optimal", "nothing_to_place", "no_sites", "none_placeable"):
        notes.append(f"allocation status {result.status}: no proven allocation")
    if total > 0 and not len(site_gdf):
        why = "; ".join(f"{n}: {w}" for n, w in prep.dropped.items()) or (
            f"no patch of at least {sites.site_min_area_ha:g} ha reaches suitability "
            f"{sites.site_threshold:g}"
        )
        notes.append(f"no resettlement site: no candidate site was found ({why})")
    unplaced = float(result.unplaced_people or 0.0)
    if total > 0 and unplaced / total > sites.unplaced_warning_frac:
        u = result.unplaced
        detail = ""
        if len(u) and {"reason_code", "reason_en"} <= set(u.columns):
            g = u.groupby("reason_code")["reason_en"].agg(["size", "first"])
            detail = "; ".join(
                f"{n} village(s) {code} (e.g. {ex})"
                for code, n, ex in g.sort_values("size", ascending=False).head(3).itertuples()
            )
        notes.append(
            f"{unplaced:.0f} of {total:.0f} people to move ({unplaced / total:.0%}) are not placed"
            + (f": {detail}" if detail else "")
        )
    return notes


def plan_resettlement(
    villages: gpd.GeoDataFrame,
    layers: Mapping[str, gpd.GeoDataFrame],
    grid: Grid,
    rasters: Mapping[str, np.ndarray],
    speed: np.ndarray | None,
    outside: np.ndarray,
    *,
    rules: RelocationRules,
    sites: SiteSettings,
    progress: ProgressFn | None = None,
    prep: SuitabilityInputs | None = None,
    cost_matrix: Callable[[gpd.GeoSeries, gpd.GeoSeries], np.ndarray] | None = None,
    robustness: bool = True,
) -> ResettlementResult:
    """Screening → suitability → sites → allocation → robustness, in the metric CRS.

    Parameters
    ----------
    villages : GeoDataFrame
        Villages with the measured columns the screening reads.
    layers : mapping
        The workspace layers the chain reads: roads (``hardened``), water, hazards,
        protected, townships, and planner ``sites`` (optional).
    grid : Grid
        The analysis grid of every raster.
    rasters : mapping
        ``travel_min_<kind>`` and ``slope_deg`` on the grid.
    speed : ndarray
        The speed surface (km/h) the village → site travel minutes run on.
    outside : ndarray of bool
        Cells outside the county.
    rules, sites
        The profile's relocation rules and site settings.
    progress : callable, optional
        ``progress(step, fraction)``.
    prep : SuitabilityInputs, optional
        The prepared overlay (:func:`prepare_suitability`) when the caller already has it
        (the dashboard's scenarios keep it between runs); computed from ``rasters`` if not.
    cost_matrix : callable, optional
        ``cost_matrix(village points, site points)`` → minutes, instead of
        :func:`site_cost_matrix` on ``speed`` (the scenarios' cached village grids give the
        same matrix); ``speed`` may then be None.
    robustness : bool, default True
        Run the Monte Carlo robustness draws; without them ``robustness_frac`` is NaN (not
        computed, never 0) and a note says so.

    Returns
    -------
    ResettlementResult
    """
    if cost_matrix is None and speed is None:
        raise ValueError("plan_resettlement: give the speed surface or a cost_matrix function")
    notes: list[str] = []
    t: dict[str, float] = {}
    t0 = time.perf_counter()
    if progress:
        progress("relocation screening", 0.0)
    screened = relocation.screen(villages, rules=rules)
    t["screening"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    if progress:
        progress("suitability", 0.1)
    if prep is None:
        prep = prepare_suitability(
            factor_rasters(rasters, layers, grid), sites, layers, grid, outside
        )
    if not prep.names:
        raise PolicyError(
            "[suitability] every factor is blank or constant over the county: "
            + "; ".join(f"{n}: {why}" for n, why in prep.dropped.items())
        )
    suit, weights, cr = combine_suitability(prep)
    for n, why in prep.dropped.items():
        notes.append(
            f"suitability factor {n} left out ({why}); the other factors' weights were "
            f"renormalised: {', '.join(f'{k} {w:.3f}' for k, w in weights.items())}"
        )
    if cr > sites.cr_warning:
        notes.append(
            f"AHP consistency ratio {cr:.3f} is above {sites.cr_warning}: revise the pairwise judgements"
        )
    t["suitability"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    if progress:
        progress("sites", 0.25)

    def patches(s: np.ndarray) -> gpd.GeoDataFrame:
        return siting.sites_from_suitability(
            s,
            transform=grid.transform,
            crs=grid.crs,
            threshold=sites.site_threshold,
            min_area_ha=sites.site_min_area_ha,
            people_per_ha=sites.people_per_ha,
            max_sites=sites.max_sites,
            max_area_ha=sites.site_max_area_ha,
        )

    def pieces(s: np.ndarray, cells: np.ndarray | None = None) -> siting.SitePieces:
        """The cells of the sites ``patches(s)`` would draw (the robustness draws' sites);
        with ``cells``, ``s`` holds the values of those cells only (all others blank)."""
        kw: dict[str, Any] = {
            "cell_ha": abs(grid.transform.a * grid.transform.e) / 1e4,
            "xres": abs(grid.transform.a),
            "yres": abs(grid.transform.e),
            "threshold": sites.site_threshold,
            "min_area_ha": sites.site_min_area_ha,
            "max_sites": sites.max_sites,
            "max_area_ha": sites.site_max_area_ha,
        }
        if cells is None:
            return siting.site_pieces(s, **kw)
        return siting.site_pieces_at(cells, s, grid.shape, **kw)

    gen = patches(suit)
    site_gdf = siting.merge_planner_sites(
        gen, layers.get("sites"), people_per_ha=sites.people_per_ha
    )
    site_gdf["capacity_people"] = np.floor(
        site_gdf["capacity_people"].astype(float) * float(sites.capacity_factor)
    ).astype(int)
    site_gdf = _site_attributes(site_gdf, grid, rasters, suit, layers)
    t["sites"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    elig = screened[screened["eligible"].fillna(False).astype(bool)]
    vil = villages.loc[elig.index]
    demand = pd.DataFrame(
        {
            "village_id": vil["village_id"].to_numpy(),
            "people": elig["people_to_move"].fillna(0).astype(int).to_numpy(),
            "township": vil["township"].to_numpy(),
        }
    )
    if progress:
        progress("village → site travel times", 0.35)
    if cost_matrix is not None:
        cost = cost_matrix(_points(vil), site_gdf.geometry.representative_point())
    else:
        assert speed is not None  # checked above
        cost = site_cost_matrix(
            speed,
            grid,
            _points(vil),
            site_gdf.geometry.representative_point(),
            factor=sites.cost_grid_factor,
        )
    sdf = pd.DataFrame(
        {
            "site_id": site_gdf["site_id"].to_numpy(),
            "capacity_people": site_gdf["capacity_people"].to_numpy(),
            "township": site_gdf["township"].to_numpy(),
            "locked": site_gdf["locked"].fillna(False).astype(bool).to_numpy(),
        }
    )
    if progress:
        progress(
            "allocation (heuristic)" if sites.solver == "heuristic" else "allocation (HiGHS)", 0.55
        )
    p = sites.open_sites or None
    model: _ModelArgs = {
        "p": p,
        "max_return_min": sites.max_return_min,
        "township_penalty_min": sites.township_penalty_min,
    }
    # opening cost and minimum occupancy apply to generated (centralized) sites only
    generated = (site_gdf["source"] == "generated").to_numpy()
    open_cost = np.where(generated, sites.opening_cost_person_min, 0.0)
    min_occ = np.where(generated, sites.min_occupancy_people, 0)

    guess: list[list[str]] = []  # the open sites of HiGHS's warm start, once known
    guessed = threading.Event()

    def on_start(ids: list[str]) -> None:
        guess.append(ids)
        guessed.set()

    def solve() -> siting.AllocationResult:
        try:
            if sites.solver == "heuristic":
                return siting.allocate_heuristic(
                    demand,
                    sdf,
                    cost,
                    time_limit_s=sites.heuristic_time_s,
                    opening_cost=open_cost,
                    min_occupancy=min_occ,
                    **model,
                )
            return siting.allocate(
                demand,
                sdf,
                cost,
                time_limit_s=sites.time_limit_s,
                mip_gap=sites.mip_gap,
                opening_cost=open_cost,
                min_occupancy=min_occ,
                # as many threads as the search kernels: a batch or Dask worker limited to
                # one core gets a one-thread HiGHS, not half the machine's cores
                threads=access.kernel_threads(),
                on_start=on_start,
                **model,
            )
        finally:
            guessed.set()

    base_ids = site_gdf["site_id"].to_numpy()
    gen_mask = (site_gdf["source"] == "generated").to_numpy()
    robust = robustness and sites.robustness_draws > 0 and len(demand) > 0 and len(site_gdf) > 0

    def draw_keeps() -> list[np.ndarray]:
        """For each Monte Carlo weight draw: which base sites still exist (generated sites
        that a site of the draw overlaps most; planner sites always)."""
        rng = np.random.default_rng(sites.robustness_seed)
        draws = monte_carlo_weights(
            np.asarray(sites.ahp, float), n=sites.robustness_draws, spread=sites.mc_spread, rng=rng
        )
        draw_suit = _DrawSuitability(prep)
        base_lab = np.zeros(suit.size, dtype=np.int32)  # value j + 1 on the cells of row j
        gen_cells = dict(zip(gen["site_id"], pieces(suit).cells, strict=True))
        for j, (sid, g) in enumerate(zip(base_ids, gen_mask, strict=True)):
            if g:
                base_lab[gen_cells[sid]] = j + 1
        keeps = []
        for d, wvec in enumerate(draws):
            alt = pieces(draw_suit.at_cells(wvec), draw_suit.idx)
            keep = ~gen_mask
            for piece in alt.cells:
                hit = base_lab[piece]
                hit = hit[hit > 0]
                if len(hit):
                    keep[int(np.argmax(np.bincount(hit))) - 1] = True
            keeps.append(keep)
            if progress:
                progress(f"robustness {d + 1}/{len(draws)}", 0.6 + 0.3 * (d + 1) / len(draws))
        return keeps

    # re-solves of the draws that lose an opened site, by (kept sites, the plan's open sites):
    # the open sites they start from and how long each took
    resolved: dict[tuple[bytes, tuple[str, ...]], tuple[list[str], float]] = {}

    def draw_runs(
        keeps: list[np.ndarray], open_sites: list[str], give_up: Callable[[], bool] | None = None
    ) -> list[set[str]] | None:
        """Each draw's open sites given the plan's ``open_sites``; None once ``give_up()``."""
        opened = set(open_sites)
        opened_rows = [j for j, sid in enumerate(base_ids) if sid in opened]
        runs: list[set[str]] = []
        for keep in keeps:
            if not keep.any():
                runs.append(set())
            elif all(keep[j] for j in opened_rows):
                # only unopened sites are lost: the plan's allocation is still feasible and
                # nothing better appeared, so it stands (an optimum stays optimal)
                runs.append(set(open_sites))
            else:
                key = (keep.tobytes(), tuple(open_sites))
                if key not in resolved:
                    if give_up is not None and give_up():
                        return None
                    # an opened site is lost: re-solved by the fast heuristic, with a fixed
                    # number of search rounds and no bound (deterministic; the time limit is
                    # only a backstop)
                    t_solve = time.perf_counter()
                    ids = siting.allocate_heuristic(
                        demand,
                        sdf[keep].reset_index(drop=True),
                        cost[:, keep],
                        opening_cost=open_cost[keep],
                        min_occupancy=min_occ[keep],
                        time_limit_s=_ROBUSTNESS_BACKSTOP_S,
                        rounds=_ROBUSTNESS_ROUNDS,
                        bound=False,
                        start_open=list(open_sites),
                        **model,
                    ).open_sites
                    resolved[key] = (ids, time.perf_counter() - t_solve)
                runs.append(set(map(str, resolved[key][0])))
        return runs

    # HiGHS releases the GIL: the allocation is solved on its own thread while this one
    # draws the robustness sites, which do not depend on it (the two stages overlap), and
    # re-solves the draws from HiGHS's warm start, which is most often the optimum (if it
    # is not, the draws are re-solved from the optimum below; the answer is the same)
    with ThreadPoolExecutor(max_workers=1) as ex:
        fut = ex.submit(solve)
        greedy = siting.greedy_allocate(
            demand, sdf, cost, opening_cost=open_cost, min_occupancy=min_occ, **model
        )
        t1 = time.perf_counter()
        keeps = draw_keeps() if robust else []
        if robust:
            guessed.wait()
            if guess and not fut.done():
                draw_runs(
                    keeps,
                    guess[0],
                    give_up=lambda: fut.done() and fut.result().open_sites != guess[0],
                )
        t_draws = time.perf_counter() - t1
        result = fut.result()
    t["allocation"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    if progress:
        progress("robustness (Monte Carlo over AHP weights)", 0.9)
    freq = pd.Series(0.0, index=site_gdf["site_id"])
    if robust:
        runs = draw_runs(keeps, result.open_sites)
        assert runs is not None  # never gives up without give_up
        freq = siting.site_selection_frequency(runs, sites=list(map(str, base_ids)))
        key_open = tuple(result.open_sites)
        cut = sum(
            1
            for (_, o), (_, took) in resolved.items()
            if o == key_open and took >= 0.95 * _ROBUSTNESS_BACKSTOP_S
        )
        if cut:
            notes.append(
                f"site robustness: {cut} re-solve(s) of the Monte Carlo draws stopped at their "
                f"{_ROBUSTNESS_BACKSTOP_S:.0f} s limit; their sites are the best found by then"
            )
    t["robustness"] = t_draws + time.perf_counter() - t0
    notes += _outcome_notes(site_gdf, demand, result, sites, prep)
    if robustness:
        site_gdf["robustness_frac"] = site_gdf["site_id"].map(freq).fillna(0.0).round(3).to_numpy()
    else:
        notes.append(
            "site robustness (Monte Carlo over the AHP weights) not computed for this quick answer"
        )
        site_gdf["robustness_frac"] = np.nan  # not computed: never read as 0
    a = result.assignments
    assigned = a.groupby("site_id")["people"].sum() if len(a) else pd.Series(dtype=float)
    site_gdf["assigned_people"] = site_gdf["site_id"].map(assigned).fillna(0).astype(int)
    site_gdf["opened"] = site_gdf["site_id"].isin(result.open_sites)
    return ResettlementResult(
        screened=screened,
        sites=site_gdf,
        suitability=suit,
        weights=weights,
        cr=cr,
        allocation=result,
        greedy=greedy,
        demand=demand,
        cost=cost,
        notes=notes,
        timings=t,
        min_score=rules.min_score,
    )
